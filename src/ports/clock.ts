// Time as a port, so tests can control it.
export interface Clock {
  now(): number;
  /** Calls fn after ms; returns a function that cancels it. Timers do not keep the process alive. */
  setTimer(fn: () => void, ms: number): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    // setTimeout's limit is 2^31-1 ms; longer waits re-arm.
    const max = 2_147_483_647;
    let handle: NodeJS.Timeout;
    const arm = (left: number) => {
      handle = setTimeout(() => (left > max ? arm(left - max) : fn()), Math.min(Math.max(0, left), max));
      handle.unref();
    };
    arm(ms);
    return () => clearTimeout(handle);
  },
};
