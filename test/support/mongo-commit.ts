// What a replica's commit leaves on MongoDB when the replica dies right after
// it, before copying its outboxes: the run document's update (built as the
// store builds it) and a large commit's staged item chunks, nothing copied.
import type { RunPatch } from "../../src/domain/run-record.ts";
import { COLLECTIONS, eventToDoc, type ItemRowDoc, type ItemStageDoc } from "../../src/store/mongo/mongo-documents.ts";
import { MongoItems } from "../../src/store/mongo/mongo-items.ts";
import { type MongoWorkflowStore, patchSet } from "../../src/store/mongo/mongo-store.ts";

/** The store's item collections, for tests that copy or inspect items themselves. */
export function itemCollections(store: MongoWorkflowStore) {
  return { rows: store.db.collection<ItemRowDoc>(COLLECTIONS.items), stage: store.db.collection<ItemStageDoc>(COLLECTIONS.itemStage) };
}

/** Writes the commit as `store` would, without copying its events or items anywhere; returns what a copy would need. */
export async function commitWithoutCopy(store: MongoWorkflowStore, patch: RunPatch, committedAt = new Date()) {
  const { rows, stage } = itemCollections(store);
  const items = new MongoItems(rows, stage, () => {});
  const prepared = items.prepare(patch);
  await items.writeChunks(prepared.chunks);
  const outbox = patch.events.map((e) => eventToDoc(e, patch.workflowId, committedAt));
  await store.runs.updateOne({ _id: patch.runId }, { $set: patchSet(patch, outbox, prepared.set) });
  return { outbox, itemOutbox: prepared.outbox, items };
}
