// Retention: finished runs older than the retention period (by finish time) are
// deleted with their events and items, a small batch per store transaction,
// yielding to the event loop between batches so that the server keeps answering.
// One sweep at a time; a sweep that fails is logged and tried again at the next one.
import type { Logger } from "pino";
import type { Clock } from "../ports/clock.ts";
import type { WorkflowStore } from "../ports/workflow-store.ts";

export interface RetentionOptions {
  store: Pick<WorkflowStore, "deleteFinishedRuns">;
  clock: Clock;
  logger: Pick<Logger, "info" | "warn">;
  /** Runs finished longer ago than this are deleted; 0 keeps every run. */
  retentionMs: number;
  /** How often a sweep starts. */
  intervalMs: number;
  /** Runs deleted per transaction. */
  batchSize: number;
}

/** Runs per transaction: small enough that a batch holds the store only briefly. */
export const RETENTION_BATCH = 500;

/** A sweep every quarter of the retention period, at least every minute and at most every second. */
export function retentionSweepInterval(retentionMs: number): number {
  return Math.min(60_000, Math.max(1000, Math.floor(retentionMs / 4)));
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export class RetentionSweeper {
  private readonly o: RetentionOptions;
  private cancelTimer: (() => void) | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;

  constructor(options: RetentionOptions) {
    this.o = options;
  }

  start(): void {
    if (this.o.retentionMs <= 0) return;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.cancelTimer = this.o.clock.setTimer(() => {
      void this.sweep().finally(() => this.schedule());
    }, this.o.intervalMs);
  }

  /** Deletes every run that finished before now minus the retention period; resolves with how many. */
  sweep(): Promise<number> {
    this.running ??= this.sweepOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  private async sweepOnce(): Promise<number> {
    const cutoff = this.o.clock.now() - this.o.retentionMs;
    let total = 0;
    try {
      while (!this.stopped) {
        const n = await this.o.store.deleteFinishedRuns(cutoff, this.o.batchSize);
        total += n;
        if (n < this.o.batchSize) break;
        await yieldToEventLoop();
      }
    } catch (err) {
      this.o.logger.warn({ err, deleted: total }, "retention sweep failed; tried again at the next one");
    }
    if (total > 0) this.o.logger.info({ deleted: total }, "retention: deleted finished runs");
    return total;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer?.();
    await this.running;
  }
}
