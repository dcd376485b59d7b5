// The gate of concurrency keys (README "Concurrency keys"): queues the runs
// and steps of this process that wait for a slot of their key, asks the pure
// admission model (src/domain/concurrency-admission.ts) which go first, and
// takes their slots in the store, where the limit is enforced (across
// replicas on MongoDB).
//
// - A slot given back here wakes the key's waiters at once; slots given back
//   by another replica are found by polling while waiters are blocked.
// - A slot whose holder settled without giving it back (the process died
//   between the commit and the release) is found when its key blocks waiters:
//   each holder that does not wait here is checked against its run, and one
//   whose run or step has settled is released. So no slot leaks for ever.
import type { Logger } from "pino";
import { type KeyState, planAdmissions, type Waiter } from "../domain/concurrency-admission.ts";
import type { Clock } from "../ports/clock.ts";
import type { ConcurrencySlots } from "../ports/concurrency-slots.ts";

export interface GateRequest {
  /** The key's scope (Concurrency.scope). */
  key: string;
  limit: number;
  /** The slot holder (slotHolder()). */
  holder: string;
  priority: number;
  queuedAt: number;
  /** Called once the slot is taken (the caller starts the run or step). */
  grant: () => void;
}

export interface GateOptions {
  slots: ConcurrencySlots;
  clock: Clock;
  log: Logger;
  /** False when the holder's run or step has settled (it no longer needs a slot). */
  stillHolds: (holder: string) => Promise<boolean>;
  /** How often blocked waiters look again (slots freed on other replicas, stale holders). */
  pollMs?: number;
  /** Admissions per pass at most (store round trips stay bounded; keys take turns). */
  batch?: number;
  /** How often one key's holders are checked for settled runs while it blocks waiters. */
  staleCheckMs?: number;
}

interface Entry extends Waiter {
  request: GateRequest;
}

export class ConcurrencyGate {
  private readonly slots: ConcurrencySlots;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly stillHolds: (holder: string) => Promise<boolean>;
  private readonly pollMs: number;
  private readonly batch: number;
  /** Waiters by key, then by holder. */
  private readonly waiters = new Map<string, Map<string, Entry>>();
  private readonly keyOf = new Map<string, string>();
  private seq = 0;
  /** The key served last (round-robin resumes after it). */
  private last: string | undefined;
  private pumping: Promise<void> | undefined;
  private again = false;
  private cancelPoll: (() => void) | undefined;
  private stopped = false;
  private readonly staleCheckMs: number;
  /** When each key's holders were last checked. */
  private readonly checkedAt = new Map<string, number>();

  constructor(options: GateOptions) {
    this.slots = options.slots;
    this.clock = options.clock;
    this.log = options.log;
    this.stillHolds = options.stillHolds;
    this.pollMs = options.pollMs ?? 500;
    this.batch = options.batch ?? 100;
    this.staleCheckMs = options.staleCheckMs ?? 5000;
  }

  /** Runs and steps waiting here (for metrics and tests). */
  get waiting(): number {
    return this.keyOf.size;
  }

  /** Queues a waiter (again: a repeated request keeps its place and takes the new grant). */
  request(r: GateRequest): void {
    if (this.stopped) return;
    const existing = this.waiters.get(r.key)?.get(r.holder);
    if (existing) {
      existing.request = r;
      return;
    }
    let byHolder = this.waiters.get(r.key);
    if (!byHolder) this.waiters.set(r.key, (byHolder = new Map()));
    byHolder.set(r.holder, { id: r.holder, priority: r.priority, queuedAt: r.queuedAt, seq: this.seq++, request: r });
    this.keyOf.set(r.holder, r.key);
    this.schedule();
  }

  /** Drops a waiter (its run ended or is no longer driven here). */
  forget(holder: string): void {
    const key = this.keyOf.get(holder);
    if (key === undefined) return;
    this.keyOf.delete(holder);
    const byHolder = this.waiters.get(key);
    byHolder?.delete(holder);
    if (byHolder?.size === 0) this.waiters.delete(key);
  }

  /** The holder keeps its slot whatever the limit (work in flight before a restart). */
  async hold(key: string, holder: string): Promise<void> {
    this.forget(holder);
    await this.slots.holdSlot(key, holder);
  }

  /** Gives a slot back (and drops the holder's wait, if any); the key's waiters are looked at again. */
  async release(key: string, holder: string): Promise<void> {
    this.forget(holder);
    await this.slots.releaseSlot(key, holder);
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.cancelPoll?.();
    this.waiters.clear();
    this.keyOf.clear();
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.cancelPoll?.();
    this.cancelPoll = undefined;
    this.pumping = (async () => {
      let blocked = false;
      do {
        this.again = false;
        try {
          blocked = await this.pass();
        } catch (err) {
          this.log.warn({ err }, "concurrency keys: could not admit waiting runs and steps; trying again");
          blocked = true;
        }
      } while (this.again && !this.stopped);
      return blocked;
    })().then((blocked) => {
      this.pumping = undefined;
      if (this.again) this.schedule();
      else if (blocked && this.waiters.size > 0 && !this.stopped) {
        this.cancelPoll = this.clock.setTimer(() => {
          this.cancelPoll = undefined;
          this.schedule();
        }, this.pollMs);
      }
    });
  }

  /** One admission pass; true when waiters are left blocked (look again later). */
  private async pass(): Promise<boolean> {
    for (;;) {
      if (this.waiters.size === 0 || this.stopped) return false;
      const keys = [...this.waiters.keys()];
      const holders = await this.slots.slotHolders(keys);
      const state: KeyState[] = keys.map((key) => {
        const entries = [...this.waiters.get(key)!.values()];
        return { key, limit: Math.max(...entries.map((e) => e.request.limit)), holding: holders.get(key)?.length ?? 0, waiters: entries };
      });
      const { admit } = planAdmissions(state, this.last, this.batch);
      const full = new Set<string>(state.filter((k) => k.holding >= k.limit).map((k) => k.key));
      let admitted = 0;
      for (const { key, waiter } of admit) {
        if (this.stopped) return false;
        if (full.has(key)) continue;
        const entry = this.waiters.get(key)?.get(waiter.id);
        if (!entry) continue;
        if (await this.slots.acquireSlot(key, entry.id, entry.request.limit)) {
          // Still waiting (not forgotten meanwhile)? Then it starts; otherwise the slot goes back.
          if (this.waiters.get(key)?.get(waiter.id) === entry) {
            this.forget(entry.id);
            this.last = key;
            admitted++;
            entry.request.grant();
          } else {
            await this.slots.releaseSlot(key, entry.id);
          }
        } else {
          full.add(key);
        }
      }
      if (admitted > 0) continue;
      // Nothing could start: look for slots whose holders have settled.
      let freed = 0;
      const now = this.clock.now();
      for (const key of full) {
        if (!this.waiters.has(key) || now - (this.checkedAt.get(key) ?? -Infinity) < this.staleCheckMs) continue;
        this.checkedAt.set(key, now);
        for (const h of holders.get(key) ?? []) {
          if (this.keyOf.has(h)) continue;
          if (!(await this.stillHolds(h))) {
            await this.slots.releaseSlot(key, h);
            this.log.info({ key, holder: h }, "concurrency keys: released a slot whose run or step had settled");
            freed++;
          }
        }
      }
      if (freed === 0) return this.waiters.size > 0;
    }
  }
}
