// Retention against the stores: the sweeper (with a clock the test moves)
// deletes finished runs older than the retention period with their events,
// keeps running and recent ones, and on SQLite the database file stops growing
// over repeated create/finish/delete cycles (free pages are reused).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { RetentionSweeper } from "../../src/engine/retention-sweeper.ts";
import { createdEvent, type RunRecord } from "../../src/domain/run-record.ts";
import type { Clock } from "../../src/ports/clock.ts";
import type { WorkflowStore } from "../../src/ports/workflow-store.ts";
import { MongoWorkflowStore } from "../../src/store/mongo/mongo-store.ts";
import { SqliteWorkflowStore } from "../../src/store/sqlite-store.ts";
import { describeMongo, newTestDbName } from "../support/mongo-server.ts";
import { labelledRun, moveTo } from "./run-search.contract.ts";

const RETENTION_MS = 2000;
const quiet = { info: () => {}, warn: (o: unknown) => console.error(o) };

/** A clock that stands still until the test moves it. */
function manualClock(start: number): Clock & { advance(ms: number): void } {
  let now = start;
  return { now: () => now, setTimer: () => () => {}, advance: (ms) => (now += ms) };
}

async function keepsAndDeletes(store: WorkflowStore, t0: number): Promise<void> {
  const clock = manualClock(t0);
  const sweeper = new RetentionSweeper({ store, clock, logger: quiet, retentionMs: RETENTION_MS, intervalMs: 1000, batchSize: 3 });
  const old = Array.from({ length: 8 }, (_, i) => labelledRun({ now: t0 + i }));
  const running = labelledRun({ now: t0 + 20 });
  for (const r of [...old, running]) await store.createRun(r, [createdEvent(r)]);
  for (const r of old) await moveTo(store, r, "completed", t0 + 100);
  await moveTo(store, running, "running", t0 + 100);
  // Not old enough yet.
  clock.advance(1000);
  expect(await sweeper.sweep()).toBe(0);
  const recent = labelledRun({ now: t0 + 1500 });
  await store.createRun(recent, [createdEvent(recent)]);
  await moveTo(store, recent, "cancelled", t0 + 1500);
  clock.advance(1200); // now t0 + 2200: the old runs finished 2100 ms ago, the recent one 700 ms ago
  let deleted = 0;
  // A store that copies a finished run's last events after the commit may keep it a moment longer.
  await expect.poll(async () => (deleted += await sweeper.sweep()), { timeout: 10_000 }).toBe(8);
  for (const r of old) {
    expect(await store.getRun(r.runId)).toBeUndefined();
    expect(await store.listEvents(r.runId, 0, 10)).toEqual([]);
  }
  expect((await store.getRun(running.runId))?.state).toBe("running");
  expect((await store.getRun(recent.runId))?.state).toBe("cancelled");
  clock.advance(10 * RETENTION_MS);
  await expect.poll(() => sweeper.sweep(), { timeout: 10_000 }).toBe(1);
  expect(await store.getRun(recent.runId)).toBeUndefined();
  expect((await store.getRun(running.runId))?.state).toBe("running");
  await sweeper.stop();
}

describe("retention on SQLite", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const open = () => {
    const dataDir = mkdtempSync(join(tmpdir(), "weft-retention-"));
    dirs.push(dataDir);
    return new SqliteWorkflowStore({ dataDir });
  };

  test("old finished runs are deleted with their events; running and recent ones are kept", async () => {
    const store = open();
    try {
      await keepsAndDeletes(store, Date.UTC(2026, 2, 1));
    } finally {
      await store.close();
    }
  });

  test("over repeated create/finish/delete cycles the database stops growing: deleted pages are reused", async () => {
    const store = open();
    const t0 = Date.UTC(2026, 2, 1);
    const clock = manualClock(t0);
    const sweeper = new RetentionSweeper({ store, clock, logger: quiet, retentionMs: RETENTION_MS, intervalMs: 1000, batchSize: 500 });
    const pages: number[] = [];
    try {
      for (let cycle = 0; cycle < 12; cycle++) {
        const runs: RunRecord[] = [];
        for (let i = 0; i < 300; i++) {
          const run = labelledRun({ labels: { cycle: String(cycle), tenant: `t${i % 7}` }, now: clock.now() + i });
          // Some bulk per run, as real contexts have.
          run.spec.context = { payload: "x".repeat(2000 + (i % 5) * 100) };
          runs.push(run);
        }
        await Promise.all(runs.map((r) => store.createRun(r, [createdEvent(r)])));
        await Promise.all(runs.map((r) => moveTo(store, r, "completed", clock.now() + 500)));
        clock.advance(RETENTION_MS + 1000);
        expect(await sweeper.sweep()).toBe(300);
        pages.push(store.pageStats().pageCount);
      }
    } finally {
      await sweeper.stop();
      await store.close();
    }
    // The first cycles grow the file to the working set; after that it holds still,
    // because each cycle's runs go into the pages the previous cycle freed.
    const settled = pages.slice(4);
    expect(Math.max(...settled), JSON.stringify(pages)).toBeLessThanOrEqual(pages[3] * 1.1);
    expect(pages[11], JSON.stringify(pages)).toBeLessThan(pages[0] * 3);
  }, 120_000);
});

describeMongo("retention on MongoDB", (mongo) => {
  test("old finished runs are deleted with their events; running and recent ones are kept", async () => {
    const store = await MongoWorkflowStore.open({ uri: mongo().uri, database: newTestDbName(), leaseTtlMs: 30_000 });
    try {
      await keepsAndDeletes(store, Date.UTC(2026, 2, 1));
    } finally {
      await store.close();
    }
  }, 60_000);
});
