// Bulk actions (README "Bulk actions"): which runs an action applies to, and
// the bounds of one BulkWorkflowAction call. Pure: no I/O.
import { pauseRefusal, resumeRefusal } from "./pause.ts";
import { redriveRefusal } from "./redrive.ts";
import { isCancellable, type RunHeader } from "./run-record.ts";

export type BulkActionKind = "cancel" | "redrive" | "pause" | "resume";

/** Runs one call looks at, at most (matched); `more` tells the caller to go on with the page token. */
export const MAX_BULK_RUNS = 10_000;

/** Runs read and acted on between two yields to the event loop. */
export const BULK_BATCH = 50;

/** Whether `action` applies to a run in this state (the single-run RPC would not refuse it). */
export function bulkApplies(action: BulkActionKind, run: Pick<RunHeader, "state" | "compensation"> & { runId: string }): boolean {
  switch (action) {
    case "cancel":
      return isCancellable(run.state);
    case "redrive":
      return redriveRefusal(run) === undefined;
    case "pause":
      return pauseRefusal(run) === undefined;
    case "resume":
      return resumeRefusal(run) === undefined;
  }
}

/** The filter fields of a bulk request that are set. */
export interface BulkFilterShape {
  states: number;
  workflowId: boolean;
  labels: number;
  createdAfter: boolean;
  createdBefore: boolean;
}

/** True when no filter field is set: such a request must say all = true. */
export function isEmptyFilter(f: BulkFilterShape): boolean {
  return f.states === 0 && !f.workflowId && f.labels === 0 && !f.createdAfter && !f.createdBefore;
}

/**
 * When the n-th run of a call may be acted on at `ratePerSec` (ms after the
 * call started): the call is paced so that it never exceeds the rate.
 */
export function paceAt(n: number, ratePerSec: number): number {
  return (n * 1000) / ratePerSec;
}
