// Redrive: a FAILED (also timed out) or CANCELLED run continues in place
// (README "Recovering runs"). Which runs may be redriven, and their new
// deadline. Pure: no I/O. The reset itself is RunMachine.redrive.
import { DEFAULTS } from "./workflow-spec.ts";
import type { RunRecord, StepState } from "./run-record.ts";

/** Why a run cannot be redriven: an ErrorInfo reason and a message. */
export interface RedriveRefusal {
  reason: "RUN_NOT_FINISHED" | "RUN_COMPLETED" | "COMPENSATED";
  message: string;
}

/** The states a step must be in to run again when its run is redriven (completed steps keep their results). */
export const REDRIVEN_STEP_STATES: ReadonlySet<StepState> = new Set(["failed", "cancelled", "skipped"]);

/** deadline_extension at most (as a run's timeout). */
export const MAX_DEADLINE_EXTENSION_MS = DEFAULTS.maxWorkflowTimeoutMs;

/** Why `run` cannot be redriven, or undefined when it can. */
export function redriveRefusal(run: Pick<RunRecord, "runId" | "state" | "compensation">): RedriveRefusal | undefined {
  switch (run.state) {
    case "failed":
    case "cancelled":
      break;
    case "completed":
      return { reason: "RUN_COMPLETED", message: `workflow run "${run.runId}" completed: there is nothing to redrive` };
    default:
      return {
        reason: "RUN_NOT_FINISHED",
        message: `workflow run "${run.runId}" has not finished (${run.state}): only a failed or cancelled run can be redriven`,
      };
  }
  if (run.compensation !== undefined) {
    return {
      reason: "COMPENSATED",
      message: `workflow run "${run.runId}" is a saga whose compensations have run: its completed steps were undone, so it cannot continue; create a new run`,
    };
  }
  return undefined;
}

/**
 * The deadline of a redriven run: `extensionMs` (default: the run's own
 * timeout) after the old deadline, or after now if that has passed.
 */
export function redrivenDeadline(run: Pick<RunRecord, "deadlineAt" | "spec">, now: number, extensionMs?: number): number {
  return Math.max(run.deadlineAt, now) + (extensionMs ?? run.spec.timeoutMs);
}

/** The webhook event id of a run's outcome: `evt_<runId>`, then `evt_<runId>_r<n>` after the n-th redrive. */
export function webhookEventId(runId: string, redrives: number | undefined): string {
  return redrives ? `evt_${runId}_r${redrives}` : `evt_${runId}`;
}
