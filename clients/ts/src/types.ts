// The public shapes of the Weft TypeScript client. They follow the product
// document: camelCase fields, durations in seconds, states as lowercase strings,
// times as Date. No generated (protobuf) type leaks through them.

/** Any JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export type BackoffStrategy = "exponential" | "linear" | "fixed";

/** How failed attempts of a step are retried. Intervals are in seconds. */
export interface RetryConfig {
  /** Total attempts including the first (1..100). Default 1 (no retry). */
  maxAttempts?: number | undefined;
  /** Default 'exponential'. */
  backoff?: BackoffStrategy | undefined;
  /** Delay before the second attempt, in seconds. Default 1. */
  initialInterval?: number | undefined;
  /** Upper bound for any delay, in seconds. Default 60. */
  maxInterval?: number | undefined;
  /** Random spread applied to each delay, a fraction in [0, 1]. Default 0. */
  jitter?: number | undefined;
}

export interface WorkflowStep {
  /** Unique step identifier within the workflow. */
  id: string;
  /** Job handler URL: absolute, or a path resolved against the base URL. */
  url: string;
  /** Step ids that must complete before this step. */
  dependsOn?: string[] | undefined;
  /** Run concurrently with other parallel steps. Default false. */
  parallel?: boolean | undefined;
  retries?: RetryConfig | undefined;
  /** Per-attempt timeout in seconds. Default 300. */
  timeout?: number | undefined;
  /** URL called to undo this step when a saga run fails. */
  compensation?: string | undefined;
  /**
   * How a step with dependsOn treats failed dependencies. Default 'all' (each
   * must complete); 'all_settled' runs once all finished, failed ones included;
   * { atLeast: k } needs k completed; { toleratedFailurePercent: p } tolerates
   * up to p % failed; 'any' runs at the first completion and cancels the rest.
   */
  join?: JoinPolicy | undefined;
  /**
   * Makes this a map step (README "Map steps"): a JSON pointer to an array,
   * '/context/items' or '/<step in dependsOn>/result/items'. The handler is
   * called once per item, with `item` and `index`.
   */
  forEach?: string | undefined;
  /** Map steps: items in flight at most (1..1000, default 10). */
  maxConcurrency?: number | undefined;
  /** Map steps: a join policy applied to the items (default 'all'). */
  itemFailures?: JoinPolicy | undefined;
  /** At most `limit` steps with this id and key at once, across runs (README "Concurrency keys"). */
  concurrency?: ConcurrencyKey | undefined;
  /** What `previousSteps` carries in this step's calls. Default: the workflow's `previousSteps`. */
  previousSteps?: PreviousStepsMode | undefined;
}

/**
 * A concurrency key (README "Concurrency keys"): `key` is a JSON pointer into
 * the context ('/context/userId'); `limit` (1..1000) how many may hold it at once.
 */
export interface ConcurrencyKey {
  key: string;
  limit: number;
}

/** A step's join policy (README "Partial failures"). */
export type JoinPolicy = "all" | "all_settled" | "any" | { atLeast: number } | { toleratedFailurePercent: number };

/**
 * What `previousSteps` carries in each step call (README "Execution semantics"):
 * 'all' (the default) every step that has finished; 'dependencies' only the
 * step's own dependsOn steps; 'ancestors' its dependencies, theirs, and so on.
 */
export type PreviousStepsMode = "all" | "dependencies" | "ancestors" | "none";

export interface CreateWorkflowInput {
  /** Unique workflow identifier (its name, e.g. 'order-processing'). */
  id: string;
  steps: WorkflowStep[];
  /** Initial context passed to all steps (a JSON object). */
  context?: Record<string, unknown> | undefined;
  /** Webhook URL called when the workflow completes. */
  onComplete?: string | undefined;
  /** Webhook URL called when the workflow fails, times out or is cancelled. */
  onError?: string | undefined;
  /** Maximum workflow duration in seconds. Default 86400. */
  timeout?: number | undefined;
  /** Saga mode: compensate completed steps when the run fails. */
  saga?: boolean | undefined;
  /**
   * Base for step URLs given as paths ('/api/jobs/x'). Defaults to the
   * platform's `jobsBaseUrl` (env WEFT_JOBS_BASE_URL).
   */
  baseUrl?: string | undefined;
  /** Idempotency key: creating again with the same key returns the original run. */
  requestId?: string | undefined;
  /** At most `limit` runs of this workflow with the same key run at once; the others wait, pending. */
  concurrency?: ConcurrencyKey | undefined;
  /** -1000..1000, default 0: among runs and steps waiting for one concurrency key, higher goes first. */
  priority?: number | undefined;
  /**
   * Labels to find the run by (list's `labels`): at most 32; keys of a-z, 0-9,
   * '_', '.', '-', '/' (1..63), values up to 256 characters.
   */
  labels?: Record<string, string> | undefined;
  /** What `previousSteps` carries in each step call. Default 'all'. */
  previousSteps?: PreviousStepsMode | undefined;
}

export type WorkflowState = "pending" | "running" | "completed" | "failed" | "cancelled" | "compensating" | "paused";
export type StepState = "pending" | "running" | "retry_wait" | "completed" | "failed" | "cancelled" | "skipped";
export type CompensationState = "pending" | "running" | "retry_wait" | "succeeded" | "failed";
export type WebhookDeliveryState = "pending" | "delivering" | "retry_wait" | "delivered" | "failed";

/** Why an attempt, a step or a run failed. */
export interface ErrorDetail {
  message: string;
  /** e.g. 'http_status', 'timeout', 'connection', 'handler_error', 'step_failed', 'cancelled', 'timed_out', 'destination_denied'. */
  reason: string;
  /** The handler's HTTP status, when there was a response. */
  httpStatus?: number;
  /** The attempt (1-based) that produced the error; absent for run-level errors. */
  attempt?: number;
  retryable: boolean;
  /** The step that failed the run (run-level errors). */
  stepId?: string;
}

export interface StepCompensationStatus {
  state: CompensationState;
  attempts: number;
  startedAt: Date | undefined;
  completedAt: Date | undefined;
  error: ErrorDetail | undefined;
}

export interface StepStatus {
  id: string;
  state: StepState;
  startedAt: Date | undefined;
  completedAt: Date | undefined;
  /** Attempts started so far. */
  attempts: number;
  /** The handler's result once completed, else undefined. */
  result: JsonValue | undefined;
  /** The last attempt's error, if any. */
  error: ErrorDetail | undefined;
  /** When the next attempt is due (state 'retry_wait'). */
  nextAttemptAt: Date | undefined;
  /** Saga mode: this step's compensation, once the run compensates. */
  compensation: StepCompensationStatus | undefined;
  /** Map steps, once started: item counts. */
  items?: ItemCounts | undefined;
  /** Map steps: the first failed or cancelled items (at most 10 per run). */
  itemFailures?: ItemStatus[] | undefined;
  /** 'concurrency_key' while the step waits (pending) for a slot of its concurrency key. */
  waitingFor?: string | undefined;
  /** Set on a step a rerun copied: the run it was copied from (it was not called in this run; result, attempts and times are from there). */
  copiedFrom?: string | undefined;
}

export interface ItemCounts {
  total: number;
  pending: number;
  running: number;
  retryWait: number;
  completed: number;
  failed: number;
  cancelled: number;
}

export interface ItemStatus {
  index: number;
  state: StepState;
  attempts: number;
  error: ErrorDetail | undefined;
}

export interface WebhookDelivery {
  url: string;
  eventId: string;
  eventType: string;
  state: WebhookDeliveryState;
  attempts: number;
  lastError: ErrorDetail | undefined;
  deliveredAt: Date | undefined;
}

/** A run of a workflow, as `getStatus` returns it. */
export interface WorkflowStatus {
  /** The run's id ('wf_…'), which getStatus, cancel and watch take. */
  id: string;
  /** The workflow's id as given at creation, e.g. 'order-processing'. */
  workflowId: string;
  state: WorkflowState;
  createdAt: Date | undefined;
  startedAt: Date | undefined;
  completedAt: Date | undefined;
  /** The first step in flight or waiting for a retry, if any. */
  currentStep: string | undefined;
  /** Every step in flight or waiting for a retry. */
  currentSteps: string[];
  completedSteps: string[];
  failedSteps: string[];
  context: JsonObject;
  /** Results by step id, for completed steps. */
  results: Record<string, JsonValue>;
  /** Every step, in definition order. */
  steps: StepStatus[];
  /** Why the run failed or was cancelled. */
  error: ErrorDetail | undefined;
  saga: boolean;
  /** Saga mode: at least one compensation failed for good. */
  compensationFailed: boolean;
  /** Whole-run timeout in seconds. */
  timeout: number;
  deadline: Date | undefined;
  onComplete: string | undefined;
  onError: string | undefined;
  baseUrl: string | undefined;
  requestId: string | undefined;
  /** The labels given at creation. */
  labels: Record<string, string>;
  /** Sequence number of the run's latest event (resume a watch after it). */
  lastSequence: number;
  webhook: WebhookDelivery | undefined;
  /** 'concurrency_key' while the run waits (pending) for a slot of its concurrency key. */
  waitingFor?: string | undefined;
  /** The run's priority among waiters of a concurrency key. */
  priority?: number | undefined;
  /** Set on a run `rerun` made: the run it reruns. */
  rerunOf?: string | undefined;
  /** What `previousSteps` carries in each step call, when given at creation (absent: 'all'). */
  previousSteps?: PreviousStepsMode | undefined;
  /** While paused: when, why (pause's reason), and whether the pause holds the deadline. */
  pausedAt?: Date | undefined;
  pauseReason?: string | undefined;
  deadlineHeld?: boolean | undefined;
}

/** What bulkAction does to each matching run. */
export type BulkActionName = "cancel" | "redrive" | "pause" | "resume";

export interface BulkActionOptions {
  /** The filter (as list takes it); at least one field, or all: true. */
  state?: WorkflowState | WorkflowState[] | undefined;
  workflowId?: string | undefined;
  labels?: Record<string, string> | undefined;
  createdAfter?: Date | undefined;
  createdBefore?: Date | undefined;
  all?: boolean | undefined;
  /** Count what would be affected; change nothing. */
  dryRun?: boolean | undefined;
  /** cancel, pause: the reason. */
  reason?: string | undefined;
}

export interface BulkActionResult {
  matched: number;
  affected: number;
  skipped: number;
}

/** What `create` returns: the new run (or, for a repeated requestId, the original one). */
export interface CreatedWorkflow extends WorkflowStatus {
  /** True when requestId matched an existing run, which is returned. */
  deduplicated: boolean;
}

export interface ListWorkflowsOptions {
  /** Only runs in this state / these states. */
  state?: WorkflowState | WorkflowState[] | undefined;
  /** Only runs of this workflow id. */
  workflowId?: string | undefined;
  /** Only runs having every one of these labels. */
  labels?: Record<string, string> | undefined;
  /** Only runs created at or after this time. */
  createdAfter?: Date | undefined;
  /** Only runs created before this time. */
  createdBefore?: Date | undefined;
  /** 1..100, default 50. */
  pageSize?: number | undefined;
  /** From a previous page's nextPageToken. */
  pageToken?: string | undefined;
  /**
   * "basic" (the default) leaves out context, results and steps; "full" has
   * every field, as getStatus returns it (pages may then end early by size).
   */
  view?: "basic" | "full" | undefined;
}

export interface WorkflowPage {
  /** Newest first. */
  workflows: WorkflowStatus[];
  /** Undefined on the last page. */
  nextPageToken: string | undefined;
}

export interface WatchOptions {
  /** Resume: deliver exactly the events after this sequence number, and no snapshot. */
  afterSequence?: number | undefined;
  /** Aborting it ends the watch (the iterator throws a WeftError with code 'canceled'). */
  signal?: AbortSignal | undefined;
}

/** "item": a failed attempt of an item of a map step (see WatchEvent.item). */
export type EventKind = "run" | "step" | "compensation" | "item";

export interface WatchSnapshot {
  type: "snapshot";
  status: WorkflowStatus;
}

export interface WatchEvent {
  type: "event";
  /** 1, 2, 3, … per run, without gaps. */
  sequence: number;
  time: Date;
  /** The step, for step and compensation transitions. */
  stepId: string | undefined;
  kind: EventKind;
  /** The state before the transition (undefined for the run's creation). */
  from: WorkflowState | StepState | CompensationState | undefined;
  to: WorkflowState | StepState | CompensationState;
  /** The attempt the transition belongs to, if any. */
  attempt: number | undefined;
  error: ErrorDetail | undefined;
  /** The step's result, on its transition to 'completed'. */
  result: JsonValue | undefined;
  /** Item events: the item's index in the map step's for_each array. */
  item?: number | undefined;
  /** Run events: true on the transition a redrive made ('failed' or 'cancelled' → 'running'). */
  redriven?: boolean | undefined;
  /** The first event of a run `rerun` made: the run it reruns. */
  rerunOf?: string | undefined;
}

/** What `rerun` takes besides the original run's id. */
export interface RerunOptions {
  /** Steps of the original to run again, each with every step downstream of it (at least one). */
  fromSteps: string[];
  /** The new run's context (a JSON object); default: the original's. */
  context?: JsonObject | undefined;
  /** The new run's labels; default: the original's ({} for none). */
  labels?: Record<string, string> | undefined;
  /** Idempotency key: the same key and options again return the run made the first time. */
  requestId?: string | undefined;
}

export type WatchMessage = WatchSnapshot | WatchEvent;
