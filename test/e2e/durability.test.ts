// Crash durability: acknowledged creates and recorded step results survive
// kill -9 of the server; in-flight attempts are sent again with the same
// Idempotency-Key after the restart, and nothing recorded runs twice.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, expect, test } from "vitest";
import { StepState, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { HandlerServer } from "../support/handler-server.ts";
import { kill9, spawnWeft, type WeftProcess } from "../support/weft-process.ts";
import { waitForRun } from "../support/weft.ts";

let handlers: HandlerServer;
const dirs: string[] = [];
const procs: WeftProcess[] = [];

beforeAll(async () => {
  handlers = await HandlerServer.start();
});

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null) await kill9(p);
  await handlers?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), "weft-crash-"));
  dirs.push(d);
  return d;
}

async function start(dir: string): Promise<WeftProcess> {
  const p = await spawnWeft(dir);
  procs.push(p);
  return p;
}

test("a mid-run kill -9: recorded results stay, the in-flight step is re-sent with the same key, the run completes", async () => {
  const dir = dataDir();
  let blockFirstCall = true;
  handlers.on("/crash/b", () => {
    if (blockFirstCall) {
      blockFirstCall = false;
      return { json: { success: true, result: "too late" }, delayMs: 60_000 };
    }
    return { json: { success: true, result: { shipped: true } } };
  });
  handlers.on("/crash/a", () => ({ json: { success: true, result: { charged: 42 } } }));
  const first = await start(dir);
  const { workflow } = await first.client.createWorkflow({
    id: "crash-chain",
    baseUrl: handlers.baseUrl,
    steps: [
      { id: "a", url: "/crash/a" },
      { id: "b", url: "/crash/b", dependsOn: ["a"] },
      { id: "c", url: "/crash/c", dependsOn: ["b"] },
    ],
    context: { orderId: "o-1" },
  });
  const runId = workflow!.id;
  await handlers.waitForCall((c) => c.body.runId === runId && c.path === "/crash/b");
  await kill9(first);

  const second = await start(dir);
  const done = await waitForRun(second.client, runId);
  expect(done.state).toBe(WorkflowState.COMPLETED);
  expect(handlers.callsFor(runId, "/crash/a")).toHaveLength(1);
  const bCalls = handlers.callsFor(runId, "/crash/b");
  expect(bCalls).toHaveLength(2);
  expect(bCalls[0].headers["idempotency-key"]).toBe(`${runId}:b`);
  expect(bCalls[1].headers["idempotency-key"]).toBe(`${runId}:b`);
  expect(bCalls[1].body.previousSteps.a.result).toEqual({ charged: 42 });
  expect(handlers.callsFor(runId, "/crash/c")).toHaveLength(1);
  expect(toJson(ValueSchema, done.results.a)).toEqual({ charged: 42 });
  expect(toJson(ValueSchema, done.results.b)).toEqual({ shipped: true });
  expect(done.steps.map((s) => s.state)).toEqual([StepState.COMPLETED, StepState.COMPLETED, StepState.COMPLETED]);
  await kill9(second);
});

test("every acknowledged create survives a kill -9 right after the acknowledgement", async () => {
  const dir = dataDir();
  handlers.on("/crash/slow", () => ({ json: { success: true, result: 1 }, delayMs: 200 }));
  const first = await start(dir);
  const created = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      first.client.createWorkflow({
        id: "crash-burst",
        requestId: `burst-${i}`,
        steps: [{ id: "only", url: handlers.url("/crash/slow") }],
      }),
    ),
  );
  await kill9(first);
  const ids = created.map((c) => c.workflow!.id);
  expect(new Set(ids).size).toBe(40);

  const second = await start(dir);
  for (const id of ids) {
    const done = await waitForRun(second.client, id);
    expect(done.state).toBe(WorkflowState.COMPLETED);
  }
  const again = await second.client.createWorkflow({
    id: "crash-burst",
    requestId: "burst-7",
    steps: [{ id: "only", url: handlers.url("/crash/slow") }],
  });
  expect(again.deduplicated).toBe(true);
  expect(again.workflow!.id).toBe(ids[7]);
  await kill9(second);
});
