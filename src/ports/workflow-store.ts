// The store port: everything the engine and the API need from durable storage.
// Implemented by the embedded SQLite store and the MongoDB store; both pass
// test/contract/workflow-store.contract.ts.
import type { RunEvent, RunPatch, RunRecord, RunState, RunSummary } from "../domain/run-record.ts";

export interface ListRunsQuery {
  /** Any state when empty. */
  states: RunState[];
  workflowId?: string;
  /** Only runs whose id sorts before this one (newest-first paging). */
  beforeRunId?: string;
  limit: number;
  /** Only runs having every one of these [key, value] labels. */
  labels?: [string, string][];
  /** Only runs created at or after this time (ms; the time in the run id). */
  createdAfter?: number;
  /** Only runs created before this time (ms). */
  createdBefore?: number;
}

/** What deleteRun did: deleted the run, found none, or found one that has not finished (its state, and whether a webhook is still to be delivered). */
export type DeleteRunResult =
  | { deleted: true }
  | { deleted: false; found: false }
  | { deleted: false; found: true; state: RunState; webhookPending: boolean };

export interface CreateRunResult {
  run: RunRecord;
  /** False when run.spec.requestId matched an existing run, which is returned instead. */
  created: boolean;
}

/** The patch was computed from a version that is no longer the stored one. */
export class VersionConflictError extends Error {
  readonly runId: string;
  constructor(runId: string, expected: number, actual: number | undefined, detail?: string) {
    super(`run ${runId}: expected version ${expected}, found ${actual ?? "no run"}${detail ? ` (${detail})` : ""}`);
    this.name = "VersionConflictError";
    this.runId = runId;
  }
}

/** The storage could not be reached (network, failover): the call may be retried. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}

export interface WorkflowStore {
  /**
   * Durably stores a new run with its first events, unless a run with the same
   * spec.requestId exists: then that run is returned and nothing is written.
   */
  createRun(run: RunRecord, events: RunEvent[]): Promise<CreateRunResult>;
  /**
   * Atomically applies a patch (run header, changed steps, events) if the stored
   * version equals patch.expectedVersion; otherwise rejects with VersionConflictError
   * and writes nothing.
   */
  commit(patch: RunPatch): Promise<void>;
  /**
   * commit() for a patch that makes a finished run need driving again
   * (RedriveWorkflow, RedeliverWebhook): compare-and-set on version alone.
   * With a store shared by several replicas this replica becomes the run's
   * owner in the same write (of replicas reopening one run at once, one
   * wins), and a cancel request left from before is dropped.
   */
  reopen(patch: RunPatch): Promise<void>;
  getRun(runId: string): Promise<RunRecord | undefined>;
  /** The run created with this spec.requestId, if any (RerunWorkflow answers a repeated request from it first). */
  getRunByRequestId(requestId: string): Promise<RunRecord | undefined>;
  /** Newest first. */
  listRuns(query: ListRunsQuery): Promise<RunRecord[]>;
  /** listRuns without reading what grows with a run (context, step definitions, results) where the store can avoid it. */
  listRunSummaries(query: ListRunsQuery): Promise<RunSummary[]>;
  /** Events with seq > afterSeq, in order, at most limit. */
  listEvents(runId: string, afterSeq: number, limit: number): Promise<RunEvent[]>;
  /** Runs the engine still has work for (not terminal, or a webhook to deliver), oldest first. */
  listActiveRuns(): Promise<RunRecord[]>;
  /**
   * Deletes a run with its events, items and labels if it has finished and has
   * nothing left to deliver (it no longer needs driving).
   */
  deleteRun(runId: string): Promise<DeleteRunResult>;
  /**
   * Deletes at most `limit` runs that finished (and have nothing left to
   * deliver) before `finishedBefore` (ms), with their events, items and labels,
   * in one transaction where the store has them. Returns how many.
   */
  deleteFinishedRuns(finishedBefore: number, limit: number): Promise<number>;
  close(): Promise<void>;
}
