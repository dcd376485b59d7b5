// The product document's "Chaining Jobs" snippet, copied verbatim (only re-indented).
// Only its import line(s) changed: '@/lib/platform' is the client's sources, clients/ts/src/.
// Importing this module runs the snippet (top-level await). test/e2e/sdk-snippets.test.ts
// first points the default `platform` at the test servers: WEFT_URL, WEFT_SIGNING_SECRETS
// and WEFT_JOBS_BASE_URL (the handler server, for relative step URLs), and for absolute
// https://myapp.com URLs configurePlatform({ rewriteUrl }) (see that test for why).
// Everything between the markers is the snippet.
// ---- snippet ----
import { platform } from '../../../clients/ts/src/index.ts'
// Sequential order processing workflow
const workflow = await platform.workflows.create({
  id: 'order-processing',
  steps: [
    {
      id: 'validate',
      url: 'https://myapp.com/api/jobs/validate-order',
    },
    {
      id: 'reserve-inventory',
      url: 'https://myapp.com/api/jobs/reserve-inventory',
      dependsOn: ['validate'],
    },
    {
      id: 'process-payment',
      url: 'https://myapp.com/api/jobs/process-payment',
      dependsOn: ['reserve-inventory'],
      retries: {
        maxAttempts: 3,
        backoff: 'exponential',
      },
    },
    {
      id: 'create-shipment',
      url: 'https://myapp.com/api/jobs/create-shipment',
      dependsOn: ['process-payment'],
    },
    {
      id: 'send-confirmation',
      url: 'https://myapp.com/api/jobs/send-confirmation',
      dependsOn: ['create-shipment'],
    },
  ],
  context: {
    orderId: 'order_123',
    userId: 'user_456',
    items: [
      { sku: 'SKU001', quantity: 2 },
      { sku: 'SKU002', quantity: 1 },
    ],
  },
  onComplete: 'https://myapp.com/api/webhooks/workflow-complete',
  onError: 'https://myapp.com/api/webhooks/workflow-error',
})
// ---- end of snippet ----
// Test addition, not part of the snippet: expose the run it created.
export { workflow }
