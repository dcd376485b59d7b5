// The product document's "Saga Patterns" snippet, copied verbatim (only re-indented).
// Only its import line(s) changed: '@/lib/platform' is the client's sources, clients/ts/src/.
// Importing this module runs the snippet (top-level await). test/e2e/sdk-snippets.test.ts
// first points the default `platform` at the test servers: WEFT_URL, WEFT_SIGNING_SECRETS
// and WEFT_JOBS_BASE_URL (the handler server, for relative step URLs), and for absolute
// https://myapp.com URLs configurePlatform({ rewriteUrl }) (see that test for why).
// Everything between the markers is the snippet.
// ---- snippet ----
import { platform } from '../../../clients/ts/src/index.ts'
// Order saga with compensating transactions
const workflow = await platform.workflows.create({
  id: 'order-saga',
  saga: true, // Enable saga mode
  steps: [
    {
      id: 'reserve-inventory',
      url: 'https://myapp.com/api/jobs/reserve-inventory',
      compensation: 'https://myapp.com/api/jobs/release-inventory',
    },
    {
      id: 'charge-payment',
      url: 'https://myapp.com/api/jobs/charge-payment',
      dependsOn: ['reserve-inventory'],
      compensation: 'https://myapp.com/api/jobs/refund-payment',
    },
    {
      id: 'create-shipment',
      url: 'https://myapp.com/api/jobs/create-shipment',
      dependsOn: ['charge-payment'],
      compensation: 'https://myapp.com/api/jobs/cancel-shipment',
    },
    {
      id: 'notify-customer',
      url: 'https://myapp.com/api/jobs/notify-customer',
      dependsOn: ['create-shipment'],
      // No compensation needed - notification is not reversible
    },
  ],
  context: {
    orderId: 'order_123',
    userId: 'user_456',
  },
})
// If create-shipment fails:
// 1. cancel-shipment is NOT called (step didn't complete)
// 2. refund-payment IS called (reverses charge-payment)
// 3. release-inventory IS called (reverses reserve-inventory)
// Compensations run in reverse order
// ---- end of snippet ----
// Test addition, not part of the snippet: expose the run it created.
export { workflow }
