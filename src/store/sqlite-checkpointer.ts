// The embedded store's WAL checkpointer, run in a worker thread.
//
// Every commit appends pages to weft.db-wal; a checkpoint copies them back into
// weft.db and fsyncs it. Done by SQLite's automatic checkpoint that work lands
// inside a commit on the server's thread (tens of milliseconds every few hundred
// commits under load); here it runs on a second connection in this thread, as
// a PASSIVE checkpoint, which never blocks the writer.
//
// workerData: { path, intervalMs, synchronous }. Messages in: "stop". Messages
// out: { error } when a checkpoint fails (the next tick tries again).
import { DatabaseSync } from "node:sqlite";
import { parentPort, workerData } from "node:worker_threads";

export interface CheckpointerData {
  path: string;
  intervalMs: number;
  synchronous: "NORMAL" | "FULL";
}

const { path, intervalMs, synchronous } = workerData as CheckpointerData;
const db = new DatabaseSync(path);
db.exec("PRAGMA busy_timeout = 0");
db.exec(`PRAGMA synchronous = ${synchronous}`);
const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");

function tick(): void {
  try {
    checkpoint.get();
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
