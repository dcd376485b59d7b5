// Validation of a submitted workflow: turns a WorkflowInput into a WorkflowSpec
// (defaults applied, URLs resolved) or reports every problem found, each
// addressed by its proto field path (`steps[3].depends_on[0]`).
//
// Pure: no I/O, only the global URL and TextEncoder.
//
// Decisions:
// - A step URL (and compensation, on_complete, on_error) may be a path that
//   starts with a single "/" when base_url is set. The path is appended to the
//   base's path prefix rather than replacing it: base "https://a.com/app" (or
//   "https://a.com/app/") + "/api/x" gives "https://a.com/app/api/x". The
//   resolved URL must keep the base's origin (guards against "/\evil.com").
//   base_url must therefore have no query or fragment.
// - Durations must be at least 1 ms (the message states bounds in seconds).
// - Retry intervals are bounded by DEFAULTS.maxWorkflowTimeoutMs: no delay can
//   usefully exceed the longest possible run.
// - When max_interval is given but initial_interval is not, the default
//   initial interval is lowered to max_interval if it is larger.
// - Cycles: a depth-first search over depends_on edges in definition order
//   reports one cycle per back edge, so every cyclic part of the graph is
//   reported, each cycle once. (Enumerating every elementary cycle can be
//   exponential and is not attempted.) The message follows execution order
//   (`a -> b` means b depends on a); the field is the depends_on entry that
//   closes the cycle.

import type {
  Backoff,
  FieldViolation,
  JsonObject,
  Limits,
  RetryInput,
  RetryPolicy,
  StepInput,
  StepSpec,
  WorkflowInput,
  WorkflowSpec,
} from "./workflow-spec.ts";
import { FIELD_LIMITS, quoteInput as quote } from "./field-limits.ts";
import { DEFAULTS } from "./workflow-spec.ts";
import { checkPriority, type Concurrency, type ConcurrencyInput, compileConcurrency } from "./concurrency-key.ts";
import { MAX_JSON_DEPTH, nestedTooDeep, tooDeepMessage } from "./json-depth.ts";
import { OutboundPolicy } from "./outbound-policy.ts";
import { checkUrlHost } from "./outbound-url.ts";
import { checkJoin } from "./join-policy.ts";
import { checkLabels, labelPairs } from "./run-labels.ts";
import { isPreviousStepsMode, type PreviousStepsMode } from "./previous-steps.ts";
import { DEFAULT_MAX_CONCURRENCY, MAX_MAP_ITEMS, MAX_MAX_CONCURRENCY, parseForEach } from "./map-step.ts";

/** for_each pointers longer than this are refused. */
const MAX_FOR_EACH_LENGTH = 1024;

export type CompileResult =
  | { ok: true; spec: WorkflowSpec }
  | { ok: false; violations: FieldViolation[] };

export const MAX_REQUEST_ID_LENGTH = FIELD_LIMITS.maxRequestIdLength;
/** Nesting depth accepted in `context` (see src/domain/json-depth.ts). */
export const MAX_CONTEXT_DEPTH = MAX_JSON_DEPTH;

const ID_CHAR = /^[A-Za-z0-9_.:-]$/;
const BACKOFFS: readonly Backoff[] = ["exponential", "linear", "fixed"];
const MAX_CYCLE_IDS_SHOWN = 20;
const MAX_VIOLATIONS_FORMATTED = 20;
/** Used when the limits name no outbound policy. */
const DEFAULT_OUTBOUND = new OutboundPolicy();

export function compileWorkflow(
  input: WorkflowInput,
  limits: Limits,
  requestBytes?: number,
): CompileResult {
  const violations: FieldViolation[] = [];
  const add = (field: string, description: string): void => {
    violations.push({ field, description });
  };

  // request
  if (requestBytes !== undefined && requestBytes > limits.maxRequestBytes) {
    add("request", `request is ${requestBytes} bytes, over the limit of ${limits.maxRequestBytes}`);
  }

  // id
  checkId(input.id, "id", add);

  // base_url is needed to resolve the steps' URLs; its violations are
  // reported in proto field order, further below.
  const baseViolations: FieldViolation[] = [];
  let base: URL | undefined;
  let baseInvalid = false;
  const policy = limits.outbound ?? DEFAULT_OUTBOUND;
  if (input.baseUrl !== "") {
    const r = parseAbsolute(input.baseUrl, policy);
    if (typeof r === "string") {
      baseViolations.push({ field: "base_url", description: r });
      baseInvalid = true;
    } else if (r.search !== "" || r.hash !== "" || input.baseUrl.includes("?") || input.baseUrl.includes("#")) {
      baseViolations.push({ field: "base_url", description: "must not have a query or fragment" });
      baseInvalid = true;
    } else {
      base = r;
    }
  }
  const urlContext: UrlContext = { base, baseInvalid, policy };

  // steps
  const steps = input.steps;
  if (steps.length === 0) {
    add("steps", "at least one step is required");
  } else if (steps.length > limits.maxSteps) {
    add("steps", `at most ${limits.maxSteps} steps are allowed (got ${steps.length})`);
  }

  /** First index of each declared (non-empty) step id. */
  const firstIndex = new Map<string, number>();
  steps.forEach((step, i) => {
    const f = `steps[${i}].id`;
    checkId(step.id, f, add);
    if (step.id !== "") {
      const j = firstIndex.get(step.id);
      if (j === undefined) firstIndex.set(step.id, i);
      else add(f, `duplicate step id ${quote(step.id)} (also steps[${j}])`);
    }
  });

  const resolvedUrls: (string | undefined)[] = [];
  const resolvedCompensations: (string | undefined)[] = [];
  /** Per step: usable dependency edges (depends_on index, target step index). */
  const edges: { k: number; to: number }[][] = [];
  const dependsOn: string[][] = [];
  const retries: RetryPolicy[] = [];

  steps.forEach((step, i) => {
    const p = `steps[${i}]`;

    // url
    if (step.url === "") {
      add(`${p}.url`, "required");
      resolvedUrls.push(undefined);
    } else {
      resolvedUrls.push(resolveUrl(step.url, `${p}.url`, urlContext, add));
    }

    // depends_on
    const seen = new Map<string, number>();
    const stepEdges: { k: number; to: number }[] = [];
    const deps: string[] = [];
    // No more entries than there are steps: a longer list must repeat or name unknown steps.
    const maxDeps = Math.max(steps.length, 1);
    if (step.dependsOn.length > maxDeps) {
      add(`${p}.depends_on`, `at most ${maxDeps} entries, the number of steps (got ${step.dependsOn.length})`);
    }
    step.dependsOn.slice(0, maxDeps).forEach((dep, k) => {
      const f = `${p}.depends_on[${k}]`;
      if (dep === "") {
        add(f, "must not be empty");
        return;
      }
      if (dep.length > DEFAULTS.maxIdLength) {
        add(f, `must be at most ${DEFAULTS.maxIdLength} characters (got ${dep.length})`);
        return;
      }
      const prev = seen.get(dep);
      if (prev !== undefined) {
        add(f, `duplicate dependency ${quote(dep)} (also depends_on[${prev}])`);
        return;
      }
      seen.set(dep, k);
      deps.push(dep);
      if (step.id !== "" && dep === step.id) {
        add(f, `step ${quote(dep)} depends on itself`);
        return;
      }
      const to = firstIndex.get(dep);
      if (to === undefined) {
        add(f, `unknown step ${quote(dep)}`);
        return;
      }
      stepEdges.push({ k, to });
    });
    edges.push(stepEdges);
    dependsOn.push(deps);

    // timeout
    if (step.timeoutMs !== undefined) {
      checkDuration(step.timeoutMs, DEFAULTS.maxStepTimeoutMs, `${p}.timeout`, add);
    }

    // retries
    retries.push(compileRetry(step.retries, `${p}.retries`, add));

    // compensation
    resolvedCompensations.push(
      step.compensation === "" ? undefined : resolveUrl(step.compensation, `${p}.compensation`, urlContext, add),
    );

    // join
    if (step.join !== undefined) {
      for (const [suffix, description] of checkJoin(step.join, step.dependsOn.length)) add(`${p}.join${suffix}`, description);
    }

    // previous_steps
    if (step.previousSteps !== undefined && !isPreviousStepsMode(step.previousSteps)) {
      add(`${p}.previous_steps`, `must be all, dependencies, ancestors or none (got ${quote(step.previousSteps)})`);
    }

    // map steps: for_each, max_concurrency, item_failures
    const forEach = step.forEach ?? "";
    if (forEach !== "") {
      if (forEach.length > MAX_FOR_EACH_LENGTH) {
        add(`${p}.for_each`, `must be at most ${MAX_FOR_EACH_LENGTH} characters (got ${forEach.length})`);
      } else {
        const parsed = parseForEach(forEach);
        if (typeof parsed === "string") add(`${p}.for_each`, parsed);
        else if (parsed.source.kind === "step" && !step.dependsOn.includes(parsed.source.stepId)) {
          add(`${p}.for_each`, `points into step ${quote(parsed.source.stepId)}, which is not in depends_on`);
        }
      }
    }
    const mc = step.maxConcurrency ?? 0;
    if (mc !== 0) {
      if (forEach === "") add(`${p}.max_concurrency`, "only a map step (with for_each) can have max_concurrency");
      else if (!Number.isInteger(mc) || mc < 1 || mc > MAX_MAX_CONCURRENCY) {
        add(`${p}.max_concurrency`, `must be between 1 and ${MAX_MAX_CONCURRENCY} (got ${mc})`);
      }
    }
    if (step.itemFailures !== undefined) {
      if (forEach === "") add(`${p}.item_failures`, "only a map step (with for_each) can have item_failures");
      else {
        // k is checked against the items when the step starts (their number is not known yet).
        for (const [suffix, description] of checkJoin(step.itemFailures, MAX_MAP_ITEMS)) add(`${p}.item_failures${suffix}`, description);
      }
    }
  });

  // concurrency keys: resolved against the context, below, once it is known to be usable
  // dependency cycles
  for (const c of findCycles(steps, edges)) add(c.field, c.description);

  // context
  let context: JsonObject = {};
  let contextOk = true;
  if (input.context !== undefined) {
    const problem = checkContext(input.context, limits.maxContextBytes);
    if (problem !== undefined) {
      add("context", problem);
      contextOk = false;
    } else context = input.context as JsonObject;
  }

  // concurrency (workflow and steps), priority
  const concurrency: (Concurrency | undefined)[] = [];
  const resolveConcurrency = (c: ConcurrencyInput | undefined, field: string, stepId?: string): Concurrency | undefined => {
    if (c === undefined) return undefined;
    // A context that failed its own checks has no keys to look up: its violation says why.
    const r = compileConcurrency(c, context, input.id, stepId);
    if (!Array.isArray(r)) return r;
    for (const [suffix, description] of r) if (contextOk || suffix === ".limit") add(`${field}${suffix}`, description);
    return undefined;
  };
  steps.forEach((step, i) => {
    concurrency[i] = resolveConcurrency(step.concurrency, `steps[${i}].concurrency`, step.id);
  });
  const runConcurrency = resolveConcurrency(input.concurrency, "concurrency");
  const priorityProblem = checkPriority(input.priority ?? 0);
  if (priorityProblem !== undefined) add("priority", priorityProblem);

  // on_complete, on_error
  const onComplete = input.onComplete === "" ? undefined : resolveUrl(input.onComplete, "on_complete", urlContext, add);
  const onError = input.onError === "" ? undefined : resolveUrl(input.onError, "on_error", urlContext, add);

  // timeout
  if (input.timeoutMs !== undefined) {
    checkDuration(input.timeoutMs, DEFAULTS.maxWorkflowTimeoutMs, "timeout", add);
  }

  // base_url
  violations.push(...baseViolations);

  // request_id
  if (input.requestId.length > MAX_REQUEST_ID_LENGTH) {
    add("request_id", `must be at most ${MAX_REQUEST_ID_LENGTH} characters (got ${input.requestId.length})`);
  }

  // previous_steps
  let previousSteps: PreviousStepsMode | undefined;
  if (input.previousSteps !== undefined) {
    if (isPreviousStepsMode(input.previousSteps)) previousSteps = input.previousSteps;
    else add("previous_steps", `must be all, dependencies, ancestors or none (got ${quote(input.previousSteps)})`);
  }

  // labels
  if (input.labels) checkLabels(input.labels, "labels", violations);

  if (violations.length > 0) return { ok: false, violations };

  const stepSpecs: StepSpec[] = steps.map((step, i) => {
    const spec: StepSpec = {
      id: step.id,
      url: resolvedUrls[i] as string,
      dependsOn: dependsOn[i],
      parallel: step.parallel,
      retry: retries[i],
      timeoutMs: step.timeoutMs ?? DEFAULTS.stepTimeoutMs,
      submitted: step,
    };
    const compensation = resolvedCompensations[i];
    if (compensation !== undefined) spec.compensation = compensation;
    // Validated above: a policy, not "none". The default is not stored.
    if (step.join !== undefined && step.join.kind !== "none" && step.join.kind !== "all") spec.join = step.join;
    if (step.forEach) {
      spec.forEach = step.forEach;
      spec.maxConcurrency = step.maxConcurrency || DEFAULT_MAX_CONCURRENCY;
      if (step.itemFailures !== undefined && step.itemFailures.kind !== "none" && step.itemFailures.kind !== "all") spec.itemFailures = step.itemFailures;
    }
    if (concurrency[i] !== undefined) spec.concurrency = concurrency[i];
    if (step.previousSteps !== undefined) spec.previousSteps = step.previousSteps as PreviousStepsMode;
    return spec;
  });

  const spec: WorkflowSpec = {
    workflowId: input.id,
    steps: stepSpecs,
    context,
    timeoutMs: input.timeoutMs ?? DEFAULTS.workflowTimeoutMs,
    saga: input.saga,
  };
  if (onComplete !== undefined) spec.onComplete = onComplete;
  if (onError !== undefined) spec.onError = onError;
  if (input.baseUrl !== "") spec.baseUrl = input.baseUrl;
  if (input.requestId !== "") spec.requestId = input.requestId;
  if (runConcurrency !== undefined) spec.concurrency = runConcurrency;
  if (input.priority) spec.priority = input.priority;
  if (previousSteps !== undefined) spec.previousSteps = previousSteps;
  if (input.labels && Object.keys(input.labels).length > 0) spec.labels = Object.fromEntries(labelPairs(input.labels));
  return { ok: true, spec };
}

/** `field: description; …`, at most 20 listed, then `… and N more`. */
export function formatViolations(v: FieldViolation[]): string {
  const shown = v
    .slice(0, MAX_VIOLATIONS_FORMATTED)
    .map((x) => (x.field === "" ? x.description : `${x.field}: ${x.description}`));
  if (v.length > MAX_VIOLATIONS_FORMATTED) shown.push(`… and ${v.length - MAX_VIOLATIONS_FORMATTED} more`);
  return shown.join("; ");
}

// ---------------------------------------------------------------------------

type Add = (field: string, description: string) => void;

interface UrlContext {
  base: URL | undefined;
  /** base_url was given but is invalid (already reported). */
  baseInvalid: boolean;
  policy: OutboundPolicy;
}

function checkId(id: string, field: string, add: Add): void {
  if (id === "") {
    add(field, "required");
    return;
  }
  if (id.length > DEFAULTS.maxIdLength) {
    add(field, `must be at most ${DEFAULTS.maxIdLength} characters (got ${id.length})`);
  }
  let index = 0;
  for (const ch of id) {
    if (!ID_CHAR.test(ch)) {
      add(
        field,
        `invalid character ${JSON.stringify(ch)} at index ${index}: only letters, digits, '_', '-', '.' and ':' are allowed`,
      );
      return;
    }
    index++;
  }
}

/** Parses an absolute http(s) URL whose host is acceptable (see outbound-url.ts), or returns why it is not one. */
function parseAbsolute(s: string, policy: OutboundPolicy): URL | string {
  if (s !== s.trim()) return "must not have leading or trailing whitespace";
  if (s.length > DEFAULTS.maxUrlLength) {
    return `must be at most ${DEFAULTS.maxUrlLength} characters (got ${s.length})`;
  }
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return "must be an absolute http or https URL";
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return "must be an http or https URL";
  if (u.hostname === "") return "must have a host";
  return checkUrlHost(s, u, policy) ?? u;
}

/**
 * Resolves a URL field: an absolute http(s) URL, or a path starting with a
 * single "/" appended to base_url's path. Returns the resolved href, or
 * undefined after reporting a violation (or when base_url is invalid).
 */
function resolveUrl(s: string, field: string, ctx: UrlContext, add: Add): string | undefined {
  if (s.startsWith("/")) {
    if (s !== s.trim()) {
      add(field, "must not have leading or trailing whitespace");
      return undefined;
    }
    if (s.length > DEFAULTS.maxUrlLength) {
      add(field, `must be at most ${DEFAULTS.maxUrlLength} characters (got ${s.length})`);
      return undefined;
    }
    if (s.startsWith("//")) {
      add(field, `must be an absolute http or https URL or a path starting with a single "/"`);
      return undefined;
    }
    if (ctx.baseInvalid) return undefined; // base_url's own violation says it all
    if (ctx.base === undefined) {
      add(field, `relative URL ${quote(s)} needs base_url`);
      return undefined;
    }
    const prefix = ctx.base.pathname.replace(/\/+$/, "");
    let u: URL;
    try {
      u = new URL(prefix + s, ctx.base);
    } catch {
      add(field, `cannot be resolved against base_url`);
      return undefined;
    }
    if (u.origin !== ctx.base.origin) {
      add(field, "path must not change the host of base_url");
      return undefined;
    }
    if (u.href.length > DEFAULTS.maxUrlLength) {
      add(field, `resolved URL is ${u.href.length} characters, over the limit of ${DEFAULTS.maxUrlLength}`);
      return undefined;
    }
    return u.href;
  }
  const r = parseAbsolute(s, ctx.policy);
  if (typeof r === "string") {
    add(
      field,
      r === "must be an absolute http or https URL" ? `must be an absolute http or https URL or a path starting with "/"` : r,
    );
    return undefined;
  }
  return r.href;
}

function formatSeconds(ms: number): string {
  return `${ms / 1000}s`;
}

function checkDuration(ms: number, maxMs: number, field: string, add: Add): void {
  if (!(Number.isFinite(ms) && ms >= 1 && ms <= maxMs)) {
    add(field, `must be between ${formatSeconds(1)} and ${formatSeconds(maxMs)}`);
  }
}

function checkInterval(ms: number, field: string, add: Add): boolean {
  if (Number.isFinite(ms) && ms >= 0 && ms <= DEFAULTS.maxWorkflowTimeoutMs) return true;
  add(field, `must be between 0s and ${formatSeconds(DEFAULTS.maxWorkflowTimeoutMs)}`);
  return false;
}

function compileRetry(r: RetryInput | undefined, p: string, add: Add): RetryPolicy {
  if (r === undefined) {
    return {
      maxAttempts: 1,
      backoff: "exponential",
      initialIntervalMs: DEFAULTS.initialIntervalMs,
      maxIntervalMs: DEFAULTS.maxIntervalMs,
      jitter: 0,
    };
  }
  if (!(Number.isInteger(r.maxAttempts) && r.maxAttempts >= 0 && r.maxAttempts <= DEFAULTS.maxAttempts)) {
    add(`${p}.max_attempts`, `must be between 0 and ${DEFAULTS.maxAttempts} (0 means 1)`);
  }
  if (r.backoff !== undefined && !BACKOFFS.includes(r.backoff)) {
    add(`${p}.backoff`, "must be exponential, linear or fixed");
  }
  const initialOk = r.initialIntervalMs === undefined || checkInterval(r.initialIntervalMs, `${p}.initial_interval`, add);
  const maxOk = r.maxIntervalMs === undefined || checkInterval(r.maxIntervalMs, `${p}.max_interval`, add);
  if (
    initialOk &&
    maxOk &&
    r.initialIntervalMs !== undefined &&
    r.maxIntervalMs !== undefined &&
    r.maxIntervalMs < r.initialIntervalMs
  ) {
    add(
      `${p}.max_interval`,
      `must not be less than initial_interval (${formatSeconds(r.maxIntervalMs)} < ${formatSeconds(r.initialIntervalMs)})`,
    );
  }
  if (!(Number.isFinite(r.jitter) && r.jitter >= 0 && r.jitter <= 1)) {
    add(`${p}.jitter`, "must be between 0 and 1");
  }

  let initial: number;
  let max: number;
  if (r.initialIntervalMs !== undefined) {
    initial = r.initialIntervalMs;
    max = r.maxIntervalMs ?? Math.max(DEFAULTS.maxIntervalMs, initial);
  } else if (r.maxIntervalMs !== undefined) {
    max = r.maxIntervalMs;
    initial = Math.min(DEFAULTS.initialIntervalMs, max);
  } else {
    initial = DEFAULTS.initialIntervalMs;
    max = DEFAULTS.maxIntervalMs;
  }
  return {
    maxAttempts: r.maxAttempts === 0 ? 1 : r.maxAttempts,
    backoff: r.backoff ?? "exponential",
    initialIntervalMs: initial,
    maxIntervalMs: max,
    jitter: r.jitter,
  };
}

/** Why `value` is not an acceptable context, or undefined when it is. */
export function checkContext(value: unknown, maxBytes: number): string | undefined {
  if (!isPlainObject(value)) return "must be a JSON object";
  if (nestedTooDeep(value, MAX_CONTEXT_DEPTH)) return tooDeepMessage(MAX_CONTEXT_DEPTH);
  const problem = checkJson(value, "", 0);
  if (problem !== undefined) return problem;
  const bytes = new TextEncoder().encode(JSON.stringify(value)).length;
  if (bytes > maxBytes) return `context is ${bytes} bytes of JSON, over the limit of ${maxBytes}`;
  return undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function checkJson(v: unknown, path: string, depth: number): string | undefined {
  if (depth > MAX_CONTEXT_DEPTH) return tooDeepMessage(MAX_CONTEXT_DEPTH);
  const at = path === "" ? "" : ` at ${quote(path)}`;
  if (v === null || typeof v === "boolean" || typeof v === "string") return undefined;
  if (typeof v === "number") return Number.isFinite(v) ? undefined : `non-finite number${at}`;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = checkJson(v[i], `${path}[${i}]`, depth + 1);
      if (p !== undefined) return p;
    }
    return undefined;
  }
  if (isPlainObject(v)) {
    for (const key of Object.keys(v)) {
      const p = checkJson(v[key], path === "" ? key : `${path}.${key}`, depth + 1);
      if (p !== undefined) return p;
    }
    return undefined;
  }
  return `value that is not JSON${at}`;
}

function findCycles(steps: StepInput[], edges: { k: number; to: number }[][]): FieldViolation[] {
  const found: FieldViolation[] = [];
  const n = steps.length;
  const color = new Uint8Array(n); // 0 unvisited, 1 on the stack, 2 done
  const position = new Int32Array(n); // index in `stack` while on it
  const stack: number[] = [];
  const nextEdge: number[] = [];
  for (let root = 0; root < n; root++) {
    if (color[root] !== 0) continue;
    color[root] = 1;
    position[root] = 0;
    stack.push(root);
    nextEdge.push(0);
    while (stack.length > 0) {
      const top = stack.length - 1;
      const u = stack[top];
      const e = nextEdge[top];
      if (e < edges[u].length) {
        nextEdge[top] = e + 1;
        const { k, to } = edges[u][e];
        if (color[to] === 0) {
          color[to] = 1;
          position[to] = stack.length;
          stack.push(to);
          nextEdge.push(0);
        } else if (color[to] === 1) {
          // depends_on path: to -> ... -> u -> to; shown in execution order.
          const ids = stack.slice(position[to]).map((i) => steps[i].id);
          ids.push(steps[to].id);
          ids.reverse();
          found.push({ field: `steps[${u}].depends_on[${k}]`, description: `dependency cycle: ${formatCycle(ids)}` });
        }
      } else {
        color[u] = 2;
        stack.pop();
        nextEdge.pop();
      }
    }
  }
  return found;
}

function formatCycle(ids: string[]): string {
  const shown = ids.map((id) => short(id, 64));
  if (shown.length <= MAX_CYCLE_IDS_SHOWN + 1) return shown.join(" -> ");
  const half = MAX_CYCLE_IDS_SHOWN / 2;
  const omitted = shown.length - 2 * half;
  return [...shown.slice(0, half), `… ${omitted} more …`, ...shown.slice(-half)].join(" -> ");
}

function short(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}

