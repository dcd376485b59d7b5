// Rerun from a step (src/domain/rerun.ts; README "Recovering runs"): which steps
// a rerun copies and which run again, and the new run driven by the real run machine.
import { describe, expect, test } from "vitest";
import { type Effects, RunMachine } from "../../src/domain/run-machine.ts";
import { newRunRecord, type RunRecord } from "../../src/domain/run-record.ts";
import { checkRerunInput, downstreamSteps, planRerun, type RerunInput, rerunRecord, rerunRefusal, rerunSteps } from "../../src/domain/rerun.ts";
import { DEFAULT_LIMITS, type FieldViolation, type WorkflowInput } from "../../src/domain/workflow-spec.ts";
import { type TestStep, testWorkflow } from "../support/test-workflow.ts";

const fail = () => ({ error: { reason: "http_status", message: "HTTP 500", httpStatus: 500 }, retryable: false });

/** Answers every call the machine asks for until none is left; returns the calls made ("undo:<id>" for compensations). */
function drive(m: RunMachine, first: Effects, failing: ReadonlySet<string> = new Set(), results: Record<string, unknown> = {}): string[] {
  const calls: string[] = [];
  const queue = [...first.dispatch];
  let t = 100;
  while (queue.length > 0) {
    const w = queue.shift()!;
    const id = w.index >= 0 ? m.run.steps[w.index].id : "";
    let fx: Effects;
    if (w.kind === "step") {
      calls.push(id);
      fx = failing.has(id) ? m.attemptFailed(w.index, w.attempt, fail(), t++) : m.attemptSucceeded(w.index, w.attempt, (results[id] ?? `${id}:${m.run.runId}`) as never, t++);
    } else if (w.kind === "item") {
      calls.push(`${id}[${w.item}]`);
      fx = m.itemSucceeded(w.index, w.item!, w.attempt, `item${w.item}:${m.run.runId}`, t++);
    } else if (w.kind === "compensation") {
      calls.push(`undo:${id}`);
      fx = m.compensationSucceeded(w.index, w.attempt, t++);
    } else continue;
    queue.push(...fx.dispatch);
  }
  return calls;
}

/** A finished original run: created, started and driven to its end. */
function original(steps: TestStep[], opts: { failing?: string[]; extra?: Partial<Omit<WorkflowInput, "steps">>; results?: Record<string, unknown> } = {}) {
  const m = new RunMachine(newRunRecord("wf_ORIGINAL", testWorkflow(steps, opts.extra), 1000));
  const calls = drive(m, m.start(1), new Set(opts.failing), opts.results);
  return { run: m.run, calls };
}

function plan(run: RunRecord, input: Partial<RerunInput> & { fromSteps: string[] }) {
  const p = planRerun(run, { requestId: "", ...input }, DEFAULT_LIMITS);
  if (!p.ok) throw new Error(JSON.stringify(p.violations));
  return p.plan;
}

/** The rerun of `run` from `fromSteps`, started and driven; returns the machine and the calls it made. */
function rerun(run: RunRecord, fromSteps: string[], failing: string[] = [], input: Partial<RerunInput> = {}) {
  const record = rerunRecord(run, plan(run, { fromSteps, ...input }), "wf_RERUN", 5000);
  const m = new RunMachine(structuredClone(record));
  const calls = drive(m, m.start(5001), new Set(failing));
  return { m, calls, record };
}

const states = (run: RunRecord) => Object.fromEntries(run.steps.map((s) => [s.id, s.state]));
const chain = (n: number): TestStep[] => Array.from({ length: n }, (_, i) => ({ id: `s${i + 1}`, dependsOn: i === 0 ? [] : [`s${i}`] }));
const diamond: TestStep[] = [
  { id: "a" },
  { id: "b", dependsOn: ["a"], parallel: true },
  { id: "c", dependsOn: ["a"], parallel: true },
  { id: "d", dependsOn: ["b", "c"] },
];

describe("which steps a rerun runs", () => {
  test("a chain rerun from s3: s1 and s2 are copied with their results, s3..s5 are called", () => {
    const o = original(chain(5));
    expect(o.run.state).toBe("completed");
    const { m, calls, record } = rerun(o.run, ["s3"]);
    expect(record.rerunOf).toBe("wf_ORIGINAL");
    expect(record.state).toBe("pending");
    expect(record.steps[0]).toEqual({
      id: "s1",
      state: "completed",
      attempts: 1,
      startedAt: o.run.steps[0].startedAt,
      completedAt: o.run.steps[0].completedAt,
      result: "s1:wf_ORIGINAL",
      copiedFrom: "wf_ORIGINAL",
    });
    expect(record.steps[2]).toEqual({ id: "s3", state: "pending", attempts: 0 });
    expect(calls).toEqual(["s3", "s4", "s5"]);
    expect(m.run.state).toBe("completed");
    expect(m.run.steps.map((s) => s.result)).toEqual(["s1:wf_ORIGINAL", "s2:wf_ORIGINAL", "s3:wf_RERUN", "s4:wf_RERUN", "s5:wf_RERUN"]);
    // The original is not changed.
    expect(o.run.steps[2].result).toBe("s3:wf_ORIGINAL");
  });

  test("a diamond rerun from one branch calls that branch and the join only", () => {
    const o = original(diamond);
    expect(rerun(o.run, ["b"]).calls).toEqual(["b", "d"]);
    expect(rerun(o.run, ["d"]).calls).toEqual(["d"]);
    expect(rerun(o.run, ["a"]).calls.sort()).toEqual(["a", "b", "c", "d"]);
    // Both branches named: each once.
    expect(rerun(o.run, ["c", "b"]).calls.sort()).toEqual(["b", "c", "d"]);
  });

  test("fan-out / fan-in: a middle branch reruns with the fan-in only", () => {
    const steps: TestStep[] = [
      { id: "split" },
      ...["x", "y", "z"].map((id) => ({ id, dependsOn: ["split"], parallel: true })),
      { id: "merge", dependsOn: ["x", "y", "z"] },
      { id: "side", dependsOn: ["split"] },
    ];
    const o = original(steps);
    const spec = o.run.spec;
    expect(downstreamSteps(spec, [2])).toEqual([false, false, true, false, true, false]);
    expect(downstreamSteps(spec, [0])).toEqual([true, true, true, true, true, true]);
    expect(rerun(o.run, ["y"]).calls).toEqual(["y", "merge"]);
  });

  test("a failed run rerun from its failed step: the completed steps are copied, the failed and skipped ones run", () => {
    const o = original(chain(5), { failing: ["s3"] });
    expect(states(o.run)).toEqual({ s1: "completed", s2: "completed", s3: "failed", s4: "skipped", s5: "skipped" });
    const r = rerun(o.run, ["s3"]);
    expect(r.calls).toEqual(["s3", "s4", "s5"]);
    expect(r.m.run.state).toBe("completed");
    // Rerun from a later step: the steps that did not complete run too, though not downstream.
    expect(rerun(o.run, ["s5"]).calls).toEqual(["s3", "s4", "s5"]);
    // And from an earlier one, everything from there.
    expect(rerun(o.run, ["s2"]).calls).toEqual(["s2", "s3", "s4", "s5"]);
  });

  test("join policies: a tolerated failure and a not_needed step run again when a step depending on them does; copied joins keep their results", () => {
    // d (all_settled over b, c): c failed and was tolerated, d completed; e after d.
    const settled: TestStep[] = [
      { id: "a" },
      { id: "b", dependsOn: ["a"], parallel: true },
      { id: "c", dependsOn: ["a"], parallel: true },
      { id: "d", dependsOn: ["b", "c"], join: { kind: "all_settled" } },
      { id: "e", dependsOn: ["d"] },
    ];
    const o = original(settled, { failing: ["c"] });
    expect(states(o.run)).toEqual({ a: "completed", b: "completed", c: "failed", d: "completed", e: "completed" });
    expect(o.run.state).toBe("completed");
    // From e: c did not complete, but d, the only step depending on it, is copied: c is copied as it was, e alone runs.
    const fromE = rerun(o.run, ["e"]);
    expect(fromE.calls).toEqual(["e"]);
    expect(fromE.record.steps[2]).toEqual({ ...o.run.steps[2], copiedFrom: "wf_ORIGINAL" });
    expect(fromE.m.run.steps[2]).toMatchObject({ state: "failed", error: { reason: "http_status" }, copiedFrom: "wf_ORIGINAL" });
    expect(fromE.m.run.steps[3]).toMatchObject({ state: "completed", copiedFrom: "wf_ORIGINAL" });
    expect(fromE.m.run.state).toBe("completed");
    expect(fromE.m.run.error).toBeUndefined();
    // From d: d waits for c to settle again (all_settled), then runs.
    const fromD = rerun(o.run, ["d"], ["c"]);
    expect(fromD.calls).toEqual(["c", "d", "e"]);
    expect(fromD.m.run.state).toBe("completed");

    // any over b, c: c was cancelled as not needed once b completed.
    const any: TestStep[] = [
      { id: "b", parallel: true },
      { id: "c", parallel: true },
      { id: "d", dependsOn: ["b", "c"], join: { kind: "any" } },
    ];
    const m = new RunMachine(newRunRecord("wf_ORIGINAL", testWorkflow(any), 1000));
    const fx = m.start(1);
    expect(fx.dispatch.map((w) => w.index)).toEqual([0, 1]);
    drive(m, m.attemptSucceeded(0, 1, "b", 2)); // d runs; c is cancelled (not_needed)
    expect(states(m.run)).toEqual({ b: "completed", c: "cancelled", d: "completed" });
    // Rerun from b: d runs, so c (not completed) runs again; d runs at the first completion.
    const r = rerun(m.run, ["b"]);
    expect(r.calls).toContain("d");
    expect(r.calls).toContain("b");
    expect(r.m.run.state).toBe("completed");
  });

  test("the loser of an any join is copied as it was when everything depending on it is copied", () => {
    // b, c parallel; d = any(b, c); e after d. c lost (not_needed) and hangs if called.
    const steps: TestStep[] = [
      { id: "b", parallel: true },
      { id: "c", parallel: true },
      { id: "d", dependsOn: ["b", "c"], join: { kind: "any" } },
      { id: "e", dependsOn: ["d"] },
    ];
    const m = new RunMachine(newRunRecord("wf_ORIGINAL", testWorkflow(steps), 1000));
    m.start(1);
    drive(m, m.attemptSucceeded(0, 1, "b", 2));
    expect(states(m.run)).toEqual({ b: "completed", c: "cancelled", d: "completed", e: "completed" });
    expect(m.run.state).toBe("completed");
    expect(rerunSteps(m.run, [3])).toEqual([false, false, false, true]);
    const record = rerunRecord(m.run, plan(m.run, { fromSteps: ["e"] }), "wf_RERUN", 5000);
    expect(record.steps[1]).toEqual({ ...m.run.steps[1], copiedFrom: "wf_ORIGINAL" });
    expect(record.steps[1].error?.reason).toBe("not_needed");
    // Only e is called: nothing waits for c (a hanging c would keep the rerun running).
    const again = new RunMachine(structuredClone(record));
    const fx = again.start(5001);
    expect(fx.dispatch.map((w) => w.index)).toEqual([3]);
    drive(again, again.attemptSucceeded(3, 1, "e", 5002));
    expect(again.run.state).toBe("completed");
    expect(states(again.run)).toEqual({ b: "completed", c: "cancelled", d: "completed", e: "completed" });
  });

  test("a rerun of an any join whose winner is copied: the join runs at once and the loser is cancelled, never called", () => {
    const steps: TestStep[] = [
      { id: "b", parallel: true },
      { id: "c", parallel: true },
      { id: "d", dependsOn: ["b", "c"], join: { kind: "any" } },
      { id: "e", dependsOn: ["d"] },
    ];
    const m = new RunMachine(newRunRecord("wf_ORIGINAL", testWorkflow(steps), 1000));
    m.start(1);
    drive(m, m.attemptSucceeded(0, 1, "b", 2));
    // From d: d runs, so c (it depends on) is not copied; b, copied, has decided the join already.
    expect(rerunSteps(m.run, [2])).toEqual([false, true, true, true]);
    const r = rerun(m.run, ["d"]);
    expect(r.calls).toEqual(["d", "e"]);
    expect(r.m.run.state).toBe("completed");
    expect(r.m.run.steps[1]).toMatchObject({ state: "cancelled", attempts: 0, error: { reason: "not_needed", message: 'not needed: step "d" went on without it' } });
    expect(r.m.run.steps[1].copiedFrom).toBeUndefined();
    // The same when the rerun first queues for its workflow concurrency key.
    const keyed = new RunMachine(newRunRecord("wf_ORIGINAL", testWorkflow(steps, { context: { k: "x" }, concurrency: { key: "/context/k", limit: 1 } }), 1000));
    keyed.start(1);
    keyed.admitted(-1, 2);
    drive(keyed, keyed.attemptSucceeded(0, 1, "b", 3));
    expect(keyed.run.state).toBe("completed");
    const queued = new RunMachine(rerunRecord(keyed.run, plan(keyed.run, { fromSteps: ["d"] }), "wf_RERUN", 5000));
    expect(queued.start(5001).acquire).toEqual([-1]);
    expect(queued.admitted(-1, 5002).dispatch.map((w) => w.index)).toEqual([2]);
    expect(queued.run.steps[1]).toMatchObject({ state: "cancelled", error: { reason: "not_needed" } });
  });

  test("which steps that did not complete run: those a running step depends on, and those nothing depends on", () => {
    // c failed; d and f (all_settled) tolerated it; x after d.
    const steps: TestStep[] = [
      { id: "a" },
      { id: "c", dependsOn: ["a"], parallel: true },
      { id: "d", dependsOn: ["a", "c"], join: { kind: "all_settled" } },
      { id: "f", dependsOn: ["c"], join: { kind: "all_settled" } },
      { id: "x", dependsOn: ["d"] },
    ];
    const o = original(steps, { failing: ["c"] });
    expect(states(o.run)).toEqual({ a: "completed", c: "failed", d: "completed", f: "completed", x: "completed" });
    expect(o.run.state).toBe("completed");
    // From x: everything depending on c is copied, so c is copied as it was.
    expect(rerunSteps(o.run, [4])).toEqual([false, false, false, false, true]);
    const fromX = rerun(o.run, ["x"]);
    expect(fromX.calls).toEqual(["x"]);
    expect(fromX.m.run.steps[1]).toEqual({ ...o.run.steps[1], copiedFrom: "wf_ORIGINAL" });
    expect(fromX.m.run.state).toBe("completed");
    // From d: d depends on c, so c runs again and d waits for it.
    expect(rerunSteps(o.run, [2])).toEqual([false, true, true, false, true]);
    // From f: f depends on c, so c runs again (d keeps its copied result).
    expect(rerunSteps(o.run, [3])).toEqual([false, true, false, true, false]);
    const fromF = rerun(o.run, ["f"]);
    expect(fromF.calls).toEqual(["c", "f"]);
    expect(fromF.m.run.steps[2]).toMatchObject({ state: "completed", copiedFrom: "wf_ORIGINAL" });
    // A chain of steps that did not complete: the last has no dependents, so it runs, and so do those it depends on.
    const o2 = original(chain(4), { failing: ["s2"] });
    expect(states(o2.run)).toEqual({ s1: "completed", s2: "failed", s3: "skipped", s4: "skipped" });
    expect(rerunSteps(o2.run, [0])).toEqual([true, true, true, true]);
    expect(rerunSteps(o2.run, [3])).toEqual([false, true, true, true]);
  });

  test("map steps: a copied map step keeps its items and collected result; a rerun map step runs its items again", () => {
    const steps: TestStep[] = [
      { id: "prepare" },
      { id: "map", dependsOn: ["prepare"], forEach: "/prepare/result" },
      { id: "collect", dependsOn: ["map"] },
    ];
    const o = original(steps, { results: { prepare: [1, 2, 3] } });
    expect(o.run.state).toBe("completed");
    const copied = rerun(o.run, ["collect"]);
    expect(copied.calls).toEqual(["collect"]);
    expect(copied.record.items?.[1]).toEqual(o.run.items?.[1]);
    expect(copied.record.items?.[1]?.map((it) => it.state)).toEqual(["completed", "completed", "completed"]);
    expect(copied.m.run.steps[1]).toMatchObject({ state: "completed", copiedFrom: "wf_ORIGINAL" });
    expect(copied.m.run.items?.[1]?.map((it) => it.result)).toEqual(["item0:wf_ORIGINAL", "item1:wf_ORIGINAL", "item2:wf_ORIGINAL"]);
    const again = rerun(o.run, ["map"]);
    expect(again.record.items).toBeUndefined();
    expect(again.calls).toEqual(["map[0]", "map[1]", "map[2]", "collect"]);
    expect(again.m.run.items?.[1]?.map((it) => it.result)).toEqual(["item0:wf_RERUN", "item1:wf_RERUN", "item2:wf_RERUN"]);
  });

  test("saga: a failing rerun compensates the steps it ran, not the copied ones", () => {
    const steps = chain(4).map((s) => ({ ...s, compensation: `https://h.test/undo-${s.id}` }));
    const o = original(steps, { extra: { saga: true } });
    expect(o.run.state).toBe("completed");
    const r = rerun(o.run, ["s2"], ["s4"]);
    expect(r.calls).toEqual(["s2", "s3", "s4", "undo:s3", "undo:s2"]);
    expect(r.m.run.state).toBe("failed");
    expect(r.m.run.steps[0].compensation).toBeUndefined();
  });

  test("saga: steps the original's compensations undid run again, with everything downstream of them", () => {
    const steps = chain(4).map((s) => ({ ...s, compensation: s.id === "s2" ? "" : `https://h.test/undo-${s.id}` }));
    const o = original(steps, { extra: { saga: true }, failing: ["s3"] });
    expect(o.calls).toEqual(["s1", "s2", "s3", "undo:s1"]);
    expect(o.run.state).toBe("failed");
    // s1 was undone: it runs again, and so does s2, built on it (though s2 had no compensation).
    const r = rerun(o.run, ["s3"]);
    expect(r.record.steps[1]).toEqual({ id: "s2", state: "pending", attempts: 0 });
    expect(r.calls).toEqual(["s1", "s2", "s3", "s4"]);
    expect(r.m.run.steps.map((s) => s.result)).toEqual(["s1:wf_RERUN", "s2:wf_RERUN", "s3:wf_RERUN", "s4:wf_RERUN"]);
    expect(r.m.run.steps.every((s) => s.copiedFrom === undefined)).toBe(true);
    expect(r.m.run.state).toBe("completed");
    // From the last step: still everything from s1 on.
    expect(rerun(o.run, ["s4"]).calls).toEqual(["s1", "s2", "s3", "s4"]);
  });

  test("saga: a diamond whose undone root runs again runs its branches again too", () => {
    const steps = diamond.map((s) => ({ ...s, compensation: s.id === "a" ? "https://h.test/undo-a" : "" }));
    const o = original(steps, { extra: { saga: true }, failing: ["d"] });
    expect(o.run.state).toBe("failed");
    expect(o.run.steps[0].compensation).toBeDefined();
    expect(rerunSteps(o.run, [3])).toEqual([true, true, true, true]);
    // Before a, no branch is ready: b and c wait for it.
    const record = rerunRecord(o.run, plan(o.run, { fromSteps: ["d"] }), "wf_RERUN", 5000);
    expect(new RunMachine(structuredClone(record)).start(5001).dispatch.map((w) => w.index)).toEqual([0]);
  });
});

describe("the rerun's definition", () => {
  test("same definition; context and labels replaced when given, kept when absent; request id never the original's", () => {
    const o = original([{ id: "a" }], {
      extra: { context: { n: 1 }, labels: { team: "x" }, requestId: "req-1", saga: true, onComplete: "https://h.test/done", timeoutMs: 60_000 },
    });
    const kept = plan(o.run, { fromSteps: ["a"] }).spec;
    expect(kept).toMatchObject({ context: { n: 1 }, labels: { team: "x" }, saga: true, onComplete: "https://h.test/done", timeoutMs: 60_000 });
    expect(kept.requestId).toBeUndefined();
    expect(kept.requestFingerprint).toBeUndefined();
    expect(kept.steps).toBe(o.run.spec.steps);
    const changed = plan(o.run, { fromSteps: ["a"], context: { n: 2 }, labels: { team: "y" }, requestId: "req-2" }).spec;
    expect(changed).toMatchObject({ context: { n: 2 }, labels: { team: "y" }, requestId: "req-2" });
    // An empty label map drops the labels.
    expect(plan(o.run, { fromSteps: ["a"], labels: {} }).spec.labels).toBeUndefined();
    // The deadline counts from the rerun's creation.
    expect(rerunRecord(o.run, plan(o.run, { fromSteps: ["a"] }), "wf_RERUN", 9000).deadlineAt).toBe(69_000);
  });

  test("a new context reaches the concurrency keys again", () => {
    const o = original([{ id: "a", concurrency: { key: "/context/user", limit: 1 } }], {
      extra: { context: { user: "u1", tenant: "t1" }, concurrency: { key: "/context/tenant", limit: 2 } },
    });
    const spec = plan(o.run, { fromSteps: ["a"], context: { user: "u2", tenant: "t2" } }).spec;
    expect(spec.concurrency).toMatchObject({ key: "/context/tenant", limit: 2, value: "t2" });
    expect(spec.steps[0].concurrency).toMatchObject({ key: "/context/user", limit: 1, value: "u2" });
    expect(o.run.spec.steps[0].concurrency?.value).toBe("u1");
    // Kept context: the original's keys.
    expect(plan(o.run, { fromSteps: ["a"] }).spec.concurrency?.value).toBe("t1");
    const missing = planRerun(o.run, { fromSteps: ["a"], requestId: "", context: {} }, DEFAULT_LIMITS);
    expect(missing.ok ? [] : missing.violations).toEqual([
      { field: "context", description: "the workflow's concurrency key: the context has no value at /context/tenant" },
      { field: "context", description: 'the concurrency key of step "a": the context has no value at /context/user' },
    ]);
  });
});

describe("refusals", () => {
  test("only a finished run can be rerun", () => {
    const m = new RunMachine(newRunRecord("wf_ORIGINAL", testWorkflow(chain(2)), 1000));
    expect(rerunRefusal(m.run)).toMatchObject({ reason: "RUN_NOT_FINISHED" });
    m.start(1);
    expect(rerunRefusal(m.run)?.message).toMatch(/has not finished \(running\)/);
    drive(m, m.cancel(2, "stop"));
    expect(m.run.state).toBe("cancelled");
    expect(rerunRefusal(m.run)).toBeUndefined();
    expect(rerunRefusal(original(chain(1)).run)).toBeUndefined();
    expect(rerunRefusal(original(chain(1), { failing: ["s1"] }).run)).toBeUndefined();
  });

  test("from_steps: required, no unknown ids, no duplicates, bounded by max-steps", () => {
    const o = original(chain(3));
    const violations = (fromSteps: string[]) => {
      const p = planRerun(o.run, { fromSteps, requestId: "" }, DEFAULT_LIMITS);
      return p.ok ? [] : p.violations;
    };
    expect(violations(["s1", "nope", "s1"])).toEqual([
      { field: "from_steps[1]", description: 'no step "nope" in this run' },
      { field: "from_steps[2]", description: "duplicate of from_steps[0]" },
    ]);
    // More entries than the run has steps: a duplicate at least.
    expect(violations(["s1", "s2", "s3", "s2"])).toEqual([{ field: "from_steps[3]", description: "duplicate of from_steps[1]" }]);
    // A long unknown id is not echoed whole.
    const [long] = violations(["x".repeat(10_000)]);
    expect(long.description.length).toBeLessThan(120);
    const input = (fromSteps: string[], extra: Partial<RerunInput> = {}) => {
      const v: FieldViolation[] = [];
      checkRerunInput({ fromSteps, requestId: "", ...extra }, 1000, v);
      return v;
    };
    expect(input([])).toEqual([{ field: "from_steps", description: "required: at least one step id" }]);
    expect(input(Array.from({ length: 1001 }, (_, i) => `s${i}`))[0]).toEqual({ field: "from_steps", description: "at most 1000 entries (got 1001)" });
    expect(input(["", "y".repeat(129)]).map((v) => v.field)).toEqual(["from_steps[0]", "from_steps[1]"]);
    expect(input(["a"], { requestId: "r".repeat(257), labels: { "Bad Key": "v" } }).map((v) => v.field).sort()).toEqual(['labels["Bad Key"]', "request_id"]);
  });

  test("a new context is checked as create checks it", () => {
    const o = original(chain(1));
    const p = planRerun(o.run, { fromSteps: ["s1"], requestId: "", context: [1, 2] }, DEFAULT_LIMITS);
    expect(p.ok ? [] : p.violations).toEqual([{ field: "context", description: "must be a JSON object" }]);
    const big = planRerun(o.run, { fromSteps: ["s1"], requestId: "", context: { s: "x".repeat(100) } }, { maxContextBytes: 50 });
    expect(big.ok ? [] : big.violations.map((v) => v.field)).toEqual(["context"]);
  });
});
