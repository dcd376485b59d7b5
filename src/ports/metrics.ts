// What the engine reports for metrics. The engine calls these on its hot path:
// implementations must be cheap (no I/O, no per-call string building).
import type { RunState } from "../domain/run-record.ts";

/** What an HTTP call was for. */
export type CallKind = "step" | "compensation" | "webhook";

export interface EngineMetrics {
  runCreated(workflowId: string): void;
  runFinished(workflowId: string, state: RunState): void;
  /** One finished call; `reason` is the failure reason ("" when it succeeded). */
  attempt(kind: CallKind, ok: boolean, reason: string, seconds: number): void;
  /** From what made work ready (a result, the run's start, a retry timer) to its call being sent, commit included. */
  overhead(seconds: number): void;
  /** One store commit (a run's patch). */
  storeCommit(seconds: number): void;
  /** A call that waited for its host's limits (in-flight calls or rate) was sent after this long. */
  hostWait(seconds: number): void;
}

/** Records nothing: for tests and for --metrics off. */
export const noopMetrics: EngineMetrics = {
  runCreated() {},
  runFinished() {},
  attempt() {},
  overhead() {},
  storeCommit() {},
  hostWait() {},
};
