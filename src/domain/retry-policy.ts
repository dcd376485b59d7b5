// Delays between the attempts of a step, from its RetryPolicy.
//
// Decisions:
// - The delay grows from initial_interval (exponential: initial * 2^(n-1),
//   linear: initial * n, fixed: initial, n = the attempt that just failed),
//   is capped at max_interval, then jittered by a factor uniform in
//   [1 - jitter, 1 + jitter]. max_interval is a hard bound: the jittered delay
//   is clamped to [0, max_interval] (so at the cap jitter only shortens).
// - Delays are rounded to whole milliseconds.
// - A server's Retry-After is honoured even beyond max_interval, capped at
//   one hour.

import type { RetryPolicy } from "./workflow-spec.ts";

/** Retry-After values above this are cut down to it. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/** The delay before retrying after `failedAttempt` (1-based) failed. */
export function retryDelayMs(
  policy: RetryPolicy,
  failedAttempt: number,
  random: () => number = Math.random,
): number {
  const n = Math.max(1, Math.floor(failedAttempt));
  const initial = policy.initialIntervalMs;
  let delay: number;
  switch (policy.backoff) {
    case "exponential":
      delay = initial * 2 ** (n - 1);
      break;
    case "linear":
      delay = initial * n;
      break;
    case "fixed":
      delay = initial;
      break;
  }
  delay = Math.min(delay, policy.maxIntervalMs);
  if (policy.jitter > 0) {
    const factor = 1 + policy.jitter * (2 * random() - 1);
    delay = Math.min(Math.max(delay * factor, 0), policy.maxIntervalMs);
  }
  return Math.round(delay);
}

/**
 * The delay before the next attempt, or undefined when `failedAttempt` was the
 * last one allowed. A Retry-After from the handler (ms) is honoured when it is
 * longer than the policy's delay, up to MAX_RETRY_AFTER_MS.
 */
export function nextAttemptDelayMs(
  policy: RetryPolicy,
  failedAttempt: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number | undefined {
  if (failedAttempt >= policy.maxAttempts) return undefined;
  const delay = retryDelayMs(policy, failedAttempt, random);
  const retryAfter =
    retryAfterMs !== undefined && retryAfterMs > 0
      ? Math.min(Math.ceil(retryAfterMs), MAX_RETRY_AFTER_MS)
      : 0;
  return Math.max(delay, retryAfter);
}
