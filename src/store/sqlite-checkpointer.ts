// The embedded store's WAL checkpointer, run in a worker thread.
//
// Every commit appends pages to weft.db-wal; a checkpoint copies them back into
// weft.db and fsyncs it. Done by SQLite's automatic checkpoint, that work lands
// inside a commit on the server's thread (tens of milliseconds every few hundred
// commits under load); here it runs on a second connection in this thread.
//
// Each tick runs a PASSIVE checkpoint, which never blocks the writer. That alone
// never lets the WAL start over while commits keep coming (the writer appends
// while the checkpoint copies), so once the WAL holds restartPages pages the tick
// follows up with a RESTART checkpoint: it has only the pages appended since the
// PASSIVE one left to copy, holds the writer back for that long, and lets the
// next commit write the WAL from its start again.
//
// workerData: CheckpointerData. Messages in: "stop". Messages out: { error } when
// a checkpoint fails (the next tick tries again).
import { DatabaseSync } from "node:sqlite";
import { parentPort, workerData } from "node:worker_threads";

export interface CheckpointerData {
  path: string;
  intervalMs: number;
  synchronous: "NORMAL" | "FULL";
  /** WAL size (pages) from which a tick also restarts the WAL. */
  restartPages: number;
}

interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

const { path, intervalMs, synchronous, restartPages } = workerData as CheckpointerData;
const db = new DatabaseSync(path);
// Waiting for the writer's transaction to end happens here, off the server's thread.
db.exec("PRAGMA busy_timeout = 200");
db.exec(`PRAGMA synchronous = ${synchronous}`);
const passive = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
const restart = db.prepare("PRAGMA wal_checkpoint(RESTART)");

function tick(): void {
  try {
    const r = passive.get() as unknown as CheckpointResult;
    if (r.log >= restartPages) restart.get();
  } catch (err) {
    parentPort?.postMessage({ error: (err as Error).message });
  }
}

const timer = setInterval(tick, intervalMs);
parentPort?.on("message", (message: unknown) => {
  if (message !== "stop") return;
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
