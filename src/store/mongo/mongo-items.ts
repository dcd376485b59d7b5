// Map steps' items on MongoDB: one document per item that has started, in the
// items collection, so that a run document stays small whatever its map steps
// hold and an item's change rewrites one small document.
//
// The same transactional outbox as the events: a commit's item changes are
// written in the run document's update (`itemOutbox`, stamped with the run's
// new version) and copied to the items collection before the run's next
// commit; whoever takes a run over copies the outbox it finds first. A copy
// never replaces an item written by a later version, so a late copy from a
// replica that lost the run is harmless. Readers merge the outbox over the
// collection. When a commit changes many items at once (cancelling or
// redriving thousands), its changes are staged in documents of their own
// before the commit and the outbox names them.
import { randomBytes } from "node:crypto";
import type { AnyBulkWriteOperation, Collection } from "mongodb";
import { MONGODB_INLINE_ITEM_BYTES, MONGODB_ITEM_BYTES } from "../../domain/map-step.ts";
import type { ItemRecord, RunPatch, RunRecord } from "../../domain/run-record.ts";
import { MAX_ITEM_ERROR_LENGTH } from "../../domain/run-machine.ts";
import {
  type ItemChangeDoc,
  itemFromDoc,
  type ItemListDoc,
  type ItemOutboxDoc,
  itemRowId,
  type ItemRowDoc,
  type ItemStageDoc,
  itemToDoc,
  isUnstartedItem,
  type RunDoc,
  stageChunkIds,
} from "./mongo-documents.ts";
import { duplicateKeyIndexes, sleep } from "./mongo-errors.ts";

/** A staged chunk holds changes estimated at most this large (a document is 16 MiB at most). */
const CHUNK_BYTES = 4 * 1024 * 1024;
/** Operations per bulk write when copying. */
const BULK = 1000;
/** Batches of at least this many changes are inserted first (see copyOnce). */
const INSERT_FIRST = 100;

/** What a commit's item changes add to the run document's update, and the chunks to stage before it. */
export interface PreparedItems {
  /** `$set` fields: started lists and the outbox. */
  set: Record<string, unknown>;
  /** The outbox written (undefined: the commit changed no item, and the previous outbox is dropped). */
  outbox?: ItemOutboxDoc;
  chunks: ItemStageDoc[];
}

function unstarted(): ItemRecord {
  return { state: "pending", attempts: 0 };
}

/** What a change takes as BSON besides its error message and result (MONGODB_ITEM_BYTES less the longest message). */
const CHANGE_BASE_BYTES = MONGODB_ITEM_BYTES - 3 * MAX_ITEM_ERROR_LENGTH;

/** An upper bound of a change's BSON size: the base, and its error message and result's JSON at 3 bytes per character. */
export function itemChangeBytes(change: ItemChangeDoc): number {
  return CHANGE_BASE_BYTES + 3 * ((change.d.error?.message.length ?? 0) + (change.d.resultJson?.length ?? 0));
}

export class MongoItems {
  private closed = false;
  private readonly rows: Collection<ItemRowDoc>;
  private readonly stage: Collection<ItemStageDoc>;
  private readonly onCopyError: (err: unknown) => void;

  constructor(rows: Collection<ItemRowDoc>, stage: Collection<ItemStageDoc>, onCopyError: (err: unknown) => void) {
    this.rows = rows;
    this.stage = stage;
    this.onCopyError = onCopyError;
  }

  ensureIndexes(): Promise<unknown> {
    return Promise.all([
      this.rows.createIndex({ runId: 1, s: 1 }, { name: "run_step" }),
      this.stage.createIndex({ runId: 1 }, { name: "run" }),
    ]);
  }

  close(): void {
    this.closed = true;
  }

  /** The item side of a commit: lists that start, and every item that changed (items that have not started are not stored). */
  prepare(patch: RunPatch): PreparedItems {
    const set: Record<string, unknown> = {};
    const changes: ItemChangeDoc[] = [];
    const lists = new Set<number>();
    for (const { step, records } of patch.itemLists ?? []) {
      lists.add(step);
      set[`itemLists.${step}`] = { n: records.length, v: patch.version } satisfies ItemListDoc;
      records.forEach((record, i) => {
        if (!isUnstartedItem(record)) changes.push({ s: step, i, d: itemToDoc(record) });
      });
    }
    for (const { step, index, record } of patch.items ?? []) if (!lists.has(step)) changes.push({ s: step, i: index, d: itemToDoc(record) });
    if (changes.length === 0 && lists.size === 0) return { set, chunks: [] };
    const outbox: ItemOutboxDoc = { v: patch.version };
    if (lists.size > 0) outbox.resets = [...lists];
    let bytes = 0;
    for (const c of changes) bytes += itemChangeBytes(c);
    const chunks: ItemStageDoc[] = [];
    if (bytes <= MONGODB_INLINE_ITEM_BYTES) {
      outbox.items = changes;
    } else {
      const key = `${patch.version}:${randomBytes(6).toString("hex")}`;
      let current: ItemChangeDoc[] = [];
      let size = 0;
      const flush = () => {
        chunks.push({ _id: `${patch.runId}:${key}:${chunks.length}`, runId: patch.runId, items: current });
        current = [];
        size = 0;
      };
      for (const c of changes) {
        const e = itemChangeBytes(c);
        if (current.length > 0 && size + e > CHUNK_BYTES) flush();
        current.push(c);
        size += e;
      }
      if (current.length > 0) flush();
      outbox.staged = { key, chunks: chunks.length };
    }
    set.itemOutbox = outbox;
    return { set, outbox, chunks };
  }

  /** Writes a large commit's chunks (before the commit that names them). */
  async writeChunks(chunks: ItemStageDoc[]): Promise<void> {
    if (chunks.length > 0) await this.stage.insertMany(chunks, { ordered: false });
  }

  /** Removes the chunks of a commit that was not applied (best effort: the run's deletion removes any left). */
  async discardChunks(chunks: ItemStageDoc[]): Promise<void> {
    if (chunks.length === 0) return;
    try {
      await this.stage.deleteMany({ _id: { $in: chunks.map((c) => c._id) } });
    } catch (err) {
      this.onCopyError(err);
    }
  }

  /** The rows of a new run's items (a rerun's copied map steps), written before the run document. */
  async writeInitial(run: RunRecord): Promise<void> {
    const ops: AnyBulkWriteOperation<ItemRowDoc>[] = [];
    for (const [step, list] of Object.entries(run.items ?? {})) {
      list.forEach((record, i) => {
        if (isUnstartedItem(record)) return;
        const s = Number(step);
        const row = this.row(run.runId, { s, i, d: itemToDoc(record) }, run.version);
        ops.push({ replaceOne: { filter: { _id: row._id, runId: run.runId }, replacement: row, upsert: true } });
      });
    }
    for (let k = 0; k < ops.length; k += BULK) await this.rows.bulkWrite(ops.slice(k, k + BULK), { ordered: false });
  }

  /** Copies an outbox to the items collection (idempotent; retried until it succeeds or the store closes). */
  async copy(runId: string, outbox: ItemOutboxDoc | undefined): Promise<void> {
    if (!outbox) return;
    for (let delay = 50; !this.closed; delay = Math.min(delay * 2, 2000)) {
      try {
        await this.copyOnce(runId, outbox);
        return;
      } catch (err) {
        this.onCopyError(err);
        await sleep(delay);
      }
    }
  }

  private async copyOnce(runId: string, outbox: ItemOutboxDoc): Promise<void> {
    const staged = outbox.staged ? stageChunkIds(runId, outbox.staged) : [];
    const changes = outbox.staged ? await this.readChunks(staged) : (outbox.items ?? []);
    // Rows of a list that started again (a step's earlier list) go first.
    if (outbox.resets?.length) await this.rows.deleteMany({ runId, s: { $in: outbox.resets }, v: { $lt: outbox.v } });
    for (let k = 0; k < changes.length; k += BULK) {
      let batch = changes.slice(k, k + BULK);
      // A large batch is mostly items written for the first time (a map starting, thousands
      // cancelled before they started): inserted in one go; those already there are updated.
      if (batch.length >= INSERT_FIRST) {
        try {
          await this.rows.insertMany(batch.map((c) => this.row(runId, c, outbox.v)), { ordered: false });
          batch = [];
        } catch (err) {
          const existing = duplicateKeyIndexes(err, batch.length);
          if (!existing) throw err;
          batch = existing.map((i) => batch[i]);
        }
      }
      if (batch.length === 0) continue;
      // Only over an older version: where a later commit's copy is already in, the upsert meets
      // the existing _id and fails with a duplicate key, which leaves the later item in place.
      const ops: AnyBulkWriteOperation<ItemRowDoc>[] = batch.map((c) => {
        const { _id, ...fields } = this.row(runId, c, outbox.v);
        return { updateOne: { filter: { _id, runId, v: { $lt: outbox.v } }, update: { $set: fields }, upsert: true } };
      });
      try {
        await this.rows.bulkWrite(ops, { ordered: false });
      } catch (err) {
        if (!duplicateKeyIndexes(err, ops.length)) throw err;
      }
    }
    if (staged.length > 0) await this.stage.deleteMany({ _id: { $in: staged } });
  }

  private row(runId: string, c: ItemChangeDoc, v: number): ItemRowDoc {
    return { _id: itemRowId(runId, c.s, c.i), runId, s: c.s, i: c.i, v, d: c.d };
  }

  private async readChunks(ids: string[]): Promise<ItemChangeDoc[]> {
    const docs = await this.stage.find({ _id: { $in: ids } }).toArray();
    const order = new Map(ids.map((id, k) => [id, k]));
    docs.sort((a, b) => order.get(a._id)! - order.get(b._id)!);
    return docs.flatMap((d) => d.items);
  }

  /**
   * The items of a run as of its document's version: the lists, the rows of
   * the collection and the outbox over them. "newer" when a row was written by
   * a later commit than the document read (read the document again), unless
   * `acceptNewer`.
   */
  async read(doc: RunDoc, acceptNewer = false): Promise<RunRecord["items"] | "newer"> {
    const lists = new Map<number, { n: number; v: number }>();
    for (const [s, list] of Object.entries(doc.items ?? {})) lists.set(Number(s), { n: list.length, v: -1 });
    for (const [s, list] of Object.entries(doc.itemLists ?? {})) lists.set(Number(s), list);
    if (lists.size === 0) return undefined;
    const items: NonNullable<RunRecord["items"]> = {};
    const versions: Record<number, Int32Array> = {};
    for (const [s, { n }] of lists) {
      const legacy = doc.itemLists?.[s] === undefined ? doc.items?.[s] : undefined;
      items[s] = legacy ? legacy.map(itemFromDoc) : Array.from({ length: n }, unstarted);
      versions[s] = new Int32Array(n).fill(-1);
    }
    const apply = (s: number, i: number, v: number, d: ItemChangeDoc["d"]) => {
      const list = lists.get(s);
      if (!list || i < 0 || i >= list.n || v < list.v || v < versions[s][i]) return;
      versions[s][i] = v;
      items[s][i] = itemFromDoc(d);
    };
    // Document first, then the staged chunks, then the rows: what a copy moved out of the
    // chunks in between is in the rows by the time they are read.
    const outbox = doc.itemOutbox;
    const staged = outbox?.staged ? await this.readChunks(stageChunkIds(doc._id, outbox.staged)) : [];
    const rows = await this.rows.find({ runId: doc._id }, { projection: { _id: 0, s: 1, i: 1, v: 1, d: 1 } }).toArray();
    for (const r of rows) {
      if (r.v > doc.version && !acceptNewer) return "newer";
      apply(r.s, r.i, r.v, r.d);
    }
    if (outbox) for (const c of outbox.items ?? staged) apply(c.s, c.i, outbox.v, c.d);
    return items;
  }

  /** Deletes the items (and any staged chunks) of runs that were deleted. */
  async deleteRuns(runIds: string[]): Promise<void> {
    if (runIds.length === 0) return;
    const filter = runIds.length === 1 ? { runId: runIds[0] } : { runId: { $in: runIds } };
    await Promise.all([this.rows.deleteMany(filter), this.stage.deleteMany(filter)]);
  }
}
