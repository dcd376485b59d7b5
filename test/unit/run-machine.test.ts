import { describe, expect, test } from "vitest";
import { FIELD_LIMITS, TRUNCATION_MARKER } from "../../src/domain/field-limits.ts";
import { RunMachine, STEP_CANCELLED_MESSAGE } from "../../src/domain/run-machine.ts";
import { applyPatch, newRunRecord, type RunRecord } from "../../src/domain/run-record.ts";
import { type TestStep, testWorkflow } from "../support/test-workflow.ts";

function run(steps: TestStep[], extra: { timeoutMs?: number; saga?: boolean; onComplete?: string; onError?: string } = {}): RunRecord {
  return newRunRecord("wf_TEST", testWorkflow(steps, extra), 1000);
}

const ids = (m: RunMachine, orders: { index: number }[]) => orders.map((o) => m.run.steps[o.index].id);
const states = (m: RunMachine) => Object.fromEntries(m.run.steps.map((s) => [s.id, s.state]));
const fail = (retryable: boolean, retryAfterMs?: number) => ({
  error: { reason: "http_status", message: "HTTP 500", httpStatus: 500 },
  retryable,
  retryAfterMs,
});

describe("RunMachine scheduling", () => {
  test("a chain starts one step at a time", () => {
    const m = new RunMachine(run([{ id: "a" }, { id: "b", dependsOn: ["a"] }, { id: "c", dependsOn: ["b"] }]));
    const fx = m.start(1);
    expect(m.run.state).toBe("running");
    expect(ids(m, fx.dispatch)).toEqual(["a"]);
    expect(ids(m, m.attemptSucceeded(0, 1, { x: 1 }, 2).dispatch)).toEqual(["b"]);
    expect(ids(m, m.attemptSucceeded(1, 1, null, 3).dispatch)).toEqual(["c"]);
    const last = m.attemptSucceeded(2, 1, "done", 4);
    expect(last.terminal).toBe(true);
    expect(m.run.state).toBe("completed");
    expect(m.run.completedAt).toBe(4);
  });

  test("parallel steps start together; non-parallel ready steps take turns in definition order", () => {
    const m = new RunMachine(
      run([
        { id: "root" },
        { id: "s1", dependsOn: ["root"] },
        { id: "p1", dependsOn: ["root"], parallel: true },
        { id: "s2", dependsOn: ["root"] },
        { id: "p2", dependsOn: ["root"], parallel: true },
      ]),
    );
    m.start(1);
    const fx = m.attemptSucceeded(0, 1, null, 2);
    expect(ids(m, fx.dispatch)).toEqual(["s1", "p1", "p2"]);
    expect(m.run.steps[3].state).toBe("pending");
    expect(m.attemptSucceeded(2, 1, null, 3).dispatch).toEqual([]);
    expect(ids(m, m.attemptSucceeded(1, 1, null, 4).dispatch)).toEqual(["s2"]);
  });

  test("a non-parallel step waiting for a retry keeps the serial slot", () => {
    const m = new RunMachine(
      run([{ id: "a", retries: { maxAttempts: 2, jitter: 0 } }, { id: "b" }]),
    );
    expect(ids(m, m.start(1).dispatch)).toEqual(["a"]);
    const fx = m.attemptFailed(0, 1, fail(true), 2);
    expect(fx.timers).toEqual([{ kind: "step", index: 0, at: 1002 }]);
    expect(fx.dispatch).toEqual([]);
    expect(m.run.steps[0]).toMatchObject({ state: "retry_wait", nextAttemptAt: 1002, attempts: 1 });
    expect(ids(m, m.retryDue(0, 1002).dispatch)).toEqual(["a"]);
    expect(m.run.steps[0].attempts).toBe(2);
    expect(ids(m, m.attemptSucceeded(0, 2, null, 1003).dispatch)).toEqual(["b"]);
  });
});

describe("RunMachine failures", () => {
  test("a terminal failure fails the run after in-flight attempts are recorded", () => {
    const m = new RunMachine(
      run([
        { id: "a", parallel: true },
        { id: "b", parallel: true },
        { id: "c", parallel: true, retries: { maxAttempts: 5, jitter: 0 } },
        { id: "d", dependsOn: ["a", "b"] },
      ]),
    );
    m.start(1);
    m.attemptFailed(2, 1, fail(true), 2); // c waits for a retry
    const fx = m.attemptFailed(0, 1, fail(false), 3); // a fails for good
    expect(fx.terminal).toBe(false);
    expect(m.run.state).toBe("running");
    expect(m.run.error).toMatchObject({ reason: "step_failed", stepId: "a" });
    expect(states(m)).toEqual({ a: "failed", b: "running", c: "cancelled", d: "pending" });
    expect(m.retryDue(2, 4).dispatch).toEqual([]);
    const end = m.attemptSucceeded(1, 1, { b: 1 }, 5); // b was in flight: recorded
    expect(end.terminal).toBe(true);
    expect(m.run.state).toBe("failed");
    expect(states(m)).toEqual({ a: "failed", b: "completed", c: "cancelled", d: "skipped" });
  });

  test("retries stop after maxAttempts", () => {
    const m = new RunMachine(run([{ id: "a", retries: { maxAttempts: 2, jitter: 0, initialIntervalMs: 10 } }]));
    m.start(1);
    m.attemptFailed(0, 1, fail(true), 2);
    m.retryDue(0, 12);
    const fx = m.attemptFailed(0, 2, fail(true), 13);
    expect(fx.terminal).toBe(true);
    expect(m.run.steps[0]).toMatchObject({ state: "failed", attempts: 2, error: { attempt: 2, retryable: true } });
  });

  test("Retry-After stretches the delay", () => {
    const m = new RunMachine(run([{ id: "a", retries: { maxAttempts: 2, jitter: 0, initialIntervalMs: 10 } }]));
    m.start(1);
    expect(m.attemptFailed(0, 1, fail(true, 5000), 2).timers).toEqual([{ kind: "step", index: 0, at: 5002 }]);
  });

  test("outcomes of stale or repeated attempts are ignored", () => {
    const m = new RunMachine(run([{ id: "a" }, { id: "b", dependsOn: ["a"] }]));
    m.start(1);
    m.attemptSucceeded(0, 1, "first", 2);
    m.takePatch();
    const again = m.attemptSucceeded(0, 1, "second", 3);
    expect(again.dispatch).toEqual([]);
    expect(m.run.steps[0].result).toBe("first");
    expect(m.attemptFailed(1, 7, fail(false), 3).terminal).toBe(false);
    expect(m.takePatch()).toBeUndefined();
  });
});

describe("RunMachine cancel, deadline and recovery", () => {
  test("cancel aborts attempts in flight and ends the run", () => {
    const m = new RunMachine(run([{ id: "a", parallel: true }, { id: "b", parallel: true }, { id: "c", dependsOn: ["a"] }]));
    m.start(1);
    m.attemptSucceeded(1, 1, null, 2);
    const fx = m.cancel(3, "cancelled by request");
    expect(fx.terminal).toBe(true);
    expect(fx.abort).toEqual([0]);
    expect(m.run.state).toBe("cancelled");
    expect(m.run.error).toMatchObject({ reason: "cancelled" });
    expect(states(m)).toEqual({ a: "cancelled", b: "completed", c: "skipped" });
    expect(m.attemptSucceeded(0, 1, null, 4).dispatch).toEqual([]);
  });

  test("cancel stores the reason once: in the run's error, not in every in-flight step or its event", () => {
    const steps = Array.from({ length: 20 }, (_, i) => ({ id: `s${i}`, parallel: true }));
    const m = new RunMachine(run(steps));
    m.start(1);
    m.takePatch();
    const reason = "r".repeat(1024);
    m.cancel(2, `cancelled: ${reason}`);
    expect(m.run.error).toMatchObject({ reason: "cancelled", message: `cancelled: ${reason}` });
    for (const st of m.run.steps) {
      expect(st.state).toBe("cancelled");
      expect(st.error).toMatchObject({ reason: "cancelled", message: STEP_CANCELLED_MESSAGE });
    }
    const patch = m.takePatch()!;
    const stepEvents = patch.events.filter((e) => e.kind === "step");
    expect(stepEvents).toHaveLength(20);
    for (const e of stepEvents) expect(e.error?.message).toBe(STEP_CANCELLED_MESSAGE);
    // The reason appears in the run's error and the run's own transition event only.
    expect(JSON.stringify(patch).split(reason).length - 1).toBeLessThanOrEqual(3);
  });

  test("stored error messages are bounded: a handler's huge error text is cut with a marker", () => {
    const m = new RunMachine(run([{ id: "a" }]));
    m.start(1);
    m.attemptFailed(0, 1, { error: { reason: "handler_error", message: "e".repeat(1_000_000) }, retryable: false }, 2);
    expect(m.run.steps[0].error?.message).toHaveLength(FIELD_LIMITS.maxErrorMessageLength);
    expect(m.run.steps[0].error?.message.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(m.run.error!.message.length).toBeLessThan(FIELD_LIMITS.maxErrorMessageLength + 200);
  });

  test("the deadline fails the run as timed_out", () => {
    const m = new RunMachine(run([{ id: "a" }], { timeoutMs: 5000 }));
    m.start(1000);
    const fx = m.deadlineReached(6000);
    expect(fx.abort).toEqual([0]);
    expect(m.run.state).toBe("failed");
    expect(m.run.error).toMatchObject({ reason: "timed_out" });
  });

  test("recovery re-sends in-flight attempts with the same attempt number and re-arms retries", () => {
    const r = run([
      { id: "a", parallel: true },
      { id: "b", parallel: true, retries: { maxAttempts: 3, jitter: 0 } },
      { id: "c", dependsOn: ["a", "b"] },
    ]);
    const m = new RunMachine(r);
    m.start(1);
    m.attemptFailed(1, 1, fail(true), 2);
    const stored = structuredClone(r);
    const again = new RunMachine(stored);
    const fx = again.recover(3);
    expect(fx.dispatch).toEqual([{ kind: "step", index: 0, attempt: 1 }]);
    expect(fx.timers).toEqual([{ kind: "step", index: 1, at: 1002 }]);
  });

  test("patches carry consecutive events and bump the version", () => {
    const r = run([{ id: "a" }, { id: "b", dependsOn: ["a"] }]);
    const stored = structuredClone(r);
    const m = new RunMachine(r);
    m.start(1);
    const p1 = m.takePatch()!;
    expect(p1.expectedVersion).toBe(1);
    expect(p1.version).toBe(2);
    expect(p1.events.map((e) => [e.seq, e.stepId ?? "", e.from, e.to])).toEqual([
      [2, "", "pending", "running"],
      [3, "a", "pending", "running"],
    ]);
    m.attemptSucceeded(0, 1, 42, 2);
    const p2 = m.takePatch()!;
    expect(p2.expectedVersion).toBe(2);
    expect(p2.events.map((e) => e.seq)).toEqual([4, 5]);
    expect(p2.events[0]).toMatchObject({ stepId: "a", to: "completed", result: 42, attempt: 1 });
    applyPatch(stored, p1);
    applyPatch(stored, p2);
    expect(stored.steps).toEqual(m.run.steps);
    expect(stored.lastSeq).toBe(5);
    expect(stored.version).toBe(3);
  });
});

describe("RunMachine saga", () => {
  const saga = () =>
    run(
      [
        { id: "reserve", compensation: "https://h.test/release" },
        { id: "charge", dependsOn: ["reserve"], compensation: "https://h.test/refund" },
        { id: "ship", dependsOn: ["charge"], compensation: "https://h.test/cancel-ship" },
        { id: "notify", dependsOn: ["ship"] },
      ],
      { saga: true, onError: "https://h.test/on-error" },
    );
  const comp = (m: RunMachine) => Object.fromEntries(m.run.steps.map((s) => [s.id, s.compensation?.state ?? "-"]));

  test("a failed step compensates the completed steps in reverse order, then fails the run", () => {
    const m = new RunMachine(saga());
    m.start(1);
    m.attemptSucceeded(0, 1, { reservation: "r1" }, 2);
    m.attemptSucceeded(1, 1, { chargeId: "ch_1" }, 3);
    const fx = m.attemptFailed(2, 1, fail(false), 4); // ship fails for good
    expect(m.run.state).toBe("compensating");
    expect(fx.dispatch).toEqual([{ kind: "compensation", index: 1, attempt: 1 }]); // refund first
    expect(comp(m)).toEqual({ reserve: "pending", charge: "running", ship: "-", notify: "-" });
    const next = m.compensationSucceeded(1, 1, 5);
    expect(next.dispatch).toEqual([{ kind: "compensation", index: 0, attempt: 1 }]); // then release
    const end = m.compensationSucceeded(0, 1, 6);
    expect(end.terminal).toBe(true);
    expect(m.run.state).toBe("failed");
    expect(m.run.compensation).toEqual({ outcome: "failed", failed: false });
    expect(end.dispatch).toEqual([{ kind: "webhook", index: -1, attempt: 1 }]);
    expect(m.run.webhook).toMatchObject({ url: "https://h.test/on-error", eventType: "workflow.failed", state: "delivering" });
    const events = m.takePatch()!.events.filter((e) => e.kind === "compensation").map((e) => `${e.stepId}:${e.from}->${e.to}`);
    expect(events).toEqual([
      "charge:->pending",
      "reserve:->pending",
      "charge:pending->running",
      "charge:running->succeeded",
      "reserve:pending->running",
      "reserve:running->succeeded",
    ]);
  });

  test("compensations retry (at least 3 attempts) and a final failure marks the run but the rest still run", () => {
    const m = new RunMachine(saga(), { random: () => 0.5 });
    m.start(1);
    m.attemptSucceeded(0, 1, null, 2);
    m.attemptSucceeded(1, 1, null, 3);
    m.attemptFailed(2, 1, fail(false), 4);
    const retry = m.compensationFailed(1, 1, fail(true), 5);
    expect(retry.timers).toEqual([{ kind: "compensation", index: 1, at: 1005 }]);
    m.compensationRetryDue(1, 1005);
    m.compensationFailed(1, 2, fail(true), 1006);
    m.compensationRetryDue(1, 3006);
    const gaveUp = m.compensationFailed(1, 3, fail(true), 3007);
    expect(m.run.steps[1].compensation).toMatchObject({ state: "failed", attempts: 3 });
    expect(m.run.compensation?.failed).toBe(true);
    expect(gaveUp.dispatch).toEqual([{ kind: "compensation", index: 0, attempt: 1 }]);
    m.compensationSucceeded(0, 1, 3008);
    expect(m.run.state).toBe("failed");
  });

  test("without saga, or with nothing completed to compensate, the run fails directly", () => {
    const plain = new RunMachine(run([{ id: "a", compensation: "https://h.test/undo" }, { id: "b", dependsOn: ["a"] }]));
    plain.start(1);
    plain.attemptSucceeded(0, 1, null, 2);
    expect(plain.attemptFailed(1, 1, fail(false), 3).dispatch).toEqual([]);
    expect(plain.run.state).toBe("failed");
    const first = new RunMachine(saga());
    first.start(1);
    first.attemptFailed(0, 1, fail(false), 2);
    expect(first.run.state).toBe("failed");
  });

  test("cancel in saga mode compensates and ends cancelled", () => {
    const m = new RunMachine(saga());
    m.start(1);
    m.attemptSucceeded(0, 1, null, 2);
    const fx = m.cancel(3, "stop");
    expect(fx.abort).toEqual([1]);
    expect(m.run.state).toBe("compensating");
    m.compensationSucceeded(0, 1, 4);
    expect(m.run.state).toBe("cancelled");
  });
});

describe("RunMachine edge cases", () => {
  test("a run still pending after a restart past its deadline times out instead of starting", () => {
    const r = run([{ id: "a" }], { timeoutMs: 1000 });
    const fx = new RunMachine(r).recover(5000);
    expect(fx.dispatch).toEqual([]);
    expect(r.state).toBe("failed");
    expect(r.error?.reason).toBe("timed_out");
  });

  test("a deadline while a failed run waits for in-flight steps keeps the step failure as the cause", () => {
    const m = new RunMachine(run([{ id: "a", parallel: true }, { id: "b", parallel: true }], { timeoutMs: 1000 }));
    m.start(1);
    m.attemptFailed(0, 1, fail(false), 2);
    m.deadlineReached(1001);
    expect(m.run.state).toBe("failed");
    expect(m.run.error).toMatchObject({ reason: "step_failed", stepId: "a" });
  });

  test("compensations follow completion order even within one millisecond", () => {
    const m = new RunMachine(
      run(
        [
          { id: "x", parallel: true, compensation: "https://h.test/ux" },
          { id: "y", parallel: true, compensation: "https://h.test/uy" },
          { id: "z", parallel: true },
        ],
        { saga: true },
      ),
    );
    m.start(1);
    m.attemptSucceeded(1, 1, null, 5); // y completes first...
    m.attemptSucceeded(0, 1, null, 5); // ...then x, in the same millisecond
    const fx = m.attemptFailed(2, 1, fail(false), 5);
    expect(fx.dispatch).toEqual([{ kind: "compensation", index: 0, attempt: 1 }]); // x (last completed) first
    expect(m.compensationSucceeded(0, 1, 6).dispatch).toEqual([{ kind: "compensation", index: 1, attempt: 1 }]);
  });
});

describe("RunMachine webhooks", () => {
  const policy = { retryPeriodMs: 10_000, initialIntervalMs: 100, maxIntervalMs: 1_000 };

  test("on_complete is delivered once the run completes", () => {
    const m = new RunMachine(run([{ id: "a" }], { onComplete: "https://h.test/done" }), { webhook: policy });
    m.start(1);
    const fx = m.attemptSucceeded(0, 1, null, 2);
    expect(fx.terminal).toBe(true);
    expect(fx.done).toBe(false);
    expect(m.run.webhook).toMatchObject({ eventType: "workflow.completed", giveUpAt: 10_002 });
    expect(m.webhookSucceeded(1, 3).done).toBe(true);
    expect(m.run.webhook).toMatchObject({ state: "delivered", deliveredAt: 3, attempts: 1 });
  });

  test("failed deliveries back off and give up after the retry period", () => {
    const m = new RunMachine(run([{ id: "a" }], { onError: "https://h.test/err" }), { webhook: policy, random: () => 0.5 });
    m.start(1);
    m.attemptFailed(0, 1, fail(false), 2);
    expect(m.webhookFailed(1, fail(true), 3).timers).toEqual([{ kind: "webhook", index: -1, at: 103 }]);
    expect(m.webhookRetryDue().dispatch).toEqual([{ kind: "webhook", index: -1, attempt: 2 }]);
    expect(m.webhookFailed(2, fail(true), 104).timers[0].at).toBe(304);
    m.webhookRetryDue();
    const late = m.webhookFailed(3, fail(true), 9_900);
    expect(late.done).toBe(true);
    expect(m.run.webhook).toMatchObject({ state: "failed", attempts: 3 });
  });

  test("a delivery the outbound policy denies fails for good at once, with a non-retryable last error", () => {
    const m = new RunMachine(run([{ id: "a" }], { onError: "https://h.test/err" }), { webhook: policy, random: () => 0.5 });
    m.start(1);
    m.attemptFailed(0, 1, fail(false), 2);
    const denied = { error: { reason: "destination_denied", message: "destination denied by the outbound policy: 10.0.0.0/8" }, retryable: false };
    const fx = m.webhookFailed(1, denied, 3);
    expect(fx.timers).toEqual([]);
    expect(fx.done).toBe(true);
    expect(m.run.webhook).toMatchObject({ state: "failed", attempts: 1, lastError: { reason: "destination_denied", retryable: false, attempt: 1 } });
    expect(m.run.webhook?.nextAttemptAt).toBeUndefined();
  });

  test("a run with a pending webhook resumes delivery after a restart", () => {
    const r = run([{ id: "a" }], { onComplete: "https://h.test/done" });
    const m = new RunMachine(r, { webhook: policy });
    m.start(1);
    m.attemptSucceeded(0, 1, null, 2);
    const again = new RunMachine(structuredClone(r), { webhook: policy });
    expect(again.recover(5).dispatch).toEqual([{ kind: "webhook", index: -1, attempt: 1 }]);
  });
});

describe("RunMachine result budget", () => {
  test("a result that would take the run's results over maxRunResultBytes fails its step for good; smaller ones are kept", () => {
    const spec = run([{ id: "a", parallel: true }, { id: "b", parallel: true }, { id: "c", parallel: true }]);
    const m = new RunMachine(spec, { maxRunResultBytes: 100 });
    m.start(1);
    m.attemptSucceeded(0, 1, "x".repeat(40), 2); // 42 bytes as JSON
    m.attemptSucceeded(1, 1, "y".repeat(60), 3); // would make 104
    expect(m.run.steps[0]).toMatchObject({ state: "completed", result: "x".repeat(40) });
    expect(m.run.steps[1].state).toBe("failed");
    expect(m.run.steps[1].result).toBeUndefined();
    expect(m.run.steps[1].error).toMatchObject({ reason: "result_too_large", retryable: false, attempt: 1 });
    expect(m.run.steps[1].error!.message).toContain("limit of 100 bytes");
    m.attemptSucceeded(2, 1, "z", 4);
    expect(m.run.state).toBe("failed");
  });

  test("results already recorded count after a restart", () => {
    const first = new RunMachine(run([{ id: "a" }, { id: "b", dependsOn: ["a"] }]), { maxRunResultBytes: 50 });
    first.start(1);
    first.attemptSucceeded(0, 1, "x".repeat(40), 2);
    const again = new RunMachine(structuredClone(first.run), { maxRunResultBytes: 50 });
    again.recover(3);
    again.attemptSucceeded(1, 1, "y".repeat(10), 4);
    expect(again.run.steps[1].error?.reason).toBe("result_too_large");
  });
});
