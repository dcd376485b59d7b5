// --drain-gc on a real server: after thousands of runs drain, the server runs one full
// collection (V8's own, in a process started without --expose-gc) and says so.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { HandlerServer } from "../support/handler-server.ts";
import { kill9, logEntries, spawnWeft, type WeftProcess } from "../support/weft-process.ts";
import { waitForRun } from "../support/weft.ts";

const RUNS = 2000;
const DRAINED = "runs drained: full garbage collection, memory handed back";

let handlers: HandlerServer;
let dir: string;
let weft: WeftProcess | undefined;
beforeAll(async () => {
  handlers = await HandlerServer.start();
  dir = mkdtempSync(join(tmpdir(), "weft-drain-gc-"));
});
afterAll(async () => {
  if (weft) await kill9(weft);
  await handlers?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 240_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test(`${RUNS} runs held in memory, then drained: one full collection, logged with the peak`, async () => {
  // Every call waits until all runs exist, so all of them are in memory at once.
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  handlers.on("/drain/held", async (call) => {
    await gate;
    return { json: { success: true, result: { step: call.body.stepId } } };
  });
  weft = await spawnWeft(dir);
  const client = weft.client;

  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < RUNS) {
        const i = next++;
        const { workflow } = await client.createWorkflow({ id: `drain-${i}`, steps: [{ id: "held", url: handlers.url("/drain/held") }] });
        ids.push(workflow!.id);
      }
    }),
  );
  expect(ids).toHaveLength(RUNS);
  // Nothing drained yet: no run has finished.
  expect(logEntries(weft).filter((e) => e.msg === DRAINED)).toHaveLength(0);

  release();
  const entry = await waitFor("the drain's log line", () => logEntries(weft!).find((e) => e.msg === DRAINED));
  const peak = entry.peak as number;
  const runsInMemory = entry.runsInMemory as number;
  expect(peak).toBeGreaterThanOrEqual(RUNS);
  expect(runsInMemory).toBeLessThanOrEqual(peak / 4);
  expect(entry.heapMiB).toEqual(expect.any(Number));
  expect(entry.heapAfterMiB).toEqual(expect.any(Number));
  expect(entry.pauseMs).toEqual(expect.any(Number));
  // V8's collection ran: the default `npm start` has no --expose-gc, so a failure would be this warning.
  expect(logEntries(weft).filter((e) => e.msg === "could not run a full garbage collection after a drain")).toHaveLength(0);

  // Every run completed, its one call made once.
  for (const id of ids) expect((await waitForRun(client, id)).state).toBe(WorkflowState.COMPLETED);
  expect(handlers.calls.filter((c) => c.path === "/drain/held")).toHaveLength(RUNS);
  expect(new Set(handlers.calls.map((c) => c.body.runId)).size).toBe(RUNS);
}, 600_000);
