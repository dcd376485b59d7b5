// The product document's "Workflow State Management" snippet, copied verbatim (only re-indented).
// Only its import line(s) changed: '@/lib/platform' is the client's sources, clients/ts/src/.
// Importing this module runs the snippet (top-level await). test/e2e/sdk-snippets.test.ts
// first points the default `platform` at the test servers: WEFT_URL, WEFT_SIGNING_SECRETS
// and WEFT_JOBS_BASE_URL (the handler server, for relative step URLs), and for absolute
// https://myapp.com URLs configurePlatform({ rewriteUrl }) (see that test for why).
// Everything between the markers is the snippet.
// ---- snippet ----
import { platform } from '../../../clients/ts/src/index.ts'
// Get workflow status
const status = await platform.workflows.getStatus('workflow_abc123')
console.log({
  id: status.id,
  state: status.state, // 'pending' | 'running' | 'completed' | 'failed'
  startedAt: status.startedAt,
  completedAt: status.completedAt,
  currentStep: status.currentStep,
  completedSteps: status.completedSteps,
  failedSteps: status.failedSteps,
  context: status.context,
  results: status.results,
})
// Get detailed step information
for (const step of status.steps) {
  console.log({
    stepId: step.id,
    state: step.state,
    startedAt: step.startedAt,
    completedAt: step.completedAt,
    attempts: step.attempts,
    result: step.result,
    error: step.error,
  })
}
// ---- end of snippet ----
// Test addition, not part of the snippet: makes this file a module.
export {}
