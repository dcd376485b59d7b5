// Proto messages mapped to what the pages show.
import { toJson, type JsonValue } from "@bufbuild/protobuf";
import { timestampMs, ValueSchema, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { ErrorDetail, StepStatus, WebhookDelivery, Workflow, WorkflowEvent } from "@gen/weft/v1/workflow_pb.js";
import { Backoff } from "@gen/weft/v1/workflow_pb.js";
import type { TimelineEvent } from "./timeline.ts";
import { itemCountsView, joinPolicyText, type ItemCountsView } from "./map-join.ts";
import { compensationStateName, runStateName, stepStateName, webhookStateName, type RunStateName, type StepStateName } from "./states.ts";

export interface RunSummary {
  id: string;
  workflowId: string;
  state: RunStateName;
  createdAt?: number;
  startedAt?: number;
  completedAt?: number;
  currentSteps: string[];
  failedSteps: string[];
  errorMessage: string;
  /** The run's labels, sorted by key. */
  labels: [string, string][];
  /** "concurrency_key" while the run is queued for a slot of its key; "" otherwise. */
  waitingFor: string;
  /** The run this one reruns (RerunWorkflow); "" otherwise. */
  rerunOf: string;
  /** While paused: PauseWorkflow's reason, and whether the pause holds the deadline. */
  pauseReason: string;
  deadlineHeld: boolean;
}

export interface ErrorView {
  message: string;
  reason: string;
  httpStatus: number;
  attempt: number;
  retryable: boolean;
  stepId: string;
}

export interface StepDefinitionView {
  url: string;
  dependsOn: string[];
  parallel: boolean;
  compensation: string;
  timeoutMs?: number;
  retries?: { maxAttempts: number; backoff: string; initialIntervalMs?: number; maxIntervalMs?: number; jitter: number };
  /** The join policy ("all_settled", "at_least: 2", …), if set. */
  join?: string;
  /** Map steps: the for_each pointer, max_concurrency and the item_failures policy. */
  forEach: string;
  maxConcurrency: number;
  itemFailures?: string;
}

export interface StepView {
  id: string;
  state: StepStateName;
  attempts: number;
  startedAt?: number;
  completedAt?: number;
  nextAttemptAt?: number;
  result?: JsonValue;
  hasResult: boolean;
  error?: ErrorView;
  definition: StepDefinitionView;
  compensation: { state: string; attempts: number; error?: ErrorView; startedAt?: number; completedAt?: number };
  /** Map steps, once started: item counts by state. */
  items?: ItemCountsView;
  /** "concurrency_key" while the step is ready but queued for a slot of its key; "" otherwise. */
  waitingFor: string;
  /** A step a rerun copied: the run it was copied from (not called in this run); "" otherwise. */
  copiedFrom: string;
}

export interface WebhookView {
  url: string;
  eventId: string;
  eventType: string;
  state: string;
  attempts: number;
  lastError?: ErrorView;
  nextAttemptAt?: number;
  deliveredAt?: number;
  giveUpAt?: number;
}

export interface RunDetail extends RunSummary {
  context?: JsonValue;
  steps: StepView[];
  error?: ErrorView;
  onComplete: string;
  onError: string;
  timeoutMs?: number;
  deadline?: number;
  saga: boolean;
  baseUrl: string;
  requestId: string;
  lastSequence: bigint;
  compensationFailed: boolean;
  webhook?: WebhookView;
}

/** An event: what the timeline reads of it (timeline.ts), with the error in full and the result. */
export interface EventView extends TimelineEvent {
  error?: ErrorView;
  result?: JsonValue;
}

const ms = (t: Timestamp | undefined): number | undefined => (t ? timestampMs(t) : undefined);
const durationMs = (d: Duration | undefined): number | undefined => (d ? Number(d.seconds) * 1000 + Math.round(d.nanos / 1e6) : undefined);

function errorView(e: ErrorDetail | undefined): ErrorView | undefined {
  if (!e) return undefined;
  return { message: e.message, reason: e.reason, httpStatus: e.httpStatus, attempt: e.attempt, retryable: e.retryable, stepId: e.stepId };
}

export function toRunSummary(w: Workflow): RunSummary {
  return {
    id: w.id,
    workflowId: w.workflowId,
    state: runStateName(w.state),
    createdAt: ms(w.createdAt),
    startedAt: ms(w.startedAt),
    completedAt: ms(w.completedAt),
    currentSteps: [...w.currentSteps],
    failedSteps: [...w.failedSteps],
    errorMessage: w.error?.message ?? "",
    labels: Object.entries(w.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    waitingFor: w.waitingFor,
    rerunOf: w.rerunOf,
    pauseReason: w.pauseReason,
    deadlineHeld: w.deadlineHeld,
  };
}

const BACKOFF_NAMES: Record<number, string> = {
  [Backoff.UNSPECIFIED]: "exponential",
  [Backoff.EXPONENTIAL]: "exponential",
  [Backoff.LINEAR]: "linear",
  [Backoff.FIXED]: "fixed",
};

function stepView(s: StepStatus): StepView {
  const d = s.definition;
  return {
    id: s.id,
    state: stepStateName(s.state),
    attempts: s.attempts,
    startedAt: ms(s.startedAt),
    completedAt: ms(s.completedAt),
    nextAttemptAt: ms(s.nextAttemptAt),
    result: s.result ? toJson(ValueSchema, s.result) : undefined,
    hasResult: s.result !== undefined,
    error: errorView(s.error),
    definition: {
      url: d?.url ?? "",
      dependsOn: [...(d?.dependsOn ?? [])],
      parallel: d?.parallel ?? false,
      compensation: d?.compensation ?? "",
      timeoutMs: durationMs(d?.timeout),
      retries: d?.retries && {
        maxAttempts: d.retries.maxAttempts || 1,
        backoff: BACKOFF_NAMES[d.retries.backoff] ?? "exponential",
        initialIntervalMs: durationMs(d.retries.initialInterval),
        maxIntervalMs: durationMs(d.retries.maxInterval),
        jitter: d.retries.jitter,
      },
      join: joinPolicyText(d?.join),
      forEach: d?.forEach ?? "",
      maxConcurrency: d?.maxConcurrency ?? 0,
      itemFailures: joinPolicyText(d?.itemFailures),
    },
    compensation: {
      state: compensationStateName(s.compensationState),
      attempts: s.compensationAttempts,
      error: errorView(s.compensationError),
      startedAt: ms(s.compensationStartedAt),
      completedAt: ms(s.compensationCompletedAt),
    },
    items: itemCountsView(s.items),
    waitingFor: s.waitingFor,
    copiedFrom: s.copiedFrom,
  };
}

function webhookView(w: WebhookDelivery | undefined): WebhookView | undefined {
  if (!w) return undefined;
  return {
    url: w.url,
    eventId: w.eventId,
    eventType: w.eventType,
    state: webhookStateName(w.state),
    attempts: w.attempts,
    lastError: errorView(w.lastError),
    nextAttemptAt: ms(w.nextAttemptAt),
    deliveredAt: ms(w.deliveredAt),
    giveUpAt: ms(w.giveUpAt),
  };
}

export function toRunDetail(w: Workflow): RunDetail {
  return {
    ...toRunSummary(w),
    context: w.context,
    steps: w.steps.map(stepView),
    error: errorView(w.error),
    onComplete: w.onComplete,
    onError: w.onError,
    timeoutMs: durationMs(w.timeout),
    deadline: ms(w.deadline),
    saga: w.saga,
    baseUrl: w.baseUrl,
    requestId: w.requestId,
    lastSequence: w.lastSequence,
    compensationFailed: w.compensationFailed,
    webhook: webhookView(w.webhook),
  };
}

export function toEventView(e: WorkflowEvent): EventView {
  const t = e.transition;
  let kind: EventView["kind"] = "other";
  let from = "";
  let to = "";
  if (t.case === "run") {
    kind = "run";
    from = runStateName(t.value.fromState);
    to = runStateName(t.value.toState);
  } else if (t.case === "step") {
    kind = "step";
    from = stepStateName(t.value.fromState);
    to = stepStateName(t.value.toState);
  } else if (t.case === "compensation") {
    kind = "compensation";
    from = compensationStateName(t.value.fromState);
    to = compensationStateName(t.value.toState);
  }
  return {
    sequence: Number(e.sequence),
    time: ms(e.time) ?? 0,
    stepId: e.stepId,
    kind,
    from,
    to,
    attempt: e.attempt,
    error: errorView(e.error),
    result: e.result ? toJson(ValueSchema, e.result) : undefined,
  };
}
