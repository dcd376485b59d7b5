// The embedded store: node:sqlite in WAL mode in a data directory.
//
// Writes are group-committed: every create and patch queued during one turn of
// the event loop goes into one transaction, and each caller's promise settles
// after that transaction commits. Each operation runs inside its own savepoint,
// so a compare-and-set conflict rejects that operation alone.
//
// Durability: with synchronous=NORMAL (the default) a committed transaction is
// in the WAL file before the promise settles, so it survives the process being
// killed (kill -9) but not the machine losing power; with FULL every commit is
// fsynced before the promise settles, so it survives power loss too.
//
// Files in the data directory: weft.db (+ -wal, -shm while open), and
// weft.lock, whose exclusive lock says which process owns the directory.
// The directory is 0700 and every file in it 0600 (see private-files.ts).
import { stringifyWithResult } from "../domain/json-text.ts";
import { extname, join } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { Worker } from "node:worker_threads";
import { fileURLToPath } from "node:url";
import type { CheckpointerData } from "./sqlite-checkpointer.ts";
import { ensurePrivateDir, ensurePrivateFile, tightenIfPresent } from "./private-files.ts";
import { labelPairs } from "../domain/run-labels.ts";
import { runIdLowerBound } from "../domain/run-id.ts";
import {
  type ErrorInfo,
  type EventKind,
  isTerminal,
  type RunState,
  type ItemRecord,
  needsDriving,
  type RunEvent,
  type RunHeader,
  type RunSummary,
  runHeader,
  type RunPatch,
  type RunRecord,
  type StepRecord,
} from "../domain/run-record.ts";
import type { JsonValue, WorkflowSpec } from "../domain/workflow-spec.ts";
import {
  type CreateRunResult,
  type DeleteRunResult,
  type ListRunsQuery,
  VersionConflictError,
  type WorkflowStore,
} from "../ports/workflow-store.ts";
import type { ConcurrencySlots } from "../ports/concurrency-slots.ts";

export interface SqliteStoreOptions {
  /** Directory holding weft.db; created if missing. ":memory:" for a throwaway store. */
  dataDir: string;
  synchronous?: "normal" | "full";
  /** Where problems that do not fail an operation are reported (a failed background checkpoint). */
  warn?: (message: string) => void;
  /** WAL size (pages) from which the background checkpointer makes the WAL start over (tests lower it). */
  walRestartPages?: number;
}

type Op =
  | { kind: "create"; run: RunRecord; events: RunEvent[]; resolve: (r: CreateRunResult) => void; reject: (e: unknown) => void }
  | { kind: "patch"; patch: RunPatch; resolve: () => void; reject: (e: unknown) => void };

/** A run's row with its spec (RUN_ROWS). */
interface RunRow {
  run_id: string;
  created_at: number;
  header: string;
  spec: string;
  version: number;
  last_seq: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY,
  workflow_id TEXT NOT NULL,
  request_id TEXT UNIQUE,
  state TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  header TEXT NOT NULL,
  driving INTEGER NOT NULL,
  version INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  finished_at INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS runs_by_state ON runs (state, run_id);
CREATE INDEX IF NOT EXISTS runs_by_workflow ON runs (workflow_id, run_id);
CREATE INDEX IF NOT EXISTS runs_by_workflow_state ON runs (workflow_id, state, run_id);
CREATE INDEX IF NOT EXISTS runs_driving ON runs (run_id) WHERE driving = 1;
-- Runs that finished and have nothing left to deliver, by finish time (retention, DeleteWorkflow).
CREATE INDEX IF NOT EXISTS runs_finished ON runs (finished_at) WHERE finished_at IS NOT NULL;
-- One row per label of a run. Run ids sort by creation time, so (key, value, run_id)
-- serves a label filter, a creation-time range and newest-first paging from one index.
CREATE TABLE IF NOT EXISTS labels (
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  run_id TEXT NOT NULL,
  PRIMARY KEY (key, value, run_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS labels_by_run ON labels (run_id);
-- The spec never changes after create: kept apart, it is not rewritten with every update of the run's row.
CREATE TABLE IF NOT EXISTS run_specs (
  run_id TEXT PRIMARY KEY,
  spec TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS steps (
  run_id TEXT NOT NULL,
  idx INTEGER NOT NULL,
  record TEXT NOT NULL,
  PRIMARY KEY (run_id, idx)
) STRICT, WITHOUT ROWID;
-- Items of map steps: one row per item, so that an item's completion rewrites one small row.
CREATE TABLE IF NOT EXISTS items (
  run_id TEXT NOT NULL,
  step_idx INTEGER NOT NULL,
  item_idx INTEGER NOT NULL,
  record TEXT NOT NULL,
  PRIMARY KEY (run_id, step_idx, item_idx)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  step_id TEXT,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  attempt INTEGER,
  data TEXT,
  PRIMARY KEY (run_id, seq)
) STRICT, WITHOUT ROWID;
-- Slots of concurrency keys: one row per holder (a run, or a step of a run).
CREATE TABLE IF NOT EXISTS concurrency_slots (
  key TEXT NOT NULL,
  holder TEXT NOT NULL,
  PRIMARY KEY (key, holder)
) STRICT, WITHOUT ROWID;
`;

/** A run's row and its spec: the start of every query that reads whole runs. */
const RUN_ROWS = "SELECT runs.*, run_specs.spec FROM runs JOIN run_specs ON run_specs.run_id = runs.run_id";
/** RUN_ROWS with the spec's context and steps left out (RunSummary). */
const SUMMARY_ROWS =
  "SELECT runs.*, json_remove(run_specs.spec, '$.context', '$.steps') AS spec FROM runs JOIN run_specs ON run_specs.run_id = runs.run_id";

/**
 * PRAGMA user_version of the schema above. 0: a new file, or the first layout (the spec inside runs).
 * 4: runs.finished_at and the labels table.
 */
const SCHEMA_VERSION = 4;

/** Brings a data directory written by an earlier version to SCHEMA_VERSION (inside the caller's transaction). */
function migrate(db: DatabaseSync): void {
  const version = (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (version > SCHEMA_VERSION) {
    throw new Error(`the data directory was written by a newer Weft (schema ${version}; this one knows up to ${SCHEMA_VERSION})`);
  }
  const columns = db.prepare("SELECT name FROM pragma_table_info('runs')").all() as { name: string }[];
  if (columns.some((c) => c.name === "spec")) {
    db.exec("CREATE TABLE run_specs (run_id TEXT PRIMARY KEY, spec TEXT NOT NULL) STRICT");
    db.exec("INSERT INTO run_specs (run_id, spec) SELECT run_id, spec FROM runs");
    db.exec("ALTER TABLE runs DROP COLUMN spec");
  }
  if (columns.length > 0 && !columns.some((c) => c.name === "finished_at")) {
    // Before schema 4: runs had no labels; the finished ones get their finish time.
    db.exec("ALTER TABLE runs ADD COLUMN finished_at INTEGER");
    db.exec("UPDATE runs SET finished_at = header ->> '$.completedAt' WHERE driving = 0");
  }
}

/** The finish time of a run that no longer needs driving (retention counts from it), else null. */
function finishedAt(h: RunHeader): number | null {
  return needsDriving(h) ? null : (h.completedAt ?? null);
}

/** How often the worker checkpoints the WAL into the database file. */
const CHECKPOINT_INTERVAL_MS = 250;
/** WAL size (pages, 16 MiB) from which the worker also makes the WAL start over. */
const WAL_RESTART_PAGES = 4096;
/** WAL pages after which a commit checkpoints by itself: reached only if the worker fails or falls behind. */
const BACKSTOP_CHECKPOINT_PAGES = 16_384;
/** A WAL file that grew past this (a burst, or the backstop) is cut back to it when it starts over. */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * One server owns a data directory: a second one fails at start-up instead of
 * driving the same runs twice. The lock is an exclusive lock on weft.lock (an
 * empty SQLite file) held for as long as the store is open; the operating
 * system drops it when the process ends, however it ends.
 */
function lockDataDir(dataDir: string): DatabaseSync {
  const lock = new DatabaseSync(join(dataDir, "weft.lock"));
  try {
    lock.exec("PRAGMA busy_timeout = 0");
    // Nothing is ever written to it, so no journal file is needed.
    lock.exec("PRAGMA journal_mode = MEMORY");
    lock.exec("PRAGMA locking_mode = EXCLUSIVE");
    lock.exec("BEGIN EXCLUSIVE");
    lock.exec("COMMIT");
    return lock;
  } catch (err) {
    lock.close();
    throw new Error(`data directory ${dataDir} is locked: another Weft server is using it (${(err as Error).message})`);
  }
}

/** Opens weft.db (or a throwaway in-memory database) with the store's settings and schema. */
function openDatabase(path: string, synchronous: "NORMAL" | "FULL"): DatabaseSync {
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(`PRAGMA synchronous = ${synchronous}`);
    db.exec("PRAGMA busy_timeout = 1000");
    // Keep the working set in memory: the default 2 MB cache makes every commit re-read B-tree pages.
    db.exec("PRAGMA cache_size = -131072");
    db.exec("PRAGMA mmap_size = 1073741824");
    db.exec("PRAGMA temp_store = MEMORY");
    // Checkpoints run in a worker thread (see sqlite-checkpointer.ts). The automatic
    // checkpoint stays as a backstop, far out, should the worker fall behind or fail.
    if (path !== ":memory:") {
      db.exec(`PRAGMA wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);
      db.exec(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    }
    db.exec("BEGIN IMMEDIATE");
    migrate(db);
    db.exec(SCHEMA);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    db.exec("COMMIT");
    return db;
  } catch (err) {
    if (db.isTransaction) db.exec("ROLLBACK");
    db.close();
    throw err;
  }
}

interface Checkpointer {
  stop(): Promise<void>;
}

function startCheckpointer(data: CheckpointerData, warn: (message: string) => void): Checkpointer {
  // Of the flags the server was started with (--input-type, --cpu-prof, …) the thread takes only
  // those it needs to load TypeScript (Node versions before type stripping was on by default) and
  // the warnings switched off.
  const execArgv = process.execArgv.filter((a) => /^--(experimental-strip-types|experimental-transform-types|no-warnings|disable-warning)/.test(a));
  // Built (dist/*.js, the npm package) or run from source (src/*.ts): the thread's file has this file's extension.
  const file = new URL(`./sqlite-checkpointer${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
  const worker = new Worker(file, { workerData: data, execArgv });
  // The server's lifetime is not tied to this thread.
  worker.unref();
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  worker.on("message", (m: { error?: string }) => {
    if (m.error) warn(`WAL checkpoint failed (tried again shortly): ${m.error}`);
  });
  worker.on("error", (err) => {
    warn(`WAL checkpointer stopped (commits now checkpoint by themselves past ${BACKSTOP_CHECKPOINT_PAGES} pages): ${err.message}`);
  });
  return {
    stop() {
      // Waiting for the thread to finish keeps the process alive until it has.
      worker.ref();
      worker.postMessage("stop");
      return exited;
    },
  };
}

export class SqliteWorkflowStore implements WorkflowStore, ConcurrencySlots {
  private readonly db: DatabaseSync;
  private readonly lock: DatabaseSync | undefined;
  private readonly checkpointer: Checkpointer | undefined;
  private queue: Op[] = [];
  private scheduled = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly stmt: Record<string, StatementSync>;

  constructor(options: SqliteStoreOptions) {
    let path = ":memory:";
    const synchronous = options.synchronous === "full" ? "FULL" : "NORMAL";
    if (options.dataDir !== ":memory:") {
      const warn = options.warn ?? (() => {});
      ensurePrivateDir(options.dataDir, warn);
      // SQLite creates files 0644 (less the umask) but gives -wal and -shm
      // the mode of their database file: create the files 0600 before it
      // opens them, and tighten what an earlier version left.
      ensurePrivateFile(join(options.dataDir, "weft.lock"), warn);
      this.lock = lockDataDir(options.dataDir);
      path = join(options.dataDir, "weft.db");
      ensurePrivateFile(path, warn);
      for (const suffix of ["-wal", "-shm", "-journal"]) tightenIfPresent(path + suffix, warn);
    }
    try {
      this.db = openDatabase(path, synchronous);
    } catch (err) {
      this.lock?.close();
      throw err;
    }
    const db = this.db;
    this.stmt = {
      runByRequest: db.prepare(`${RUN_ROWS} WHERE runs.request_id = ?`),
      insertRun: db.prepare(
        `INSERT INTO runs (run_id, workflow_id, request_id, state, created_at, header, driving, version, last_seq, finished_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertSpec: db.prepare("INSERT INTO run_specs (run_id, spec) VALUES (?, ?)"),
      insertLabel: db.prepare("INSERT INTO labels (key, value, run_id) VALUES (?, ?, ?)"),
      version: db.prepare("SELECT version FROM runs WHERE run_id = ?"),
      // Compare-and-set: the WHERE clause on version makes the update the check.
      updateHeader: db.prepare(
        "UPDATE runs SET state = ?, header = ?, driving = ?, version = ?, last_seq = ?, finished_at = ? WHERE run_id = ? AND version = ?",
      ),
      updateVersion: db.prepare("UPDATE runs SET version = ?, last_seq = ? WHERE run_id = ? AND version = ?"),
      insertStep: db.prepare("INSERT INTO steps (run_id, idx, record) VALUES (?, ?, ?)"),
      updateStep: db.prepare("UPDATE steps SET record = ? WHERE run_id = ? AND idx = ?"),
      insertEvent: db.prepare(
        "INSERT INTO events (run_id, seq, at, kind, step_id, from_state, to_state, attempt, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      ),
      getRun: db.prepare(`${RUN_ROWS} WHERE runs.run_id = ?`),
      getSteps: db.prepare("SELECT record FROM steps WHERE run_id = ? ORDER BY idx"),
      upsertItem: db.prepare(
        "INSERT INTO items (run_id, step_idx, item_idx, record) VALUES (?, ?, ?, ?) ON CONFLICT (run_id, step_idx, item_idx) DO UPDATE SET record = excluded.record",
      ),
      deleteItems: db.prepare("DELETE FROM items WHERE run_id = ? AND step_idx = ?"),
      getItems: db.prepare("SELECT step_idx, record FROM items WHERE run_id = ? ORDER BY step_idx, item_idx"),
      getStepStates: db.prepare(
        "SELECT record ->> '$.id' AS id, record ->> '$.state' AS state FROM steps WHERE run_id = ? ORDER BY idx",
      ),
      events: db.prepare(
        "SELECT * FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
      ),
      // One statement, so the count and the insert cannot be separated (the store's own writes run in one turn too).
      acquireSlot: db.prepare(
        `INSERT INTO concurrency_slots (key, holder)
         SELECT ?1, ?2 WHERE (SELECT count(*) FROM concurrency_slots WHERE key = ?1) < ?3
         ON CONFLICT (key, holder) DO NOTHING`,
      ),
      holdsSlot: db.prepare("SELECT 1 AS held FROM concurrency_slots WHERE key = ? AND holder = ?"),
      holdSlot: db.prepare("INSERT INTO concurrency_slots (key, holder) VALUES (?, ?) ON CONFLICT (key, holder) DO NOTHING"),
      releaseSlot: db.prepare("DELETE FROM concurrency_slots WHERE key = ? AND holder = ?"),
      slotHolders: db.prepare("SELECT holder FROM concurrency_slots WHERE key = ?"),
      deletable: db.prepare("SELECT state, driving FROM runs WHERE run_id = ?"),
      // driving = 0 as well: a run that was reopened after it finished (its finish time not yet replaced) is not deleted.
      finishedBefore: db.prepare("SELECT run_id FROM runs WHERE finished_at < ? AND driving = 0 LIMIT ?"),
      deleteEvents: db.prepare("DELETE FROM events WHERE run_id = ?"),
      deleteAllItems: db.prepare("DELETE FROM items WHERE run_id = ?"),
      deleteSteps: db.prepare("DELETE FROM steps WHERE run_id = ?"),
      deleteLabels: db.prepare("DELETE FROM labels WHERE run_id = ?"),
      deleteSpec: db.prepare("DELETE FROM run_specs WHERE run_id = ?"),
      deleteRunRow: db.prepare("DELETE FROM runs WHERE run_id = ?"),
    };
    if (path !== ":memory:") {
      try {
        this.checkpointer = startCheckpointer(
          { path, intervalMs: CHECKPOINT_INTERVAL_MS, synchronous, restartPages: options.walRestartPages ?? WAL_RESTART_PAGES },
          options.warn ?? ((message) => process.emitWarning(message)),
        );
      } catch (err) {
        this.db.close();
        this.lock?.close();
        throw err;
      }
    }
  }

  createRun(run: RunRecord, events: RunEvent[]): Promise<CreateRunResult> {
    return new Promise((resolve, reject) => this.enqueue({ kind: "create", run, events, resolve, reject }));
  }

  commit(patch: RunPatch): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue({ kind: "patch", patch, resolve, reject }));
  }

  /** One process owns the store: a compare-and-set commit is all a reopen needs. */
  reopen(patch: RunPatch): Promise<void> {
    return this.commit(patch);
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const row = this.stmt.getRun.get(runId) as RunRow | undefined;
    return row && this.toRecord(row);
  }

  async getRunByRequestId(requestId: string): Promise<RunRecord | undefined> {
    const row = this.stmt.runByRequest.get(requestId) as RunRow | undefined;
    return row && this.toRecord(row);
  }

  async listRuns(query: ListRunsQuery): Promise<RunRecord[]> {
    const { sql, params } = this.listQuery(RUN_ROWS, query);
    const rows = this.db.prepare(sql).all(...params) as unknown as RunRow[];
    return rows.map((r) => this.toRecord(r));
  }

  async listRunSummaries(query: ListRunsQuery): Promise<RunSummary[]> {
    // SQLite drops the context and the step definitions from the spec, and reads only each step's id and state.
    const { sql, params } = this.listQuery(SUMMARY_ROWS, query);
    const rows = this.db.prepare(sql).all(...params) as unknown as RunRow[];
    return rows.map((row) => ({
      ...(JSON.parse(row.header) as RunHeader),
      runId: row.run_id,
      spec: JSON.parse(row.spec) as RunSummary["spec"],
      createdAt: row.created_at,
      steps: this.stmt.getStepStates.all(row.run_id) as unknown as RunSummary["steps"],
      lastSeq: row.last_seq,
    }));
  }

  private listQuery(select: string, query: ListRunsQuery): { sql: string; params: (string | number)[] } {
    const where: string[] = [];
    const params: (string | number)[] = [];
    // Run ids sort by creation time: a time range is a range of ids.
    const idFrom = query.createdAfter !== undefined ? runIdLowerBound(query.createdAfter) : undefined;
    let idBefore = query.createdBefore !== undefined ? runIdLowerBound(query.createdBefore) : undefined;
    if (query.beforeRunId !== undefined && (idBefore === undefined || query.beforeRunId < idBefore)) idBefore = query.beforeRunId;
    const [first, ...rest] = query.labels ?? [];
    if (first) {
      // The first label drives the query through the labels table's key (key, value, run_id), newest first;
      // the other labels are looked up per run in the same key.
      select = select.replace(" FROM runs JOIN run_specs", " FROM labels CROSS JOIN runs ON runs.run_id = labels.run_id JOIN run_specs");
      where.push("labels.key = ? AND labels.value = ?");
      params.push(first[0], first[1]);
      if (idFrom !== undefined) {
        where.push("labels.run_id >= ?");
        params.push(idFrom);
      }
      if (idBefore !== undefined) {
        where.push("labels.run_id < ?");
        params.push(idBefore);
      }
      for (const [k, v] of rest) {
        where.push("EXISTS (SELECT 1 FROM labels AS l WHERE l.key = ? AND l.value = ? AND l.run_id = runs.run_id)");
        params.push(k, v);
      }
    } else {
      if (idFrom !== undefined) {
        where.push("runs.run_id >= ?");
        params.push(idFrom);
      }
      if (idBefore !== undefined) {
        where.push("runs.run_id < ?");
        params.push(idBefore);
      }
    }
    if (query.states.length > 0) {
      where.push(`state IN (${query.states.map(() => "?").join(", ")})`);
      params.push(...query.states);
    }
    if (query.workflowId) {
      where.push("workflow_id = ?");
      params.push(query.workflowId);
    }
    const order = first ? "labels.run_id" : "runs.run_id";
    const sql = `${select} ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY ${order} DESC LIMIT ?`;
    params.push(query.limit);
    return { sql, params };
  }

  async listEvents(runId: string, afterSeq: number, limit: number): Promise<RunEvent[]> {
    const rows = this.stmt.events.all(runId, afterSeq, limit) as Record<string, unknown>[];
    return rows.map((r) => {
      const e: RunEvent = {
        runId,
        seq: r.seq as number,
        at: r.at as number,
        kind: r.kind as EventKind,
        from: r.from_state as string,
        to: r.to_state as string,
      };
      if (r.step_id !== null) e.stepId = r.step_id as string;
      if (r.attempt !== null) e.attempt = r.attempt as number;
      if (r.data !== null) {
        const data = JSON.parse(r.data as string) as { error?: ErrorInfo; result?: JsonValue; item?: number; redriven?: true; waitingFor?: string; rerunOf?: string };
        if (data.error !== undefined) e.error = data.error;
        if (data.rerunOf !== undefined) e.rerunOf = data.rerunOf;
        if (data.redriven === true) e.redriven = true;
        if (data.waitingFor !== undefined) e.waitingFor = data.waitingFor;
        if (data.item !== undefined) e.item = data.item;
        if ("result" in data) e.result = data.result as JsonValue;
      }
      return e;
    });
  }

  // ---- concurrency slots ------------------------------------------------------

  async acquireSlot(key: string, holder: string, limit: number): Promise<boolean> {
    this.openOrThrow();
    this.stmt.acquireSlot.run(key, holder, limit);
    return this.stmt.holdsSlot.get(key, holder) !== undefined;
  }

  async holdSlot(key: string, holder: string): Promise<void> {
    this.openOrThrow();
    this.stmt.holdSlot.run(key, holder);
  }

  async releaseSlot(key: string, holder: string): Promise<void> {
    this.openOrThrow();
    this.stmt.releaseSlot.run(key, holder);
  }

  async slotHolders(keys: string[]): Promise<Map<string, string[]>> {
    this.openOrThrow();
    const out = new Map<string, string[]>();
    for (const key of keys) {
      const rows = this.stmt.slotHolders.all(key) as { holder: string }[];
      if (rows.length > 0) out.set(key, rows.map((r) => r.holder));
    }
    return out;
  }

  private openOrThrow(): void {
    if (this.closed) throw new Error("store is closed");
  }

  async listActiveRuns(): Promise<RunRecord[]> {
    const rows = this.db.prepare(`${RUN_ROWS} WHERE runs.driving = 1 ORDER BY runs.run_id`).all() as unknown as RunRow[];
    return rows.map((r) => this.toRecord(r));
  }

  /** The query plan of a list query (tests show that filters are served by an index). */
  explainList(query: ListRunsQuery): string[] {
    const { sql, params } = this.listQuery(RUN_ROWS, query);
    return (this.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail);
  }

  /** Pages in the database file, and how many of them are free (reused by later writes). */
  pageStats(): { pageCount: number; freePages: number } {
    const pageCount = (this.db.prepare("PRAGMA page_count").get() as { page_count: number }).page_count;
    const freePages = (this.db.prepare("PRAGMA freelist_count").get() as { freelist_count: number }).freelist_count;
    return { pageCount, freePages };
  }

  // Deletes run in their own transaction, between the group commits (each runs
  // synchronously, so none interleaves with a flush). Deleted pages go to
  // SQLite's free list and are reused by later writes, so under steady load
  // with retention the file stops growing.

  async deleteRun(runId: string): Promise<DeleteRunResult> {
    if (this.closed) throw new Error("store is closed");
    const row = this.stmt.deletable.get(runId) as { state: RunState; driving: number } | undefined;
    if (!row) return { deleted: false, found: false };
    if (row.driving === 1) return { deleted: false, found: true, state: row.state, webhookPending: isTerminal(row.state) };
    this.inTransaction(() => this.deleteRows(runId));
    return { deleted: true };
  }

  async deleteFinishedRuns(finishedBefore: number, limit: number): Promise<number> {
    if (this.closed) return 0;
    let n = 0;
    this.inTransaction(() => {
      const ids = this.stmt.finishedBefore.all(finishedBefore, limit) as { run_id: string }[];
      for (const { run_id } of ids) this.deleteRows(run_id);
      n = ids.length;
    });
    return n;
  }

  private inTransaction(fn: () => void): void {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      fn();
      this.db.exec("COMMIT");
    } catch (err) {
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      throw err;
    }
  }

  private deleteRows(runId: string): void {
    for (const st of ["deleteEvents", "deleteAllItems", "deleteSteps", "deleteLabels", "deleteSpec", "deleteRunRow"]) this.stmt[st].run(runId);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.flush();
      this.closed = true;
      await this.checkpointer?.stop();
      // The last connection to close checkpoints the WAL and removes it.
      this.db.close();
      this.lock?.close();
    })();
    return this.closing;
  }

  // ---- writes ---------------------------------------------------------------

  private enqueue(op: Op): void {
    if (this.closed) {
      op.reject(new Error("store is closed"));
      return;
    }
    this.queue.push(op);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    const ops = this.queue;
    if (ops.length === 0) return;
    this.queue = [];
    const outcomes: (() => void)[] = [];
    try {
      this.db.exec("BEGIN IMMEDIATE");
      for (const op of ops) {
        if (op.kind === "create") {
          // A create writes several rows: a savepoint keeps a failed one from leaving any.
          this.db.exec("SAVEPOINT op");
          try {
            const result = this.writeCreate(op.run, op.events);
            outcomes.push(() => op.resolve(result));
            this.db.exec("RELEASE op");
          } catch (err) {
            this.db.exec("ROLLBACK TO op");
            this.db.exec("RELEASE op");
            outcomes.push(() => op.reject(err));
          }
        } else {
          // The compare-and-set is the first write: a conflict leaves nothing behind.
          // Any other failure aborts the whole batch below.
          const conflict = this.writePatch(op.patch);
          outcomes.push(conflict ? () => op.reject(conflict) : () => op.resolve());
        }
      }
      this.db.exec("COMMIT");
    } catch (err) {
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      for (const op of ops) op.reject(err);
      return;
    }
    for (const settle of outcomes) settle();
  }

  private writeCreate(run: RunRecord, events: RunEvent[]): CreateRunResult {
    const requestId = run.spec.requestId;
    if (requestId !== undefined) {
      const existing = this.stmt.runByRequest.get(requestId) as RunRow | undefined;
      if (existing) return { run: this.toRecord(existing), created: false };
    }
    this.stmt.insertRun.run(
      run.runId,
      run.spec.workflowId,
      requestId ?? null,
      run.state,
      run.createdAt,
      JSON.stringify(runHeader(run)),
      needsDriving(run) ? 1 : 0,
      run.version,
      run.lastSeq,
      finishedAt(run),
    );
    this.stmt.insertSpec.run(run.runId, JSON.stringify(run.spec));
    for (const [key, value] of labelPairs(run.spec.labels)) this.stmt.insertLabel.run(key, value, run.runId);
    run.steps.forEach((st, i) => this.stmt.insertStep.run(run.runId, i, stringifyWithResult(st)));
    // A rerun starts with the items of the map steps it copied.
    for (const [step, records] of Object.entries(run.items ?? {})) {
      records.forEach((r, k) => this.stmt.upsertItem.run(run.runId, Number(step), k, stringifyWithResult(r)));
    }
    for (const e of events) this.insertEvent(e);
    return { run, created: true };
  }

  /** Writes a patch, or returns the conflict (having written nothing). */
  private writePatch(patch: RunPatch): VersionConflictError | undefined {
    const h = patch.run;
    const changed = h
      ? this.stmt.updateHeader.run(h.state, JSON.stringify(h), needsDriving(h) ? 1 : 0, patch.version, patch.lastSeq, finishedAt(h), patch.runId, patch.expectedVersion)
      : this.stmt.updateVersion.run(patch.version, patch.lastSeq, patch.runId, patch.expectedVersion);
    if (changed.changes === 0) {
      const row = this.stmt.version.get(patch.runId) as { version: number } | undefined;
      return new VersionConflictError(patch.runId, patch.expectedVersion, row?.version);
    }
    for (const { index, record } of patch.steps) {
      this.stmt.updateStep.run(stringifyWithResult(record), patch.runId, index);
    }
    for (const { step, records } of patch.itemLists ?? []) {
      this.stmt.deleteItems.run(patch.runId, step);
      records.forEach((r, k) => this.stmt.upsertItem.run(patch.runId, step, k, stringifyWithResult(r)));
    }
    for (const { step, index, record } of patch.items ?? []) this.stmt.upsertItem.run(patch.runId, step, index, stringifyWithResult(record));
    for (const e of patch.events) this.insertEvent(e);
    return undefined;
  }

  private insertEvent(e: RunEvent): void {
    const data =
      e.error !== undefined || e.result !== undefined || e.item !== undefined || e.redriven || e.waitingFor !== undefined || e.rerunOf !== undefined
        ? stringifyWithResult({ error: e.error, result: e.result, item: e.item, redriven: e.redriven, waitingFor: e.waitingFor, rerunOf: e.rerunOf })
        : null;
    this.stmt.insertEvent.run(e.runId, e.seq, e.at, e.kind, e.stepId ?? null, e.from, e.to, e.attempt ?? null, data);
  }

  private toRecord(row: RunRow): RunRecord {
    const steps = (this.stmt.getSteps.all(row.run_id) as { record: string }[]).map(
      (s) => JSON.parse(s.record) as StepRecord,
    );
    const run: RunRecord = {
      ...(JSON.parse(row.header) as RunHeader),
      runId: row.run_id,
      spec: JSON.parse(row.spec) as WorkflowSpec,
      createdAt: row.created_at,
      steps,
      version: row.version,
      lastSeq: row.last_seq,
    };
    const items = this.stmt.getItems.all(row.run_id) as { step_idx: number; record: string }[];
    if (items.length > 0) {
      run.items = {};
      for (const r of items) (run.items[r.step_idx] ??= []).push(JSON.parse(r.record) as ItemRecord);
    }
    return run;
  }
}
