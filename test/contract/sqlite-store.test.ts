import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { DatabaseSync } from "node:sqlite";
import { afterAll, expect, test } from "vitest";
import { RunMachine } from "../../src/domain/run-machine.ts";
import { createdEvent, runHeader } from "../../src/domain/run-record.ts";
import { SqliteWorkflowStore } from "../../src/store/sqlite-store.ts";
import { describeStoreContract, newRun } from "./workflow-store.contract.ts";
import { describeRunSearchContract } from "./run-search.contract.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function openSqlite() {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-store-"));
  dirs.push(dataDir);
  const harness = {
    store: new SqliteWorkflowStore({ dataDir }),
    async reopen() {
      await harness.store.close();
      harness.store = new SqliteWorkflowStore({ dataDir });
      return harness.store;
    },
  };
  return harness;
}
describeStoreContract("embedded SQLite", openSqlite);
describeRunSearchContract("embedded SQLite", openSqlite);

test("a second store on the same data directory is refused", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-store-"));
  dirs.push(dataDir);
  const first = new SqliteWorkflowStore({ dataDir });
  expect(() => new SqliteWorkflowStore({ dataDir })).toThrow(/is locked: another Weft server is using it/);
  await first.close();
  // Closing gives the directory up.
  const second = new SqliteWorkflowStore({ dataDir });
  await second.close();
});

test("a data directory in the first layout (the spec inside runs) is migrated and keeps its runs", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-store-"));
  dirs.push(dataDir);
  const run = newRun({ requestId: "req-1" });
  const first = createdEvent(run);
  const old = new DatabaseSync(join(dataDir, "weft.db"));
  old.exec(`
    PRAGMA journal_mode = WAL;
    CREATE TABLE runs (run_id TEXT PRIMARY KEY, workflow_id TEXT NOT NULL, request_id TEXT UNIQUE, state TEXT NOT NULL,
      created_at INTEGER NOT NULL, header TEXT NOT NULL, spec TEXT NOT NULL, driving INTEGER NOT NULL,
      version INTEGER NOT NULL, last_seq INTEGER NOT NULL) STRICT;
    CREATE INDEX runs_by_state ON runs (state, run_id);
    CREATE INDEX runs_by_workflow ON runs (workflow_id, run_id);
    CREATE INDEX runs_driving ON runs (run_id) WHERE driving = 1;
    CREATE TABLE steps (run_id TEXT NOT NULL, idx INTEGER NOT NULL, record TEXT NOT NULL, PRIMARY KEY (run_id, idx)) STRICT, WITHOUT ROWID;
    CREATE TABLE events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL, kind TEXT NOT NULL, step_id TEXT,
      from_state TEXT NOT NULL, to_state TEXT NOT NULL, attempt INTEGER, data TEXT, PRIMARY KEY (run_id, seq)) STRICT, WITHOUT ROWID;
  `);
  old
    .prepare("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)")
    .run(run.runId, run.spec.workflowId, "req-1", run.state, run.createdAt, JSON.stringify(runHeader(run)), JSON.stringify(run.spec), run.version, run.lastSeq);
  run.steps.forEach((st, i) => old.prepare("INSERT INTO steps VALUES (?, ?, ?)").run(run.runId, i, JSON.stringify(st)));
  old.prepare("INSERT INTO events VALUES (?, ?, ?, ?, NULL, ?, ?, NULL, NULL)").run(run.runId, first.seq, first.at, first.kind, first.from, first.to);
  old.close();

  const store = new SqliteWorkflowStore({ dataDir });
  try {
    expect(await store.getRun(run.runId)).toEqual(run);
    expect(await store.listEvents(run.runId, 0, 10)).toEqual([first]);
    expect((await store.listActiveRuns()).map((r) => r.runId)).toEqual([run.runId]);
    // The request id still deduplicates, and the run goes on being written.
    const again = await store.createRun(newRun({ requestId: "req-1" }), []);
    expect(again).toMatchObject({ created: false, run: { runId: run.runId } });
    const m = new RunMachine(run);
    m.start(Date.now());
    await store.commit(m.takePatch()!);
    expect((await store.getRun(run.runId))?.state).toBe("running");
  } finally {
    await store.close();
  }
  const db = new DatabaseSync(join(dataDir, "weft.db"), { readOnly: true });
  expect(db.prepare("PRAGMA user_version").get()).toEqual({ user_version: 4 });
  expect((db.prepare("SELECT name FROM pragma_table_info('runs')").all() as { name: string }[]).map((c) => c.name)).not.toContain("spec");
  db.close();
});

test("a data directory from a newer Weft is refused", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-store-"));
  dirs.push(dataDir);
  const db = new DatabaseSync(join(dataDir, "weft.db"));
  db.exec("PRAGMA user_version = 99");
  db.close();
  expect(() => new SqliteWorkflowStore({ dataDir })).toThrow(/newer Weft \(schema 99/);
  // The refusal left the directory unlocked.
  const lockFree = new DatabaseSync(join(dataDir, "weft.lock"));
  lockFree.exec("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT");
  lockFree.close();
});

test("the WAL is checkpointed into the database file while the store is open", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-store-"));
  dirs.push(dataDir);
  const store = new SqliteWorkflowStore({ dataDir });
  try {
    const dbFile = join(dataDir, "weft.db");
    const before = statSync(dbFile).size;
    // Enough pages that a checkpoint has something to copy; far below the backstop,
    // so only the background checkpointer can move them.
    await Promise.all(Array.from({ length: 300 }, () => newRun()).map((r) => store.createRun(r, [createdEvent(r)])));
    expect(statSync(join(dataDir, "weft.db-wal")).size).toBeGreaterThan(0);
    await expect.poll(() => statSync(dbFile).size, { timeout: 30_000 }).toBeGreaterThan(before + 100_000);
  } finally {
    await store.close();
  }
});

/** The WAL header's checkpoint sequence number: it goes up each time the WAL starts over. */
function walCheckpointSequence(wal: string): number {
  const fd = openSync(wal, "r");
  try {
    const header = Buffer.alloc(16);
    readSync(fd, header, 0, 16, 0);
    return header.readUInt32BE(12);
  } finally {
    closeSync(fd);
  }
}

test("under sustained writes the WAL keeps starting over instead of growing", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-store-"));
  dirs.push(dataDir);
  // 64 pages: the worker restarts the WAL long before the commit-side backstop (16,384 pages).
  const store = new SqliteWorkflowStore({ dataDir, walRestartPages: 64 });
  const wal = join(dataDir, "weft.db-wal");
  try {
    const first = newRun();
    await store.createRun(first, [createdEvent(first)]);
    const before = walCheckpointSequence(wal);
    let largest = 0;
    // Writes go on until the WAL has started over twice, however long a loaded machine
    // takes for that (the cap only stops a broken checkpointer from hanging the suite).
    const giveUp = Date.now() + 120_000;
    const restarted = () => walCheckpointSequence(wal) >= before + 2;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (!restarted() && Date.now() < giveUp) {
          const run = newRun();
          await store.createRun(run, [createdEvent(run)]);
          const m = new RunMachine(run);
          m.start(Date.now());
          await store.commit(m.takePatch()!);
          largest = Math.max(largest, statSync(wal).size);
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      }),
    );
    expect(walCheckpointSequence(wal)).toBeGreaterThanOrEqual(before + 2);
    expect(largest).toBeLessThan(32 * 1024 * 1024);
  } finally {
    await store.close();
  }
}, 180_000);

test("close() called twice waits both times for the same shutdown", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-store-"));
  dirs.push(dataDir);
  const store = new SqliteWorkflowStore({ dataDir });
  const first = store.close();
  await store.close();
  // The second call resolved only once the directory was given up.
  const next = new SqliteWorkflowStore({ dataDir });
  await next.close();
  await first;
});

test("close() resolves in a process that has nothing else to wait for (the checkpointer thread is waited for)", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-store-"));
  dirs.push(dataDir);
  const storeUrl = pathToFileURL(join(import.meta.dirname, "../../src/store/sqlite-store.ts")).href;
  const script = `
    const { SqliteWorkflowStore } = await import(${JSON.stringify(storeUrl)});
    const store = new SqliteWorkflowStore({ dataDir: ${JSON.stringify(dataDir)} });
    // Let the checkpointer thread come up and go idle between ticks.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await store.close();
    console.log("closed");`;
  const file = join(dataDir, "close.mjs");
  writeFileSync(file, script);
  const r = spawnSync(process.execPath, [file], { encoding: "utf8" });
  expect(r.stderr).toBe("");
  expect(r.stdout.trim()).toBe("closed");
  expect(r.status).toBe(0);
});

test("a schema-3 data directory gets the labels table and its finished runs their finish time, so retention sweeps them", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-store-"));
  dirs.push(dataDir);
  const done = newRun();
  const live = newRun();
  const store = new SqliteWorkflowStore({ dataDir });
  for (const r of [done, live]) await store.createRun(r, [createdEvent(r)]);
  const m = new RunMachine(done);
  m.start(done.createdAt + 1);
  m.cancel(done.createdAt + 2, "test");
  await store.commit(m.takePatch()!);
  await store.close();
  // Back to schema 3: no finished_at column, no labels table.
  const old = new DatabaseSync(join(dataDir, "weft.db"));
  old.exec("DROP INDEX runs_finished; ALTER TABLE runs DROP COLUMN finished_at; DROP TABLE labels; PRAGMA user_version = 3");
  old.close();

  const upgraded = new SqliteWorkflowStore({ dataDir });
  try {
    expect(await upgraded.deleteFinishedRuns(done.createdAt + 3, 10)).toBe(1);
    expect(await upgraded.getRun(done.runId)).toBeUndefined();
    expect(await upgraded.getRun(live.runId)).toBeDefined();
    expect(await upgraded.listRunSummaries({ states: [], labels: [["a", "b"]], limit: 10 })).toEqual([]);
  } finally {
    await upgraded.close();
  }
  const db = new DatabaseSync(join(dataDir, "weft.db"), { readOnly: true });
  expect(db.prepare("PRAGMA user_version").get()).toEqual({ user_version: 4 });
  db.close();
});
