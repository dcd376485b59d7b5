// The run deadline (`timeout`, from creation): it aborts the call in flight and
// fails the run as timed_out (compensating first in saga mode), and, being
// stored, it also fires for a run whose deadline passed while the server was down,
// before anything is sent again.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { durationFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, test } from "vitest";
import { CompensationState, StepState, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { HandlerServer } from "../support/handler-server.ts";
import { compensationBody, expectSigned, hangUntilAborted, runStates, sleep } from "../support/run-observer.ts";
import { kill9, spawnWeft, type WeftProcess } from "../support/weft-process.ts";
import { type TestWeft, waitForRun, useWeft } from "../support/weft.ts";

// A deadline must be long enough for the steps before the hanging one to finish, which a
// loaded machine may not manage: each test starts with a short deadline and, when the run
// shows it was too short (`undefined`), tries again with a longer one.
async function withLongerDeadlines<T>(attempt: (timeoutMs: number, n: number) => Promise<T | undefined>): Promise<T> {
  const timeouts = [1_000, 4_000, 15_000, 60_000];
  for (const [n, ms] of timeouts.entries()) {
    const result = await attempt(ms, n);
    if (result !== undefined) return result;
  }
  throw new Error(`no deadline up to ${timeouts.at(-1)} ms was long enough for the steps before the hanging one`);
}

let weft: TestWeft;
let handlers: HandlerServer;
useWeft((w, h) => {
  weft = w;
  handlers = h;
});

describe("deadline expiring during a step", () => {
  test("aborts the call in flight, fails the run as timed_out and skips the later steps", async () => {
    const p = "/dl-live";
    handlers.on(`${p}/slow`, hangUntilAborted());
    const { runId, done, timeoutMs } = await withLongerDeadlines(async (timeoutMs) => {
      const { workflow } = await weft.client.createWorkflow({
        id: "deadline-live",
        timeout: durationFromMs(timeoutMs),
        steps: [
          { id: "first", url: handlers.url(`${p}/first`) },
          { id: "slow", url: handlers.url(`${p}/slow`), dependsOn: ["first"] },
          { id: "after", url: handlers.url(`${p}/after`), dependsOn: ["slow"] },
        ],
      });
      const runId = workflow!.id;
      const done = await waitForRun(weft.client, runId);
      return handlers.callsFor(runId, `${p}/slow`).length === 1 ? { runId, done, timeoutMs } : undefined;
    });
    expect(done.state).toBe(WorkflowState.FAILED);
    expect(done.error).toMatchObject({ reason: "timed_out" });
    expect(done.steps.map((s) => s.state)).toEqual([StepState.COMPLETED, StepState.CANCELLED, StepState.SKIPPED]);
    expect(done.steps[1].error).toMatchObject({ reason: "timed_out" });
    // It fired at the deadline, measured from creation.
    const elapsed = timestampMs(done.completedAt!) - timestampMs(done.createdAt!);
    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs);
    expect(timestampMs(done.deadline!) - timestampMs(done.createdAt!)).toBe(timeoutMs);
    const slow = handlers.callsFor(runId, `${p}/slow`);
    expect(slow).toHaveLength(1);
    await expect.poll(() => slow[0].aborted).toBe(true);
    expect(handlers.callsFor(runId, `${p}/after`)).toHaveLength(0);
    expect(await runStates(weft.client, runId)).toEqual([WorkflowState.PENDING, WorkflowState.RUNNING, WorkflowState.FAILED]);
  });

  test("in saga mode the completed steps are compensated before the run fails as timed_out", async () => {
    const p = "/dl-saga";
    handlers.on(`${p}/slow`, hangUntilAborted());
    const { runId, done } = await withLongerDeadlines(async (timeoutMs) => {
      const { workflow } = await weft.client.createWorkflow({
        id: "deadline-saga",
        saga: true,
        timeout: durationFromMs(timeoutMs),
        baseUrl: handlers.baseUrl,
        steps: [
          { id: "one", url: `${p}/one`, compensation: `${p}/undo-one` },
          { id: "two", url: `${p}/two`, dependsOn: ["one"], compensation: `${p}/undo-two` },
          { id: "slow", url: `${p}/slow`, dependsOn: ["two"], compensation: `${p}/undo-slow` },
          { id: "after", url: `${p}/after`, dependsOn: ["slow"], compensation: `${p}/undo-after` },
        ],
      });
      const runId = workflow!.id;
      const done = await waitForRun(weft.client, runId);
      return handlers.callsFor(runId, `${p}/slow`).length === 1 ? { runId, done } : undefined;
    });
    expect(done.state).toBe(WorkflowState.FAILED);
    expect(done.error).toMatchObject({ reason: "timed_out" });
    expect(done.compensationFailed).toBe(false);
    expect(done.steps.map((s) => [s.id, s.state, s.compensationState])).toEqual([
      ["one", StepState.COMPLETED, CompensationState.SUCCEEDED],
      ["two", StepState.COMPLETED, CompensationState.SUCCEEDED],
      ["slow", StepState.CANCELLED, CompensationState.UNSPECIFIED],
      ["after", StepState.SKIPPED, CompensationState.UNSPECIFIED],
    ]);
    await expect.poll(() => handlers.callsFor(runId, `${p}/slow`)[0].aborted).toBe(true);
    const undo = handlers.callsFor(runId).filter((c) => c.path.startsWith(`${p}/undo-`));
    expect(undo.map((c) => c.path)).toEqual([`${p}/undo-two`, `${p}/undo-one`]);
    const body = compensationBody(undo[0]);
    expect(body).toMatchObject({ stepId: "two", compensation: true, failedStep: null });
    expect(body.error).toMatchObject({ reason: "timed_out" });
    for (const c of undo) expectSigned(c);
    expect(await runStates(weft.client, runId)).toEqual([
      WorkflowState.PENDING,
      WorkflowState.RUNNING,
      WorkflowState.COMPENSATING,
      WorkflowState.FAILED,
    ]);
  });
});

test("a deadline that passed while the server was down fires right after start-up, before the hanging step is re-sent", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-deadline-"));
  const procs: WeftProcess[] = [];
  try {
    const p = "/dl-down";
    handlers.on(`${p}/hang`, hangUntilAborted());
    // Both runs must still be running (their hanging steps sent) when the server dies.
    const { ids, deadline, dataDir } = await withLongerDeadlines(async (timeoutMs, n) => {
      const dataDir = join(dir, String(n));
      const first = await spawnWeft(dataDir);
      procs.push(first);
      const plain = await first.client.createWorkflow({
        id: "deadline-down",
        timeout: durationFromMs(timeoutMs),
        steps: [
          { id: "hang", url: handlers.url(`${p}/hang`) },
          { id: "after", url: handlers.url(`${p}/after`), dependsOn: ["hang"] },
        ],
      });
      const saga = await first.client.createWorkflow({
        id: "deadline-down-saga",
        saga: true,
        timeout: durationFromMs(timeoutMs),
        steps: [
          { id: "done", url: handlers.url(`${p}/done`), compensation: handlers.url(`${p}/undo-done`) },
          { id: "hang", url: handlers.url(`${p}/hang`), dependsOn: ["done"], compensation: handlers.url(`${p}/undo-hang`) },
        ],
      });
      const ids = [plain.workflow!.id, saga.workflow!.id];
      const deadline = Math.max(timestampMs(plain.workflow!.deadline!), timestampMs(saga.workflow!.deadline!));
      const sent = () => ids.every((id) => handlers.callsFor(id, `${p}/hang`).length === 1);
      while (!sent() && Date.now() < deadline) await sleep(20);
      let running = sent();
      for (const id of ids) running &&= (await first.client.getWorkflow({ id })).workflow!.state === WorkflowState.RUNNING;
      await kill9(first);
      return running ? { ids, deadline, dataDir } : undefined;
    });
    await sleep(Math.max(0, deadline - Date.now()) + 100);

    const second = await spawnWeft(dataDir);
    procs.push(second);
    const [plainDone, sagaDone] = await Promise.all(ids.map((id) => waitForRun(second.client, id)));

    expect(plainDone.state).toBe(WorkflowState.FAILED);
    expect(plainDone.error).toMatchObject({ reason: "timed_out" });
    expect(plainDone.steps.map((s) => s.state)).toEqual([StepState.CANCELLED, StepState.SKIPPED]);

    expect(sagaDone.state).toBe(WorkflowState.FAILED);
    expect(sagaDone.error).toMatchObject({ reason: "timed_out" });
    expect(sagaDone.steps.map((s) => [s.state, s.compensationState])).toEqual([
      [StepState.COMPLETED, CompensationState.SUCCEEDED],
      [StepState.CANCELLED, CompensationState.UNSPECIFIED],
    ]);
    expect(handlers.callsFor(ids[1], `${p}/undo-done`)).toHaveLength(1);
    expect(handlers.callsFor(ids[1], `${p}/undo-hang`)).toHaveLength(0);

    // The hanging steps were sent once, before the crash, and never again.
    await sleep(100);
    for (const id of ids) expect(handlers.callsFor(id, `${p}/hang`)).toHaveLength(1);
    expect(handlers.callsFor(ids[0], `${p}/after`)).toHaveLength(0);
    expect(handlers.callsFor(ids[1], `${p}/done`)).toHaveLength(1);
    for (const id of ids) {
      expect(await runStates(second.client, id)).toEqual(
        id === ids[0]
          ? [WorkflowState.PENDING, WorkflowState.RUNNING, WorkflowState.FAILED]
          : [WorkflowState.PENDING, WorkflowState.RUNNING, WorkflowState.COMPENSATING, WorkflowState.FAILED],
      );
    }
  } finally {
    for (const pr of procs) if (pr.child.exitCode === null && pr.child.signalCode === null) await kill9(pr);
    rmSync(dir, { recursive: true, force: true });
  }
});
