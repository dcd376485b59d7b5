// The worker thread side of ThreadedSqliteStore: owns the SQLite connection and
// runs every store call it is sent, in order. Commits (and the WAL checkpoints
// they trigger, with their fsyncs) happen here, off the server's event loop.
import { parentPort, workerData } from "node:worker_threads";
import { type SqliteStoreOptions, SqliteWorkflowStore } from "./sqlite-store.ts";
import { type Call, encodeError, type Reply } from "./sqlite-thread-protocol.ts";

const port = parentPort!;
let store: SqliteWorkflowStore;
try {
  store = new SqliteWorkflowStore(workerData as SqliteStoreOptions);
  port.postMessage({ ready: true });
} catch (err) {
  port.postMessage({ ready: false, error: encodeError(err) });
  process.exit(0);
}

let outgoing: Reply[] = [];
let scheduled = false;

function reply(r: Reply): void {
  outgoing.push(r);
  if (!scheduled) {
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      const batch = outgoing;
      outgoing = [];
      port.postMessage(batch);
    });
  }
}

port.on("message", (calls: Call[]) => {
  for (const c of calls) {
    const method = store[c.method] as (...args: unknown[]) => Promise<unknown>;
    (method.apply(store, c.args) as Promise<unknown>).then(
      (value) => reply({ id: c.id, ok: true, value }),
      (err: unknown) => reply({ id: c.id, ok: false, error: encodeError(err) }),
    );
    if (c.method === "close") {
      // Everything before it has been answered once close() settles; then the thread ends.
      void store.close().finally(() => setImmediate(() => setImmediate(() => port.close())));
    }
  }
});
