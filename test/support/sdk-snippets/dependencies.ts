// The product document's "Job Dependencies" snippet, copied verbatim (only re-indented).
// Only its import line(s) changed: '@/lib/platform' is the client's sources, clients/ts/src/.
// Importing this module runs the snippet (top-level await). test/e2e/sdk-snippets.test.ts
// first points the default `platform` at the test servers: WEFT_URL, WEFT_SIGNING_SECRETS
// and WEFT_JOBS_BASE_URL (the handler server, for relative step URLs), and for absolute
// https://myapp.com URLs configurePlatform({ rewriteUrl }) (see that test for why).
// Everything between the markers is the snippet.
// ---- snippet ----
import { platform } from '../../../clients/ts/src/index.ts'
// Complex dependency graph
//
// ┌─── process-a ───┐
// prepare ─┼─── process-b ───┼─── aggregate ─── notify
// └─── process-c ───┘
// │
// validate ─────────────────────┘
const workflow = await platform.workflows.create({
  id: 'complex-pipeline',
  steps: [
    { id: 'prepare', url: '/api/jobs/prepare' },
    // Parallel processing
    { id: 'process-a', url: '/api/jobs/process-a', dependsOn: ['prepare'], parallel: true },
    { id: 'process-b', url: '/api/jobs/process-b', dependsOn: ['prepare'], parallel: true },
    { id: 'process-c', url: '/api/jobs/process-c', dependsOn: ['prepare'], parallel: true },
    // Validation runs after process-c specifically
    { id: 'validate', url: '/api/jobs/validate', dependsOn: ['process-c'] },
    // Aggregate waits for all processing
    { id: 'aggregate', url: '/api/jobs/aggregate', dependsOn: ['process-a', 'process-b', 'process-c'] },
    // Notify waits for both aggregate AND validate
    { id: 'notify', url: '/api/jobs/notify', dependsOn: ['aggregate', 'validate'] },
  ],
  context: { pipelineId: 'pipeline_123' },
})
// ---- end of snippet ----
// Test addition, not part of the snippet: expose the run it created.
export { workflow }
