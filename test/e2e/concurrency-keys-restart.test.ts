// Concurrency keys over a restart and over kill -9 of the embedded store: a
// slot held by a run in flight stays held, the queued run stays queued and
// starts once the first has ended. (The MongoDB pass leaves this file out, as
// it does durability.test.ts: on MongoDB, replicas taking runs over are
// tested in concurrency-keys.test.ts.)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@connectrpc/connect";
import { describe, expect, test } from "vitest";
import { type WorkflowService, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { HandlerServer } from "../support/handler-server.ts";
import { sleep } from "../support/run-observer.ts";
import { kill9, spawnWeft, type WeftProcess } from "../support/weft-process.ts";
import { startWeft, waitForRun } from "../support/weft.ts";

const QUEUED = "concurrency_key";

async function runOf(client: Client<typeof WorkflowService>, id: string) {
  return (await client.getWorkflow({ id })).workflow!;
}

describe("concurrency keys over a restart (embedded store)", () => {
  test("a slot held by a run in flight stays held after a restart, and is given back when the run ends", async () => {
    const handlers = await HandlerServer.start();
    const dir = mkdtempSync(join(tmpdir(), "weft-ck-"));
    let weft = await startWeft({}, dir);
    try {
      let release = false;
      handlers.on("/rs/step", async () => {
        while (!release) await sleep(10);
        return { json: { success: true, result: null } };
      });
      const req = {
        id: "rs",
        steps: [{ id: "s", url: handlers.url("/rs/step") }],
        context: { user: "r1" },
        concurrency: { key: "/context/user", limit: 1 },
      };
      const first = (await weft.client.createWorkflow(req)).workflow!;
      await handlers.waitForCall((c) => c.body.runId === first.id);
      const second = (await weft.client.createWorkflow(req)).workflow!;
      await waitForRun(weft.client, second.id, (w) => w.waitingFor === QUEUED);
      await weft.stop();
      weft = await startWeft({}, dir);
      // After the restart the first run still holds the key: the second stays queued while it is in flight.
      await handlers.waitForCall((c) => c.body.runId === first.id && handlers.callsFor(first.id).length >= 2);
      const still = await runOf(weft.client, second.id);
      expect(still.waitingFor).toBe(QUEUED);
      expect(handlers.callsFor(second.id)).toHaveLength(0);
      release = true;
      expect((await waitForRun(weft.client, first.id)).state).toBe(WorkflowState.COMPLETED);
      expect((await waitForRun(weft.client, second.id)).state).toBe(WorkflowState.COMPLETED);
    } finally {
      await weft.stop();
      await handlers.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("concurrency keys over kill -9 (embedded store, a server process)", () => {
  test("after kill -9 the run in flight keeps its slot, the queued run stays queued, and it starts once the first has ended", async () => {
    const handlers = await HandlerServer.start();
    const dir = mkdtempSync(join(tmpdir(), "weft-ck9-"));
    let proc: WeftProcess | undefined;
    try {
      let release = false;
      handlers.on("/k9/step", async () => {
        while (!release) await sleep(10);
        return { json: { success: true, result: null } };
      });
      const req = {
        id: "k9",
        steps: [
          { id: "a", url: handlers.url("/k9/step") },
          { id: "charge", url: handlers.url("/k9/step"), dependsOn: ["a"], concurrency: { key: "/context/user", limit: 1 } },
        ],
        context: { user: "k" },
        concurrency: { key: "/context/user", limit: 1 },
      };
      proc = await spawnWeft(dir);
      const first = (await proc.client.createWorkflow(req)).workflow!;
      await handlers.waitForCall((c) => c.body.runId === first.id);
      const second = (await proc.client.createWorkflow(req)).workflow!;
      await waitForRun(proc.client, second.id, (w) => w.waitingFor === QUEUED);
      await kill9(proc);
      proc = await spawnWeft(dir);
      const client = proc.client;
      // The first run's call is sent again; the second run is still queued behind it.
      await handlers.waitForCall((c) => c.body.runId === first.id && handlers.callsFor(first.id).length >= 2);
      expect((await runOf(client, second.id)).waitingFor).toBe(QUEUED);
      expect(handlers.callsFor(second.id)).toHaveLength(0);
      release = true;
      expect((await waitForRun(client, first.id)).state).toBe(WorkflowState.COMPLETED);
      expect((await waitForRun(client, second.id)).state).toBe(WorkflowState.COMPLETED);
      // The calls the killed server abandoned were never answered; the rest all were.
      const firstDone = Math.max(...handlers.callsFor(first.id).filter((c) => !c.aborted).map((c) => c.respondedAt ?? Number.POSITIVE_INFINITY));
      expect(Math.min(...handlers.callsFor(second.id).map((c) => c.receivedAt))).toBeGreaterThan(firstDone);
    } finally {
      if (proc) await kill9(proc);
      await handlers.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
