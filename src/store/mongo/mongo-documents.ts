// How runs and events look as MongoDB documents, and the mapping both ways.
//
// Handler-supplied JSON (step results, the workflow spec with its context) is
// kept as JSON text: any key a handler returns ("$ref", "a.b", "") is then
// safe, and numbers come back exactly as they went in.
import { type ItemRecord, type RunEvent, type RunHeader, type RunRecord, type RunState, runHeader, type StepRecord } from "../../domain/run-record.ts";
import type { JsonValue, WorkflowSpec } from "../../domain/workflow-spec.ts";
import { labelPairs } from "../../domain/run-labels.ts";
import { jsonText } from "../../domain/json-text.ts";

export const COLLECTIONS = {
  runs: "runs",
  events: "events",
  items: "items",
  itemStage: "item_stage",
  replicas: "replicas",
  settings: "settings",
  concurrencySlots: "concurrency_slots",
} as const;

/** The slots of one concurrency key: its holders, and their number (kept with them in one document, so one update checks and takes). */
export interface SlotDoc {
  _id: string;
  count: number;
  holders: string[];
}

/** A step as stored: the record with its result as JSON text. */
export type StepDoc = Omit<StepRecord, "result"> & { resultJson?: string };

/** An event as stored: the RunEvent with its result as JSON text, its run's workflow name and an insert time. */
export type EventDoc = Omit<RunEvent, "result"> & {
  /** `<runId>:<seq>`: inserting an event twice is a duplicate-key no-op. */
  _id: string;
  workflowId: string;
  resultJson?: string;
  /** When the event reached this collection (the inserting replica's clock): the polling feed's cursor. */
  ts: Date;
};

/** A hint to other replicas, kept in the events collection so that one change stream carries everything. */
export interface NoticeDoc {
  notice: "cancel" | "released";
  target?: string;
  reason?: string;
  ts: Date;
}

export interface RunDoc {
  _id: string;
  workflowId: string;
  /** Absent without one: the unique index is sparse. */
  requestId?: string;
  state: RunState;
  /** needsDriving(header): the run still has steps, compensations or a webhook to deliver. */
  driving: boolean;
  /** The replica driving the run; null once handed back. */
  owner: string | null;
  createdAt: number;
  header: RunHeader;
  spec: string;
  steps: StepDoc[];
  /**
   * Map steps' item lists by step index (absent until one starts): their length
   * and the version of the commit that started them. The items are in the items
   * collection; one not there has not started ({state: pending, attempts: 0}).
   */
  itemLists?: Record<string, ItemListDoc>;
  /** Map steps' items kept in the run document itself, by step index (runs written before items had their own collection). */
  items?: Record<string, ItemDoc[]>;
  version: number;
  lastSeq: number;
  /**
   * The events of the latest commit, written in the same single-document update
   * as the state they describe, then copied to the events collection before the
   * run's next commit (a transactional outbox inside the run document).
   */
  outbox: EventDoc[];
  /** The latest commit's item changes, copied to the items collection like the outbox (absent when it changed none). */
  itemOutbox?: ItemOutboxDoc;
  /**
   * Set by a run's last commit (the run stops needing a driver) until its outbox
   * is copied: nobody claims a finished run, so a survivor copies the outbox of
   * one whose owner died in between.
   */
  copyPending?: true;
  cancelRequest?: { reason: string; at: number };
  /** The spec's labels as "key=value" strings (keys have no '='): a multikey index serves label filters. Absent without labels. */
  labels?: string[];
  /** Set once the run finished and has nothing left to deliver: its finish time (retention, DeleteWorkflow). */
  finishedAt?: number;
}

/** A map step's item list: how many items, and the run version that started the list (older item rows are of an earlier list). */
export interface ItemListDoc {
  n: number;
  v: number;
}

/** One changed item of a commit: step index, item index, record. */
export interface ItemChangeDoc {
  s: number;
  i: number;
  d: ItemDoc;
}

/**
 * A commit's item changes, stamped with the commit's run version: inline, or
 * (when large) in `chunks` documents of the item_stage collection whose ids
 * start with `<runId>:<key>:`.
 */
export interface ItemOutboxDoc {
  v: number;
  /** Steps whose list started with this commit: rows of an earlier list of theirs are dropped. */
  resets?: number[];
  items?: ItemChangeDoc[];
  staged?: { key: string; chunks: number };
}

/** An item in the items collection: `<runId>:<step>:<index>`, the run version that wrote it (copies never go back to an older one). */
export interface ItemRowDoc {
  _id: string;
  runId: string;
  s: number;
  i: number;
  v: number;
  d: ItemDoc;
}

/** A chunk of a large commit's item changes, written before the commit and removed once copied. */
export interface ItemStageDoc {
  _id: string;
  runId: string;
  items: ItemChangeDoc[];
}

export function itemRowId(runId: string, step: number, index: number): string {
  return `${runId}:${step}:${index}`;
}

export function stageChunkIds(runId: string, staged: { key: string; chunks: number }): string[] {
  return Array.from({ length: staged.chunks }, (_, k) => `${runId}:${staged.key}:${k}`);
}

/** An item that has not started: not stored. */
export function isUnstartedItem(it: ItemRecord): boolean {
  return it.state === "pending" && it.attempts === 0 && Object.keys(it).length === 2;
}

/** A label as stored and indexed. */
export function labelString(key: string, value: string): string {
  return `${key}=${value}`;
}

export function stepToDoc(st: StepRecord): StepDoc {
  if (!("result" in st)) return st;
  const { result, ...rest } = st;
  return result === undefined ? rest : { ...rest, resultJson: jsonText(result) };
}

export function stepFromDoc(doc: StepDoc): StepRecord {
  if (doc.resultJson === undefined) return doc;
  const { resultJson, ...rest } = doc;
  return { ...rest, result: JSON.parse(resultJson) as JsonValue };
}

/** An item of a map step as stored: the record with its result as JSON text. */
export type ItemDoc = Omit<ItemRecord, "result"> & { resultJson?: string };

export function itemToDoc(it: ItemRecord): ItemDoc {
  if (!("result" in it)) return it;
  const { result, ...rest } = it;
  return result === undefined ? rest : { ...rest, resultJson: jsonText(result) };
}

export function itemFromDoc(doc: ItemDoc): ItemRecord {
  if (doc.resultJson === undefined) return doc;
  const { resultJson, ...rest } = doc;
  return { ...rest, result: JSON.parse(resultJson) as JsonValue };
}

export function eventToDoc(e: RunEvent, workflowId: string, ts: Date): EventDoc {
  const doc: EventDoc = {
    _id: `${e.runId}:${e.seq}`,
    runId: e.runId,
    seq: e.seq,
    workflowId,
    at: e.at,
    kind: e.kind,
    from: e.from,
    to: e.to,
    ts,
  };
  if (e.stepId !== undefined) doc.stepId = e.stepId;
  if (e.attempt !== undefined) doc.attempt = e.attempt;
  if (e.item !== undefined) doc.item = e.item;
  if (e.error !== undefined) doc.error = e.error;
  if (e.result !== undefined) doc.resultJson = jsonText(e.result);
  if (e.redriven) doc.redriven = true;
  if (e.waitingFor !== undefined) doc.waitingFor = e.waitingFor;
  if (e.rerunOf !== undefined) doc.rerunOf = e.rerunOf;
  return doc;
}

export function eventFromDoc(doc: EventDoc): RunEvent {
  const e: RunEvent = { runId: doc.runId, seq: doc.seq, at: doc.at, kind: doc.kind, from: doc.from, to: doc.to };
  if (doc.stepId !== undefined && doc.stepId !== null) e.stepId = doc.stepId;
  if (doc.attempt !== undefined && doc.attempt !== null) e.attempt = doc.attempt;
  if (doc.item !== undefined && doc.item !== null) e.item = doc.item;
  if (doc.error !== undefined && doc.error !== null) e.error = doc.error;
  if (doc.waitingFor !== undefined && doc.waitingFor !== null) e.waitingFor = doc.waitingFor;
  if (doc.resultJson !== undefined && doc.resultJson !== null) e.result = JSON.parse(doc.resultJson) as JsonValue;
  if (doc.redriven === true) e.redriven = true;
  if (typeof doc.rerunOf === "string") e.rerunOf = doc.rerunOf;
  return e;
}

export function runToDoc(run: RunRecord, owner: string, events: EventDoc[], driving: boolean): RunDoc {
  const header = runHeader(run);
  const doc: RunDoc = {
    _id: run.runId,
    workflowId: run.spec.workflowId,
    state: run.state,
    driving,
    owner,
    createdAt: run.createdAt,
    header,
    spec: JSON.stringify(run.spec),
    steps: run.steps.map(stepToDoc),
    version: run.version,
    lastSeq: run.lastSeq,
    outbox: events,
  };
  if (run.spec.requestId !== undefined) doc.requestId = run.spec.requestId;
  const labels = labelPairs(run.spec.labels);
  if (labels.length > 0) doc.labels = labels.map(([k, v]) => labelString(k, v));
  if (!driving && run.completedAt !== undefined) doc.finishedAt = run.completedAt;
  // A rerun starts with the items of the map steps it copied (their rows are written before the run).
  if (run.items) doc.itemLists = Object.fromEntries(Object.entries(run.items).map(([step, list]) => [step, { n: list.length, v: run.version }]));
  return doc;
}

/** A run from its document, without its map steps' items (the store reads those: MongoWorkflowStore.readItems). */
export function runFromDoc(doc: RunDoc): RunRecord {
  const run: RunRecord = {
    ...doc.header,
    runId: doc._id,
    spec: JSON.parse(doc.spec) as WorkflowSpec,
    createdAt: doc.createdAt,
    steps: doc.steps.map(stepFromDoc),
    version: doc.version,
    lastSeq: doc.lastSeq,
  };
  if (doc.cancelRequest) run.cancelRequest = { reason: doc.cancelRequest.reason, at: doc.cancelRequest.at };
  return run;
}
