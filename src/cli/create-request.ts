// A workflow file's request (src/cli/workflow-file.ts) as the generated CreateWorkflowRequest.
import { create } from "@bufbuild/protobuf";
import type { JsonObject } from "@bufbuild/protobuf";
import { type Duration, DurationSchema } from "@bufbuild/protobuf/wkt";
import { Backoff, type CreateWorkflowRequest, CreateWorkflowRequestSchema, PreviousSteps } from "../../gen/ts/weft/v1/workflow_pb.js";
import type { JoinRequest, WorkflowRequest } from "./workflow-file.ts";
import { PREVIOUS_STEPS_TO_PROTO } from "../transport/mappers.ts";

const BACKOFF = { exponential: Backoff.EXPONENTIAL, linear: Backoff.LINEAR, fixed: Backoff.FIXED } as const;

/** Seconds (a number, may have a fraction) as a Duration. */
export function seconds(value: number): Duration {
  const whole = Math.floor(value);
  return create(DurationSchema, { seconds: BigInt(whole), nanos: Math.round((value - whole) * 1e9) });
}

function joinPolicy(j: JoinRequest) {
  if (j === "all") return { policy: { case: "all" as const, value: {} } };
  if (j === "all_settled") return { policy: { case: "allSettled" as const, value: {} } };
  if (j === "any") return { policy: { case: "any" as const, value: {} } };
  if ("atLeast" in j) return { policy: { case: "atLeast" as const, value: j.atLeast } };
  return { policy: { case: "toleratedFailurePercent" as const, value: j.toleratedFailurePercent } };
}

export function toCreateRequest(w: WorkflowRequest, overrides: { context?: Record<string, unknown> } = {}): CreateWorkflowRequest {
  const context = overrides.context ?? w.context;
  return create(CreateWorkflowRequestSchema, {
    id: w.id,
    steps: w.steps.map((s) => ({
      id: s.id,
      url: s.url,
      dependsOn: s.dependsOn ?? [],
      parallel: s.parallel ?? false,
      retries: s.retries && {
        maxAttempts: s.retries.maxAttempts ?? 0,
        backoff: s.retries.backoff ? BACKOFF[s.retries.backoff] : Backoff.UNSPECIFIED,
        initialInterval: s.retries.initialInterval === undefined ? undefined : seconds(s.retries.initialInterval),
        maxInterval: s.retries.maxInterval === undefined ? undefined : seconds(s.retries.maxInterval),
        jitter: s.retries.jitter ?? 0,
      },
      timeout: s.timeout === undefined ? undefined : seconds(s.timeout),
      compensation: s.compensation ?? "",
      join: s.join === undefined ? undefined : joinPolicy(s.join),
      forEach: s.forEach ?? "",
      maxConcurrency: s.maxConcurrency ?? 0,
      itemFailures: s.itemFailures === undefined ? undefined : joinPolicy(s.itemFailures),
      concurrency: s.concurrency && { key: s.concurrency.key ?? "", limit: s.concurrency.limit ?? 0 },
      previousSteps: s.previousSteps ? PREVIOUS_STEPS_TO_PROTO[s.previousSteps] : PreviousSteps.UNSPECIFIED,
    })),
    context: context as JsonObject | undefined,
    onComplete: w.onComplete ?? "",
    onError: w.onError ?? "",
    timeout: w.timeout === undefined ? undefined : seconds(w.timeout),
    saga: w.saga ?? false,
    baseUrl: w.baseUrl ?? "",
    requestId: w.requestId ?? "",
    concurrency: w.concurrency && { key: w.concurrency.key ?? "", limit: w.concurrency.limit ?? 0 },
    priority: w.priority ?? 0,
    previousSteps: w.previousSteps ? PREVIOUS_STEPS_TO_PROTO[w.previousSteps] : PreviousSteps.UNSPECIFIED,
  });
}

/**
 * `--context k=v` pairs merged over the file's context (a later pair wins). The value is read as
 * JSON when it parses as JSON (numbers, true, {"a":1}), else taken as a string.
 */
export function mergeContext(base: Record<string, unknown> | undefined, pairs: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new Error(`--context: expected key=value, got ${JSON.stringify(pair.slice(0, 40))}`);
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a plain string
    }
    out[pair.slice(0, eq)] = value;
  }
  return out;
}
