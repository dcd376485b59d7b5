// The durable state of a run, as stored and as the engine drives it.
// Times are milliseconds since the epoch.
import type { JsonValue, WorkflowSpec } from "./workflow-spec.ts";
import type { PauseRecord } from "./pause.ts";

export type RunState =
  | "pending"
  | "running"
  | "completed"
  | "failed"
  | "cancelled"
  | "compensating"
  /** PauseWorkflow: no new step, retry or item starts until ResumeWorkflow (src/domain/pause.ts). */
  | "paused";

export type StepState =
  | "pending"
  | "running"
  | "retry_wait"
  | "completed"
  | "failed"
  | "cancelled"
  | "skipped";

export type CompensationState = "pending" | "running" | "retry_wait" | "succeeded" | "failed";

export type WebhookState = "pending" | "delivering" | "retry_wait" | "delivered" | "failed";

/** What an event is about: the run, a step, a step's compensation, or an item of a map step. */
export type EventKind = "run" | "step" | "compensation" | "item";

export type ItemState = "pending" | "running" | "retry_wait" | "completed" | "failed" | "cancelled";

/** One item of a map step: its own attempts, state, result and error. */
export interface ItemRecord {
  state: ItemState;
  attempts: number;
  startedAt?: number;
  completedAt?: number;
  result?: JsonValue;
  error?: ErrorInfo;
  nextAttemptAt?: number;
}

export const TERMINAL_RUN_STATES: ReadonlySet<RunState> = new Set([
  "completed",
  "failed",
  "cancelled",
]);

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

/** Progress of a step's compensation call (saga mode). */
export interface CompensationRecord {
  state: CompensationState;
  attempts: number;
  startedAt?: number;
  completedAt?: number;
  error?: ErrorInfo;
  nextAttemptAt?: number;
}

export interface StepRecord {
  id: string;
  state: StepState;
  /** Attempts started so far. */
  attempts: number;
  startedAt?: number;
  completedAt?: number;
  /** Sequence number of the event that completed the step (orders compensations). */
  completedSeq?: number;
  result?: JsonValue;
  error?: ErrorInfo;
  nextAttemptAt?: number;
  compensation?: CompensationRecord;
  /** "concurrency_key": ready (pending) but queued for a slot of the step's concurrency key. */
  waitingFor?: string;
  /** When it was queued (orders waiters first come, first served, also after a restart). */
  queuedAt?: number;
  /** RerunWorkflow: the run this completed step was copied from (with its result, attempts and times); it was not called in this run. */
  copiedFrom?: string;
}

/** The on_complete / on_error notification of a finished run. */
export interface WebhookRecord {
  url: string;
  eventId: string;
  eventType: string;
  state: WebhookState;
  attempts: number;
  lastError?: ErrorInfo;
  nextAttemptAt?: number;
  deliveredAt?: number;
  giveUpAt: number;
}

/**
 * The run's span in a distributed trace (set when the run was created with
 * tracing on). Kept with the run so that attempts made after a restart or on
 * another replica parent to the same run span. Lowercase hex W3C ids.
 */
export interface RunTrace {
  traceId: string;
  spanId: string;
  /** The span the run span is a child of (the CreateWorkflow span of a caller's trace). */
  parentSpanId?: string;
  sampled: boolean;
  /** The caller's W3C tracestate, passed on with the run's calls. */
  traceState?: string;
}

/** The run's own fields that change while it runs (what a patch carries). */
export interface RunHeader {
  state: RunState;
  startedAt?: number;
  completedAt?: number;
  deadlineAt: number;
  error?: ErrorInfo;
  /** Saga mode, once compensating: the state the run ends in, and whether a compensation failed for good. */
  compensation?: { outcome: "failed" | "cancelled"; failed: boolean };
  webhook?: WebhookRecord;
  /** Never changes once set; carried in the header so that both stores keep it without a schema change. */
  trace?: RunTrace;
  /** How many times RedriveWorkflow continued the run (absent: never). */
  redrives?: number;
  /** "concurrency_key": pending, queued for a slot of the run's concurrency key. */
  waitingFor?: string;
  /** When it was queued. */
  queuedAt?: number;
  /** RerunWorkflow: the run this one reruns. Never changes once set; carried in the header (as trace) so that both stores keep it without a schema change. */
  rerunOf?: string;
  /** Set while PAUSED. */
  pause?: PauseRecord;
}

export interface RunRecord extends RunHeader {
  runId: string;
  spec: WorkflowSpec;
  createdAt: number;
  /** Same order as spec.steps. */
  steps: StepRecord[];
  /** Bumped by every committed patch; used for compare-and-set. */
  version: number;
  /** Sequence number of the latest event (0 = none). */
  lastSeq: number;
  /**
   * A cancellation asked for on a replica that does not drive the run (stores
   * shared by several replicas only); the run's owner applies it.
   */
  cancelRequest?: { reason: string; at: number };
  /** Items of the map steps that started, by step index (stored one record per item). */
  items?: { [stepIndex: number]: ItemRecord[] };
}

/** One state transition of a run (no stepId) or of one of its steps. */
export interface RunEvent {
  runId: string;
  seq: number;
  at: number;
  kind: EventKind;
  /** Set for step, compensation and item events. */
  stepId?: string;
  /** Item events: the item's index. */
  item?: number;
  from: string;
  to: string;
  attempt?: number;
  error?: ErrorInfo;
  result?: JsonValue;
  /** Run events: the transition RedriveWorkflow made. */
  redriven?: true;
  /** The creation event of a run made by RerunWorkflow: the run it reruns. */
  rerunOf?: string;
  /** A PENDING -> PENDING transition: queued for a slot of a concurrency key. */
  waitingFor?: string;
}


/** What one committed reaction changed: applied atomically with compare-and-set on version. */
export interface RunPatch {
  runId: string;
  /** The run's workflow name (spec.workflowId), for stores that keep it beside each event. */
  workflowId: string;
  /** The version the patch was computed from; the store rejects it if the stored version differs. */
  expectedVersion: number;
  /** expectedVersion + 1 */
  version: number;
  /** The run's new header, when it changed. */
  run?: RunHeader;
  /** Full new records of the steps that changed, with their index in run.steps. */
  steps: { index: number; record: StepRecord }[];
  /** Map steps that started: their whole item lists (written once). */
  itemLists?: { step: number; records: ItemRecord[] }[];
  /** Single items that changed (of lists already stored). */
  items?: { step: number; index: number; record: ItemRecord }[];
  /** Events with consecutive sequence numbers continuing from the stored lastSeq. */
  events: RunEvent[];
  lastSeq: number;
}

export function isTerminal(state: RunState): boolean {
  return TERMINAL_RUN_STATES.has(state);
}

/** The states CancelWorkflow applies to (a compensating run can no longer be cancelled). */
export const CANCELLABLE_RUN_STATES: readonly RunState[] = ["pending", "running", "paused"];

export function isCancellable(state: RunState): boolean {
  return state === "pending" || state === "running" || state === "paused";
}

/** True while the engine has work for the run: steps, compensations or a webhook delivery. */
export function needsDriving(run: RunHeader): boolean {
  if (!isTerminal(run.state)) return true;
  const w = run.webhook?.state;
  return w === "pending" || w === "delivering" || w === "retry_wait";
}

/**
 * A run without the parts that grow with it (context, step definitions, step
 * results and errors): what the basic view of a list needs. A RunRecord is one.
 */
export interface RunSummary extends RunHeader {
  runId: string;
  spec: Omit<WorkflowSpec, "steps" | "context">;
  createdAt: number;
  /** Same order as spec.steps. */
  steps: Pick<StepRecord, "id" | "state">[];
  lastSeq: number;
}

export function runHeader(run: RunRecord): RunHeader {
  const h: RunHeader = { state: run.state, deadlineAt: run.deadlineAt };
  if (run.startedAt !== undefined) h.startedAt = run.startedAt;
  if (run.completedAt !== undefined) h.completedAt = run.completedAt;
  if (run.error !== undefined) h.error = run.error;
  if (run.compensation !== undefined) h.compensation = { ...run.compensation };
  if (run.webhook !== undefined) h.webhook = { ...run.webhook };
  if (run.trace !== undefined) h.trace = run.trace;
  if (run.redrives !== undefined) h.redrives = run.redrives;
  if (run.waitingFor !== undefined) h.waitingFor = run.waitingFor;
  if (run.queuedAt !== undefined) h.queuedAt = run.queuedAt;
  if (run.rerunOf !== undefined) h.rerunOf = run.rerunOf;
  if (run.pause !== undefined) h.pause = { ...run.pause };
  return h;
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
  const e: RunEvent = { runId: run.runId, seq: 1, at: run.createdAt, kind: "run", from: "", to: "pending" };
  if (run.rerunOf !== undefined) e.rerunOf = run.rerunOf;
  return e;
}

/** Applies a committed patch to a record (used by stores and readers). */
export function applyPatch(run: RunRecord, patch: RunPatch): void {
  if (patch.run) {
    for (const k of ["startedAt", "completedAt", "error", "compensation", "webhook", "redrives", "waitingFor", "queuedAt", "pause"] as const) delete run[k];
    Object.assign(run, patch.run);
  }
  for (const { index, record } of patch.steps) run.steps[index] = record;
  if (patch.itemLists?.length || patch.items?.length) {
    const items = (run.items ??= {});
    for (const { step, records } of patch.itemLists ?? []) items[step] = [...records];
    for (const { step, index, record } of patch.items ?? []) items[step][index] = record;
  }
  run.version = patch.version;
  run.lastSeq = patch.lastSeq;
}
