// Join policies across a kill -9 (embedded store, `node src/main.ts` as a
// process): the decisions recorded before the crash hold after it, a tolerated
// failure stays tolerated, and a branch cancelled as not needed is not sent again.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { StepState, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { HandlerServer } from "../support/handler-server.ts";
import { kill9, spawnWeft, type WeftProcess } from "../support/weft-process.ts";
import { waitForRun } from "../support/weft.ts";

let handlers: HandlerServer;
let dir: string;
const procs: WeftProcess[] = [];

beforeAll(async () => {
  handlers = await HandlerServer.start();
  dir = mkdtempSync(join(tmpdir(), "weft-joins-"));
});

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null) await kill9(p);
  await handlers?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("after kill -9: the tolerated failure stays tolerated, the not-needed branch stays cancelled, the fan-in runs and the run completes", async () => {
  let firstB = true;
  handlers.on("/r/a", () => ({ status: 400, json: { success: false, error: "bad item" } }));
  handlers.on("/r/b", () => {
    if (firstB) {
      firstB = false;
      return { json: { success: true, result: "too late" }, delayMs: 60_000 };
    }
    return { json: { success: true, result: { b: 1 } } };
  });
  handlers.on("/r/d", () => ({ json: { success: true, result: "too late" }, delayMs: 60_000 }));
  const first = await spawnWeft(dir);
  procs.push(first);
  const { workflow } = await first.client.createWorkflow({
    id: "joins-restart",
    baseUrl: handlers.baseUrl,
    steps: [
      { id: "a", url: "/r/a", parallel: true },
      { id: "b", url: "/r/b", parallel: true },
      { id: "c", url: "/r/c", parallel: true },
      { id: "d", url: "/r/d", parallel: true },
      { id: "first", url: "/r/first", dependsOn: ["c", "d"], parallel: true, join: { policy: { case: "any", value: {} } } },
      { id: "fin", url: "/r/fin", dependsOn: ["a", "b", "c", "first"], join: { policy: { case: "allSettled", value: {} } } },
    ],
  });
  const runId = workflow!.id;
  // Crash once a failed, c and first completed, d was cancelled, and b is still in flight.
  await waitForRun(first.client, runId, (w) => {
    const s = Object.fromEntries(w.steps.map((x) => [x.id, x.state]));
    return s.a === StepState.FAILED && s.first === StepState.COMPLETED && s.d === StepState.CANCELLED && s.b === StepState.RUNNING;
  });
  await kill9(first);

  const second = await spawnWeft(dir);
  procs.push(second);
  const done = await waitForRun(second.client, runId);
  expect(WorkflowState[done.state]).toBe("COMPLETED");
  expect(Object.fromEntries(done.steps.map((s) => [s.id, StepState[s.state]]))).toEqual({
    a: "FAILED",
    b: "COMPLETED",
    c: "COMPLETED",
    d: "CANCELLED",
    first: "COMPLETED",
    fin: "COMPLETED",
  });
  expect(done.failedSteps).toEqual(["a"]);
  expect(handlers.callsFor(runId, "/r/a")).toHaveLength(1);
  expect(handlers.callsFor(runId, "/r/b")).toHaveLength(2); // in flight at the crash: sent again
  expect(handlers.callsFor(runId, "/r/d")).toHaveLength(1); // cancelled before the crash: never again
  expect(handlers.callsFor(runId, "/r/first")).toHaveLength(1);
  const fin = handlers.callsFor(runId, "/r/fin");
  expect(fin).toHaveLength(1);
  const prev = fin[0].body.previousSteps as Record<string, { state?: string; result?: unknown; error?: { reason: string } }>;
  expect(prev.a).toMatchObject({ state: "failed", error: { reason: "http_status" } });
  expect(prev.b.result).toEqual({ b: 1 });
  expect(prev.d).toMatchObject({ state: "cancelled", error: { reason: "not_needed" } });
  await kill9(second);
});
