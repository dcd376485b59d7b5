// The system clock's timers never fire before the wall-clock instant they were set for:
// setTimeout may run a millisecond before Date.now() gets there, and a run deadline
// stored as an instant must not be declared reached early.
import { afterEach, describe, expect, test, vi } from "vitest";
import { systemClock } from "../../src/ports/clock.ts";

afterEach(() => vi.restoreAllMocks());

describe("systemClock.setTimer", () => {
  test("a timer that wakes before its wall-clock instant waits for the rest", async () => {
    let wall = 1_000_000;
    vi.spyOn(Date, "now").mockImplementation(() => wall);
    const fired: number[] = [];
    systemClock.setTimer(() => fired.push(wall), 5);
    // The timeout elapses, but the wall clock is still 1 ms short of the target.
    wall += 4;
    await new Promise((r) => setTimeout(r, 30));
    expect(fired).toEqual([]);
    wall += 1;
    await vi.waitFor(() => expect(fired).toEqual([1_000_005]), { timeout: 30_000 });
  });

  test("cancelling stops a timer, also while it is re-arming", async () => {
    let wall = 5_000;
    vi.spyOn(Date, "now").mockImplementation(() => wall);
    let calls = 0;
    const cancel = systemClock.setTimer(() => calls++, 5);
    wall += 2;
    await new Promise((r) => setTimeout(r, 30));
    cancel();
    wall += 100;
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).toBe(0);
  });

  test("a zero or negative delay fires asynchronously, once", async () => {
    let calls = 0;
    systemClock.setTimer(() => calls++, -10);
    expect(calls).toBe(0);
    await vi.waitFor(() => expect(calls).toBe(1));
  });
});
