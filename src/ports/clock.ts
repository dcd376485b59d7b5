// Time as a port, so tests can control it.
export interface Clock {
  now(): number;
  /**
   * Calls fn once now() has reached the current time plus ms (never earlier, by the
   * wall clock); returns a function that cancels it. Timers do not keep the process alive.
   */
  setTimer(fn: () => void, ms: number): () => void;
}

/** setTimeout's limit is 2^31-1 ms; longer waits re-arm. */
const MAX_TIMEOUT_MS = 2_147_483_647;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    // setTimeout runs on a monotonic clock and may fire a millisecond before Date.now()
    // reaches the target; a deadline stored as a wall-clock instant must not fire before
    // it, so the timer re-arms for whatever is left.
    const at = Date.now() + Math.max(0, ms);
    let handle: NodeJS.Timeout;
    const arm = () => {
      const left = at - Date.now();
      if (left <= 0) return fn();
      handle = setTimeout(arm, Math.min(left, MAX_TIMEOUT_MS));
      handle.unref();
    };
    const first = Math.min(Math.max(0, ms), MAX_TIMEOUT_MS);
    handle = setTimeout(arm, first);
    handle.unref();
    return () => clearTimeout(handle);
  },
};
