// The product document's "Fan-Out Patterns" snippet, copied verbatim (only re-indented).
// Only its import line(s) changed: '@/lib/platform' is the client's sources, clients/ts/src/.
// Importing this module runs the snippet (top-level await). test/e2e/sdk-snippets.test.ts
// first points the default `platform` at the test servers: WEFT_URL, WEFT_SIGNING_SECRETS
// and WEFT_JOBS_BASE_URL (the handler server, for relative step URLs), and for absolute
// https://myapp.com URLs configurePlatform({ rewriteUrl }) (see that test for why).
// Everything between the markers is the snippet.
// ---- snippet ----
import { platform } from '../../../clients/ts/src/index.ts'
// Process multiple items in parallel
const workflow = await platform.workflows.create({
  id: 'batch-process',
  steps: [
    // Initial step
    {
      id: 'prepare',
      url: 'https://myapp.com/api/jobs/prepare-batch',
    },
    // Parallel processing steps (all have same dependency)
    {
      id: 'process-item-1',
      url: 'https://myapp.com/api/jobs/process-item',
      dependsOn: ['prepare'],
      parallel: true, // Run in parallel with other parallel steps
    },
    {
      id: 'process-item-2',
      url: 'https://myapp.com/api/jobs/process-item',
      dependsOn: ['prepare'],
      parallel: true,
    },
    {
      id: 'process-item-3',
      url: 'https://myapp.com/api/jobs/process-item',
      dependsOn: ['prepare'],
      parallel: true,
    },
    // Final step waits for all parallel steps
    {
      id: 'finalize',
      url: 'https://myapp.com/api/jobs/finalize-batch',
      dependsOn: ['process-item-1', 'process-item-2', 'process-item-3'],
    },
  ],
  context: {
    batchId: 'batch_123',
    items: ['item_1', 'item_2', 'item_3'],
  },
})
// ---- end of snippet ----
// Test addition, not part of the snippet: expose the run it created.
export { workflow }
