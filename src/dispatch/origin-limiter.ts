// The limits of one handler origin: at most `maxInflight` calls in flight, and
// calls started at most at `ratePerSecond` (a token bucket of `burst` tokens,
// full at first, refilled continuously). Calls that may not start yet wait in a
// FIFO queue; one that gives up (its call was aborted) leaves it at once and
// never takes a slot or a token. Every operation is O(1) (the queue is a doubly
// linked list through the waiting calls themselves, so queuing allocates nothing);
// with no rate limit, entering is two comparisons and an add.
import type { HostLimit } from "../domain/host-limits.ts";
import type { Clock } from "../ports/clock.ts";

/** A call that may wait in an origin's queue. The links belong to the limiter. */
export abstract class Waiter {
  prevWaiter: Waiter | undefined = undefined;
  nextWaiter: Waiter | undefined = undefined;
  /** In a queue now. */
  inQueue = false;
  /** It holds a slot (and a token) now: send it. Never called from within wait(). */
  abstract admit(): void;
  /** The limiter was closed while it waited: it will not be sent. */
  abstract drop(): void;
}

/** Floating-point slack when comparing refilled tokens with 1. */
const EPSILON = 1e-9;

export class OriginLimiter {
  readonly limit: HostLimit;
  private readonly clock: Clock;
  #inflight = 0;
  #waiting = 0;
  private head: Waiter | undefined;
  private tail: Waiter | undefined;
  private tokens: number;
  private refilledAt: number;
  private cancelTimer: (() => void) | undefined;
  private pumping = false;
  private closed = false;

  constructor(limit: HostLimit, clock: Clock) {
    if (!(limit.maxInflight >= 1)) throw new RangeError(`maxInflight must be at least 1, got ${limit.maxInflight}`);
    if (!(limit.ratePerSecond >= 0)) throw new RangeError(`ratePerSecond must be 0 (unlimited) or more, got ${limit.ratePerSecond}`);
    if (limit.ratePerSecond > 0 && !(limit.burst >= 1)) throw new RangeError(`burst must be at least 1, got ${limit.burst}`);
    this.limit = limit;
    this.clock = clock;
    this.tokens = limit.burst;
    this.refilledAt = clock.now();
  }

  /** Calls holding a slot. */
  get inflight(): number {
    return this.#inflight;
  }

  /** Calls in the queue. */
  get waiting(): number {
    return this.#waiting;
  }

  /**
   * Takes a slot (and a token) if a call may be sent now: nobody is waiting, a slot
   * is free and, with a rate, a token is there. Else false: the caller queues with wait().
   */
  tryEnter(): boolean {
    if (this.head !== undefined || this.#inflight >= this.limit.maxInflight || this.closed) return false;
    if (this.limit.ratePerSecond > 0 && !this.takeToken()) return false;
    this.#inflight++;
    return true;
  }

  /**
   * Queues a call that tryEnter() turned away: its admit() is called once it holds
   * a slot and a token, its drop() if close() comes first.
   */
  wait(w: Waiter): void {
    if (w.inQueue) throw new Error("already waiting");
    if (this.closed) {
      queueMicrotask(() => w.drop());
      return;
    }
    w.inQueue = true;
    w.prevWaiter = this.tail;
    w.nextWaiter = undefined;
    if (this.tail) this.tail.nextWaiter = w;
    else this.head = w;
    this.tail = w;
    this.#waiting++;
    // With a slot free, what it waits for is a token.
    if (this.#inflight < this.limit.maxInflight) this.arm();
  }

  /** Takes a queued call out (it was aborted): it never gets a slot. Nothing if it is not in the queue. */
  leave(w: Waiter): void {
    if (w.inQueue) this.unlink(w);
  }

  /** A call that held a slot is over: the slot goes to the first waiting call (token permitting). */
  release(): void {
    this.#inflight--;
    if (this.head !== undefined) this.pump();
  }

  /** Drops every waiting call (their `drop` is called) and stops the timer. Calls in flight are not touched. */
  close(): void {
    this.closed = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    const dropped: Waiter[] = [];
    for (let n = this.head; n !== undefined; n = n.nextWaiter) dropped.push(n);
    for (const n of dropped) this.unlink(n);
    for (const n of dropped) n.drop();
  }

  /** Nothing in flight or waiting, and the bucket full again: forgetting this origin loses nothing. */
  get idle(): boolean {
    if (this.#inflight > 0 || this.head !== undefined) return false;
    if (this.limit.ratePerSecond === 0) return true;
    this.refill();
    return this.tokens >= this.limit.burst - EPSILON;
  }

  private unlink(w: Waiter): void {
    if (w.prevWaiter) w.prevWaiter.nextWaiter = w.nextWaiter;
    else this.head = w.nextWaiter;
    if (w.nextWaiter) w.nextWaiter.prevWaiter = w.prevWaiter;
    else this.tail = w.prevWaiter;
    w.prevWaiter = w.nextWaiter = undefined;
    w.inQueue = false;
    this.#waiting--;
  }

  /** Admits waiting calls while slots and tokens allow; arms the timer when a token is what is missing. */
  private pump(): void {
    // An admitted call may finish at once (and release) from inside admit(): the outer loop carries on.
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      while (this.head !== undefined && this.#inflight < this.limit.maxInflight) {
        if (this.limit.ratePerSecond > 0 && !this.takeToken()) {
          this.arm();
          return;
        }
        const w = this.head;
        this.unlink(w);
        this.#inflight++;
        w.admit();
      }
    } finally {
      this.pumping = false;
    }
  }

  private refill(): void {
    const now = this.clock.now();
    // A wall clock stepped back: start counting again from now, adding nothing.
    if (now > this.refilledAt) {
      this.tokens = Math.min(this.limit.burst, this.tokens + ((now - this.refilledAt) * this.limit.ratePerSecond) / 1000);
    }
    this.refilledAt = now;
  }

  private takeToken(): boolean {
    this.refill();
    if (this.tokens < 1 - EPSILON) return false;
    this.tokens -= 1;
    return true;
  }

  /** Wakes the queue when the next token is due (one timer per origin at most). */
  private arm(): void {
    if (this.cancelTimer !== undefined || this.closed || this.limit.ratePerSecond === 0) return;
    this.refill();
    const ms = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.limit.ratePerSecond));
    this.cancelTimer = this.clock.setTimer(() => {
      this.cancelTimer = undefined;
      this.pump();
    }, ms);
  }
}
