// Mappers between the weft.v1 protobuf types and the domain. Generated types stop here.
import { create, fromJson, type JsonValue as PbJsonValue, toBinary } from "@bufbuild/protobuf";
import {
  type Duration,
  durationFromMs,
  durationMs,
  EmptySchema,
  timestampFromMs,
  ValueSchema,
} from "@bufbuild/protobuf/wkt";
import {
  Backoff,
  CompensationState as PbCompensationState,
  type CreateWorkflowRequest,
  CreateWorkflowRequestSchema,
  type RerunWorkflowRequest,
  type ErrorDetail,
  ErrorDetailSchema,
  type JoinPolicy as PbJoinPolicy,
  JoinPolicySchema,
  ItemCountsSchema,
  PreviousSteps as PbPreviousSteps,
  type ItemStatus,
  ItemStatusSchema,
  type StepDefinition,
  StepDefinitionSchema,
  StepState as PbStepState,
  type StepStatus,
  StepStatusSchema,
  type StepTransition,
  WebhookDeliverySchema,
  WebhookState as PbWebhookState,
  type Workflow,
  type WorkflowEvent,
  WorkflowEventSchema,
  WorkflowSchema,
  WorkflowState as PbWorkflowState,
} from "../../gen/ts/weft/v1/workflow_pb.js";
import type { RerunInput } from "../domain/rerun.ts";
import { newRunRecord } from "../domain/run-record.ts";
import type {
  CompensationState,
  ErrorInfo,
  ItemRecord,
  RunEvent,
  RunRecord,
  RunState,
  RunSummary,
  StepState,
  WebhookRecord,
  WebhookState,
} from "../domain/run-record.ts";
import type { JoinInput, JoinPolicy } from "../domain/join-policy.ts";
import { countItems } from "../domain/map-step.ts";
import type { PreviousStepsMode } from "../domain/previous-steps.ts";
import { pauseFields } from "./pause-mappers.ts";
import { ITEM_FAILURES_PER_RUN } from "../domain/field-limits.ts";
import type {
  Backoff as DomainBackoff,
  FieldViolation,
  JsonObject,
  JsonValue,
  StepInput,
  WorkflowInput,
  WorkflowSpec,
} from "../domain/workflow-spec.ts";

// ---- requests → domain ---------------------------------------------------------

function optionalMs(d: Duration | undefined): number | undefined {
  return d === undefined ? undefined : durationMs(d);
}

const BACKOFF_TO_DOMAIN: Record<number, DomainBackoff | undefined> = {
  [Backoff.UNSPECIFIED]: undefined,
  [Backoff.EXPONENTIAL]: "exponential",
  [Backoff.LINEAR]: "linear",
  [Backoff.FIXED]: "fixed",
};

const BACKOFF_TO_PROTO: Record<DomainBackoff, Backoff> = {
  exponential: Backoff.EXPONENTIAL,
  linear: Backoff.LINEAR,
  fixed: Backoff.FIXED,
};

const PREVIOUS_STEPS_TO_DOMAIN: Record<number, PreviousStepsMode | undefined> = {
  [PbPreviousSteps.UNSPECIFIED]: undefined,
  [PbPreviousSteps.ALL]: "all",
  [PbPreviousSteps.DEPENDENCIES]: "dependencies",
  [PbPreviousSteps.ANCESTORS]: "ancestors",
  [PbPreviousSteps.NONE]: "none",
};

/** previous_steps modes as the enum (also for the CLI's workflow files). */
export const PREVIOUS_STEPS_TO_PROTO: Record<PreviousStepsMode, PbPreviousSteps> = {
  all: PbPreviousSteps.ALL,
  dependencies: PbPreviousSteps.DEPENDENCIES,
  ancestors: PbPreviousSteps.ANCESTORS,
  none: PbPreviousSteps.NONE,
};

/** The domain's name for a previous_steps value; a number the enum does not define is passed on as text, for validation to refuse. */
function previousStepsInput(v: PbPreviousSteps): string | undefined {
  return Object.hasOwn(PREVIOUS_STEPS_TO_DOMAIN, v) ? PREVIOUS_STEPS_TO_DOMAIN[v] : String(v);
}

function joinInput(j: PbJoinPolicy): JoinInput {
  switch (j.policy.case) {
    case "all":
    case "allSettled":
    case "any":
      return { kind: j.policy.case === "allSettled" ? "all_settled" : j.policy.case };
    case "atLeast":
      return { kind: "at_least", count: j.policy.value };
    case "toleratedFailurePercent":
      return { kind: "tolerated_failure_percent", percent: j.policy.value };
    default:
      return { kind: "none" };
  }
}

function joinToProto(j: JoinPolicy): PbJoinPolicy {
  const empty = create(EmptySchema);
  switch (j.kind) {
    case "all":
      return create(JoinPolicySchema, { policy: { case: "all", value: empty } });
    case "all_settled":
      return create(JoinPolicySchema, { policy: { case: "allSettled", value: empty } });
    case "any":
      return create(JoinPolicySchema, { policy: { case: "any", value: empty } });
    case "at_least":
      return create(JoinPolicySchema, { policy: { case: "atLeast", value: j.count } });
    case "tolerated_failure_percent":
      return create(JoinPolicySchema, { policy: { case: "toleratedFailurePercent", value: j.percent } });
  }
}

function stepInput(s: StepDefinition): StepInput {
  const input: StepInput = {
    id: s.id,
    url: s.url,
    dependsOn: [...s.dependsOn],
    parallel: s.parallel,
    retries: s.retries && {
      maxAttempts: s.retries.maxAttempts,
      backoff: BACKOFF_TO_DOMAIN[s.retries.backoff],
      initialIntervalMs: optionalMs(s.retries.initialInterval),
      maxIntervalMs: optionalMs(s.retries.maxInterval),
      jitter: s.retries.jitter,
    },
    timeoutMs: optionalMs(s.timeout),
    compensation: s.compensation,
  };
  if (s.join) input.join = joinInput(s.join);
  if (s.forEach !== "") input.forEach = s.forEach;
  if (s.maxConcurrency !== 0) input.maxConcurrency = s.maxConcurrency;
  if (s.itemFailures) input.itemFailures = joinInput(s.itemFailures);
  if (s.concurrency) input.concurrency = { key: s.concurrency.key, limit: s.concurrency.limit };
  const previousSteps = previousStepsInput(s.previousSteps);
  if (previousSteps !== undefined) input.previousSteps = previousSteps;
  return input;
}

export function workflowInput(req: CreateWorkflowRequest): WorkflowInput {
  const input: WorkflowInput = {
    id: req.id,
    steps: req.steps.map(stepInput),
    context: req.context,
    onComplete: req.onComplete,
    onError: req.onError,
    timeoutMs: optionalMs(req.timeout),
    saga: req.saga,
    baseUrl: req.baseUrl,
    requestId: req.requestId,
    concurrency: req.concurrency && { key: req.concurrency.key, limit: req.concurrency.limit },
    priority: req.priority,
    labels: req.labels,
  };
  const previousSteps = previousStepsInput(req.previousSteps);
  if (previousSteps !== undefined) input.previousSteps = previousSteps;
  return input;
}

/**
 * The size of the CreateWorkflowRequest that would make a run of `spec` (its
 * definitions as submitted, URLs as resolved: never smaller): what a rerun
 * with a new context, labels or request id is held to, as a create is to
 * --max-request-bytes.
 */
export function createRequestBytes(spec: WorkflowSpec): number {
  const w = workflowToProto(newRunRecord("wf_00000000000000000000000000", spec, 0));
  const req = create(CreateWorkflowRequestSchema, {
    id: w.workflowId,
    steps: w.steps.map((s) => s.definition!),
    context: w.context,
    onComplete: w.onComplete,
    onError: w.onError,
    timeout: w.timeout,
    saga: w.saga,
    baseUrl: w.baseUrl,
    requestId: w.requestId,
    concurrency: w.concurrency,
    priority: w.priority,
    labels: w.labels,
    previousSteps: w.previousSteps,
  });
  return toBinary(CreateWorkflowRequestSchema, req).byteLength;
}

/**
 * A rerun whose new run (`spec`) would be created by a request over
 * `maxBytes`: one violation, naming the field given that takes it over (the
 * new context, then the labels, then the request id, added to the original's
 * definition in that order).
 */
export function rerunSizeViolations(
  spec: WorkflowSpec,
  original: WorkflowSpec,
  input: Pick<RerunInput, "context" | "labels" | "requestId">,
  maxBytes: number,
): FieldViolation[] {
  const { requestId: _r, requestFingerprint: _f, labels: _l, ...rest } = spec;
  const withContext: WorkflowSpec = original.labels ? { ...rest, labels: original.labels } : rest;
  const withLabels: WorkflowSpec = spec.labels ? { ...rest, labels: spec.labels } : rest;
  const stages: [string, boolean, WorkflowSpec, string][] = [
    ["context", input.context !== undefined, withContext, "context"],
    ["labels", input.labels !== undefined, withLabels, "labels"],
    ["request_id", input.requestId !== "", spec, "request id"],
  ];
  for (const [field, given, stage, what] of stages) {
    if (!given) continue;
    const size = createRequestBytes(stage);
    if (size > maxBytes) {
      return [{ field, description: `the run with this ${what} would be created by a request of ${size} bytes, over the limit of ${maxBytes}` }];
    }
  }
  return [];
}

/** A RerunWorkflow request as the domain takes it (src/domain/rerun.ts): unset context and labels keep the original's. */
export function rerunInput(req: RerunWorkflowRequest): RerunInput {
  const input: RerunInput = { fromSteps: req.fromSteps, requestId: req.requestId };
  if (req.context !== undefined) input.context = req.context;
  if (req.labels !== undefined) input.labels = req.labels.labels;
  return input;
}

export const RUN_STATE_FROM_PROTO: Record<number, RunState | undefined> = {
  [PbWorkflowState.PENDING]: "pending",
  [PbWorkflowState.RUNNING]: "running",
  [PbWorkflowState.COMPLETED]: "completed",
  [PbWorkflowState.FAILED]: "failed",
  [PbWorkflowState.CANCELLED]: "cancelled",
  [PbWorkflowState.COMPENSATING]: "compensating",
  [PbWorkflowState.PAUSED]: "paused",
};

// ---- domain → responses -----------------------------------------------------------

const RUN_STATE_TO_PROTO: Record<RunState, PbWorkflowState> = {
  pending: PbWorkflowState.PENDING,
  running: PbWorkflowState.RUNNING,
  completed: PbWorkflowState.COMPLETED,
  failed: PbWorkflowState.FAILED,
  cancelled: PbWorkflowState.CANCELLED,
  compensating: PbWorkflowState.COMPENSATING,
  paused: PbWorkflowState.PAUSED,
};

const STEP_STATE_TO_PROTO: Record<StepState, PbStepState> = {
  pending: PbStepState.PENDING,
  running: PbStepState.RUNNING,
  retry_wait: PbStepState.RETRY_WAIT,
  completed: PbStepState.COMPLETED,
  failed: PbStepState.FAILED,
  cancelled: PbStepState.CANCELLED,
  skipped: PbStepState.SKIPPED,
};

const COMPENSATION_STATE_TO_PROTO: Record<CompensationState | "", PbCompensationState> = {
  "": PbCompensationState.UNSPECIFIED,
  pending: PbCompensationState.PENDING,
  running: PbCompensationState.RUNNING,
  retry_wait: PbCompensationState.RETRY_WAIT,
  succeeded: PbCompensationState.SUCCEEDED,
  failed: PbCompensationState.FAILED,
};

const WEBHOOK_STATE_TO_PROTO: Record<WebhookState, PbWebhookState> = {
  pending: PbWebhookState.PENDING,
  delivering: PbWebhookState.DELIVERING,
  retry_wait: PbWebhookState.RETRY_WAIT,
  delivered: PbWebhookState.DELIVERED,
  failed: PbWebhookState.FAILED,
};

export function runStateToProto(state: RunState): PbWorkflowState {
  return RUN_STATE_TO_PROTO[state];
}

export function stepStateToProto(state: StepState): PbStepState {
  return STEP_STATE_TO_PROTO[state];
}

export function valueToProto(v: JsonValue) {
  return fromJson(ValueSchema, v as PbJsonValue);
}

export function errorToProto(e: ErrorInfo | undefined): ErrorDetail | undefined {
  if (!e) return undefined;
  return create(ErrorDetailSchema, {
    message: e.message,
    reason: e.reason,
    httpStatus: e.httpStatus ?? 0,
    attempt: e.attempt ?? 0,
    retryable: e.retryable ?? false,
    stepId: e.stepId ?? "",
  });
}

const ts = (ms: number | undefined) => (ms === undefined ? undefined : timestampFromMs(ms));

export function workflowToProto(run: RunRecord): Workflow {
  const spec = run.spec;
  const current: string[] = [];
  const completed: string[] = [];
  const failed: string[] = [];
  const results: Workflow["results"] = {};
  const shown = { n: 0 };
  const steps: StepStatus[] = run.steps.map((st, i) => {
    if (st.state === "running" || st.state === "retry_wait") current.push(st.id);
    if (st.state === "failed") failed.push(st.id);
    if (st.state === "completed") {
      completed.push(st.id);
      results[st.id] = valueToProto(st.result ?? null);
    }
    const def = spec.steps[i];
    const sub = def.submitted;
    return create(StepStatusSchema, {
      id: st.id,
      state: STEP_STATE_TO_PROTO[st.state],
      startedAt: ts(st.startedAt),
      completedAt: ts(st.completedAt),
      attempts: st.attempts,
      result: st.state === "completed" ? results[st.id] : undefined,
      error: errorToProto(st.error),
      nextAttemptAt: ts(st.nextAttemptAt),
      definition: create(StepDefinitionSchema, {
        id: def.id,
        url: sub.url,
        dependsOn: def.dependsOn,
        parallel: def.parallel,
        retries: {
          maxAttempts: def.retry.maxAttempts,
          backoff: BACKOFF_TO_PROTO[def.retry.backoff],
          initialInterval: durationFromMs(def.retry.initialIntervalMs),
          maxInterval: durationFromMs(def.retry.maxIntervalMs),
          jitter: def.retry.jitter,
        },
        timeout: durationFromMs(def.timeoutMs),
        compensation: sub.compensation,
        // As submitted: an explicit `all` shows, the default stays unset.
        join: sub.join != null && sub.join.kind !== "none" ? joinToProto(sub.join) : undefined,
        forEach: def.forEach ?? "",
        maxConcurrency: def.forEach !== undefined ? (def.maxConcurrency ?? 0) : 0,
        itemFailures: sub.itemFailures != null && sub.itemFailures.kind !== "none" ? joinToProto(sub.itemFailures) : undefined,
        concurrency: def.concurrency && { key: def.concurrency.key, limit: def.concurrency.limit },
        previousSteps: def.previousSteps ? PREVIOUS_STEPS_TO_PROTO[def.previousSteps] : PbPreviousSteps.UNSPECIFIED,
      }),
      waitingFor: st.waitingFor ?? "",
      concurrencyKey: def.concurrency?.value ?? "",
      copiedFrom: st.copiedFrom ?? "",
      ...itemsToProto(run.items?.[i], shown),
      compensationState: COMPENSATION_STATE_TO_PROTO[st.compensation?.state ?? ""],
      compensationAttempts: st.compensation?.attempts ?? 0,
      compensationError: errorToProto(st.compensation?.error),
      compensationStartedAt: ts(st.compensation?.startedAt),
      compensationCompletedAt: ts(st.compensation?.completedAt),
    });
  });
  const w = basicWorkflow(run, current, completed, failed);
  w.context = spec.context as JsonObject;
  w.results = results;
  w.steps = steps;
  return w;
}

/**
 * The basic view (ListWorkflows' default): every field but context, results
 * and steps, the parts whose size grows with the run.
 */
export function basicWorkflowToProto(run: RunSummary): Workflow {
  const current: string[] = [];
  const completed: string[] = [];
  const failed: string[] = [];
  for (const st of run.steps) {
    if (st.state === "running" || st.state === "retry_wait") current.push(st.id);
    else if (st.state === "failed") failed.push(st.id);
    else if (st.state === "completed") completed.push(st.id);
  }
  return basicWorkflow(run, current, completed, failed);
}

function basicWorkflow(run: RunSummary, current: string[], completed: string[], failed: string[]): Workflow {
  const spec = run.spec;
  return create(WorkflowSchema, {
    id: run.runId,
    workflowId: spec.workflowId,
    state: RUN_STATE_TO_PROTO[run.state],
    createdAt: ts(run.createdAt),
    startedAt: ts(run.startedAt),
    completedAt: ts(run.completedAt),
    currentSteps: current,
    completedSteps: completed,
    failedSteps: failed,
    error: errorToProto(run.error),
    onComplete: spec.onComplete ?? "",
    onError: spec.onError ?? "",
    timeout: durationFromMs(spec.timeoutMs),
    deadline: ts(run.deadlineAt),
    saga: spec.saga,
    baseUrl: spec.baseUrl ?? "",
    requestId: spec.requestId ?? "",
    lastSequence: BigInt(run.lastSeq),
    compensationFailed: run.compensation?.failed ?? false,
    webhook: run.webhook && webhookToProto(run.webhook),
    concurrency: spec.concurrency && { key: spec.concurrency.key, limit: spec.concurrency.limit },
    priority: spec.priority ?? 0,
    waitingFor: run.waitingFor ?? "",
    concurrencyKey: spec.concurrency?.value ?? "",
    previousSteps: spec.previousSteps ? PREVIOUS_STEPS_TO_PROTO[spec.previousSteps] : PbPreviousSteps.UNSPECIFIED,
    labels: { ...spec.labels },
    rerunOf: run.rerunOf ?? "",
    ...pauseFields(run),
  });
}

function webhookToProto(w: WebhookRecord) {
  return create(WebhookDeliverySchema, {
    url: w.url,
    eventId: w.eventId,
    eventType: w.eventType,
    state: WEBHOOK_STATE_TO_PROTO[w.state],
    attempts: w.attempts,
    lastError: errorToProto(w.lastError),
    nextAttemptAt: ts(w.nextAttemptAt),
    deliveredAt: ts(w.deliveredAt),
    giveUpAt: ts(w.giveUpAt),
  });
}

/** Whether an event ends the run's stream: the run reached a terminal state. */
export function isTerminalRunEvent(e: RunEvent): boolean {
  return e.kind === "run" && (e.to === "completed" || e.to === "failed" || e.to === "cancelled");
}

export function eventToProto(e: RunEvent, workflowId: string): WorkflowEvent {
  let transition: WorkflowEvent["transition"];
  if (e.kind === "run") {
    transition = {
      case: "run",
      value: {
        $typeName: "weft.v1.RunTransition",
        fromState: e.from ? RUN_STATE_TO_PROTO[e.from as RunState] : PbWorkflowState.UNSPECIFIED,
        toState: RUN_STATE_TO_PROTO[e.to as RunState],
        redriven: e.redriven === true,
        rerunOf: e.rerunOf ?? "",
      },
    };
  } else if (e.kind === "step" || e.kind === "item") {
    // A map item's transitions are a step's, under their own case.
    const value: StepTransition = {
      $typeName: "weft.v1.StepTransition",
      fromState: STEP_STATE_TO_PROTO[e.from as StepState],
      toState: STEP_STATE_TO_PROTO[e.to as StepState],
    };
    transition = e.kind === "step" ? { case: "step", value } : { case: "item", value };
  } else {
    transition = {
      case: "compensation",
      value: {
        $typeName: "weft.v1.CompensationTransition",
        fromState: COMPENSATION_STATE_TO_PROTO[e.from as CompensationState | ""],
        toState: COMPENSATION_STATE_TO_PROTO[e.to as CompensationState],
      },
    };
  }
  return create(WorkflowEventSchema, {
    sequence: BigInt(e.seq),
    time: timestampFromMs(e.at),
    runId: e.runId,
    workflowId,
    stepId: e.stepId ?? "",
    transition,
    attempt: e.attempt ?? 0,
    error: errorToProto(e.error),
    result: e.result === undefined ? undefined : valueToProto(e.result),
    itemIndex: e.item ?? 0,
    waitingFor: e.waitingFor ?? "",
  });
}

/** One item of a map step, with its result and times (ListStepItems). */
export function itemToProto(it: ItemRecord, index: number): ItemStatus {
  return create(ItemStatusSchema, {
    index,
    state: STEP_STATE_TO_PROTO[it.state],
    attempts: it.attempts,
    error: errorToProto(it.error),
    result: it.state === "completed" ? valueToProto(it.result ?? null) : undefined,
    startedAt: ts(it.startedAt),
    completedAt: ts(it.completedAt),
    nextAttemptAt: ts(it.nextAttemptAt),
  });
}

/**
 * A map step's item counts and its first failed items: ITEM_FAILURES_PER_RUN
 * over all the run's map steps (`shown` counts them), so the answer stays
 * bounded whatever the number of items.
 */
function itemsToProto(items: readonly ItemRecord[] | undefined, shown: { n: number }): Pick<StepStatus, "items" | "itemFailures"> | object {
  if (!items) return {};
  const c = countItems(items);
  const failures: StepStatus["itemFailures"] = [];
  for (let k = 0; k < items.length && shown.n < ITEM_FAILURES_PER_RUN; k++) {
    const it = items[k];
    if (it.state !== "failed" && it.state !== "cancelled") continue;
    shown.n++;
    failures.push(create(ItemStatusSchema, { index: k, state: STEP_STATE_TO_PROTO[it.state], attempts: it.attempts, error: errorToProto(it.error) }));
  }
  return {
    items: create(ItemCountsSchema, {
      total: c.total,
      pending: c.pending,
      running: c.running,
      retryWait: c.retryWait,
      completed: c.completed,
      failed: c.failed,
      cancelled: c.cancelled,
    }),
    itemFailures: failures,
  };
}
