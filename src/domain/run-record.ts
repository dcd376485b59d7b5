// The durable state of a run, as stored and as the engine drives it.
// Times are milliseconds since the epoch.
import type { JsonValue, WorkflowSpec } from "./workflow-spec.ts";

export type RunState =
  | "pending"
  | "running"
  | "completed"
  | "failed"
  | "cancelled"
  | "compensating";

export type StepState =
  | "pending"
  | "running"
  | "retry_wait"
  | "completed"
  | "failed"
  | "cancelled"
  | "skipped";

export const TERMINAL_RUN_STATES: ReadonlySet<RunState> = new Set([
  "completed",
  "failed",
  "cancelled",
]);

export const ACTIVE_RUN_STATES: readonly RunState[] = [
  "pending",
  "running",
  "compensating",
];

export interface ErrorInfo {
  message: string;
  /** Machine-readable reason: http_status, timeout, connection, handler_error, invalid_response, result_too_large, step_failed, cancelled, timed_out, … */
  reason: string;
  httpStatus?: number;
  attempt?: number;
  retryable?: boolean;
  /** The step that failed the run (run-level errors). */
  stepId?: string;
}

export interface StepRecord {
  id: string;
  state: StepState;
  /** Attempts started so far. */
  attempts: number;
  startedAt?: number;
  completedAt?: number;
  result?: JsonValue;
  error?: ErrorInfo;
  nextAttemptAt?: number;
}

export interface RunRecord {
  runId: string;
  spec: WorkflowSpec;
  state: RunState;
  createdAt: number;
  startedAt?: number;
  completedAt?: number;
  deadlineAt: number;
  error?: ErrorInfo;
  /** Same order as spec.steps. */
  steps: StepRecord[];
  /** Bumped by every committed patch; used for compare-and-set. */
  version: number;
  /** Sequence number of the latest event (0 = none). */
  lastSeq: number;
}

/** One state transition of a run (no stepId) or of one of its steps. */
export interface RunEvent {
  runId: string;
  seq: number;
  at: number;
  stepId?: string;
  from: string;
  to: string;
  attempt?: number;
  error?: ErrorInfo;
  result?: JsonValue;
}

/** The header fields of a run that a patch may change. */
export type RunHeaderChange = Partial<
  Pick<RunRecord, "state" | "startedAt" | "completedAt" | "error">
>;

/** What one committed reaction changed: applied atomically with compare-and-set on version. */
export interface RunPatch {
  runId: string;
  /** The version the patch was computed from; the store rejects it if the stored version differs. */
  expectedVersion: number;
  /** expectedVersion + 1 */
  version: number;
  run: RunHeaderChange;
  /** Full new records of the steps that changed, with their index in run.steps. */
  steps: { index: number; record: StepRecord }[];
  /** Events with consecutive sequence numbers continuing from the stored lastSeq. */
  events: RunEvent[];
  lastSeq: number;
}

export function isTerminal(state: RunState): boolean {
  return TERMINAL_RUN_STATES.has(state);
}

export function newRunRecord(runId: string, spec: WorkflowSpec, now: number): RunRecord {
  return {
    runId,
    spec,
    state: "pending",
    createdAt: now,
    deadlineAt: now + spec.timeoutMs,
    steps: spec.steps.map((s) => ({ id: s.id, state: "pending", attempts: 0 })),
    version: 1,
    lastSeq: 1,
  };
}

/** The event every new run starts its log with. */
export function createdEvent(run: RunRecord): RunEvent {
  return { runId: run.runId, seq: 1, at: run.createdAt, from: "", to: "pending" };
}

/** Applies a committed patch to a record (used by stores and readers). */
export function applyPatch(run: RunRecord, patch: RunPatch): void {
  Object.assign(run, patch.run);
  for (const { index, record } of patch.steps) run.steps[index] = record;
  run.version = patch.version;
  run.lastSeq = patch.lastSeq;
}
