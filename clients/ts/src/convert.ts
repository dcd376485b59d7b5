// Conversions between the client's shapes (types.ts) and the generated weft.v1
// messages. Generated types stop here.
import { type MessageInitShape, toJson } from "@bufbuild/protobuf";
import { type Duration, durationMs, type Timestamp, timestampDate, type Value, ValueSchema } from "@bufbuild/protobuf/wkt";
import {
  Backoff,
  CompensationState as PbCompensationState,
  type CreateWorkflowRequestSchema,
  PreviousSteps as PbPreviousSteps,
  type ErrorDetail as PbErrorDetail,
  StepState as PbStepState,
  type StepStatus as PbStepStatus,
  WebhookState as PbWebhookState,
  type Workflow,
  type WorkflowEvent,
  WorkflowState as PbWorkflowState,
} from "./gen/weft/v1/workflow_pb.js";
import { type FieldViolation, invalidArgument } from "./errors.ts";
import type {
  BackoffStrategy,
  CompensationState,
  CreateWorkflowInput,
  ErrorDetail,
  JsonObject,
  JsonValue,
  PreviousStepsMode,
  StepState,
  StepStatus,
  WatchEvent,
  WebhookDeliveryState,
  WorkflowState,
  WorkflowStatus,
} from "./types.ts";

type CreateRequestInit = MessageInitShape<typeof CreateWorkflowRequestSchema>;
type StepInit = NonNullable<CreateRequestInit["steps"]>[number];

// ---- states -------------------------------------------------------------------------

export const WORKFLOW_STATES: Record<PbWorkflowState, WorkflowState | undefined> = {
  [PbWorkflowState.UNSPECIFIED]: undefined,
  [PbWorkflowState.PENDING]: "pending",
  [PbWorkflowState.RUNNING]: "running",
  [PbWorkflowState.COMPLETED]: "completed",
  [PbWorkflowState.FAILED]: "failed",
  [PbWorkflowState.CANCELLED]: "cancelled",
  [PbWorkflowState.COMPENSATING]: "compensating",
  [PbWorkflowState.PAUSED]: "paused",
};

const STEP_STATES: Record<PbStepState, StepState | undefined> = {
  [PbStepState.UNSPECIFIED]: undefined,
  [PbStepState.PENDING]: "pending",
  [PbStepState.RUNNING]: "running",
  [PbStepState.RETRY_WAIT]: "retry_wait",
  [PbStepState.COMPLETED]: "completed",
  [PbStepState.FAILED]: "failed",
  [PbStepState.CANCELLED]: "cancelled",
  [PbStepState.SKIPPED]: "skipped",
};

const COMPENSATION_STATES: Record<PbCompensationState, CompensationState | undefined> = {
  [PbCompensationState.UNSPECIFIED]: undefined,
  [PbCompensationState.PENDING]: "pending",
  [PbCompensationState.RUNNING]: "running",
  [PbCompensationState.RETRY_WAIT]: "retry_wait",
  [PbCompensationState.SUCCEEDED]: "succeeded",
  [PbCompensationState.FAILED]: "failed",
};

const WEBHOOK_STATES: Record<PbWebhookState, WebhookDeliveryState | undefined> = {
  [PbWebhookState.UNSPECIFIED]: undefined,
  [PbWebhookState.PENDING]: "pending",
  [PbWebhookState.DELIVERING]: "delivering",
  [PbWebhookState.RETRY_WAIT]: "retry_wait",
  [PbWebhookState.DELIVERED]: "delivered",
  [PbWebhookState.FAILED]: "failed",
};

const WORKFLOW_STATE_TO_PROTO: Record<WorkflowState, PbWorkflowState> = {
  pending: PbWorkflowState.PENDING,
  running: PbWorkflowState.RUNNING,
  completed: PbWorkflowState.COMPLETED,
  failed: PbWorkflowState.FAILED,
  cancelled: PbWorkflowState.CANCELLED,
  compensating: PbWorkflowState.COMPENSATING,
  paused: PbWorkflowState.PAUSED,
};

const BACKOFFS: Record<BackoffStrategy, Backoff> = {
  exponential: Backoff.EXPONENTIAL,
  linear: Backoff.LINEAR,
  fixed: Backoff.FIXED,
};

export const TERMINAL_STATES: ReadonlySet<WorkflowState> = new Set(["completed", "failed", "cancelled"]);

/** Proto enum values for a state filter; throws WeftError on an unknown name. */
export function workflowStatesToProto(states: WorkflowState | WorkflowState[] | undefined): PbWorkflowState[] {
  if (states === undefined) return [];
  const list = Array.isArray(states) ? states : [states];
  const out: PbWorkflowState[] = [];
  const violations: FieldViolation[] = [];
  list.forEach((s, i) => {
    const v = Object.hasOwn(WORKFLOW_STATE_TO_PROTO, s) ? WORKFLOW_STATE_TO_PROTO[s] : undefined;
    if (v === undefined) violations.push({ field: `states[${i}]`, description: `unknown state ${JSON.stringify(s)}` });
    else out.push(v);
  });
  if (violations.length > 0) throw invalidArgument(violations);
  return out;
}

// ---- create request -----------------------------------------------------------------

const WORKFLOW_FIELDS = new Set(["id", "steps", "context", "onComplete", "onError", "timeout", "saga", "baseUrl", "requestId", "concurrency", "priority", "labels", "previousSteps"]);
const PREVIOUS_STEPS: Record<PreviousStepsMode, PbPreviousSteps> = {
  all: PbPreviousSteps.ALL,
  dependencies: PbPreviousSteps.DEPENDENCIES,
  ancestors: PbPreviousSteps.ANCESTORS,
  none: PbPreviousSteps.NONE,
};
const PREVIOUS_STEPS_FROM_PROTO: Record<number, PreviousStepsMode | undefined> = {
  [PbPreviousSteps.ALL]: "all",
  [PbPreviousSteps.DEPENDENCIES]: "dependencies",
  [PbPreviousSteps.ANCESTORS]: "ancestors",
  [PbPreviousSteps.NONE]: "none",
};
const STEP_FIELDS = new Set([
  "id",
  "url",
  "dependsOn",
  "parallel",
  "retries",
  "timeout",
  "compensation",
  "join",
  "forEach",
  "maxConcurrency",
  "itemFailures",
  "concurrency",
  "previousSteps",
]);
const JOIN_NAMES = { all: "all", all_settled: "allSettled", any: "any" } as const;
const RETRY_FIELDS = new Set(["maxAttempts", "backoff", "initialInterval", "maxInterval", "jitter"]);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Seconds as a google.protobuf.Duration (seconds and nanos share the sign). */
export function secondsToDuration(s: number): { seconds: bigint; nanos: number } {
  let whole = Math.trunc(s);
  let nanos = Math.round((s - whole) * 1e9);
  if (Math.abs(nanos) >= 1e9) {
    whole += Math.sign(nanos);
    nanos = 0;
  }
  return { seconds: BigInt(whole), nanos };
}

export interface RequestDefaults {
  /** Base for relative step URLs when the call gives none. */
  jobsBaseUrl?: string | undefined;
  /** Applied to every URL of the request (steps, compensations, webhooks, base URL). */
  rewriteUrl?: ((url: string) => string) | undefined;
}

/**
 * Builds a CreateWorkflowRequest from the product document's shape. Types the
 * wire cannot carry (a timeout that is not a number, an unknown backoff, an
 * unknown field, a context that is not a JSON object) are reported like the
 * server reports problems: a WeftError 'invalid_argument' with one field
 * violation each, using the server's field paths. Everything else (ranges,
 * ids, URLs, the DAG) is left to the server, which checks it all at once.
 */
export function toCreateRequest(input: CreateWorkflowInput, defaults: RequestDefaults): CreateRequestInit {
  const violations: FieldViolation[] = [];
  const add = (field: string, description: string) => violations.push({ field, description });
  if (!isRecord(input)) throw invalidArgument([{ field: "", description: "the workflow must be an object" }]);
  const rewrite = (url: string) => (defaults.rewriteUrl && url ? defaults.rewriteUrl(url) : url);

  const str = (v: unknown, field: string): string => {
    if (v === undefined || v === null) return "";
    if (typeof v !== "string") {
      add(field, "must be a string");
      return "";
    }
    return v;
  };
  const seconds = (v: unknown, field: string): Duration | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v)) {
      add(field, "must be a number of seconds");
      return undefined;
    }
    return { $typeName: "google.protobuf.Duration", ...secondsToDuration(v) };
  };
  const bool = (v: unknown, field: string): boolean => {
    if (v === undefined || v === null) return false;
    if (typeof v !== "boolean") add(field, "must be a boolean");
    return v === true;
  };
  /** `{key, limit}`; the server checks the pointer and the range. */
  const concurrencyKey = (v: unknown, field: string): { key: string; limit: number } | undefined => {
    if (v === undefined || v === null) return undefined;
    if (!isRecord(v)) {
      add(field, "must be {key, limit}");
      return undefined;
    }
    const limit = v.limit;
    if (typeof limit !== "number" || !Number.isInteger(limit) || Math.abs(limit) > 2 ** 31 - 1) add(`${field}.limit`, "must be an integer");
    for (const k of Object.keys(v)) if (k !== "key" && k !== "limit" && v[k] !== undefined) add(`${field}.${k}`, "unknown field");
    return { key: str(v.key, `${field}.key`), limit: typeof limit === "number" ? limit : 0 };
  };
  /** 'all', 'dependencies', 'ancestors' or 'none' as the enum; undefined when not given. */
  const previousStepsMode = (v: unknown, field: string): PbPreviousSteps | undefined => {
    if (v === undefined || v === null) return undefined;
    const mode = typeof v === "string" && Object.hasOwn(PREVIOUS_STEPS, v) ? PREVIOUS_STEPS[v as PreviousStepsMode] : undefined;
    if (mode === undefined) add(field, `must be "all", "dependencies", "ancestors" or "none", got ${String(JSON.stringify(v)).slice(0, 40)}`);
    return mode;
  };
  const unknownFields = (o: Record<string, unknown>, known: Set<string>, prefix: string) => {
    for (const k of Object.keys(o)) {
      if (!known.has(k) && o[k] !== undefined) add(`${prefix}${k}`, "unknown field");
    }
  };

  unknownFields(input, WORKFLOW_FIELDS, "");
  const steps: StepInit[] = [];
  if (input.steps !== undefined && !Array.isArray(input.steps)) add("steps", "must be an array");
  const rawSteps: unknown[] = Array.isArray(input.steps) ? input.steps : [];
  rawSteps.forEach((raw, i) => {
    const p = `steps[${i}]`;
    if (!isRecord(raw)) {
      add(p, "must be an object");
      return;
    }
    unknownFields(raw, STEP_FIELDS, `${p}.`);
    const dependsOn: string[] = [];
    if (raw.dependsOn !== undefined && raw.dependsOn !== null) {
      if (!Array.isArray(raw.dependsOn)) add(`${p}.depends_on`, "must be an array of step ids");
      else raw.dependsOn.forEach((d, j) => dependsOn.push(str(d, `${p}.depends_on[${j}]`)));
    }
    const step: StepInit = {
      id: str(raw.id, `${p}.id`),
      url: rewrite(str(raw.url, `${p}.url`)),
      dependsOn,
      parallel: bool(raw.parallel, `${p}.parallel`),
      timeout: seconds(raw.timeout, `${p}.timeout`),
      compensation: rewrite(str(raw.compensation, `${p}.compensation`)),
    };
    const r = raw.retries;
    if (r !== undefined && r !== null) {
      const rp = `${p}.retries`;
      if (!isRecord(r)) {
        add(rp, "must be an object");
      } else {
        unknownFields(r, RETRY_FIELDS, `${rp}.`);
        let maxAttempts = 0;
        if (r.maxAttempts !== undefined && r.maxAttempts !== null) {
          if (typeof r.maxAttempts !== "number" || !Number.isInteger(r.maxAttempts) || Math.abs(r.maxAttempts) > 2 ** 31 - 1) {
            add(`${rp}.max_attempts`, "must be an integer");
          } else {
            maxAttempts = r.maxAttempts;
          }
        }
        let backoff = Backoff.UNSPECIFIED;
        if (r.backoff !== undefined && r.backoff !== null) {
          const b = typeof r.backoff === "string" && Object.hasOwn(BACKOFFS, r.backoff) ? BACKOFFS[r.backoff as BackoffStrategy] : undefined;
          if (b === undefined) add(`${rp}.backoff`, `must be "exponential", "linear" or "fixed", got ${JSON.stringify(r.backoff)}`);
          else backoff = b;
        }
        let jitter = 0;
        if (r.jitter !== undefined && r.jitter !== null) {
          if (typeof r.jitter !== "number" || !Number.isFinite(r.jitter)) add(`${rp}.jitter`, "must be a number");
          else jitter = r.jitter;
        }
        step.retries = {
          maxAttempts,
          backoff,
          initialInterval: seconds(r.initialInterval, `${rp}.initial_interval`),
          maxInterval: seconds(r.maxInterval, `${rp}.max_interval`),
          jitter,
        };
      }
    }
    const joinPolicy = (j: unknown, jp: string): StepInit["join"] => {
      if (j === undefined || j === null) return undefined;
      const expected = `must be "all", "all_settled", "any", { atLeast: k } or { toleratedFailurePercent: p }`;
      if (typeof j === "string" && Object.hasOwn(JOIN_NAMES, j)) {
        return { policy: { case: JOIN_NAMES[j as keyof typeof JOIN_NAMES], value: {} } };
      } else if (isRecord(j) && Object.keys(j).length === 1 && typeof j.atLeast === "number") {
        if (!Number.isInteger(j.atLeast) || Math.abs(j.atLeast) > 2 ** 31 - 1) add(`${jp}.at_least`, "must be an integer");
        else return { policy: { case: "atLeast", value: j.atLeast } };
      } else if (isRecord(j) && Object.keys(j).length === 1 && typeof j.toleratedFailurePercent === "number") {
        return { policy: { case: "toleratedFailurePercent", value: j.toleratedFailurePercent } };
      } else {
        add(jp, expected);
      }
      return undefined;
    };
    const join = joinPolicy(raw.join, `${p}.join`);
    if (join) step.join = join;
    if (raw.forEach !== undefined && raw.forEach !== null) step.forEach = str(raw.forEach, `${p}.for_each`);
    const mc = raw.maxConcurrency;
    if (mc !== undefined && mc !== null) {
      if (typeof mc !== "number" || !Number.isInteger(mc) || Math.abs(mc) > 2 ** 31 - 1) add(`${p}.max_concurrency`, "must be an integer");
      else step.maxConcurrency = mc;
    }
    const itemFailures = joinPolicy(raw.itemFailures, `${p}.item_failures`);
    if (itemFailures) step.itemFailures = itemFailures;
    const concurrency = concurrencyKey(raw.concurrency, `${p}.concurrency`);
    if (concurrency) step.concurrency = concurrency;
    const stepMode = previousStepsMode(raw.previousSteps, `${p}.previous_steps`);
    if (stepMode !== undefined) step.previousSteps = stepMode;
    steps.push(step);
  });

  let context: JsonObject | undefined;
  if (input.context !== undefined && input.context !== null) {
    if (!isRecord(input.context)) {
      add("context", "must be a JSON object");
    } else {
      // JSON semantics, as the handlers will see it: Dates become strings, undefined disappears.
      try {
        context = JSON.parse(JSON.stringify(input.context)) as JsonObject;
      } catch (err) {
        add("context", `must be JSON-serializable: ${(err as Error).message}`);
      }
    }
  }

  // Labels: strings by key; the server checks keys and sizes (README "Labels and search").
  const labels: Record<string, string> = {};
  if (input.labels !== undefined && input.labels !== null) {
    if (!isRecord(input.labels)) add("labels", "must be an object of strings");
    else for (const [k, v] of Object.entries(input.labels)) labels[k] = str(v, `labels[${JSON.stringify(k.slice(0, 63))}]`);
  }

  const baseUrl = input.baseUrl ?? defaults.jobsBaseUrl;
  const req: CreateRequestInit = {
    id: str(input.id, "id"),
    steps,
    context,
    onComplete: rewrite(str(input.onComplete, "on_complete")),
    onError: rewrite(str(input.onError, "on_error")),
    timeout: seconds(input.timeout, "timeout"),
    saga: bool(input.saga, "saga"),
    baseUrl: rewrite(str(baseUrl, "base_url")),
    requestId: str(input.requestId, "request_id"),
    labels,
  };
  const concurrency = concurrencyKey(input.concurrency, "concurrency");
  if (concurrency) req.concurrency = concurrency;
  const priority: unknown = input.priority;
  if (priority !== undefined && priority !== null) {
    if (typeof priority !== "number" || !Number.isInteger(priority) || Math.abs(priority) > 2 ** 31 - 1) add("priority", "must be an integer");
    else req.priority = priority;
  }
  const previousSteps = previousStepsMode(input.previousSteps, "previous_steps");
  if (previousSteps !== undefined) req.previousSteps = previousSteps;
  if (violations.length > 0) throw invalidArgument(violations);
  return req;
}

// ---- responses ----------------------------------------------------------------------

const date = (t: Timestamp | undefined): Date | undefined => (t === undefined ? undefined : timestampDate(t));
const json = (v: Value | undefined): JsonValue | undefined => (v === undefined ? undefined : (toJson(ValueSchema, v) as JsonValue));
const opt = (s: string): string | undefined => (s === "" ? undefined : s);

export function toErrorDetail(e: PbErrorDetail | undefined): ErrorDetail | undefined {
  if (!e) return undefined;
  const out: ErrorDetail = { message: e.message, reason: e.reason, retryable: e.retryable };
  if (e.httpStatus !== 0) out.httpStatus = e.httpStatus;
  if (e.attempt !== 0) out.attempt = e.attempt;
  if (e.stepId !== "") out.stepId = e.stepId;
  return out;
}

function toStepStatus(s: PbStepStatus): StepStatus {
  const compensationState = COMPENSATION_STATES[s.compensationState];
  return {
    id: s.id,
    state: STEP_STATES[s.state] ?? "pending",
    startedAt: date(s.startedAt),
    completedAt: date(s.completedAt),
    attempts: s.attempts,
    result: json(s.result),
    error: toErrorDetail(s.error),
    nextAttemptAt: date(s.nextAttemptAt),
    ...(s.waitingFor ? { waitingFor: s.waitingFor } : {}),
    ...(s.copiedFrom ? { copiedFrom: s.copiedFrom } : {}),
    ...(s.items
      ? {
          items: {
            total: s.items.total,
            pending: s.items.pending,
            running: s.items.running,
            retryWait: s.items.retryWait,
            completed: s.items.completed,
            failed: s.items.failed,
            cancelled: s.items.cancelled,
          },
          itemFailures: s.itemFailures.map((f) => ({ index: f.index, state: STEP_STATES[f.state] ?? "failed", attempts: f.attempts, error: toErrorDetail(f.error) })),
        }
      : {}),
    compensation: compensationState && {
      state: compensationState,
      attempts: s.compensationAttempts,
      startedAt: date(s.compensationStartedAt),
      completedAt: date(s.compensationCompletedAt),
      error: toErrorDetail(s.compensationError),
    },
  };
}

const durationSeconds = (d: Duration | undefined) => (d === undefined ? 0 : durationMs(d) / 1000);

export function toWorkflowStatus(w: Workflow): WorkflowStatus {
  const results: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(w.results)) results[k] = json(v) ?? null;
  const webhookState = w.webhook && WEBHOOK_STATES[w.webhook.state];
  return {
    id: w.id,
    workflowId: w.workflowId,
    state: WORKFLOW_STATES[w.state] ?? "pending",
    createdAt: date(w.createdAt),
    startedAt: date(w.startedAt),
    completedAt: date(w.completedAt),
    currentStep: w.currentSteps[0],
    currentSteps: [...w.currentSteps],
    completedSteps: [...w.completedSteps],
    failedSteps: [...w.failedSteps],
    context: (w.context ?? {}) as JsonObject,
    results,
    steps: w.steps.map(toStepStatus),
    error: toErrorDetail(w.error),
    saga: w.saga,
    compensationFailed: w.compensationFailed,
    timeout: durationSeconds(w.timeout),
    deadline: date(w.deadline),
    onComplete: opt(w.onComplete),
    onError: opt(w.onError),
    baseUrl: opt(w.baseUrl),
    requestId: opt(w.requestId),
    labels: { ...w.labels },
    lastSequence: Number(w.lastSequence),
    ...(w.waitingFor ? { waitingFor: w.waitingFor } : {}),
    ...(w.priority ? { priority: w.priority } : {}),
    ...(w.rerunOf ? { rerunOf: w.rerunOf } : {}),
    ...(PREVIOUS_STEPS_FROM_PROTO[w.previousSteps] ? { previousSteps: PREVIOUS_STEPS_FROM_PROTO[w.previousSteps] } : {}),
    ...(w.pausedAt ? { pausedAt: date(w.pausedAt), pauseReason: opt(w.pauseReason), deadlineHeld: w.deadlineHeld } : {}),
    webhook:
      w.webhook && webhookState
        ? {
            url: w.webhook.url,
            eventId: w.webhook.eventId,
            eventType: w.webhook.eventType,
            state: webhookState,
            attempts: w.webhook.attempts,
            lastError: toErrorDetail(w.webhook.lastError),
            deliveredAt: date(w.webhook.deliveredAt),
          }
        : undefined,
  };
}

/** A WorkflowEvent as a plain object; undefined for a transition this SDK does not know. */
export function toWatchEvent(e: WorkflowEvent): WatchEvent | undefined {
  const t = e.transition;
  let from: WatchEvent["from"];
  let to: WatchEvent["to"] | undefined;
  if (t.case === "run") {
    from = WORKFLOW_STATES[t.value.fromState];
    to = WORKFLOW_STATES[t.value.toState];
  } else if (t.case === "step" || t.case === "item") {
    from = STEP_STATES[t.value.fromState];
    to = STEP_STATES[t.value.toState];
  } else if (t.case === "compensation") {
    from = COMPENSATION_STATES[t.value.fromState];
    to = COMPENSATION_STATES[t.value.toState];
  }
  if (t.case === undefined || to === undefined) return undefined;
  return {
    type: "event",
    sequence: Number(e.sequence),
    time: date(e.time) ?? new Date(0),
    stepId: opt(e.stepId),
    kind: t.case,
    from,
    to,
    attempt: e.attempt === 0 ? undefined : e.attempt,
    error: toErrorDetail(e.error),
    result: json(e.result),
    ...(t.case === "item" ? { item: e.itemIndex } : {}),
    ...(t.case === "run" && t.value.redriven ? { redriven: true } : {}),
    ...(t.case === "run" && t.value.rerunOf ? { rerunOf: t.value.rerunOf } : {}),
  };
}

/** Whether an event is the run's terminal transition (the watch ends after it). */
export function isTerminalEvent(e: WatchEvent): boolean {
  return e.kind === "run" && TERMINAL_STATES.has(e.to as WorkflowState);
}
