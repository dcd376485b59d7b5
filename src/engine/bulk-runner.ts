// BulkWorkflowAction: applies cancel, redrive, pause or resume to the runs
// matching a filter, newest first, through the engine's single-run
// operations (the same events, watchers and webhooks as one call each).
// Bounded: at most MAX_BULK_RUNS runs per call, read BULK_BATCH at a time,
// with a yield to the event loop between batches and a pace of at most
// `ratePerSec` runs acted on per second, so the server keeps answering.
import { setImmediate as yieldToLoop, setTimeout as sleep } from "node:timers/promises";
import { BULK_BATCH, type BulkActionKind, bulkApplies, MAX_BULK_RUNS, paceAt } from "../domain/bulk-action.ts";
import type { ListRunsQuery } from "../ports/workflow-store.ts";
import { CancelPendingError, type Engine, RunFinishedError, RunNotFoundError, RunNotReopenableError, RunNotSteerableError } from "./engine.ts";

export interface BulkRequest {
  /** The filter (limit and beforeRunId are set here). */
  query: Omit<ListRunsQuery, "limit">;
  action: BulkActionKind;
  dryRun: boolean;
  reason: string;
  ratePerSec: number;
  /** Runs per call at most (tests lower it). */
  cap?: number;
}

export interface BulkResult {
  matched: number;
  affected: number;
  skipped: number;
  /** Set when the cap was reached: the last run looked at (the next call goes on after it). */
  after?: string;
}

/** The run changed meanwhile so that the action no longer applies: counted as skipped. */
function isRefusal(err: unknown): boolean {
  return err instanceof RunFinishedError || err instanceof RunNotFoundError || err instanceof RunNotReopenableError || err instanceof RunNotSteerableError;
}

export async function runBulkAction(engine: Engine, req: BulkRequest, signal?: AbortSignal): Promise<BulkResult> {
  const cap = req.cap ?? MAX_BULK_RUNS;
  const result: BulkResult = { matched: 0, affected: 0, skipped: 0 };
  const started = performance.now();
  let acted = 0;
  let cursor = req.query.beforeRunId;
  while (result.matched < cap) {
    signal?.throwIfAborted();
    const take = Math.min(BULK_BATCH, cap - result.matched);
    const page = await engine.listSummaries({ ...req.query, beforeRunId: cursor, limit: take });
    for (const run of page) {
      result.matched++;
      cursor = run.runId;
      if (!bulkApplies(req.action, run)) {
        result.skipped++;
        continue;
      }
      if (req.dryRun) {
        result.affected++;
        continue;
      }
      const wait = paceAt(acted, req.ratePerSec) - (performance.now() - started);
      if (wait > 1) await sleep(wait, undefined, { signal });
      acted++;
      try {
        await apply(engine, req, run.runId);
        result.affected++;
      } catch (err) {
        // A cancel recorded for the replica that drives the run (MongoDB) is applied there: it counts.
        if (err instanceof CancelPendingError) result.affected++;
        else if (isRefusal(err)) result.skipped++;
        else throw err;
      }
    }
    if (page.length < take) return result;
    // Other calls are answered between batches.
    await yieldToLoop();
  }
  result.after = cursor;
  return result;
}

function apply(engine: Engine, req: BulkRequest, runId: string): Promise<unknown> {
  switch (req.action) {
    case "cancel":
      return engine.cancel(runId, req.reason);
    case "redrive":
      return engine.redrive(runId);
    case "pause":
      return engine.pauseRun(runId, req.reason || undefined, false);
    case "resume":
      return engine.resumeRun(runId);
  }
}
