// --retention against the real server: finished runs are deleted (with their
// events) once they are older than the retention, running runs are kept.
import { Code } from "@connectrpc/connect";
import { expect, test } from "vitest";
import { WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import type { HandlerServer } from "../support/handler-server.ts";
import { rejection } from "../support/rejection.ts";
import { Gate, gated } from "../support/watch.ts";
import { type TestWeft, useWeft, waitForRun } from "../support/weft.ts";

let weft: TestWeft;
let handlers: HandlerServer;
useWeft(
  (w, h) => {
    weft = w;
    handlers = h;
  },
  { retentionMs: 2000 },
);

test("a finished run is deleted once older than --retention; a running one is kept until it has finished as long", async () => {
  const gate = new Gate();
  gated(handlers, "/held", gate);
  const held = (await weft.client.createWorkflow({ id: "kept", steps: [{ id: "a", url: handlers.url("/held") }] })).workflow!;
  const done = (await weft.client.createWorkflow({ id: "expires", labels: { r: "1" }, steps: [{ id: "a", url: handlers.url("/ok") }] })).workflow!;
  const finished = await waitForRun(weft.client, done.id);
  expect(finished.state).toBe(WorkflowState.COMPLETED);
  await waitForRun(weft.client, held.id, (w) => w.state === WorkflowState.RUNNING);
  await expect.poll(async () => (await rejection(weft.client.getWorkflow({ id: done.id })))?.code, { timeout: 60_000, interval: 250 }).toBe(Code.NotFound);
  expect((await rejection(weft.client.listWorkflowEvents({ id: done.id })))?.code).toBe(Code.NotFound);
  expect((await weft.client.listWorkflows({ labels: { r: "1" } })).workflows).toEqual([]);
  // Running far longer than the retention: still there.
  expect((await weft.client.getWorkflow({ id: held.id })).workflow!.state).toBe(WorkflowState.RUNNING);
  gate.open();
  await waitForRun(weft.client, held.id);
  await expect.poll(async () => (await rejection(weft.client.getWorkflow({ id: held.id })))?.code, { timeout: 60_000, interval: 250 }).toBe(Code.NotFound);
});
