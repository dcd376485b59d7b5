// The per-origin limiter with a fake clock: FIFO order, the in-flight bound, the
// rate bound over every window, aborted waiters, close().
import { describe, expect, test } from "vitest";
import type { HostLimit } from "../../src/domain/host-limits.ts";
import { OriginLimiter, Waiter } from "../../src/dispatch/origin-limiter.ts";
import type { Clock } from "../../src/ports/clock.ts";

class FakeClock implements Clock {
  t = 1_000_000;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  now(): number {
    return this.t;
  }
  setTimer(fn: () => void, ms: number): () => void {
    const timer = { at: this.t + Math.max(0, ms), fn, live: true };
    this.timers.push(timer);
    return () => {
      timer.live = false;
    };
  }
  get pending(): number {
    return this.timers.filter((x) => x.live).length;
  }
  /** Moves time forward, firing due timers in order (each at its own instant). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      due.live = false;
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.timers = this.timers.filter((x) => x.live);
    this.t = end;
  }
}

class Call extends Waiter {
  readonly onAdmit: () => void;
  readonly onDrop: () => void;
  constructor(onAdmit: () => void, onDrop: () => void = () => {}) {
    super();
    this.onAdmit = onAdmit;
    this.onDrop = onDrop;
  }
  admit(): void {
    this.onAdmit();
  }
  drop(): void {
    this.onDrop();
  }
}

const limit = (l: Partial<HostLimit>): HostLimit => ({ maxInflight: 1000, ratePerSecond: 0, burst: 1, ...l });

/** A call: enters at once or waits; records when it was admitted. */
function caller(gate: OriginLimiter, clock: FakeClock) {
  const admitted: { id: number; at: number }[] = [];
  const dropped: number[] = [];
  const waiting = new Map<number, Waiter>();
  return {
    admitted,
    dropped,
    call(id: number): void {
      if (gate.tryEnter()) {
        admitted.push({ id, at: clock.now() });
        return;
      }
      const w = new Call(
        () => {
          waiting.delete(id);
          admitted.push({ id, at: clock.now() });
        },
        () => dropped.push(id),
      );
      waiting.set(id, w);
      gate.wait(w);
    },
    abort(id: number): void {
      const w = waiting.get(id);
      if (w) gate.leave(w);
      waiting.delete(id);
    },
  };
}

describe("in-flight limit", () => {
  test("never more than maxInflight hold a slot; waiting calls are admitted in FIFO order as slots free", () => {
    const clock = new FakeClock();
    const gate = new OriginLimiter(limit({ maxInflight: 3 }), clock);
    const c = caller(gate, clock);
    for (let i = 0; i < 10; i++) c.call(i);
    expect(c.admitted.map((a) => a.id)).toEqual([0, 1, 2]);
    expect(gate.inflight).toBe(3);
    expect(gate.waiting).toBe(7);
    // A newcomer queues behind the waiting ones even when a slot frees.
    gate.release();
    expect(c.admitted.map((a) => a.id)).toEqual([0, 1, 2, 3]);
    c.call(10);
    expect(gate.waiting).toBe(7);
    let maxSeen = gate.inflight;
    while (gate.waiting > 0) {
      gate.release();
      maxSeen = Math.max(maxSeen, gate.inflight);
    }
    expect(maxSeen).toBe(3);
    expect(c.admitted.map((a) => a.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  test("an aborted waiting call leaves the queue at once and never takes a slot", () => {
    const clock = new FakeClock();
    const gate = new OriginLimiter(limit({ maxInflight: 1 }), clock);
    const c = caller(gate, clock);
    for (let i = 0; i < 5; i++) c.call(i);
    c.abort(1);
    c.abort(3);
    expect(gate.waiting).toBe(2);
    gate.release();
    gate.release();
    expect(c.admitted.map((a) => a.id)).toEqual([0, 2, 4]);
    expect(gate.inflight).toBe(1);
    // Leaving twice, or after being admitted, changes nothing.
    c.abort(1);
    expect(gate.waiting).toBe(0);
  });

  test("a call that finishes inside admit() (e.g. fails synchronously) lets the next one in without recursion trouble", () => {
    const clock = new FakeClock();
    const gate = new OriginLimiter(limit({ maxInflight: 1 }), clock);
    expect(gate.tryEnter()).toBe(true);
    const order: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      gate.wait(
        new Call(() => {
          order.push(i);
          gate.release();
        }),
      );
    }
    gate.release();
    expect(order).toHaveLength(20_000);
    expect(order.slice(0, 3)).toEqual([0, 1, 2]);
    expect(gate.inflight).toBe(0);
    expect(gate.waiting).toBe(0);
  });

  test("close() drops every waiting call (drop is called), admits none, and leaves calls in flight alone", () => {
    const clock = new FakeClock();
    const gate = new OriginLimiter(limit({ maxInflight: 2, ratePerSecond: 1, burst: 2 }), clock);
    const c = caller(gate, clock);
    for (let i = 0; i < 6; i++) c.call(i);
    expect(c.admitted.map((a) => a.id)).toEqual([0, 1]);
    gate.close();
    expect(c.dropped).toEqual([2, 3, 4, 5]);
    expect(gate.waiting).toBe(0);
    expect(clock.pending).toBe(0);
    gate.release();
    clock.advance(10_000);
    expect(c.admitted.map((a) => a.id)).toEqual([0, 1]);
    expect(gate.tryEnter()).toBe(false);
  });
});

describe("rate limit (token bucket)", () => {
  test("a full bucket lets `burst` calls go at once, then one per 1/rate s, in FIFO order", () => {
    const clock = new FakeClock();
    const gate = new OriginLimiter(limit({ ratePerSecond: 10, burst: 3 }), clock);
    const c = caller(gate, clock);
    for (let i = 0; i < 8; i++) c.call(i);
    expect(c.admitted.map((a) => a.id)).toEqual([0, 1, 2]);
    clock.advance(99);
    expect(c.admitted).toHaveLength(3);
    clock.advance(1);
    expect(c.admitted).toHaveLength(4);
    clock.advance(400);
    expect(c.admitted.map((a) => a.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const t0 = c.admitted[0].at;
    expect(c.admitted.map((a) => a.at - t0)).toEqual([0, 0, 0, 100, 200, 300, 400, 500]);
  });

  test("over any window of W ms, never more than burst + rate × W calls start, whatever arrives and however long calls take", () => {
    for (const [rate, burst] of [
      [10, 1],
      [50, 5],
      [7.5, 3],
      [1000, 100],
    ]) {
      const clock = new FakeClock();
      const gate = new OriginLimiter(limit({ maxInflight: 20, ratePerSecond: rate, burst }), clock);
      const c = caller(gate, clock);
      // Pseudo-random arrivals and durations (a fixed LCG: the test is deterministic).
      let seed = 42;
      const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      /** Finish times of admitted calls still holding a slot. */
      const running: number[] = [];
      let seen = 0;
      let id = 0;
      let maxInflight = 0;
      for (let tick = 0; tick < 24_000; tick++) {
        // Busy phases of 2 s (twice the rate, in bursts of up to 8) and idle phases of 4 s, in which
        // the queue drains and the bucket fills up (to `burst`, and no more).
        const busy = tick % 6000 < 2000;
        const arrivals = busy && rand() < (2 * rate) / 1000 / 4 ? Math.floor(rand() * 8) + 1 : 0;
        for (let i = 0; i < arrivals; i++) c.call(id++);
        // Admitted calls finish 0-50 ms after they start.
        for (; seen < c.admitted.length; seen++) running.push(c.admitted[seen].at + Math.floor(rand() * 50));
        for (let i = running.length - 1; i >= 0; i--) {
          if (running[i] <= clock.now()) {
            running.splice(i, 1);
            gate.release();
          }
        }
        maxInflight = Math.max(maxInflight, gate.inflight);
        clock.advance(1);
      }
      expect(maxInflight).toBeLessThanOrEqual(20);
      const starts = c.admitted.map((a) => a.at);
      expect(starts.length).toBeGreaterThan(rate * 5);
      // Every window [starts[i], starts[i] + W]: at most burst + rate × W / 1000 starts.
      for (const w of [0, 1, 10, 100, 1000, 5000]) {
        let j = 0;
        let most = 0;
        for (let i = 0; i < starts.length; i++) {
          if (j < i) j = i;
          while (j + 1 < starts.length && starts[j + 1] <= starts[i] + w) j++;
          most = Math.max(most, j - i + 1);
        }
        expect(most, `rate ${rate}, burst ${burst}, window ${w} ms`).toBeLessThanOrEqual(Math.floor(burst + (rate * w) / 1000 + 1e-6));
      }
      // FIFO: admitted in arrival order.
      const ids = c.admitted.map((a) => a.id);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
    }
  });

  test("an aborted waiting call takes no token: the next waiting call gets it", () => {
    const clock = new FakeClock();
    const gate = new OriginLimiter(limit({ ratePerSecond: 1, burst: 1 }), clock);
    const c = caller(gate, clock);
    for (let i = 0; i < 3; i++) c.call(i);
    c.abort(1);
    clock.advance(1000);
    expect(c.admitted.map((a) => [a.id, a.at - c.admitted[0].at])).toEqual([
      [0, 0],
      [2, 1000],
    ]);
  });

  test("in-flight and rate limits together: a token does not admit a call while every slot is taken", () => {
    const clock = new FakeClock();
    const gate = new OriginLimiter(limit({ maxInflight: 1, ratePerSecond: 100, burst: 1 }), clock);
    const c = caller(gate, clock);
    for (let i = 0; i < 3; i++) c.call(i);
    clock.advance(1000);
    expect(c.admitted.map((a) => a.id)).toEqual([0]);
    gate.release();
    expect(c.admitted.map((a) => a.id)).toEqual([0, 1]);
    // The bucket refilled while the slot was taken, but holds at most `burst`.
    gate.release();
    expect(c.admitted.map((a) => a.id)).toEqual([0, 1]);
    clock.advance(10);
    expect(c.admitted.map((a) => a.id)).toEqual([0, 1, 2]);
  });

  test("a wall clock stepped back neither stalls the bucket nor adds tokens", () => {
    const clock = new FakeClock();
    const gate = new OriginLimiter(limit({ ratePerSecond: 10, burst: 1 }), clock);
    const c = caller(gate, clock);
    c.call(0);
    clock.t -= 3_600_000;
    c.call(1);
    c.call(2);
    expect(c.admitted).toHaveLength(1);
    clock.advance(100);
    expect(c.admitted).toHaveLength(2);
    clock.advance(100);
    expect(c.admitted).toHaveLength(3);
  });

  test("idle: nothing in flight or waiting and the bucket full again", () => {
    const clock = new FakeClock();
    const gate = new OriginLimiter(limit({ ratePerSecond: 10, burst: 2 }), clock);
    expect(gate.idle).toBe(true);
    expect(gate.tryEnter()).toBe(true);
    expect(gate.idle).toBe(false);
    gate.release();
    expect(gate.idle).toBe(false);
    clock.advance(100);
    expect(gate.idle).toBe(true);
  });
});
