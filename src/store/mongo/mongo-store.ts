// The MongoDB store: runs, their event logs and replica leases in one database
// that any number of Weft replicas share.
//
// Atomicity without multi-document transactions: a commit is ONE update of the
// run document, compare-and-set on (version, owner), that writes the new state
// and the commit's events (the `outbox` field) together. The events are then
// copied to the events collection (idempotently: the _id is runId:seq) before
// the run's next commit is written; a replica that takes a run over copies the
// outbox it finds first, and readers merge the outbox with the collection. So
// no event exists without its state change and no state change without its
// events, on a replica set, a sharded cluster or a standalone server alike.
// Map steps' items go the same way to their own collection (mongo-items.ts).
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import {
  type Collection,
  type Db,
  MongoClient,
  type MongoClientOptions,
  MongoError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerSelectionError,
} from "mongodb";
import { runIdLowerBound } from "../../domain/run-id.ts";
import { CANCELLABLE_RUN_STATES, isTerminal, needsDriving, type RunEvent, type RunPatch, type RunRecord, type RunSummary } from "../../domain/run-record.ts";
import type { WorkflowSpec } from "../../domain/workflow-spec.ts";
import type { CancelRequest, RunOwnership } from "../../ports/run-ownership.ts";
import type { ConcurrencySlots } from "../../ports/concurrency-slots.ts";
import {
  type CreateRunResult,
  type DeleteRunResult,
  type ListRunsQuery,
  StoreUnavailableError,
  VersionConflictError,
  type WorkflowStore,
} from "../../ports/workflow-store.ts";
import { duplicateKeyIndexes, isDuplicateKey, sleep } from "./mongo-errors.ts";
import { MongoItems } from "./mongo-items.ts";
import {
  COLLECTIONS,
  type EventDoc,
  eventFromDoc,
  type ItemOutboxDoc,
  type ItemRowDoc,
  type ItemStageDoc,
  eventToDoc,
  type NoticeDoc,
  type RunDoc,
  runFromDoc,
  type SlotDoc,
  labelString,
  runToDoc,
  stepToDoc,
} from "./mongo-documents.ts";

export interface MongoStoreOptions {
  uri: string;
  database: string;
  /** How long a replica's lease lasts without renewal. */
  leaseTtlMs: number;
  /** Extra driver options (tests: short timeouts). */
  clientOptions?: MongoClientOptions;
  /** Called when copying events to the events collection fails (they are retried). */
  onCopyError?: (err: unknown) => void;
}

interface ReplicaDoc {
  _id: string;
  expiresAt: number;
  host: string;
  pid: number;
  startedAt: number;
}

/** Ids per $in when handing runs back. */
const RELEASE_CHUNK = 1000;

function newReplicaId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`;
}


/** Driver errors that mean "MongoDB could not be reached", as the port's StoreUnavailableError. */
function unavailable(err: unknown): unknown {
  const transient =
    err instanceof MongoNetworkError ||
    err instanceof MongoServerSelectionError ||
    err instanceof MongoNotConnectedError ||
    (err instanceof MongoError && (err.hasErrorLabel("RetryableWriteError") || err.hasErrorLabel("ResetPool")));
  return transient ? new StoreUnavailableError(`MongoDB unavailable: ${(err as Error).message}`, { cause: err }) : err;
}

async function mapped<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw unavailable(err);
  }
}


/** The runs a list query selects (ListRunsQuery), newest first by _id. */
export function listFilter(query: ListRunsQuery): Record<string, unknown> {
  const filter: Record<string, unknown> = {};
  if (query.states.length > 0) filter.state = { $in: query.states };
  if (query.workflowId) filter.workflowId = query.workflowId;
  // Run ids sort by creation time: a time range is a range of _id.
  const id: Record<string, string> = {};
  if (query.createdAfter !== undefined) id.$gte = runIdLowerBound(query.createdAfter);
  let before = query.createdBefore !== undefined ? runIdLowerBound(query.createdBefore) : undefined;
  if (query.beforeRunId !== undefined && (before === undefined || query.beforeRunId < before)) before = query.beforeRunId;
  if (before !== undefined) id.$lt = before;
  if (Object.keys(id).length > 0) filter._id = id;
  const labels = query.labels ?? [];
  if (labels.length === 1) filter.labels = labelString(labels[0][0], labels[0][1]);
  else if (labels.length > 1) filter.labels = { $all: labels.map(([k, v]) => labelString(k, v)) };
  return filter;
}

/** The $set of a commit: the run's new version, header, changed steps, the commit's events as the outbox and its item changes (MongoItems.prepare). */
export function patchSet(patch: RunPatch, outbox: EventDoc[], items: Record<string, unknown>): Record<string, unknown> {
  const set: Record<string, unknown> = { version: patch.version, lastSeq: patch.lastSeq, outbox, ...items };
  if (patch.run) {
    set.header = patch.run;
    set.state = patch.run.state;
    set.driving = needsDriving(patch.run);
    if (!set.driving) {
      set.copyPending = true;
      // Retention counts from here (a redriven run that finishes again gets a new one).
      if (patch.run.completedAt !== undefined) set.finishedAt = patch.run.completedAt;
    }
  }
  for (const { index, record } of patch.steps) set[`steps.${index}`] = stepToDoc(record);
  return set;
}

/** A write's $unset: the previous commit's item outbox (copied by now) when this one changed no item. */
function patchUnset(items: Record<string, unknown>): Record<string, ""> | undefined {
  return "itemOutbox" in items ? undefined : { itemOutbox: "" };
}

/**
 * Reads of a run made again when a commit landed between reading its document
 * and its items (an item newer than the document); after that many, the newer
 * items are shown. Items are never older than the document read.
 */
const READ_ATTEMPTS = 3;

export class MongoWorkflowStore implements WorkflowStore, RunOwnership, ConcurrencySlots {
  readonly client: MongoClient;
  readonly db: Db;
  readonly runs: Collection<RunDoc>;
  readonly events: Collection<EventDoc>;
  private readonly items: MongoItems;
  private readonly replicas: Collection<ReplicaDoc>;
  readonly leaseTtlMs: number;
  private id = newReplicaId();
  private readonly startedAt = Date.now();
  private readonly onCopyError: (err: unknown) => void;
  /** Per run: settles once the outbox of its latest write is in the events collection. */
  private readonly copied = new Map<string, Promise<void>>();
  private copyQueue: { docs: EventDoc[]; done: () => void }[] = [];
  private copyScheduled = false;
  private closed = false;

  private constructor(client: MongoClient, options: MongoStoreOptions) {
    this.client = client;
    // Majority write concern unless the connection string chose one: an
    // acknowledged write survives the loss of the primary.
    const w = /[?&]w=/.test(options.uri) ? {} : { writeConcern: { w: "majority" as const } };
    this.db = client.db(options.database, w);
    this.runs = this.db.collection<RunDoc>(COLLECTIONS.runs);
    this.events = this.db.collection<EventDoc>(COLLECTIONS.events);
    this.replicas = this.db.collection<ReplicaDoc>(COLLECTIONS.replicas);
    this.leaseTtlMs = options.leaseTtlMs;
    this.onCopyError = options.onCopyError ?? (() => {});
    this.items = new MongoItems(
      this.db.collection<ItemRowDoc>(COLLECTIONS.items),
      this.db.collection<ItemStageDoc>(COLLECTIONS.itemStage),
      (err) => this.onCopyError(err),
    );
  }

  /** Connects and creates the indexes (idempotent). */
  static async open(options: MongoStoreOptions): Promise<MongoWorkflowStore> {
    const client = new MongoClient(options.uri, { ignoreUndefined: true, ...options.clientOptions });
    await client.connect();
    const store = new MongoWorkflowStore(client, options);
    try {
      await store.ensureIndexes();
    } catch (err) {
      await client.close();
      throw err;
    }
    return store;
  }

  private async ensureIndexes(): Promise<void> {
    await Promise.all([
      this.runs.createIndex({ requestId: 1 }, { unique: true, sparse: true, name: "request_id" }),
      this.runs.createIndex({ state: 1, _id: -1 }, { name: "state_newest" }),
      this.runs.createIndex({ workflowId: 1, _id: -1 }, { name: "workflow_newest" }),
      this.runs.createIndex({ driving: 1, owner: 1 }, { name: "driving_owner" }),
      this.runs.createIndex({ copyPending: 1 }, { sparse: true, name: "copy_pending" }),
      // Label filters (multikey over "key=value"), newest first; workflow id and state together.
      this.runs.createIndex({ labels: 1, _id: -1 }, { name: "labels_newest" }),
      this.runs.createIndex({ workflowId: 1, state: 1, _id: -1 }, { name: "workflow_state_newest" }),
      // Finished runs by finish time (retention).
      this.runs.createIndex({ finishedAt: 1 }, { sparse: true, name: "finished_at" }),
      this.events.createIndex({ runId: 1, seq: 1 }, { name: "run_seq" }),
      this.events.createIndex({ ts: 1 }, { name: "ts" }),
      this.items.ensureIndexes(),
    ]);
  }

  get replicaId(): string {
    return this.id;
  }

  // ---- WorkflowStore ------------------------------------------------------------

  createRun(run: RunRecord, events: RunEvent[]): Promise<CreateRunResult> {
    return mapped(this.insertRun(run, events));
  }

  private async insertRun(run: RunRecord, events: RunEvent[]): Promise<CreateRunResult> {
    const docs = events.map((e) => eventToDoc(e, run.spec.workflowId, new Date()));
    // A rerun's copied items go first: a run is never seen without them.
    if (run.items) await this.items.writeInitial(run);
    try {
      await this.runs.insertOne(runToDoc(run, this.id, docs, needsDriving(run)));
    } catch (err) {
      if (run.items) await this.items.deleteRuns([run.runId]).catch(() => {});
      if (isDuplicateKey(err) && run.spec.requestId !== undefined) {
        const existing = await this.readRun({ requestId: run.spec.requestId });
        if (existing) return { run: existing, created: false };
      }
      throw err;
    }
    this.track(run.runId, this.copy(docs));
    return { run, created: true };
  }

  commit(patch: RunPatch): Promise<void> {
    const ts = new Date();
    const docs = patch.events.map((e) => eventToDoc(e, patch.workflowId, ts));
    const previous = this.copied.get(patch.runId) ?? Promise.resolve();
    const written = previous.then(() => this.write(patch, docs));
    const last = patch.run !== undefined && !needsDriving(patch.run);
    this.track(
      patch.runId,
      written.then(
        (itemOutbox) => (last ? this.copyLast(patch.runId, docs, itemOutbox) : this.copyOutboxes(patch.runId, docs, itemOutbox)),
        () => {},
      ),
    );
    return mapped(written.then(() => {}));
  }

  /** Copies a commit's events and item changes to their collections. */
  private async copyOutboxes(runId: string, docs: EventDoc[], itemOutbox: ItemOutboxDoc | undefined): Promise<void> {
    await Promise.all([this.copy(docs), this.items.copy(runId, itemOutbox)]);
  }

  /** Copies a finished run's last events and items, then clears its copyPending mark. */
  private async copyLast(runId: string, docs: EventDoc[], itemOutbox: ItemOutboxDoc | undefined): Promise<void> {
    await this.copyOutboxes(runId, docs, itemOutbox);
    for (let delay = 50; !this.closed; delay = Math.min(delay * 2, 2000)) {
      try {
        await this.runs.updateOne({ _id: runId, copyPending: true }, { $unset: { copyPending: "" } });
        return;
      } catch (err) {
        this.onCopyError(err);
        await sleep(delay);
      }
    }
  }

  /** The commit's update; resolves to the item outbox it wrote. */
  private async write(patch: RunPatch, outbox: EventDoc[]): Promise<ItemOutboxDoc | undefined> {
    const items = this.items.prepare(patch);
    await this.items.writeChunks(items.chunks);
    const unset = patchUnset(items.set);
    const res = await this.runs.updateOne(
      { _id: patch.runId, version: patch.expectedVersion, owner: this.id },
      unset ? { $set: patchSet(patch, outbox, items.set), $unset: unset } : { $set: patchSet(patch, outbox, items.set) },
    );
    if (res.matchedCount === 1) return items.outbox;
    await this.items.discardChunks(items.chunks);
    const now = await this.runs.findOne({ _id: patch.runId }, { projection: { version: 1, owner: 1 } });
    const detail = now && now.owner !== this.id ? `driven by ${now.owner ?? "no replica"}, not ${this.id}` : undefined;
    throw new VersionConflictError(patch.runId, patch.expectedVersion, now?.version, detail);
  }

  reopen(patch: RunPatch): Promise<void> {
    const ts = new Date();
    const docs = patch.events.map((e) => eventToDoc(e, patch.workflowId, ts));
    const previous = this.copied.get(patch.runId) ?? Promise.resolve();
    const written = previous.then(() => this.writeReopen(patch, docs));
    this.track(
      patch.runId,
      written.then(
        (itemOutbox) => this.copyOutboxes(patch.runId, docs, itemOutbox),
        () => {},
      ),
    );
    return mapped(written.then(() => {}));
  }

  /**
   * Compare-and-set on version alone, taking the run over: the run is finished,
   * so no replica drives its steps (one still delivering its webhook finds its
   * next commit refused and lets go).
   */
  private async writeReopen(patch: RunPatch, outbox: EventDoc[]): Promise<ItemOutboxDoc | undefined> {
    // The outboxes this write replaces may not be in their collections yet (their writer may have died).
    const before = await this.runs.findOne({ _id: patch.runId, version: patch.expectedVersion }, { projection: { outbox: 1, itemOutbox: 1 } });
    if (before) await this.copyOutboxes(patch.runId, before.outbox ?? [], before.itemOutbox);
    const items = this.items.prepare(patch);
    const set = patchSet(patch, outbox, items.set);
    set.owner = this.id;
    delete set.copyPending;
    const unset: Record<string, ""> = { cancelRequest: "", copyPending: "", ...patchUnset(items.set) };
    if (before) await this.items.writeChunks(items.chunks);
    const res = before ? await this.runs.updateOne({ _id: patch.runId, version: patch.expectedVersion }, { $set: set, $unset: unset }) : { matchedCount: 0 };
    if (res.matchedCount === 1) return items.outbox;
    await this.items.discardChunks(items.chunks);
    const now = await this.runs.findOne({ _id: patch.runId }, { projection: { version: 1 } });
    throw new VersionConflictError(patch.runId, patch.expectedVersion, now?.version);
  }

  getRun(runId: string): Promise<RunRecord | undefined> {
    return mapped(this.readRun({ _id: runId }));
  }

  getRunByRequestId(requestId: string): Promise<RunRecord | undefined> {
    return mapped(this.readRun({ requestId }));
  }

  async listRuns(query: ListRunsQuery): Promise<RunRecord[]> {
    const filter = listFilter(query);
    const docs = await mapped(this.runs.find(filter).sort({ _id: -1 }).limit(query.limit).toArray());
    return mapped(this.withItemsAll(docs));
  }

  /** A run with its items, read again while a commit made in between shows in its items. */
  private async readRun(filter: { _id: string } | { requestId: string }): Promise<RunRecord | undefined> {
    for (let attempt = 1; ; attempt++) {
      const doc = await this.runs.findOne(filter);
      if (!doc) return undefined;
      const run = await this.withItems(doc, attempt >= READ_ATTEMPTS);
      if (run !== "newer") return run;
    }
  }

  private async withItems(doc: RunDoc, acceptNewer = false): Promise<RunRecord | "newer"> {
    const run = runFromDoc(doc);
    if (!doc.itemLists && !doc.items) return run;
    const items = await this.items.read(doc, acceptNewer);
    if (items === "newer") return "newer";
    if (items) run.items = items;
    return run;
  }

  /** Runs of a query with their items (those without map steps cost nothing more). */
  private async withItemsAll(docs: RunDoc[]): Promise<RunRecord[]> {
    const out: RunRecord[] = [];
    for (const doc of docs) {
      const run = await this.withItems(doc);
      if (run !== "newer") out.push(run);
      else {
        const again = await this.readRun({ _id: doc._id });
        if (again) out.push(again);
      }
    }
    return out;
  }

  async listRunSummaries(query: ListRunsQuery): Promise<RunSummary[]> {
    // The spec is one JSON text (read whole); the steps' results, errors and the outbox stay in the database.
    const filter = listFilter(query);
    const projection = { _id: 1, header: 1, spec: 1, createdAt: 1, lastSeq: 1, "steps.id": 1, "steps.state": 1 };
    const docs = await mapped(this.runs.find(filter, { projection }).sort({ _id: -1 }).limit(query.limit).toArray());
    return docs.map((doc) => {
      const { steps: _, context: __, ...spec } = JSON.parse(doc.spec) as WorkflowSpec;
      return {
        ...doc.header,
        runId: doc._id,
        spec,
        createdAt: doc.createdAt,
        steps: doc.steps.map((s) => ({ id: s.id, state: s.state })),
        lastSeq: doc.lastSeq,
      };
    });
  }

  listEvents(runId: string, afterSeq: number, limit: number): Promise<RunEvent[]> {
    return mapped(this.readEvents(runId, afterSeq, limit));
  }

  private async readEvents(runId: string, afterSeq: number, limit: number): Promise<RunEvent[]> {
    // The outbox first, then the collection: whatever left the outbox in
    // between is in the collection by the time it is read.
    const run = await this.runs.findOne({ _id: runId }, { projection: { outbox: 1 } });
    if (!run) return [];
    const stored = await this.events
      .find({ runId, seq: { $gt: afterSeq } })
      .sort({ seq: 1 })
      .limit(limit)
      .toArray();
    const bySeq = new Map<number, EventDoc>();
    for (const d of stored) bySeq.set(d.seq, d);
    for (const d of run.outbox ?? []) if (d.seq > afterSeq) bySeq.set(d.seq, d);
    const out: RunEvent[] = [];
    for (let seq = afterSeq + 1; out.length < limit; seq++) {
      const d = bySeq.get(seq);
      if (!d) break;
      out.push(eventFromDoc(d));
    }
    return out;
  }

  /**
   * The run document goes first, in one conditional delete (finished, nothing
   * to deliver, last events copied), then its events: a crash in between
   * leaves events of no run, never a run without its events being shown.
   */
  async deleteRun(runId: string): Promise<DeleteRunResult> {
    const deletable = { _id: runId, driving: false, copyPending: { $exists: false } };
    let res = await mapped(this.runs.deleteOne(deletable));
    const copying = this.copied.get(runId);
    if (res.deletedCount === 0 && copying) {
      // Finished here a moment ago: its last events are being copied; once they are, it can go.
      await Promise.race([copying, sleep(5000)]);
      res = await mapped(this.runs.deleteOne(deletable));
    }
    if (res.deletedCount === 1) {
      await mapped(Promise.all([this.events.deleteMany({ runId }), this.items.deleteRuns([runId])]));
      return { deleted: true };
    }
    const doc = await mapped(this.runs.findOne({ _id: runId }, { projection: { state: 1, driving: 1 } }));
    if (!doc) return { deleted: false, found: false };
    if (!doc.driving) {
      // Finished a moment ago: its last events are still being copied. Retrying soon succeeds.
      return { deleted: false, found: true, state: doc.state, webhookPending: false };
    }
    return { deleted: false, found: true, state: doc.state, webhookPending: isTerminal(doc.state) };
  }

  async deleteFinishedRuns(finishedBefore: number, limit: number): Promise<number> {
    const filter = { finishedAt: { $lt: finishedBefore }, driving: false, copyPending: { $exists: false } };
    const ids = (await mapped(this.runs.find(filter, { projection: { _id: 1 } }).limit(limit).toArray())).map((d) => d._id);
    if (ids.length === 0) return 0;
    const res = await mapped(this.runs.deleteMany({ ...filter, _id: { $in: ids } }));
    // Only the events of runs that were deleted (one may have changed in between).
    const kept = new Set((await mapped(this.runs.find({ _id: { $in: ids } }, { projection: { _id: 1 } }).toArray())).map((d) => d._id));
    const gone = ids.filter((id) => !kept.has(id));
    if (gone.length > 0) await mapped(Promise.all([this.events.deleteMany({ runId: { $in: gone } }), this.items.deleteRuns(gone)]));
    return res.deletedCount;
  }

  async listActiveRuns(): Promise<RunRecord[]> {
    const docs = await this.runs.find({ driving: true }).sort({ _id: 1 }).toArray();
    return this.withItemsAll(docs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Let queued event copies finish (they are also redone by whoever drives the run next).
    await Promise.race([Promise.allSettled([...this.copied.values()]), sleep(2000)]);
    this.closed = true;
    this.items.close();
    await this.client.close();
  }

  // ---- the events collection ---------------------------------------------------------

  private track(runId: string, copied: Promise<void>): void {
    this.copied.set(runId, copied);
    void copied.finally(() => {
      if (this.copied.get(runId) === copied) this.copied.delete(runId);
    });
  }

  /** Copies events to the events collection; all copies queued in one tick go in one ordered insert. */
  private copy(docs: EventDoc[]): Promise<void> {
    if (docs.length === 0) return Promise.resolve();
    return new Promise((done) => {
      this.copyQueue.push({ docs, done });
      if (!this.copyScheduled) {
        this.copyScheduled = true;
        setImmediate(() => void this.flushCopies());
      }
    });
  }

  private async flushCopies(): Promise<void> {
    this.copyScheduled = false;
    const batch = this.copyQueue;
    this.copyQueue = [];
    let docs = batch.flatMap((b) => b.docs);
    let delay = 50;
    while (docs.length > 0 && !this.closed) {
      try {
        // Stamped with the time of this insert (the outbox holds the commit's time): a copy made
        // long after its commit (by the run's next owner, or after an outage) is still within
        // reach of the polling feed and rescans, which look back a few seconds from the newest.
        const ts = new Date();
        // Ordered: a run's events reach the collection (and change streams) in sequence order.
        await this.events.insertMany(docs.map((d) => ({ ...d, ts })), { ordered: true });
        docs = [];
      } catch (err) {
        const copied = duplicateKeyIndexes(err, docs.length);
        if (copied) {
          // Already copied (by an earlier attempt or another replica): go on after it.
          docs = docs.slice(Math.max(...copied) + 1);
          continue;
        }
        this.onCopyError(err);
        await sleep(delay);
        delay = Math.min(delay * 2, 2000);
      }
    }
    for (const b of batch) b.done();
  }

  // ---- RunOwnership -------------------------------------------------------------------

  async renewLease(): Promise<void> {
    const now = Date.now();
    await this.replicas.updateOne(
      { _id: this.id },
      { $set: { expiresAt: now + this.leaseTtlMs, host: hostname(), pid: process.pid, startedAt: this.startedAt } },
      { upsert: true },
    );
  }

  rejoin(): void {
    this.id = newReplicaId();
  }

  /** Replicas whose lease has not expired (by this replica's clock). */
  private async liveReplicas(): Promise<string[]> {
    const now = Date.now();
    const live = await this.replicas.find({ expiresAt: { $gt: now } }, { projection: { _id: 1 } }).toArray();
    // Leases long expired are only clutter.
    await this.replicas.deleteMany({ expiresAt: { $lt: now - 100 * this.leaseTtlMs } });
    return live.map((r) => r._id);
  }

  async claimOrphans(limit: number): Promise<RunRecord[]> {
    const live = await this.liveReplicas();
    await this.copyAbandonedOutboxes(live, limit);
    const candidates = await this.runs
      .find({ driving: true, owner: { $nin: live } }, { projection: { _id: 1, owner: 1 } })
      .sort({ _id: 1 })
      .limit(limit)
      .toArray();
    const claimed: RunRecord[] = [];
    for (const c of candidates) {
      const run = await this.take(c._id, c.owner ?? null);
      if (run) claimed.push(run);
    }
    return claimed;
  }

  async claim(runId: string): Promise<RunRecord | undefined> {
    const doc = await this.runs.findOne({ _id: runId }, { projection: { owner: 1, driving: 1, copyPending: 1, outbox: 1, itemOutbox: 1 } });
    if (!doc) return undefined;
    const owner = doc.owner ?? null;
    if (!doc.driving) {
      // Finished, perhaps by a commit whose answer was lost: its last events may still need copying.
      if (doc.copyPending && !this.copied.has(runId) && (owner === this.id || !(await this.liveReplicas()).includes(owner ?? ""))) {
        this.track(runId, this.copyLast(runId, doc.outbox ?? [], doc.itemOutbox));
      }
      return undefined;
    }
    if (owner !== this.id && owner !== null && (await this.liveReplicas()).includes(owner)) return undefined;
    return this.take(runId, owner);
  }

  /**
   * Finished runs whose owner died between their last commit and copying its
   * events: nobody claims a finished run, so their outbox is copied here.
   */
  private async copyAbandonedOutboxes(live: string[], limit: number): Promise<void> {
    const runs = await this.runs
      .find({ copyPending: true, driving: false, owner: { $nin: live } }, { projection: { _id: 1, outbox: 1, itemOutbox: 1 } })
      .limit(limit)
      .toArray();
    for (const r of runs) await this.copyLast(r._id, r.outbox ?? [], r.itemOutbox);
  }

  /** Compare-and-set on the owner the caller saw: of several claimers, one wins. */
  private async take(runId: string, from: string | null): Promise<RunRecord | undefined> {
    const doc = await this.runs.findOneAndUpdate(
      { _id: runId, owner: from, driving: true },
      { $set: { owner: this.id } },
      { returnDocument: "after" },
    );
    if (!doc) return undefined;
    // The previous owner may have died between a commit and copying its events.
    const previous = this.copied.get(runId) ?? Promise.resolve();
    this.track(runId, previous.then(() => this.copyOutboxes(runId, doc.outbox ?? [], doc.itemOutbox)));
    // Owned now: no commit can be newer than the document read (a late copy is of an older one).
    const run = await this.withItems(doc, true);
    return run === "newer" ? undefined : run;
  }

  async cancelRequests(): Promise<CancelRequest[]> {
    const docs = await this.runs
      .find(
        { driving: true, owner: this.id, state: { $in: [...CANCELLABLE_RUN_STATES] }, cancelRequest: { $exists: true } },
        { projection: { _id: 1, cancelRequest: 1 } },
      )
      .toArray();
    return docs.map((d) => ({ runId: d._id, reason: d.cancelRequest?.reason ?? "" }));
  }

  async requestCancel(runId: string, reason: string): Promise<boolean> {
    const res = await this.runs.updateOne(
      { _id: runId, state: { $in: [...CANCELLABLE_RUN_STATES] } },
      { $set: { cancelRequest: { reason, at: Date.now() } } },
    );
    if (res.matchedCount === 0) return false;
    await this.notify({ notice: "cancel", target: runId, reason, ts: new Date() });
    return true;
  }

  async release(runIds: string[]): Promise<void> {
    for (let i = 0; i < runIds.length; i += RELEASE_CHUNK) {
      await this.runs.updateMany(
        { _id: { $in: runIds.slice(i, i + RELEASE_CHUNK) }, owner: this.id },
        { $set: { owner: null } },
      );
    }
    // Nothing this replica owned may stay behind, even runs it was not driving right now.
    await this.runs.updateMany({ driving: true, owner: this.id }, { $set: { owner: null } });
    await this.replicas.deleteOne({ _id: this.id });
    await this.notify({ notice: "released", ts: new Date() });
  }

  private async notify(notice: NoticeDoc): Promise<void> {
    // Notices share the events collection so that one change stream carries everything.
    await this.db.collection<NoticeDoc>(COLLECTIONS.events).insertOne(notice);
  }

  // ---- concurrency slots --------------------------------------------------------------------
  // One document per key: {_id: key, count, holders}. Taking a slot is one
  // conditional update (count below the limit, holder not in yet), so replicas
  // racing for the last slot cannot both get it: the loser's upsert meets the
  // existing document and fails with a duplicate key.

  private get slots(): Collection<SlotDoc> {
    return this.db.collection<SlotDoc>(COLLECTIONS.concurrencySlots);
  }

  async acquireSlot(key: string, holder: string, limit: number): Promise<boolean> {
    try {
      const r = await this.slots.updateOne(
        { _id: key, holders: { $ne: holder }, count: { $lt: limit } },
        { $inc: { count: 1 }, $push: { holders: holder } },
        { upsert: true },
      );
      if (r.modifiedCount === 1 || r.upsertedCount === 1) return true;
    } catch (err) {
      if (!isDuplicateKey(err)) throw unavailable(err);
    }
    const doc = await mapped(this.slots.findOne({ _id: key }));
    return doc?.holders.includes(holder) ?? false;
  }

  async holdSlot(key: string, holder: string): Promise<void> {
    try {
      await this.slots.updateOne({ _id: key, holders: { $ne: holder } }, { $inc: { count: 1 }, $push: { holders: holder } }, { upsert: true });
    } catch (err) {
      // The document exists and names the holder already.
      if (!isDuplicateKey(err)) throw unavailable(err);
    }
  }

  async releaseSlot(key: string, holder: string): Promise<void> {
    await mapped(this.slots.updateOne({ _id: key, holders: holder }, { $inc: { count: -1 }, $pull: { holders: holder } }));
  }

  async slotHolders(keys: string[]): Promise<Map<string, string[]>> {
    const docs = await mapped(this.slots.find({ _id: { $in: keys } }).toArray());
    return new Map(docs.filter((d) => d.holders.length > 0).map((d) => [d._id, d.holders]));
  }

  // ---- settings shared by every replica ---------------------------------------------------

  /** The stored value of a setting, or `make()` stored now if there is none (first writer wins). */
  async sharedSetting(key: string, make: () => string): Promise<string> {
    const settings = this.db.collection<{ _id: string; value: string }>(COLLECTIONS.settings);
    try {
      await settings.insertOne({ _id: key, value: make() });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
    const doc = await settings.findOne({ _id: key });
    if (!doc) throw new Error(`setting ${key} vanished`);
    return doc.value;
  }
}
