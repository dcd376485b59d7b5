// Rerun from a step (RerunWorkflow; README "Recovering runs"): a NEW run of
// the same workflow definition, linked to a finished original (`rerunOf`),
// that runs the given steps and everything downstream of them and copies the
// rest from the original. Pure: no I/O.
//
// Which steps run again (rerunSteps):
// - every step in from_steps and every completed step a saga compensation
//   undid (its compensation ran, or was due), and every step that depends on
//   one of those, directly or not (their transitive dependents);
// - every other step that did not complete in the original (failed,
//   cancelled, not_needed, skipped, join_failed) if a step that depends on it
//   runs again, or if no step depends on it;
// every other step is copied, with `copiedFrom` naming the original: a step
// that completed as COMPLETED, not called, with the original's result,
// attempts and times (a copied map step keeps its items); a step that did not
// complete as it was (its state, error, attempts and times): every step that
// depends on it is copied, so the joins that went on without it stand. A
// copied step is not compensated if the rerun (a saga) fails: it completed in
// the original, whose own outcome stands.
import { checkContext } from "./compile-workflow.ts";
import { type Concurrency, compileConcurrency } from "./concurrency-key.ts";
import { FIELD_LIMITS, quoteInput, tooLong } from "./field-limits.ts";
import { checkLabels, labelPairs } from "./run-labels.ts";
import { isTerminal, type ItemRecord, newRunRecord, type RunRecord, type StepRecord } from "./run-record.ts";
import { runGraph } from "./run-graph.ts";
import type { FieldViolation, JsonObject, Limits, WorkflowSpec } from "./workflow-spec.ts";

/** What RerunWorkflow asks for, after transport decoding. */
export interface RerunInput {
  fromSteps: string[];
  /** Absent: the original's context. Any JSON value; must be an object. */
  context?: unknown;
  /** Absent: the original's labels. */
  labels?: Record<string, string>;
  /** Empty: none. */
  requestId: string;
}

/** Why a run cannot be rerun: an ErrorInfo reason and a message. */
export interface RerunRefusal {
  reason: "RUN_NOT_FINISHED";
  message: string;
}

/** Why `run` cannot be rerun, or undefined when it can (it finished: COMPLETED, FAILED, also timed out, or CANCELLED). */
export function rerunRefusal(run: Pick<RunRecord, "runId" | "state">): RerunRefusal | undefined {
  if (isTerminal(run.state)) return undefined;
  return {
    reason: "RUN_NOT_FINISHED",
    message: `workflow run "${run.runId}" has not finished (${run.state}): only a completed, failed or cancelled run can be rerun`,
  };
}

/**
 * The checks of a rerun request that need no run: from_steps present, each
 * entry a possible step id; labels and request_id as for create.
 * `maxSteps`: the server's step limit (no run has more steps).
 */
export function checkRerunInput(input: RerunInput, maxSteps: number, violations: FieldViolation[]): void {
  if (input.fromSteps.length === 0) violations.push({ field: "from_steps", description: "required: at least one step id" });
  else if (input.fromSteps.length > maxSteps) {
    violations.push({ field: "from_steps", description: `at most ${maxSteps} entries (got ${input.fromSteps.length})` });
  } else {
    input.fromSteps.forEach((id, i) => {
      if (id === "") violations.push({ field: `from_steps[${i}]`, description: "must not be empty" });
      else {
        const problem = tooLong(id, FIELD_LIMITS.maxIdLength);
        if (problem !== undefined) violations.push({ field: `from_steps[${i}]`, description: problem });
      }
    });
  }
  if (input.labels) checkLabels(input.labels, "labels", violations);
  const problem = tooLong(input.requestId, FIELD_LIMITS.maxRequestIdLength);
  if (problem !== undefined) violations.push({ field: "request_id", description: problem });
}

/**
 * from_steps as step indexes of `spec`: unknown ids and duplicates are
 * violations (so a valid list has at most the run's step count; checkRerunInput
 * bounds the list before any run is read).
 */
export function fromStepIndexes(spec: Pick<WorkflowSpec, "steps">, fromSteps: readonly string[], violations: FieldViolation[]): number[] {
  const index = new Map(spec.steps.map((s, i) => [s.id, i]));
  const seen = new Map<string, number>();
  const out: number[] = [];
  fromSteps.forEach((id, i) => {
    const field = `from_steps[${i}]`;
    const k = index.get(id);
    if (k === undefined) violations.push({ field, description: `no step ${quoteInput(id)} in this run` });
    else if (seen.has(id)) violations.push({ field, description: `duplicate of from_steps[${seen.get(id)}]` });
    else {
      seen.set(id, i);
      out.push(k);
    }
  });
  return out;
}

/** The steps downstream of `from` (indexes): those steps and their transitive dependents, as a flag per step. */
export function downstreamSteps(spec: Pick<WorkflowSpec, "steps">, from: readonly number[]): boolean[] {
  const dependents = runGraph(spec.steps).dependents;
  const marked = spec.steps.map(() => false);
  const stack = [...from];
  while (stack.length > 0) {
    const i = stack.pop()!;
    if (marked[i]) continue;
    marked[i] = true;
    stack.push(...dependents[i]);
  }
  return marked;
}

/** Whether a saga compensation undid the original's completed step `st` (its compensation ran, or was due): a rerun runs it again. */
export function undone(st: StepRecord): boolean {
  return st.state === "completed" && st.compensation !== undefined;
}

/**
 * Which steps of `original` a rerun from `from` (indexes) runs again, as a
 * flag per step (see the top of this file); the others are copied.
 */
export function rerunSteps(original: Pick<RunRecord, "spec" | "steps">, from: readonly number[]): boolean[] {
  return withNeededSteps(original, downstreamSteps(original.spec, [...from, ...original.steps.flatMap((st, i) => (undone(st) ? [i] : []))]));
}

/**
 * `runs` (a flag per step: it runs again) with every step of `run` that did
 * not complete and is still needed: one that nothing depends on, or that a
 * step running again depends on (dependents decided first). A step that did
 * not complete and whose dependents all completed (e.g. an `any` join's
 * loser, cancelled as not_needed) stays as it is. Shared by rerun and
 * redrive (RunMachine.redrive).
 */
export function withNeededSteps(run: Pick<RunRecord, "spec" | "steps">, runs: boolean[]): boolean[] {
  const steps = run.spec.steps;
  const dependents = runGraph(steps).dependents;
  // A step that did not complete runs when nothing depends on it or a dependent runs: decide dependents first.
  const decided = steps.map((_, i) => runs[i] || run.steps[i].state === "completed");
  const decide = (i: number): boolean => {
    if (!decided[i]) {
      decided[i] = true;
      runs[i] = dependents[i].length === 0 || dependents[i].map(decide).some(Boolean);
    }
    return runs[i];
  };
  steps.forEach((_, i) => decide(i));
  return runs;
}

/** The rerun's spec (the original's definition with the new context, labels and request id) and the steps it runs from. */
export interface RerunPlan {
  spec: WorkflowSpec;
  fromIndexes: number[];
}

/**
 * Checks a rerun of `original` and makes the new run's spec: the same
 * definition (steps, saga, webhooks, retries, concurrency, timeout), the given
 * context (checked as create checks it; concurrency keys are resolved against
 * it again) or the original's, the given labels or the original's, and the
 * given request id (never the original's).
 */
export function planRerun(
  original: Pick<RunRecord, "spec">,
  input: RerunInput,
  limits: Pick<Limits, "maxContextBytes">,
): { ok: true; plan: RerunPlan } | { ok: false; violations: FieldViolation[] } {
  const violations: FieldViolation[] = [];
  const fromIndexes = fromStepIndexes(original.spec, input.fromSteps, violations);
  const { requestId: _r, requestFingerprint: _f, labels: oldLabels, ...kept } = original.spec;
  const spec: WorkflowSpec = { ...kept };
  if (input.context !== undefined) {
    const problem = checkContext(input.context, limits.maxContextBytes);
    if (problem !== undefined) violations.push({ field: "context", description: problem });
    else {
      const context = input.context as JsonObject;
      spec.context = context;
      // Concurrency keys are values found in the context: find them in the new one.
      const resolve = (c: Concurrency | undefined, stepId?: string): Concurrency | undefined => {
        if (c === undefined) return undefined;
        const r = compileConcurrency({ key: c.key, limit: c.limit }, context, spec.workflowId, stepId);
        if (!Array.isArray(r)) return r;
        const what = stepId === undefined ? "the workflow's concurrency key" : `the concurrency key of step ${quoteInput(stepId)}`;
        for (const [, description] of r) violations.push({ field: "context", description: `${what}: ${description}` });
        return c;
      };
      if (spec.concurrency) spec.concurrency = resolve(spec.concurrency);
      spec.steps = spec.steps.map((s) => (s.concurrency ? { ...s, concurrency: resolve(s.concurrency, s.id) } : s));
    }
  }
  const labels = input.labels !== undefined ? input.labels : oldLabels;
  if (labels && Object.keys(labels).length > 0) spec.labels = Object.fromEntries(labelPairs(labels));
  if (input.requestId !== "") spec.requestId = input.requestId;
  if (violations.length > 0) return { ok: false, violations };
  return { ok: true, plan: { spec, fromIndexes } };
}

/**
 * The new run's first record: as a created run (PENDING, deadline from now),
 * linked to `original` (rerunOf), with the steps a rerun copies already
 * settled as they were (see the top of this file) and the rest pending.
 */
export function rerunRecord(original: RunRecord, plan: RerunPlan, runId: string, now: number): RunRecord {
  const run = newRunRecord(runId, plan.spec, now);
  run.rerunOf = original.runId;
  const runs = rerunSteps(original, plan.fromIndexes);
  original.steps.forEach((st, i) => {
    if (runs[i]) return;
    const copy: StepRecord = { id: st.id, state: st.state, attempts: st.attempts, copiedFrom: original.runId };
    if (st.startedAt !== undefined) copy.startedAt = st.startedAt;
    if (st.completedAt !== undefined) copy.completedAt = st.completedAt;
    if (st.result !== undefined) copy.result = st.result;
    if (st.error !== undefined) copy.error = { ...st.error };
    run.steps[i] = copy;
    const items = original.items?.[i];
    if (items) (run.items ??= {})[i] = items.map((it): ItemRecord => ({ ...it }));
  });
  return run;
}
