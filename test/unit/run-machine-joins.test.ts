// The run machine with join policies (README "Partial failures").
import { describe, expect, test } from "vitest";
import type { JoinPolicy } from "../../src/domain/join-policy.ts";
import { type Effects, RunMachine } from "../../src/domain/run-machine.ts";
import { applyPatch, newRunRecord, type RunRecord } from "../../src/domain/run-record.ts";
import { type TestStep, testWorkflow } from "../support/test-workflow.ts";

function run(steps: TestStep[], extra: { saga?: boolean; onComplete?: string; onError?: string } = {}): RunRecord {
  return newRunRecord("wf_TEST", testWorkflow(steps, extra), 1000);
}

const ids = (m: RunMachine, orders: { index: number }[]) => orders.map((o) => m.run.steps[o.index].id);
const aborted = (m: RunMachine, fx: Effects) => fx.abort.map((i) => m.run.steps[i].id);
const states = (m: RunMachine) => Object.fromEntries(m.run.steps.map((s) => [s.id, s.state]));
const fail = (retryable = false) => ({ error: { reason: "http_status", message: "HTTP 500", httpStatus: 500 }, retryable });
const idx = (m: RunMachine, id: string) => m.run.steps.findIndex((s) => s.id === id);

/** prepare → process-1..3 (parallel) → finalize with `join`. */
function fanIn(join: JoinPolicy, opts: { saga?: boolean; branches?: number } = {}): RunMachine {
  const n = opts.branches ?? 3;
  const branches = Array.from({ length: n }, (_, i) => `process-${i + 1}`);
  const m = new RunMachine(
    run(
      [
        { id: "prepare", compensation: opts.saga ? "https://h.test/undo-prepare" : "" },
        ...branches.map((id) => ({ id, dependsOn: ["prepare"], parallel: true, compensation: opts.saga ? `https://h.test/undo-${id}` : "" })),
        { id: "finalize", dependsOn: branches, join },
      ],
      { saga: opts.saga, onComplete: "https://h.test/done", onError: "https://h.test/error" },
    ),
  );
  m.start(1);
  m.attemptSucceeded(0, 1, "prepared", 2);
  return m;
}

describe("join policies in the run machine", () => {
  test("all_settled: a failed branch is tolerated, the fan-in runs once all settled, the run completes", () => {
    const m = fanIn({ kind: "all_settled" });
    const f1 = m.attemptFailed(2, 1, fail(), 3); // process-2 fails for good
    expect(f1.terminal).toBe(false);
    expect(m.run.error).toBeUndefined();
    expect(f1.dispatch).toEqual([]);
    expect(m.attemptSucceeded(1, 1, { success: true }, 4).dispatch).toEqual([]);
    const f3 = m.attemptSucceeded(3, 1, { success: true }, 5);
    expect(ids(m, f3.dispatch)).toEqual(["finalize"]);
    const end = m.attemptSucceeded(4, 1, { successful: 2 }, 6);
    expect(end.terminal).toBe(true);
    expect(m.run.state).toBe("completed");
    expect(m.run.error).toBeUndefined();
    expect(states(m)).toEqual({ prepare: "completed", "process-1": "completed", "process-2": "failed", "process-3": "completed", finalize: "completed" });
    expect(m.run.steps[2].error).toMatchObject({ reason: "http_status", httpStatus: 500 });
    expect(m.run.webhook).toMatchObject({ url: "https://h.test/done", eventType: "workflow.completed" });
  });

  test("all (the default) is unchanged: one failed branch fails the run, the in-flight ones finish, the fan-in is skipped", () => {
    for (const join of [undefined, { kind: "all" } as const]) {
      const m = join ? fanIn(join) : fanIn({ kind: "all" });
      const f = m.attemptFailed(2, 1, fail(), 3);
      expect(f.abort).toEqual([]);
      expect(m.run.error).toMatchObject({ reason: "step_failed", stepId: "process-2" });
      m.attemptSucceeded(1, 1, null, 4);
      expect(m.attemptSucceeded(3, 1, null, 5).terminal).toBe(true);
      expect(m.run.state).toBe("failed");
      expect(states(m)).toMatchObject({ "process-1": "completed", "process-3": "completed", finalize: "skipped" });
      expect(m.run.steps[4].error).toBeUndefined();
    }
  });

  test("a failed step nothing depends on fails the run even when other steps tolerate failures", () => {
    const m = new RunMachine(run([{ id: "a", parallel: true }, { id: "b", parallel: true }, { id: "c", dependsOn: ["a"], join: { kind: "all_settled" } }]));
    m.start(1);
    expect(ids(m, m.attemptFailed(0, 1, fail(), 2).dispatch)).toEqual(["c"]); // tolerated by c, which runs
    expect(m.run.error).toBeUndefined();
    m.attemptFailed(1, 1, fail(), 3); // b: a leaf
    expect(m.run.error).toMatchObject({ reason: "step_failed", stepId: "b" });
    expect(m.attemptSucceeded(2, 1, null, 4).terminal).toBe(true); // c was in flight: recorded
    expect(m.run.state).toBe("failed");
    expect(states(m)).toEqual({ a: "failed", b: "failed", c: "completed" });
  });

  test("at_least met: runs once all settled with k completed", () => {
    const m = fanIn({ kind: "at_least", count: 2 });
    m.attemptFailed(1, 1, fail(), 3);
    expect(m.attemptSucceeded(2, 1, null, 4).dispatch).toEqual([]); // waits for process-3 to settle
    expect(ids(m, m.attemptSucceeded(3, 1, null, 5).dispatch)).toEqual(["finalize"]);
    expect(m.attemptSucceeded(4, 1, null, 6).terminal).toBe(true);
    expect(m.run.state).toBe("completed");
  });

  test("at_least unmet: fails as soon as k is out of reach, skipping the join step and aborting the branch still in flight", () => {
    const m = fanIn({ kind: "at_least", count: 2 });
    m.attemptFailed(1, 1, fail(), 3);
    expect(m.run.error).toBeUndefined();
    const fx = m.attemptFailed(2, 1, fail(), 4);
    expect(aborted(m, fx)).toEqual(["process-3"]);
    expect(fx.terminal).toBe(true);
    expect(m.run.state).toBe("failed");
    const message = 'step "finalize" cannot run (join at_least 2): needs at least 2 of 3 to complete; 2 failed';
    expect(m.run.error).toEqual({ reason: "join_failed", stepId: "finalize", message });
    expect(m.run.steps[4]).toMatchObject({ state: "skipped", error: { reason: "join_failed", message } });
    expect(m.run.steps[3]).toMatchObject({
      state: "cancelled",
      attempts: 1,
      error: { reason: "not_needed", message: 'not needed: step "finalize" can no longer run', attempt: 1 },
    });
    // The aborted call's outcome, if it arrives, changes nothing.
    expect(m.attemptSucceeded(3, 1, "late", 5)).toMatchObject({ dispatch: [], terminal: false });
    expect(m.run.steps[3].state).toBe("cancelled");
    const events = m.takePatch()!.events.filter((e) => e.stepId === "process-3").map((e) => `${e.from}->${e.to}:${e.error?.reason ?? ""}`);
    expect(events).toContain("running->cancelled:not_needed");
  });

  test("tolerated_failure_percent: within the percentage the run completes, past it the join fails early", () => {
    const ok = fanIn({ kind: "tolerated_failure_percent", percent: 25 }, { branches: 4 });
    ok.attemptFailed(1, 1, fail(), 3);
    for (const i of [2, 3]) ok.attemptSucceeded(i, 1, null, 4);
    expect(ids(ok, ok.attemptSucceeded(4, 1, null, 5).dispatch)).toEqual(["finalize"]);
    ok.attemptSucceeded(5, 1, null, 6);
    expect(ok.run.state).toBe("completed");

    const over = fanIn({ kind: "tolerated_failure_percent", percent: 25 }, { branches: 4 });
    over.attemptFailed(1, 1, fail(), 3);
    const fx = over.attemptFailed(2, 1, fail(), 4); // 2 of 4 = 50% > 25%, two still in flight
    expect(aborted(over, fx).sort()).toEqual(["process-3", "process-4"]);
    expect(over.run.state).toBe("failed");
    expect(over.run.error).toMatchObject({ reason: "join_failed", stepId: "finalize", message: expect.stringContaining("2 of 4 failed, more than the tolerated 25%") });
  });

  test("any: the first completion runs the step, the losers are cancelled (in flight aborted, waiting retries cancelled), never called again", () => {
    const m = new RunMachine(
      run([
        { id: "a", parallel: true },
        { id: "b", parallel: true, retries: { maxAttempts: 3, jitter: 0 } },
        { id: "c", parallel: true },
        { id: "w", dependsOn: ["a", "b", "c"], join: { kind: "any" } },
      ]),
    );
    m.start(1);
    const retry = m.attemptFailed(1, 1, fail(true), 2);
    expect(retry.timers).toHaveLength(1); // b waits for its retry
    const fx = m.attemptSucceeded(2, 1, { fastest: "c" }, 3);
    expect(ids(m, fx.dispatch)).toEqual(["w"]);
    expect(aborted(m, fx)).toEqual(["a"]);
    expect(states(m)).toEqual({ a: "cancelled", b: "cancelled", c: "completed", w: "running" });
    expect(m.run.steps[0].error).toEqual({ reason: "not_needed", message: 'not needed: step "w" went on without it', attempt: 1 });
    expect(m.retryDue(1, 1002)).toMatchObject({ dispatch: [] });
    expect(m.attemptSucceeded(0, 1, "late", 4).dispatch).toEqual([]);
    expect(m.attemptSucceeded(3, 1, "won", 5).terminal).toBe(true);
    expect(m.run.state).toBe("completed");
    expect(m.run.error).toBeUndefined();
  });

  test("any: failures before the first completion are tolerated; all failed fails the join", () => {
    const ok = new RunMachine(run([{ id: "a", parallel: true }, { id: "b", parallel: true }, { id: "w", dependsOn: ["a", "b"], join: { kind: "any" } }]));
    ok.start(1);
    ok.attemptFailed(0, 1, fail(), 2);
    expect(ok.run.error).toBeUndefined();
    expect(ids(ok, ok.attemptSucceeded(1, 1, null, 3).dispatch)).toEqual(["w"]);
    ok.attemptSucceeded(2, 1, null, 4);
    expect(ok.run.state).toBe("completed");
    expect(states(ok)).toEqual({ a: "failed", b: "completed", w: "completed" });

    const bad = new RunMachine(run([{ id: "a", parallel: true }, { id: "b", parallel: true }, { id: "w", dependsOn: ["a", "b"], join: { kind: "any" } }]));
    bad.start(1);
    bad.attemptFailed(0, 1, fail(), 2);
    bad.attemptFailed(1, 1, fail(), 3);
    expect(bad.run.state).toBe("failed");
    expect(bad.run.error).toMatchObject({ reason: "join_failed", stepId: "w", message: 'step "w" cannot run (join any): all 2 failed' });
  });

  test("any: a loser that another waiting step needs is not cancelled", () => {
    const m = new RunMachine(
      run([
        { id: "a", parallel: true },
        { id: "b", parallel: true },
        { id: "w", dependsOn: ["a", "b"], join: { kind: "any" }, parallel: true },
        { id: "x", dependsOn: ["a"], parallel: true },
      ]),
    );
    m.start(1);
    const fx = m.attemptSucceeded(1, 1, null, 2);
    expect(ids(m, fx.dispatch)).toEqual(["w"]);
    expect(fx.abort).toEqual([]);
    expect(states(m)).toEqual({ a: "running", b: "completed", w: "running", x: "pending" });
    expect(ids(m, m.attemptSucceeded(0, 1, null, 3).dispatch)).toEqual(["x"]);
    m.attemptSucceeded(2, 1, null, 4);
    m.attemptSucceeded(3, 1, null, 5);
    expect(m.run.state).toBe("completed");
  });

  test("any: cancelling a losing branch goes up the graph to the steps only it needed", () => {
    const m = new RunMachine(
      run([
        { id: "a1", parallel: true },
        { id: "a2", dependsOn: ["a1"], parallel: true },
        { id: "b", parallel: true },
        { id: "w", dependsOn: ["a2", "b"], join: { kind: "any" } },
      ]),
    );
    m.start(1);
    const fx = m.attemptSucceeded(2, 1, null, 2);
    expect(ids(m, fx.dispatch)).toEqual(["w"]);
    expect(aborted(m, fx)).toEqual(["a1"]);
    expect(states(m)).toEqual({ a1: "cancelled", a2: "cancelled", b: "completed", w: "running" });
    expect(m.run.steps[1].error).toEqual({ reason: "not_needed", message: 'not needed: step "w" went on without it' });
    m.attemptSucceeded(3, 1, null, 3);
    expect(m.run.state).toBe("completed");
  });

  test("saga: a tolerated failure completes the run without compensations", () => {
    const m = fanIn({ kind: "all_settled" }, { saga: true });
    m.attemptFailed(1, 1, fail(), 3);
    m.attemptSucceeded(2, 1, null, 4);
    m.attemptSucceeded(3, 1, null, 5);
    const end = m.attemptSucceeded(4, 1, null, 6);
    expect(end.dispatch.map((w) => w.kind)).toEqual(["webhook"]);
    expect(m.run.state).toBe("completed");
    expect(m.run.steps.every((s) => s.compensation === undefined)).toBe(true);
  });

  test("saga: when a join fails, completed steps are compensated (latest first); failed and cancelled (not needed) branches are not", () => {
    const m = fanIn({ kind: "at_least", count: 2 }, { saga: true });
    m.attemptSucceeded(1, 1, "one", 3); // process-1 completed
    m.attemptFailed(2, 1, fail(), 4);
    const fx = m.attemptFailed(3, 1, fail(), 5); // 1 of 3 completed, none unfinished: k = 2 out of reach
    expect(m.run.state).toBe("compensating");
    expect(m.run.error).toMatchObject({ reason: "join_failed", stepId: "finalize" });
    expect(fx.dispatch).toEqual([{ kind: "compensation", index: 1, attempt: 1 }]);
    expect(m.compensationSucceeded(1, 1, 6).dispatch).toEqual([{ kind: "compensation", index: 0, attempt: 1 }]);
    m.compensationSucceeded(0, 1, 7);
    expect(m.run.state).toBe("failed");
    expect(m.run.steps.map((s) => [s.id, s.state, s.compensation?.state])).toEqual([
      ["prepare", "completed", "succeeded"],
      ["process-1", "completed", "succeeded"],
      ["process-2", "failed", undefined],
      ["process-3", "failed", undefined],
      ["finalize", "skipped", undefined],
    ]);

    // A branch cancelled as not needed never completed: it is not compensated.
    const early = fanIn({ kind: "at_least", count: 3 }, { saga: true });
    early.attemptFailed(1, 1, fail(), 3); // k = 3 out of reach: process-2 and -3 aborted
    expect(states(early)).toMatchObject({ "process-2": "cancelled", "process-3": "cancelled" });
    expect(early.run.steps.filter((s) => s.compensation).map((s) => s.id)).toEqual(["prepare"]);
  });
});

describe("join decisions after a restart", () => {
  type Command = (m: RunMachine) => Effects;
  const script: Command[] = [
    (m) => m.start(1),
    (m) => m.attemptSucceeded(0, 1, "prepared", 2),
    (m) => m.attemptFailed(idx(m, "p2"), 1, fail(), 3), // tolerated by fin (all_settled), w (any) still waits
    (m) => m.attemptSucceeded(idx(m, "p1"), 1, { ok: 1 }, 4), // w runs; p3 is still needed by fin
    (m) => m.attemptSucceeded(idx(m, "w"), 1, null, 5),
    (m) => m.attemptFailed(idx(m, "p3"), 1, fail(), 6), // fin runs: every dependency settled
    (m) => m.attemptSucceeded(idx(m, "fin"), 1, null, 7),
  ];
  const definition = (): RunRecord =>
    run([
      { id: "prepare" },
      { id: "p1", dependsOn: ["prepare"], parallel: true },
      { id: "p2", dependsOn: ["prepare"], parallel: true },
      { id: "p3", dependsOn: ["prepare"], parallel: true },
      { id: "w", dependsOn: ["p1", "p2", "p3"], join: { kind: "any" }, parallel: true },
      { id: "fin", dependsOn: ["p1", "p2", "p3", "w"], join: { kind: "all_settled" } },
    ]);

  test("a machine rebuilt from the stored record after every command takes the same decisions", () => {
    const straight = new RunMachine(definition());
    const straightDispatch = script.map((cmd) => ids(straight, cmd(straight).dispatch));
    expect(straight.run.state).toBe("completed");
    expect(states(straight)).toEqual({ prepare: "completed", p1: "completed", p2: "failed", p3: "failed", w: "completed", fin: "completed" });

    const stored = definition();
    let m = new RunMachine(structuredClone(stored));
    const replayed: string[][] = [];
    for (const cmd of script) {
      replayed.push(ids(m, cmd(m).dispatch));
      const patch = m.takePatch();
      if (patch) applyPatch(stored, patch);
      // Restart: a new machine from what the store holds; recovery re-sends what was in flight.
      m = new RunMachine(structuredClone(stored));
      m.recover(1);
      m.takePatch();
    }
    expect(replayed).toEqual(straightDispatch);
    expect(states(m)).toEqual(states(straight));
    expect(m.run.state).toBe("completed");
  });

  test("a stored run whose join step is ready but was not started yet starts it on recovery", () => {
    // fin is serial and waits behind the serial step s; the record is stored at that point.
    const r = run([
      { id: "a", parallel: true },
      { id: "b", parallel: true },
      { id: "s" },
      { id: "fin", dependsOn: ["a", "b"], join: { kind: "all_settled" } },
    ]);
    const m = new RunMachine(r);
    m.start(1);
    m.attemptFailed(0, 1, fail(), 2);
    expect(m.attemptSucceeded(1, 1, null, 3).dispatch).toEqual([]); // fin ready, s holds the serial slot
    const again = new RunMachine(structuredClone(m.run));
    expect(ids(again, again.recover(4).dispatch)).toEqual(["s"]);
    expect(ids(again, again.attemptSucceeded(2, 1, null, 5).dispatch)).toEqual(["fin"]);
    again.attemptSucceeded(3, 1, null, 6);
    expect(again.run.state).toBe("completed");
  });

  test("runs stored before join policies (no join in the spec) behave as all", () => {
    const r = run([{ id: "a", parallel: true }, { id: "b", parallel: true }, { id: "c", dependsOn: ["a", "b"] }]);
    expect(r.spec.steps[2].join).toBeUndefined();
    const m = new RunMachine(r);
    m.start(1);
    m.attemptFailed(0, 1, fail(), 2);
    expect(m.run.error).toMatchObject({ reason: "step_failed", stepId: "a" });
  });
});
