import { describe, expect, it } from "vitest";
import { MAX_RETRY_AFTER_MS, nextAttemptDelayMs, retryDelayMs } from "../../src/domain/retry-policy.ts";
import type { Backoff, RetryPolicy } from "../../src/domain/workflow-spec.ts";

function policy(backoff: Backoff, extra: Partial<RetryPolicy> = {}): RetryPolicy {
  return { maxAttempts: 10, backoff, initialIntervalMs: 1000, maxIntervalMs: 60_000, jitter: 0, ...extra };
}

const delays = (p: RetryPolicy, n: number): number[] =>
  Array.from({ length: n }, (_, i) => retryDelayMs(p, i + 1, () => 0.5));

describe("retryDelayMs", () => {
  it("exponential", () => {
    expect(delays(policy("exponential"), 5)).toEqual([1000, 2000, 4000, 8000, 16000]);
  });
  it("linear", () => {
    expect(delays(policy("linear"), 4)).toEqual([1000, 2000, 3000, 4000]);
  });
  it("fixed", () => {
    expect(delays(policy("fixed"), 3)).toEqual([1000, 1000, 1000]);
  });
  it("caps at max_interval", () => {
    expect(delays(policy("exponential", { maxIntervalMs: 5000 }), 5)).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(delays(policy("linear", { initialIntervalMs: 2000, maxIntervalMs: 5000 }), 4)).toEqual([
      2000, 4000, 5000, 5000,
    ]);
    expect(retryDelayMs(policy("exponential"), 100)).toBe(60_000);
  });
  it("zero initial interval retries at once", () => {
    expect(delays(policy("exponential", { initialIntervalMs: 0 }), 3)).toEqual([0, 0, 0]);
  });
  it("no jitter ignores random", () => {
    expect(retryDelayMs(policy("fixed"), 1, () => 0)).toBe(1000);
    expect(retryDelayMs(policy("fixed"), 1, () => 0.999)).toBe(1000);
  });
  it("jitter spreads within [1 - jitter, 1 + jitter]", () => {
    const p = policy("fixed", { jitter: 0.2 });
    expect(retryDelayMs(p, 1, () => 0)).toBe(800);
    expect(retryDelayMs(p, 1, () => 0.5)).toBe(1000);
    expect(retryDelayMs(p, 1, () => 0.75)).toBe(1100);
    expect(retryDelayMs(p, 1, () => 0.999_999)).toBe(1200);
    for (let i = 0; i < 1000; i++) {
      const d = retryDelayMs(p, 1);
      expect(d).toBeGreaterThanOrEqual(800);
      expect(d).toBeLessThanOrEqual(1200);
    }
  });
  it("full jitter never goes negative", () => {
    const p = policy("fixed", { jitter: 1 });
    expect(retryDelayMs(p, 1, () => 0)).toBe(0);
    expect(retryDelayMs(p, 1, () => 0.999_999)).toBe(2000);
  });
  it("jittered delay never exceeds max_interval", () => {
    const p = policy("exponential", { maxIntervalMs: 5000, jitter: 0.5 });
    expect(retryDelayMs(p, 10, () => 0.999_999)).toBe(5000);
    expect(retryDelayMs(p, 10, () => 0)).toBe(2500);
    expect(retryDelayMs(p, 1, () => 0.999_999)).toBe(1500);
  });
});

describe("nextAttemptDelayMs", () => {
  it("no delay after the last attempt", () => {
    const p = policy("exponential", { maxAttempts: 3 });
    expect(nextAttemptDelayMs(p, 1, undefined)).toBe(1000);
    expect(nextAttemptDelayMs(p, 2, undefined)).toBe(2000);
    expect(nextAttemptDelayMs(p, 3, undefined)).toBeUndefined();
    expect(nextAttemptDelayMs(p, 4, 5000)).toBeUndefined();
    expect(nextAttemptDelayMs(policy("fixed", { maxAttempts: 1 }), 1, undefined)).toBeUndefined();
  });
  it("honours a longer Retry-After, even beyond max_interval", () => {
    const p = policy("exponential", { maxIntervalMs: 5000 });
    expect(nextAttemptDelayMs(p, 1, 30_000)).toBe(30_000);
    expect(nextAttemptDelayMs(p, 3, 100)).toBe(4000);
    expect(nextAttemptDelayMs(p, 1, 0)).toBe(1000);
  });
  it("caps Retry-After at one hour", () => {
    const p = policy("fixed");
    expect(MAX_RETRY_AFTER_MS).toBe(3_600_000);
    expect(nextAttemptDelayMs(p, 1, 86_400_000)).toBe(3_600_000);
    expect(nextAttemptDelayMs(p, 1, Number.POSITIVE_INFINITY)).toBe(3_600_000);
    expect(nextAttemptDelayMs(p, 1, Number.NaN)).toBe(1000);
  });
  it("passes random through", () => {
    const p = policy("fixed", { jitter: 0.5 });
    expect(nextAttemptDelayMs(p, 1, undefined, () => 0)).toBe(500);
  });
});
