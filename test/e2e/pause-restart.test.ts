// A paused run over kill -9 of a server process on the embedded store: it is
// still PAUSED after the restart (the pause was acknowledged, so it is
// durable), the call that was in flight is sent again and recorded, nothing
// new starts, and resume goes on. (The MongoDB pass leaves this file out, as
// it does durability.test.ts: on MongoDB, a pause across replicas is tested
// in pause.test.ts.)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { StepState, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { HandlerServer } from "../support/handler-server.ts";
import { sleep } from "../support/run-observer.ts";
import { kill9, spawnWeft, type WeftProcess } from "../support/weft-process.ts";
import { waitForRun } from "../support/weft.ts";

describe("pause over kill -9 (embedded store, a server process)", () => {
  test("a paused run stays paused after kill -9 and a restart; resume completes it", async () => {
    const handlers = await HandlerServer.start();
    const dir = mkdtempSync(join(tmpdir(), "weft-pause9-"));
    let proc: WeftProcess | undefined;
    try {
      let release = false;
      handlers.on("/p9/a", async (call) => {
        while (!release && !call.aborted) await sleep(10);
        return { json: { success: true, result: "a" } };
      });
      proc = await spawnWeft(dir);
      const { workflow } = await proc.client.createWorkflow({
        id: "p9",
        steps: [
          { id: "a", url: handlers.url("/p9/a") },
          { id: "b", url: handlers.url("/p9/b"), dependsOn: ["a"] },
        ],
      });
      const id = workflow!.id;
      await handlers.waitForCall((c) => c.body.runId === id);
      const { workflow: paused } = await proc.client.pauseWorkflow({ id, reason: "before the crash", holdDeadline: true });
      expect(paused!.state).toBe(WorkflowState.PAUSED);
      await kill9(proc);
      proc = await spawnWeft(dir);
      const client = proc.client;
      const after = (await client.getWorkflow({ id })).workflow!;
      expect([after.state, after.pauseReason, after.deadlineHeld]).toEqual([WorkflowState.PAUSED, "before the crash", true]);
      // The call in flight when the server died is sent again (same attempt) and its result recorded; b does not start.
      await handlers.waitForCall((c) => c.body.runId === id && handlers.callsFor(id, "/p9/a").length >= 2);
      expect(handlers.callsFor(id, "/p9/a").map((c) => c.body.attempt)).toEqual([1, 1]);
      release = true;
      const recorded = await waitForRun(client, id, (w) => w.steps[0].state === StepState.COMPLETED);
      expect(recorded.state).toBe(WorkflowState.PAUSED);
      expect(recorded.steps[1].state).toBe(StepState.PENDING);
      expect(handlers.callsFor(id, "/p9/b")).toHaveLength(0);
      await client.resumeWorkflow({ id });
      expect((await waitForRun(client, id)).state).toBe(WorkflowState.COMPLETED);
      expect(handlers.callsFor(id, "/p9/b")).toHaveLength(1);
    } finally {
      if (proc) await kill9(proc);
      await handlers.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
