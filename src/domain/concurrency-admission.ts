// The admission model of concurrency keys (README "Concurrency keys"): which
// waiting runs or steps start next, given the holders and waiters of each key.
// Pure: the engine's gate asks it, then takes the slots it names from the store.
//
// - A key admits while fewer than its limit hold a slot.
// - Within a key: higher priority first, then first come (queuedAt, then the
//   order of arrival), first served.
// - Across keys: round-robin, one admission per key per round, starting after
//   the key served last, so a key with 1,000 waiters never starves one with 10
//   when a pass admits at most `max`.

export interface Waiter {
  /** Unique: the slot holder (a run, or a step of a run). */
  id: string;
  priority: number;
  /** When it started waiting (ms since the epoch). */
  queuedAt: number;
  /** Arrival order among waiters with the same queuedAt. */
  seq: number;
}

export interface KeyState {
  key: string;
  limit: number;
  /** Slots held now. */
  holding: number;
  waiters: readonly Waiter[];
}

export interface Admission {
  key: string;
  waiter: Waiter;
}

/** Priority descending, then queuedAt, then seq. */
export function compareWaiters(a: Waiter, b: Waiter): number {
  return b.priority - a.priority || a.queuedAt - b.queuedAt || a.seq - b.seq;
}

/**
 * The waiters to admit now, in admission order, and the key to start the next
 * pass after. `after`: the key served last by the previous pass (round-robin
 * resumes after it); `max`: at most this many admissions in this pass.
 */
export function planAdmissions(
  keys: readonly KeyState[],
  after?: string,
  max = Number.POSITIVE_INFINITY,
): { admit: Admission[]; last: string | undefined } {
  const order = [...keys].filter((k) => k.waiters.length > 0).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  // Start with the first key after `after`.
  let start = 0;
  if (after !== undefined) {
    const i = order.findIndex((k) => k.key > after);
    start = i === -1 ? 0 : i;
  }
  const rotated = [...order.slice(start), ...order.slice(0, start)];
  const queues = rotated.map((k) => ({ key: k.key, free: Math.max(0, k.limit - k.holding), waiters: [...k.waiters].sort(compareWaiters), next: 0 }));
  const admit: Admission[] = [];
  let last = after;
  let progress = true;
  while (progress && admit.length < max) {
    progress = false;
    for (const q of queues) {
      if (admit.length >= max) break;
      if (q.free === 0 || q.next >= q.waiters.length) continue;
      admit.push({ key: q.key, waiter: q.waiters[q.next++] });
      q.free--;
      last = q.key;
      progress = true;
    }
  }
  return { admit, last };
}
