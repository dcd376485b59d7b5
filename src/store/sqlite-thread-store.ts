// The embedded store as the server runs it: SqliteWorkflowStore in a worker
// thread. The server's event loop only hands calls over (batched per turn of
// the loop, like the store's own group commit) and settles their promises; the
// SQL, the JSON and the WAL checkpoints (with their fsyncs) run on another core.
// Semantics are the same as SqliteWorkflowStore's: calls run in the order they
// were made, and a commit's promise settles after its transaction committed.
import { Worker } from "node:worker_threads";
import type { RunEvent, RunPatch, RunRecord } from "../domain/run-record.ts";
import type { CreateRunResult, ListRunsQuery, WorkflowStore } from "../ports/workflow-store.ts";
import type { SqliteStoreOptions } from "./sqlite-store.ts";
import { type Call, decodeError, type Reply, type StoreMethod, type WireError } from "./sqlite-thread-protocol.ts";

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class ThreadedSqliteStore implements WorkflowStore {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private outgoing: Call[] = [];
  private scheduled = false;
  private dead: Error | undefined;
  private closing: Promise<void> | undefined;

  private constructor(worker: Worker) {
    this.worker = worker;
    worker.on("message", (replies: Reply[]) => {
      for (const r of replies) {
        const p = this.pending.get(r.id);
        if (!p) continue;
        this.pending.delete(r.id);
        if (r.ok) p.resolve(r.value);
        else p.reject(decodeError(r.error));
      }
    });
    const fail = (err: Error) => {
      this.dead ??= err;
      for (const p of this.pending.values()) p.reject(this.dead);
      this.pending.clear();
    };
    worker.on("error", (err) => fail(err));
    worker.on("exit", (code) => fail(new Error(`store thread exited (${code})`)));
  }

  /** Starts the worker and opens the database; rejects as SqliteWorkflowStore's constructor throws (e.g. locked). */
  static async open(options: SqliteStoreOptions): Promise<ThreadedSqliteStore> {
    const worker = new Worker(new URL("./sqlite-store-worker.ts", import.meta.url), { workerData: options });
    let onMessage!: (m: { ready: boolean; error?: WireError }) => void;
    let onError!: (e: Error) => void;
    let onExit!: (code: number) => void;
    const first = await new Promise<{ ready: boolean; error?: WireError }>((resolve, reject) => {
      onMessage = resolve;
      onError = reject;
      onExit = (code) => reject(new Error(`store thread exited (${code}) while opening`));
      worker.once("message", onMessage).once("error", onError).once("exit", onExit);
    }).finally(() => {
      // Only these: the worker's own listeners must stay.
      worker.off("message", onMessage).off("error", onError).off("exit", onExit);
    });
    if (!first.ready) {
      await worker.terminate();
      throw decodeError(first.error!);
    }
    return new ThreadedSqliteStore(worker);
  }

  private call<T>(method: StoreMethod, args: unknown[]): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.closing && method !== "close") return Promise.reject(new Error("store is closed"));
    const id = this.nextId++;
    const promise = new Promise<T>((resolve, reject) => this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject }));
    this.outgoing.push({ id, method, args });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.send());
    }
    return promise;
  }

  private send(): void {
    this.scheduled = false;
    const batch = this.outgoing;
    this.outgoing = [];
    if (batch.length > 0 && !this.dead) this.worker.postMessage(batch);
  }

  createRun(run: RunRecord, events: RunEvent[]): Promise<CreateRunResult> {
    return this.call("createRun", [run, events]);
  }

  commit(patch: RunPatch): Promise<void> {
    return this.call("commit", [patch]);
  }

  getRun(runId: string): Promise<RunRecord | undefined> {
    return this.call("getRun", [runId]);
  }

  listRuns(query: ListRunsQuery): Promise<RunRecord[]> {
    return this.call("listRuns", [query]);
  }

  listEvents(runId: string, afterSeq: number, limit: number): Promise<RunEvent[]> {
    return this.call("listEvents", [runId, afterSeq, limit]);
  }

  listActiveRuns(): Promise<RunRecord[]> {
    return this.call("listActiveRuns", []);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.dead) {
        const exited = new Promise<void>((resolve) => this.worker.once("exit", () => resolve()));
        await this.call<void>("close", []).catch(() => {});
        await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      }
      await this.worker.terminate();
    })();
    return this.closing;
  }
}
