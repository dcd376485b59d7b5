// The product document's "Fan-In Patterns" snippet, copied verbatim (only re-indented).
// Only its import line(s) changed: '@/lib/platform' is the client's sources, clients/ts/src/, 'next/server' a stand-in.
// The snippet uses a `db` it never imports (the app's own database); the import of a
// test double below is the one addition before it.
// test/e2e/sdk-snippets.test.ts calls POST with a Fetch Request built from what the
// handler server received. Everything between the markers is the snippet.
import { db } from './db.ts' // test addition: the snippet's undeclared `db`
// ---- snippet ----
// app/api/jobs/finalize-batch/route.ts
import { platform } from '../../../clients/ts/src/index.ts'
import { NextRequest } from './next-server.ts'
export async function POST(req: NextRequest) {
  const isValid = await platform.jobs.verifyRequest(req)
  if (!isValid) {
    return new Response('Unauthorized', { status: 401 })
  }
  const { context, previousSteps } = await req.json()
  // Collect all results from parallel steps
  const processResults = Object.entries(previousSteps)
  .filter(([stepId]) => stepId.startsWith('process-'))
  .map(([stepId, result]) => ({
    stepId,
    ...result.result,
  }))
  // Aggregate statistics
  const stats = {
    total: processResults.length,
    successful: processResults.filter(r => r.success).length,
    failed: processResults.filter(r => !r.success).length,
    totalProcessed: processResults.reduce((sum, r) => sum + (r.processedCount || 0), 0),
  }
  // Store aggregated results
  await db.batchResults.create({
    data: {
      batchId: context.batchId,
      stats,
      results: processResults,
      completedAt: new Date(),
    },
  })
  return Response.json({
    success: true,
    result: stats,
  })
}
// ---- end of snippet ----
