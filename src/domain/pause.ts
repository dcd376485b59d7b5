// Pause and resume (README "Pausing runs"): which runs may be paused or
// resumed, and the deadline of a resumed run. Pure: no I/O. The transitions
// themselves are RunMachine.pause and RunMachine.resume.
import type { RunRecord, RunState } from "./run-record.ts";

/** Why a pause or resume is refused: an ErrorInfo reason and a message. */
export interface PauseRefusal {
  reason: "RUN_FINISHED" | "RUN_COMPENSATING" | "RUN_PAUSED" | "RUN_NOT_PAUSED";
  message: string;
}

/** What a paused run remembers (kept in its header; cleared when it leaves PAUSED). */
export interface PauseRecord {
  /** When it was paused (ms). */
  at: number;
  /** The caller's reason, if any (bounded like a cancel reason). */
  reason?: string;
  /** hold_deadline: the deadline clock stopped; resume extends the deadline by the time spent paused. */
  holdDeadline: boolean;
  /** The state it was paused in: a PENDING run queued for its concurrency key goes back to the queue on resume. */
  from: "pending" | "running";
  /** A queued run's place in its key's queue (kept for resume). */
  queuedAt?: number;
}

/** The states PauseWorkflow applies to. */
export const PAUSABLE_RUN_STATES: readonly RunState[] = ["pending", "running"];

/** Why `run` cannot be paused, or undefined when it can. */
export function pauseRefusal(run: Pick<RunRecord, "runId" | "state">): PauseRefusal | undefined {
  switch (run.state) {
    case "pending":
    case "running":
      return undefined;
    case "paused":
      return { reason: "RUN_PAUSED", message: `workflow run "${run.runId}" is already paused` };
    case "compensating":
      return { reason: "RUN_COMPENSATING", message: `workflow run "${run.runId}" is compensating: its compensations are not paused` };
    default:
      return { reason: "RUN_FINISHED", message: `workflow run "${run.runId}" already finished (${run.state}): there is nothing to pause` };
  }
}

/** Why `run` cannot be resumed, or undefined when it can. */
export function resumeRefusal(run: Pick<RunRecord, "runId" | "state">): PauseRefusal | undefined {
  if (run.state === "paused") return undefined;
  return { reason: "RUN_NOT_PAUSED", message: `workflow run "${run.runId}" is not paused (${run.state})` };
}

/**
 * The deadline of a run resumed at `now`: unchanged, or, when the pause held
 * the deadline, later by the time spent paused.
 */
export function resumedDeadline(deadlineAt: number, pause: Pick<PauseRecord, "at" | "holdDeadline">, now: number): number {
  return pause.holdDeadline ? deadlineAt + Math.max(0, now - pause.at) : deadlineAt;
}

/** Whether a paused run's deadline can fire (it cannot while the pause holds it). */
export function deadlineRuns(run: Pick<RunRecord, "state" | "pause">): boolean {
  return !(run.state === "paused" && run.pause?.holdDeadline === true);
}

/** Whether the run holds (or may hold) the slot of its own concurrency key: pending, running, or paused while running. */
export function holdsRunSlot(run: Pick<RunRecord, "state" | "pause">): boolean {
  return run.state === "pending" || run.state === "running" || (run.state === "paused" && run.pause?.from === "running");
}
