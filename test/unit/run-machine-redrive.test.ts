// The run machine's redrive and webhook redelivery commands, and their rules (README "Recovering runs").
import { describe, expect, test } from "vitest";
import { compileWorkflow } from "../../src/domain/compile-workflow.ts";
import { redriveRefusal, redrivenDeadline, webhookEventId } from "../../src/domain/redrive.ts";
import { canonicalJson, requestFingerprint, sameRequest } from "../../src/domain/request-fingerprint.ts";
import { RunMachine } from "../../src/domain/run-machine.ts";
import { applyPatch, newRunRecord, type RunRecord } from "../../src/domain/run-record.ts";
import { redeliveryRefusal } from "../../src/domain/webhook-redelivery.ts";
import { DEFAULT_LIMITS, type StepInput } from "../../src/domain/workflow-spec.ts";

type S = Partial<StepInput> & { id: string };

function run(steps: S[], extra: { timeoutMs?: number; saga?: boolean; onComplete?: string; onError?: string; context?: unknown } = {}): RunRecord {
  const compiled = compileWorkflow(
    {
      id: "wf",
      steps: steps.map((s) => ({ url: `https://h.test/${s.id}`, dependsOn: [], parallel: false, compensation: "", ...s })),
      context: extra.context,
      onComplete: extra.onComplete ?? "",
      onError: extra.onError ?? "",
      saga: extra.saga ?? false,
      baseUrl: "",
      requestId: "",
      timeoutMs: extra.timeoutMs,
    },
    DEFAULT_LIMITS,
  );
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.violations));
  return newRunRecord("wf_TEST", compiled.spec, 1000);
}

const ids = (m: RunMachine, work: { index: number }[]) => work.map((w) => m.run.steps[w.index].id);
const states = (m: RunMachine) => Object.fromEntries(m.run.steps.map((s) => [s.id, s.state]));
const fail = (retryable = false) => ({ error: { reason: "http_status", message: "HTTP 500", httpStatus: 500 }, retryable });
const chain = (n: number): S[] => Array.from({ length: n }, (_, i) => ({ id: `s${i + 1}`, dependsOn: i === 0 ? [] : [`s${i}`] }));

/** s1 … s5 in a chain; s3 fails for good: the run FAILED with s4, s5 skipped. */
function failedAtThree(extra: Parameters<typeof run>[1] = {}): RunMachine {
  const m = new RunMachine(run(chain(5), extra));
  m.start(1);
  m.attemptSucceeded(0, 1, "r1", 2);
  m.attemptSucceeded(1, 1, "r2", 3);
  m.attemptFailed(2, 1, fail(), 4);
  expect(m.run.state).toBe("failed");
  m.takePatch();
  return m;
}

describe("redrive", () => {
  test("a failed run continues in place: completed steps keep their results, the rest run again, attempts go on", () => {
    const m = failedAtThree();
    expect(states(m)).toEqual({ s1: "completed", s2: "completed", s3: "failed", s4: "skipped", s5: "skipped" });
    const fx = m.redrive(10);
    expect(m.run.state).toBe("running");
    expect(m.run.error).toBeUndefined();
    expect(m.run.completedAt).toBeUndefined();
    expect(m.run.redrives).toBe(1);
    // Only s3 starts: s1 and s2 are not called again.
    expect(ids(m, fx.dispatch)).toEqual(["s3"]);
    expect(fx.dispatch[0].attempt).toBe(2);
    expect(m.run.steps[0]).toMatchObject({ state: "completed", result: "r1" });
    expect(m.run.steps[2]).toMatchObject({ state: "running", attempts: 2 });
    expect(m.run.steps[2].error).toBeUndefined();
    const patch = m.takePatch()!;
    // The log goes on: a redriven run transition, the steps back to pending, s3 running.
    const log = patch.events.map((e) => [e.kind, e.stepId ?? "", e.from, e.to, e.redriven ?? false]);
    expect(log).toEqual([
      ["run", "", "failed", "running", true],
      ["step", "s3", "failed", "pending", false],
      ["step", "s4", "skipped", "pending", false],
      ["step", "s5", "skipped", "pending", false],
      ["step", "s3", "pending", "running", false],
    ]);
    expect(patch.events[0].seq).toBe(patch.events.at(-1)!.seq - 4);
    // And it completes, calling s4 and s5 next.
    expect(ids(m, m.attemptSucceeded(2, 2, "r3", 11).dispatch)).toEqual(["s4"]);
    expect(ids(m, m.attemptSucceeded(3, 1, "r4", 12).dispatch)).toEqual(["s5"]);
    expect(m.attemptSucceeded(4, 1, "r5", 13).terminal).toBe(true);
    expect(m.run.state).toBe("completed");
  });

  test("the redriven record, stored and reloaded, is driven the same way (patch applied to the stored copy)", () => {
    const m = failedAtThree();
    const stored = structuredClone(m.run);
    m.redrive(10);
    applyPatch(stored, m.takePatch()!);
    expect(stored.state).toBe("running");
    expect(stored.redrives).toBe(1);
    expect(stored.steps.map((s) => s.state)).toEqual(["completed", "completed", "running", "pending", "pending"]);
    const again = new RunMachine(stored);
    expect(ids(again, again.attemptSucceeded(2, 2, "r3", 11).dispatch)).toEqual(["s4"]);
  });

  test("a cancelled run: steps cancelled in flight and skipped ones run again", () => {
    const m = new RunMachine(run([{ id: "a", parallel: true }, { id: "b", parallel: true }, { id: "c", dependsOn: ["a", "b"] }]));
    m.start(1);
    m.attemptSucceeded(0, 1, "ra", 2);
    m.cancel(3, "cancelled by request");
    expect(states(m)).toEqual({ a: "completed", b: "cancelled", c: "skipped" });
    m.takePatch();
    const fx = m.redrive(4);
    expect(ids(m, fx.dispatch)).toEqual(["b"]);
    expect(m.takePatch()!.events[0]).toMatchObject({ kind: "run", from: "cancelled", to: "running", redriven: true });
  });

  test("the deadline: extended from the later of the old deadline and now, by the given amount or the run's timeout", () => {
    const timedOut = new RunMachine(run(chain(2), { timeoutMs: 5000 }));
    timedOut.start(1);
    timedOut.deadlineReached(6000);
    expect(timedOut.run).toMatchObject({ state: "failed", error: { reason: "timed_out" } });
    expect(redrivenDeadline(timedOut.run, 9000)).toBe(14_000);
    expect(redrivenDeadline(timedOut.run, 9000, 60_000)).toBe(69_000);
    expect(redrivenDeadline({ ...timedOut.run, deadlineAt: 20_000 }, 9000, 1000)).toBe(21_000);
    timedOut.redrive(9000, 60_000);
    expect(timedOut.run.deadlineAt).toBe(69_000);
    expect(timedOut.run.steps[0]).toMatchObject({ state: "running", attempts: 2 });
  });

  test("the new outcome gets its own webhook: a new event id, the old delivery dropped", () => {
    const m = failedAtThree({ onComplete: "https://h.test/done", onError: "https://h.test/err" });
    expect(m.run.webhook).toMatchObject({ eventId: "evt_wf_TEST", eventType: "workflow.failed" });
    m.redrive(10);
    expect(m.run.webhook).toBeUndefined();
    m.attemptSucceeded(2, 2, "r3", 11);
    m.attemptSucceeded(3, 1, "r4", 12);
    const fx = m.attemptSucceeded(4, 1, "r5", 13);
    expect(fx.dispatch).toEqual([{ kind: "webhook", index: -1, attempt: 1 }]);
    expect(m.run.webhook).toMatchObject({ url: "https://h.test/done", eventId: "evt_wf_TEST_r1", eventType: "workflow.completed" });
    expect(webhookEventId("wf_X", undefined)).toBe("evt_wf_X");
    expect(webhookEventId("wf_X", 2)).toBe("evt_wf_X_r2");
  });

  test("a map step runs its failed and cancelled items again; completed items keep their results", () => {
    const m = new RunMachine(
      run([
        { id: "prepare" },
        { id: "map", dependsOn: ["prepare"], forEach: "/prepare/result", maxConcurrency: 10 },
      ]),
    );
    m.start(1);
    m.attemptSucceeded(0, 1, [1, 2, 3], 2);
    m.itemSucceeded(1, 0, 1, "i0", 3);
    m.itemFailed(1, 1, 1, fail(), 4); // fails the step (item_failures all): item 2 is cancelled
    expect(m.run.state).toBe("failed");
    expect(m.run.items![1].map((it) => it.state)).toEqual(["completed", "failed", "cancelled"]);
    m.takePatch();
    const fx = m.redrive(10);
    expect(fx.dispatch.map((w) => [w.kind, w.item, w.attempt])).toEqual([
      ["item", 1, 2],
      ["item", 2, 2], // cancelled in flight: its attempt 1 was sent

    ]);
    expect(m.run.items![1][0]).toMatchObject({ state: "completed", result: "i0" });
    // Only the reopened items are written, not the whole list.
    const patch = m.takePatch()!;
    expect(patch.itemLists ?? []).toEqual([]);
    expect(patch.items!.map((c) => [c.step, c.index]).sort()).toEqual([
      [1, 1],
      [1, 2],
    ]);
    m.itemSucceeded(1, 1, 2, "i1", 11);
    expect(m.itemSucceeded(1, 2, 2, "i2", 12).terminal).toBe(true);
    expect(m.run.state).toBe("completed");
    expect(m.run.steps[1].state).toBe("completed");
  });

  test("steps skipped by a failed join, and not-needed steps, run again", () => {
    const m = new RunMachine(
      run([
        { id: "a", parallel: true },
        { id: "b", parallel: true },
        { id: "j", dependsOn: ["a", "b"], join: { kind: "at_least", count: 2 } },
      ]),
    );
    m.start(1);
    m.attemptFailed(0, 1, fail(), 2);
    expect(m.run.steps[2]).toMatchObject({ state: "skipped", error: { reason: "join_failed" } });
    // The failed join cancelled b, in flight (not_needed): its late answer is not recorded.
    m.attemptSucceeded(1, 1, "rb", 3);
    expect(m.run.state).toBe("failed");
    expect(m.run.steps[1]).toMatchObject({ state: "cancelled", error: { reason: "not_needed" } });
    const fx = m.redrive(4);
    expect(ids(m, fx.dispatch)).toEqual(["a", "b"]);
    expect(m.run.steps[2]).toEqual({ id: "j", state: "pending", attempts: 0 });
    expect(m.attemptSucceeded(0, 2, "ra", 5).dispatch).toEqual([]);
    expect(ids(m, m.attemptSucceeded(1, 2, "rb", 6).dispatch)).toEqual(["j"]);
  });

  test("an `any` join's loser (not_needed) is not called again when its join completed; the failed step after it is", () => {
    const m = new RunMachine(
      run([
        { id: "a", parallel: true },
        { id: "b", parallel: true },
        { id: "d", dependsOn: ["a", "b"], join: { kind: "any" } },
        { id: "e", dependsOn: ["d"] },
      ]),
    );
    expect(ids(m, m.start(1).dispatch)).toEqual(["a", "b"]);
    expect(ids(m, m.attemptSucceeded(0, 1, "ra", 2).dispatch)).toEqual(["d"]);
    expect(m.run.steps[1]).toMatchObject({ state: "cancelled", error: { reason: "not_needed" } });
    expect(ids(m, m.attemptSucceeded(2, 1, "rd", 3).dispatch)).toEqual(["e"]);
    m.attemptFailed(3, 1, fail(), 4);
    expect(m.run.state).toBe("failed");
    const fx = m.redrive(5);
    // Only e: b's join completed without it, so nothing that runs again needs it (it could hang the run).
    expect(ids(m, fx.dispatch)).toEqual(["e"]);
    expect(m.run.steps[1]).toMatchObject({ state: "cancelled", error: { reason: "not_needed" } });
    expect(m.attemptSucceeded(3, 2, "re", 6).terminal).toBe(true);
    expect(m.run.state).toBe("completed");
  });

  test("refusals: a run not finished, a completed run, a compensated saga; nothing changes", () => {
    const running = new RunMachine(run(chain(2)));
    running.start(1);
    running.takePatch();
    expect(redriveRefusal(running.run)?.reason).toBe("RUN_NOT_FINISHED");
    expect(running.redrive(2).dispatch).toEqual([]);
    expect(running.takePatch()).toBeUndefined();

    const done = new RunMachine(run(chain(1)));
    done.start(1);
    done.attemptSucceeded(0, 1, null, 2);
    expect(redriveRefusal(done.run)?.reason).toBe("RUN_COMPLETED");

    const withComp = new RunMachine(run(chain(3).map((s) => ({ ...s, compensation: `https://h.test/undo-${s.id}` })), { saga: true }));
    withComp.start(1);
    withComp.attemptSucceeded(0, 1, null, 2);
    withComp.attemptFailed(1, 1, fail(), 3);
    expect(withComp.run.state).toBe("compensating");
    expect(redriveRefusal(withComp.run)?.reason).toBe("RUN_NOT_FINISHED");
    withComp.compensationSucceeded(0, 1, 4);
    expect(withComp.run.state).toBe("failed");
    const refusal = redriveRefusal(withComp.run);
    expect(refusal?.reason).toBe("COMPENSATED");
    expect(refusal?.message).toMatch(/compensations have run/);
    withComp.takePatch();
    withComp.redrive(5);
    expect(withComp.takePatch()).toBeUndefined();
    expect(withComp.run.state).toBe("failed");
  });

  test("a saga that failed before any step completed was not compensated: it can be redriven", () => {
    const m = new RunMachine(run(chain(2).map((s) => ({ ...s, compensation: `https://h.test/undo-${s.id}` })), { saga: true }));
    m.start(1);
    m.attemptFailed(0, 1, fail(), 2);
    expect(m.run.state).toBe("failed");
    expect(m.run.compensation).toBeUndefined();
    expect(redriveRefusal(m.run)).toBeUndefined();
    expect(ids(m, m.redrive(3).dispatch)).toEqual(["s1"]);
  });

  test("redrive twice: the count goes on, and so does the webhook event id", () => {
    const m = failedAtThree({ onError: "https://h.test/err" });
    m.redrive(10);
    m.attemptFailed(2, 2, fail(), 11);
    expect(m.run.webhook?.eventId).toBe("evt_wf_TEST_r1");
    m.redrive(12);
    expect(m.run.redrives).toBe(2);
    expect(m.run.steps[2]).toMatchObject({ state: "running", attempts: 3 });
  });
});

describe("webhook redelivery", () => {
  function finishedWithWebhook(): RunMachine {
    const m = new RunMachine(run(chain(1), { onComplete: "https://h.test/done" }), {
      webhook: { retryPeriodMs: 1000, initialIntervalMs: 100, maxIntervalMs: 100 },
      random: () => 0.5,
    });
    m.start(1);
    m.attemptSucceeded(0, 1, null, 2);
    return m;
  }

  test("a failed delivery is delivered again: pending → delivering, attempts go on, a new retry period", () => {
    const m = finishedWithWebhook();
    expect(redeliveryRefusal(m.run)?.reason).toBe("WEBHOOK_IN_PROGRESS");
    m.webhookFailed(1, { error: { reason: "http_status", message: "HTTP 400", httpStatus: 400 }, retryable: false }, 3);
    m.webhookRetryDue();
    m.webhookFailed(2, { error: { reason: "http_status", message: "HTTP 500", httpStatus: 500 }, retryable: true }, 5000);
    expect(m.run.webhook?.state).toBe("failed");
    expect(redeliveryRefusal(m.run)).toBeUndefined();
    const fx = m.redeliverWebhook(6000);
    expect(fx.dispatch).toEqual([{ kind: "webhook", index: -1, attempt: 3 }]);
    expect(m.run.webhook).toMatchObject({ state: "delivering", attempts: 3, giveUpAt: 7000, eventId: "evt_wf_TEST" });
    expect(m.takePatch()?.run?.webhook?.state).toBe("delivering");
    m.webhookSucceeded(3, 6001);
    expect(m.run.webhook?.state).toBe("delivered");
  });

  test("a delivered webhook may be delivered again; a run without one, or not finished, is refused", () => {
    const m = finishedWithWebhook();
    m.webhookSucceeded(1, 3);
    expect(redeliveryRefusal(m.run)).toBeUndefined();
    expect(m.redeliverWebhook(4).dispatch).toHaveLength(1);
    expect(m.run.webhook?.deliveredAt).toBeUndefined();

    const none = new RunMachine(run(chain(1)));
    none.start(1);
    none.attemptSucceeded(0, 1, null, 2);
    expect(redeliveryRefusal(none.run)?.reason).toBe("NO_WEBHOOK");
    expect(none.redeliverWebhook(3).dispatch).toEqual([]);

    const running = new RunMachine(run(chain(1), { onComplete: "https://h.test/done" }));
    running.start(1);
    expect(redeliveryRefusal(running.run)?.reason).toBe("RUN_NOT_FINISHED");
  });
});

describe("request fingerprints", () => {
  test("the same request in any key order has one fingerprint; a different one another", () => {
    const a = { id: "wf", context: { b: 1, a: [1, { y: 2, x: 1 }] }, requestId: "k" };
    const b = { requestId: "k", context: { a: [1, { x: 1, y: 2 }], b: 1 }, id: "wf" };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(requestFingerprint(a)).toBe(requestFingerprint(b));
    expect(requestFingerprint(a)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(requestFingerprint({ ...a, context: { b: 2, a: [1, { y: 2, x: 1 }] } })).not.toBe(requestFingerprint(a));
    // Array order matters.
    expect(requestFingerprint({ x: [1, 2] })).not.toBe(requestFingerprint({ x: [2, 1] }));
  });

  test("runs stored without a fingerprint keep answering with the stored run", () => {
    expect(sameRequest(undefined, "sha256:1")).toBe(true);
    expect(sameRequest("sha256:1", "sha256:1")).toBe(true);
    expect(sameRequest("sha256:1", "sha256:2")).toBe(false);
  });
});
