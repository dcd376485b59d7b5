// The ownership port: which replica drives which run, when several Weft
// replicas share one store. A store that one process owns (the embedded
// store) has no such port: that process drives every run.
//
// The model: every replica holds a lease (a record with an expiry that it
// renews while it works); every run that still needs driving names the
// replica that drives it. A replica may take over a run whose owner's lease
// has expired or that was handed back, and the store accepts a commit only
// from the run's owner, so two replicas never both apply an outcome.
import type { RunRecord } from "../domain/run-record.ts";

/** Something another replica asked for, delivered as a hint: correctness never depends on it. */
export type OwnershipNotice =
  | { type: "cancel"; runId: string; reason: string }
  /** Runs were handed back (a replica stopped): they can be claimed now. */
  | { type: "released" };

export interface CancelRequest {
  runId: string;
  reason: string;
}

export interface RunOwnership {
  /** This replica's identity while its lease is valid; a new one after rejoin(). */
  readonly replicaId: string;
  /** How long a lease lasts without renewal. */
  readonly leaseTtlMs: number;
  /** Creates or renews this replica's lease. Rejects when storage is unreachable. */
  renewLease(): Promise<void>;
  /**
   * Takes over at most `limit` runs that need driving and whose owner's lease has
   * expired or that were released; returns them as this replica now owns them.
   */
  claimOrphans(limit: number): Promise<RunRecord[]>;
  /** Takes one run if this replica may drive it (its own, released, or its owner's lease expired). */
  claim(runId: string): Promise<RunRecord | undefined>;
  /** Cancel requests recorded for runs this replica owns. */
  cancelRequests(): Promise<CancelRequest[]>;
  /**
   * Records a cancel request for a run that another replica drives; its owner
   * applies it. Resolves false when the run is no longer pending or running.
   */
  requestCancel(runId: string, reason: string): Promise<boolean>;
  /** Hands these runs back (graceful stop) and ends this replica's lease. */
  release(runIds: string[]): Promise<void>;
  /** After the lease was lost: a new identity, so the old one's runs are claimed like any orphan's. */
  rejoin(): void;
}

/** Where notices from other replicas arrive (the store's change feed). */
export interface NoticeSource {
  subscribeNotices(listener: (notice: OwnershipNotice) => void): () => void;
}
