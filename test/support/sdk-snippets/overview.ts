// The product document's "Overview" snippet, copied verbatim (only re-indented).
// Only its import line(s) changed: '@/lib/platform' is the client's sources, clients/ts/src/.
// Importing this module runs the snippet (top-level await). test/e2e/sdk-snippets.test.ts
// first points the default `platform` at the test servers: WEFT_URL, WEFT_SIGNING_SECRETS
// and WEFT_JOBS_BASE_URL (the handler server, for relative step URLs), and for absolute
// https://myapp.com URLs configurePlatform({ rewriteUrl }) (see that test for why).
// Everything between the markers is the snippet.
// ---- snippet ----
import { platform } from '../../../clients/ts/src/index.ts'
// Create a simple sequential workflow
const workflow = await platform.workflows.create({
  id: 'order-processing',
  steps: [
    { id: 'validate', url: '/api/jobs/validate-order' },
    { id: 'charge', url: '/api/jobs/charge-payment', dependsOn: ['validate'] },
    { id: 'fulfill', url: '/api/jobs/fulfill-order', dependsOn: ['charge'] },
    { id: 'notify', url: '/api/jobs/send-confirmation', dependsOn: ['fulfill'] },
  ],
  context: {
    orderId: 'order_123',
    userId: 'user_456',
  },
})
// ---- end of snippet ----
// Test addition, not part of the snippet: expose the run it created.
export { workflow }
