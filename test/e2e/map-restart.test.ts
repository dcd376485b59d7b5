// Map steps across a kill -9 (embedded store, `node src/main.ts` as a
// process): items completed before the crash are not sent again, the items in
// flight are sent again with the same idempotency key, and the rest start.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { StepState, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { HandlerServer, type RecordedCall } from "../support/handler-server.ts";
import { kill9, spawnWeft, type WeftProcess } from "../support/weft-process.ts";
import { waitForRun } from "../support/weft.ts";

let handlers: HandlerServer;
let dir: string;
const procs: WeftProcess[] = [];

beforeAll(async () => {
  handlers = await HandlerServer.start();
  dir = mkdtempSync(join(tmpdir(), "weft-map-"));
});

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null) await kill9(p);
  await handlers?.close();
  rmSync(dir, { recursive: true, force: true });
});

const index = (c: RecordedCall) => (c.body as unknown as { index: number }).index;

test("after kill -9: completed items are not sent again, in-flight items are, and the results reach the fan-in in order", async () => {
  let crashed = false;
  // Items 0..9 answer at once; from item 10 on, calls hang until the crash.
  handlers.on("/mr/item", (call) => {
    const i = index(call);
    if (i >= 10 && !crashed) return { json: { success: true, result: "too late" }, delayMs: 60_000 };
    return { json: { success: true, result: i * 3 } };
  });
  const first = await spawnWeft(dir);
  procs.push(first);
  const { workflow } = await first.client.createWorkflow({
    id: "map-restart",
    baseUrl: handlers.baseUrl,
    context: { list: Array.from({ length: 30 }, (_, i) => i) },
    steps: [
      { id: "process", url: "/mr/item", forEach: "/context/list", maxConcurrency: 4 },
      { id: "collect", url: "/mr/collect", dependsOn: ["process"] },
    ],
  });
  const runId = workflow!.id;
  const w = await waitForRun(first.client, runId, (x) => x.steps[0].items?.completed === 10 && x.steps[0].items?.running === 4);
  expect(w.steps[0].items).toMatchObject({ total: 30, pending: 16 });
  await kill9(first);
  crashed = true;

  const second = await spawnWeft(dir);
  procs.push(second);
  const done = await waitForRun(second.client, runId);
  expect(WorkflowState[done.state]).toBe("COMPLETED");
  expect(StepState[done.steps[0].state]).toBe("COMPLETED");
  const calls = handlers.callsFor(runId, "/mr/item");
  const perItem = new Map<number, RecordedCall[]>();
  for (const c of calls) perItem.set(index(c), [...(perItem.get(index(c)) ?? []), c]);
  for (let i = 0; i < 10; i++) expect(perItem.get(i)).toHaveLength(1); // completed before the crash
  for (let i = 10; i < 14; i++) {
    // In flight at the crash: sent again, same attempt and idempotency key.
    const twice = perItem.get(i)!;
    expect(twice).toHaveLength(2);
    expect(twice[1].headers["idempotency-key"]).toBe(twice[0].headers["idempotency-key"]);
    expect(twice[1].body.attempt).toBe(1);
  }
  for (let i = 14; i < 30; i++) expect(perItem.get(i)).toHaveLength(1);
  const [collect] = handlers.callsFor(runId, "/mr/collect");
  expect(collect.body.previousSteps.process.result).toEqual(Array.from({ length: 30 }, (_, i) => i * 3));
  await kill9(second);
});
