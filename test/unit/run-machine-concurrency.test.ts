// The run machine's side of concurrency keys: what queues, what asks for a
// slot, what starts once admitted, what a restart asks again or keeps.
import { describe, expect, test } from "vitest";
import { compileWorkflow } from "../../src/domain/compile-workflow.ts";
import type { ConcurrencyInput } from "../../src/domain/concurrency-key.ts";
import { RunMachine } from "../../src/domain/run-machine.ts";
import { newRunRecord, type RunRecord } from "../../src/domain/run-record.ts";
import { DEFAULT_LIMITS, type StepInput } from "../../src/domain/workflow-spec.ts";

type S = Partial<StepInput> & { id: string };

function run(steps: S[], concurrency?: ConcurrencyInput): RunRecord {
  const compiled = compileWorkflow(
    {
      id: "wf",
      steps: steps.map((s) => ({ url: `https://h.test/${s.id}`, dependsOn: [], parallel: false, compensation: "", ...s })),
      context: { user: "u1" },
      onComplete: "",
      onError: "",
      saga: false,
      baseUrl: "",
      requestId: "",
      concurrency,
    },
    DEFAULT_LIMITS,
  );
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.violations));
  return newRunRecord("wf_TEST", compiled.spec, 1000);
}

const key = { key: "/context/user", limit: 1 };

describe("RunMachine concurrency keys", () => {
  test("a run with a workflow key waits, pending, until admitted", () => {
    const m = new RunMachine(run([{ id: "a" }], key));
    const fx = m.start(1);
    expect(fx.acquire).toEqual([-1]);
    expect(fx.dispatch).toEqual([]);
    expect(m.run.state).toBe("pending");
    expect(m.run.waitingFor).toBe("concurrency_key");
    const patch = m.takePatch()!;
    expect(patch.run?.waitingFor).toBe("concurrency_key");
    expect(patch.events).toEqual([expect.objectContaining({ kind: "run", from: "pending", to: "pending", waitingFor: "concurrency_key" })]);
    const go = m.admitted(-1, 5);
    expect(m.run.state).toBe("running");
    expect(m.run.waitingFor).toBeUndefined();
    expect(go.dispatch).toEqual([{ kind: "step", index: 0, attempt: 1 }]);
    expect(m.takePatch()!.run?.waitingFor).toBeUndefined();
    // Admitted twice (a repeated grant): nothing more happens.
    expect(m.admitted(-1, 6).dispatch).toEqual([]);
  });

  test("a redriven run with a workflow key queues for a slot again before its steps run", () => {
    const m = new RunMachine(run([{ id: "a" }, { id: "b", dependsOn: ["a"] }], key));
    m.start(1);
    m.admitted(-1, 2);
    m.attemptSucceeded(0, 1, "ok", 3);
    m.attemptFailed(1, 1, { error: { reason: "http_status", message: "HTTP 400", httpStatus: 400 }, retryable: false }, 4);
    expect(m.run.state).toBe("failed");
    m.takePatch();
    const fx = m.redrive(10);
    expect(fx.acquire).toEqual([-1]);
    expect(fx.dispatch).toEqual([]);
    expect(m.run.state).toBe("pending");
    expect(m.run.waitingFor).toBe("concurrency_key");
    expect(m.takePatch()!.events[0]).toMatchObject({ kind: "run", from: "failed", to: "pending", redriven: true, waitingFor: "concurrency_key" });
    const go = m.admitted(-1, 11);
    expect(m.run.state).toBe("running");
    expect(m.run.startedAt).toBe(2);
    expect(go.dispatch).toEqual([{ kind: "step", index: 1, attempt: 2 }]);
  });

  test("cancelling a queued run ends it without starting a step and clears the wait", () => {
    const m = new RunMachine(run([{ id: "a" }], key));
    m.start(1);
    const fx = m.cancel(2, "stop");
    expect(fx.terminal).toBe(true);
    expect(m.run.state).toBe("cancelled");
    expect(m.run.waitingFor).toBeUndefined();
    expect(m.run.steps[0].state).toBe("skipped");
    expect(m.admitted(-1, 3).dispatch).toEqual([]);
  });

  test("a step with a key is queued (PENDING, waiting_for) and starts when admitted; time queued is not attempt time", () => {
    const m = new RunMachine(run([{ id: "a" }, { id: "charge", dependsOn: ["a"], concurrency: key }, { id: "z", dependsOn: ["charge"] }]));
    m.start(1);
    const fx = m.attemptSucceeded(0, 1, null, 2);
    expect(fx.dispatch).toEqual([]);
    expect(fx.acquire).toEqual([1]);
    expect(m.run.steps[1]).toMatchObject({ state: "pending", waitingFor: "concurrency_key", queuedAt: 2 });
    const events = m.takePatch()!.events;
    expect(events.at(-1)).toMatchObject({ kind: "step", stepId: "charge", from: "pending", to: "pending", waitingFor: "concurrency_key" });
    const go = m.admitted(1, 50);
    expect(go.dispatch).toEqual([{ kind: "step", index: 1, attempt: 1 }]);
    expect(m.run.steps[1]).toMatchObject({ state: "running", startedAt: 50 });
    expect(m.run.steps[1].waitingFor).toBeUndefined();
    expect(m.attemptSucceeded(1, 1, null, 60).dispatch).toEqual([{ kind: "step", index: 2, attempt: 1 }]);
  });

  test("a queued non-parallel step keeps the run's serial slot", () => {
    const m = new RunMachine(run([{ id: "k", concurrency: key }, { id: "s" }, { id: "p", parallel: true }]));
    const fx = m.start(1);
    expect(fx.acquire).toEqual([0]);
    // s (non-parallel) waits for k; p (parallel) runs.
    expect(fx.dispatch).toEqual([{ kind: "step", index: 2, attempt: 1 }]);
    const go = m.admitted(0, 2);
    expect(go.dispatch).toEqual([{ kind: "step", index: 0, attempt: 1 }]);
    expect(m.attemptSucceeded(0, 1, null, 3).dispatch).toEqual([{ kind: "step", index: 1, attempt: 1 }]);
  });

  test("after a restart: queued steps ask again, steps in flight keep their slot, the run keeps its own", () => {
    const m = new RunMachine(run([{ id: "a", concurrency: key, parallel: true }, { id: "b", concurrency: { key: "/context/user", limit: 2 }, parallel: true }], key));
    m.start(1);
    m.admitted(-1, 2);
    m.admitted(0, 3);
    const record = structuredClone(m.run);
    const again = new RunMachine(record);
    const fx = again.recover(4);
    expect(fx.hold.sort()).toEqual([-1, 0]);
    expect(fx.acquire).toEqual([1]);
    expect(fx.dispatch).toEqual([{ kind: "step", index: 0, attempt: 1 }]);
    // A queued run asks again after a restart, without a second queued event.
    const q = new RunMachine(run([{ id: "a" }], key));
    q.start(1);
    q.takePatch();
    const r = new RunMachine(structuredClone(q.run));
    expect(r.recover(2).acquire).toEqual([-1]);
    expect(r.takePatch()).toBeUndefined();
  });

  test("a queued step cancelled as not needed, or skipped when the run fails, no longer waits", () => {
    const m = new RunMachine(run([{ id: "bad", parallel: true }, { id: "k", concurrency: key, parallel: true }, { id: "z", dependsOn: ["bad", "k"] }]));
    m.start(1);
    m.attemptFailed(0, 1, { error: { reason: "http_status", message: "500" }, retryable: false }, 2);
    expect(m.run.state).toBe("failed");
    expect(m.run.steps[1].state).toBe("skipped");
    expect(m.run.steps[1].waitingFor).toBeUndefined();
    expect(m.admitted(1, 3).dispatch).toEqual([]);
  });
});
