// The run machine's pause and resume commands and their rules (README "Pausing runs"),
// with a fake clock: times are plain numbers passed to each command.
import { describe, expect, test } from "vitest";
import { bulkApplies, isEmptyFilter, paceAt } from "../../src/domain/bulk-action.ts";
import { compileWorkflow } from "../../src/domain/compile-workflow.ts";
import type { ConcurrencyInput } from "../../src/domain/concurrency-key.ts";
import { deadlineRuns, holdsRunSlot, pauseRefusal, resumedDeadline, resumeRefusal } from "../../src/domain/pause.ts";
import { RunMachine } from "../../src/domain/run-machine.ts";
import { applyPatch, newRunRecord, type RunRecord } from "../../src/domain/run-record.ts";
import { DEFAULT_LIMITS, type StepInput } from "../../src/domain/workflow-spec.ts";

type S = Partial<StepInput> & { id: string };

function run(steps: S[], extra: { timeoutMs?: number; concurrency?: ConcurrencyInput; saga?: boolean } = {}): RunRecord {
  const compiled = compileWorkflow(
    {
      id: "wf",
      steps: steps.map((s) => ({ url: `https://h.test/${s.id}`, dependsOn: [], parallel: false, compensation: "", ...s })),
      context: { user: "u1" },
      onComplete: "",
      onError: "",
      saga: extra.saga ?? false,
      baseUrl: "",
      requestId: "",
      timeoutMs: extra.timeoutMs,
      concurrency: extra.concurrency,
    },
    DEFAULT_LIMITS,
  );
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.violations));
  return newRunRecord("wf_TEST", compiled.spec, 1000);
}

const ids = (m: RunMachine, work: { index: number }[]) => work.map((w) => m.run.steps[w.index].id);
const fail = (retryable = true) => ({ error: { reason: "http_status", message: "HTTP 503", httpStatus: 503 }, retryable });
const retries = { maxAttempts: 3, backoff: "fixed" as const, initialIntervalMs: 1000, jitter: 0 };
const chain = (n: number, extra: Partial<StepInput> = {}): S[] =>
  Array.from({ length: n }, (_, i) => ({ id: `s${i + 1}`, dependsOn: i === 0 ? [] : [`s${i}`], ...extra }));

describe("pause and resume rules", () => {
  test("pause applies to pending and running runs only; resume to paused runs only", () => {
    const r = { runId: "wf_X" };
    expect(pauseRefusal({ ...r, state: "running" })).toBeUndefined();
    expect(pauseRefusal({ ...r, state: "pending" })).toBeUndefined();
    expect(pauseRefusal({ ...r, state: "paused" })?.reason).toBe("RUN_PAUSED");
    expect(pauseRefusal({ ...r, state: "compensating" })?.reason).toBe("RUN_COMPENSATING");
    for (const state of ["completed", "failed", "cancelled"] as const) expect(pauseRefusal({ ...r, state })?.reason).toBe("RUN_FINISHED");
    expect(resumeRefusal({ ...r, state: "paused" })).toBeUndefined();
    for (const state of ["pending", "running", "completed", "failed", "cancelled", "compensating"] as const) {
      expect(resumeRefusal({ ...r, state })?.reason).toBe("RUN_NOT_PAUSED");
    }
  });

  test("deadline arithmetic: a held deadline moves by the time spent paused, an unheld one stays", () => {
    expect(resumedDeadline(10_000, { at: 4_000, holdDeadline: true }, 7_500)).toBe(13_500);
    expect(resumedDeadline(10_000, { at: 4_000, holdDeadline: false }, 7_500)).toBe(10_000);
    // A clock that went back never moves a deadline earlier.
    expect(resumedDeadline(10_000, { at: 4_000, holdDeadline: true }, 3_000)).toBe(10_000);
    expect(deadlineRuns({ state: "paused", pause: { at: 1, holdDeadline: true, from: "running" } })).toBe(false);
    expect(deadlineRuns({ state: "paused", pause: { at: 1, holdDeadline: false, from: "running" } })).toBe(true);
    expect(deadlineRuns({ state: "running" })).toBe(true);
  });

  test("a run paused while running keeps its concurrency slot; one paused while queued holds none", () => {
    expect(holdsRunSlot({ state: "paused", pause: { at: 1, holdDeadline: false, from: "running" } })).toBe(true);
    expect(holdsRunSlot({ state: "paused", pause: { at: 1, holdDeadline: false, from: "pending" } })).toBe(false);
    expect(holdsRunSlot({ state: "completed" })).toBe(false);
  });

  test("bulk: which states each action applies to; an empty filter; the pace", () => {
    const at = (state: RunRecord["state"]) => ({ runId: "wf_X", state });
    expect(bulkApplies("cancel", at("paused"))).toBe(true);
    expect(bulkApplies("cancel", at("completed"))).toBe(false);
    expect(bulkApplies("redrive", at("failed"))).toBe(true);
    expect(bulkApplies("redrive", { ...at("failed"), compensation: { outcome: "failed", failed: false } })).toBe(false);
    expect(bulkApplies("redrive", at("paused"))).toBe(false);
    expect(bulkApplies("pause", at("running"))).toBe(true);
    expect(bulkApplies("pause", at("paused"))).toBe(false);
    expect(bulkApplies("resume", at("paused"))).toBe(true);
    expect(bulkApplies("resume", at("running"))).toBe(false);
    const none = { states: 0, workflowId: false, labels: 0, createdAfter: false, createdBefore: false };
    expect(isEmptyFilter(none)).toBe(true);
    expect(isEmptyFilter({ ...none, labels: 1 })).toBe(false);
    expect(isEmptyFilter({ ...none, createdBefore: true })).toBe(false);
    expect(paceAt(100, 200)).toBe(500);
  });
});

describe("RunMachine pause / resume", () => {
  test("a paused run starts no next step; the attempt in flight is recorded; resume starts the next", () => {
    const m = new RunMachine(run(chain(3)));
    m.start(1);
    m.takePatch();
    const fx = m.pause(5, "incident 42", false);
    expect(fx.dispatch).toEqual([]);
    expect(m.run.state).toBe("paused");
    expect(m.run.pause).toEqual({ at: 5, reason: "incident 42", holdDeadline: false, from: "running" });
    const patch = m.takePatch()!;
    expect(patch.run?.pause?.reason).toBe("incident 42");
    expect(patch.events.map((e) => [e.kind, e.from, e.to])).toEqual([["run", "running", "paused"]]);
    // s1 was in flight: its result is recorded, s2 does not start.
    const done = m.attemptSucceeded(0, 1, "r1", 6);
    expect(done.dispatch).toEqual([]);
    expect(m.run.steps[0]).toMatchObject({ state: "completed", result: "r1" });
    expect(m.run.steps[1].state).toBe("pending");
    expect(m.run.state).toBe("paused");
    m.takePatch();
    const resumed = m.resume(20);
    expect(ids(m, resumed.dispatch)).toEqual(["s2"]);
    expect(m.run.state).toBe("running");
    expect(m.run.pause).toBeUndefined();
    expect(m.takePatch()!.events.slice(0, 1).map((e) => [e.from, e.to])).toEqual([["paused", "running"]]);
  });

  test("a retry that comes due while paused does not start; resume starts it at once, a later one is timed again", () => {
    const m = new RunMachine(run([{ id: "a", parallel: true, retries }, { id: "b", parallel: true, retries }]));
    m.start(1);
    // a fails at 2: retry due at 1002. b fails at 1500: retry due at 2500.
    expect(m.attemptFailed(0, 1, fail(), 2).timers).toEqual([{ kind: "step", index: 0, at: 1002 }]);
    m.pause(3, undefined, false);
    // b was in flight: its failure is recorded and schedules its retry.
    expect(m.attemptFailed(1, 1, fail(), 1500).timers).toEqual([{ kind: "step", index: 1, at: 2500 }]);
    expect(m.run.steps[1]).toMatchObject({ state: "retry_wait", nextAttemptAt: 2500 });
    // a's retry timer fires while paused: nothing starts.
    expect(m.retryDue(0, 1002).dispatch).toEqual([]);
    expect(m.run.steps[0].state).toBe("retry_wait");
    // Resume at 2000: a (due) starts now with attempt 2; b (due at 2500) is timed again.
    const fx = m.resume(2000);
    expect(fx.dispatch).toEqual([{ kind: "step", index: 0, attempt: 2 }]);
    expect(fx.timers).toEqual([{ kind: "step", index: 1, at: 2500 }]);
    expect(m.retryDue(1, 2500).dispatch).toEqual([{ kind: "step", index: 1, attempt: 2 }]);
  });

  test("every step finishing while paused completes the run (pause holds new work only)", () => {
    const m = new RunMachine(run([{ id: "a", parallel: true }, { id: "b", parallel: true }]));
    m.start(1);
    m.pause(2, "", false);
    expect(m.run.pause?.reason).toBeUndefined();
    m.attemptSucceeded(0, 1, 1, 3);
    const fx = m.attemptSucceeded(1, 1, 2, 4);
    expect(fx.terminal).toBe(true);
    expect(m.run.state).toBe("completed");
    expect(m.run.pause).toBeUndefined();
    expect(m.takePatch()!.events.at(-1)).toMatchObject({ kind: "run", from: "paused", to: "completed" });
  });

  test("a step failing for good while paused fails the run once nothing is in flight", () => {
    const m = new RunMachine(run(chain(2)));
    m.start(1);
    m.pause(2, undefined, false);
    m.attemptFailed(0, 1, fail(false), 3);
    expect(m.run.state).toBe("failed");
    expect(m.run.steps[1].state).toBe("skipped");
  });

  test("the deadline keeps running while paused, unless held; a held deadline is extended on resume", () => {
    const free = new RunMachine(run(chain(2), { timeoutMs: 10_000 }));
    free.start(1000);
    free.pause(2000, undefined, false);
    const timedOut = free.deadlineReached(11_000);
    expect(timedOut.terminal).toBe(true);
    expect(timedOut.abort).toEqual([0]);
    expect(free.run.state).toBe("failed");
    expect(free.run.error?.reason).toBe("timed_out");

    const held = new RunMachine(run(chain(2), { timeoutMs: 10_000 }));
    held.start(1000);
    expect(held.run.deadlineAt).toBe(11_000);
    expect(held.pause(2000, undefined, true).deadline).toBe(true);
    expect(held.deadlineReached(11_000).terminal).toBe(false);
    expect(held.run.state).toBe("paused");
    const fx = held.resume(32_000);
    expect(fx.deadline).toBe(true);
    // Paused from 2000 to 32000: 30 s later.
    expect(held.run.deadlineAt).toBe(41_000);
    expect(held.deadlineReached(41_000).terminal).toBe(true);
  });

  test("cancel applies to a paused run: the attempt in flight is aborted, retries waiting cancelled", () => {
    const m = new RunMachine(run([{ id: "a", parallel: true, retries }, { id: "b", parallel: true }]));
    m.start(1);
    m.attemptFailed(0, 1, fail(), 2);
    m.pause(3, undefined, false);
    const fx = m.cancel(4, "cancelled: enough");
    expect(fx.abort).toEqual([1]);
    expect(m.run.state).toBe("cancelled");
    expect(m.run.steps.map((s) => s.state)).toEqual(["cancelled", "cancelled"]);
  });

  test("pause and resume refused by the rules do nothing", () => {
    const m = new RunMachine(run(chain(1)));
    m.start(1);
    expect(m.resume(2).dispatch).toEqual([]);
    m.pause(2, undefined, false);
    m.takePatch();
    m.pause(3, "again", true);
    expect(m.takePatch()).toBeUndefined();
    expect(m.run.pause?.holdDeadline).toBe(false);
  });

  test("a run queued for its concurrency key leaves the queue while paused and queues again, in its old place, on resume", () => {
    const m = new RunMachine(run(chain(1), { concurrency: { key: "/context/user", limit: 1 } }));
    expect(m.start(5).acquire).toEqual([-1]);
    expect(m.run.queuedAt).toBe(5);
    const fx = m.pause(7, undefined, false);
    expect(fx.unqueue).toEqual([-1]);
    expect(m.run.state).toBe("paused");
    expect(m.run.pause).toMatchObject({ from: "pending", queuedAt: 5 });
    // A grant that would still arrive does nothing.
    expect(m.admitted(-1, 8).dispatch).toEqual([]);
    expect(m.takePatch()!.events.map((e) => [e.from, e.to])).toEqual([["pending", "pending"], ["pending", "paused"]]);
    const resumed = m.resume(9);
    expect(resumed.acquire).toEqual([-1]);
    expect(m.run).toMatchObject({ state: "pending", waitingFor: "concurrency_key", queuedAt: 5 });
    expect(m.takePatch()!.events[0]).toMatchObject({ from: "paused", to: "pending", waitingFor: "concurrency_key" });
    expect(ids(m, m.admitted(-1, 10).dispatch)).toEqual(["s1"]);
  });

  test("steps queued for their key leave the queue while paused and ask again on resume", () => {
    const m = new RunMachine(run([{ id: "a", concurrency: { key: "/context/user", limit: 1 } }]));
    expect(m.start(1).acquire).toEqual([0]);
    expect(m.pause(2, undefined, false).unqueue).toEqual([0]);
    expect(m.admitted(0, 3).dispatch).toEqual([]);
    expect(m.resume(4).acquire).toEqual([0]);
    expect(m.admitted(0, 5).dispatch).toEqual([{ kind: "step", index: 0, attempt: 1 }]);
  });

  test("recover of a paused run (restart): calls in flight are sent again, nothing new starts, it stays paused", () => {
    const m = new RunMachine(run(chain(2).map((s) => ({ ...s, retries }))));
    m.start(1);
    m.pause(2, "x", true);
    const stored = structuredClone(m.run);
    const patch = m.takePatch()!;
    const again = structuredClone(stored);
    applyPatch(again, patch);
    const r = new RunMachine(again);
    const fx = r.recover(100_000_000);
    // Held deadline: no timeout however late; s1 (in flight) is sent again with its attempt.
    expect(fx.terminal).toBe(false);
    expect(fx.dispatch).toEqual([{ kind: "step", index: 0, attempt: 1 }]);
    expect(r.run.state).toBe("paused");
    expect(r.takePatch()).toBeUndefined();
    // Unheld and past the deadline: it times out on recovery.
    const late = structuredClone(again);
    late.pause = { ...late.pause!, holdDeadline: false };
    expect(new RunMachine(late).recover(100_000_000).terminal).toBe(true);
  });

  test("a map step's items: in-flight items are recorded while paused, no new item starts; resume goes on", () => {
    const m = new RunMachine(run([{ id: "m", forEach: "/context/items", maxConcurrency: 1 }]));
    m.run.spec.context = { items: [1, 2, 3] };
    const fx = m.start(1);
    expect(fx.dispatch).toEqual([{ kind: "item", index: 0, item: 0, attempt: 1 }]);
    m.pause(2, undefined, false);
    expect(m.itemSucceeded(0, 0, 1, "x", 3).dispatch).toEqual([]);
    expect(m.items(0)!.map((i) => i.state)).toEqual(["completed", "pending", "pending"]);
    expect(m.resume(4).dispatch).toEqual([{ kind: "item", index: 0, item: 1, attempt: 1 }]);
  });
});
