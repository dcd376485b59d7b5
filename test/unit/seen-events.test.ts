import { describe, expect, it } from "vitest";
import { SeenEvents } from "../../src/domain/seen-events.ts";

/** Offers each [runId, seq] in turn; the ones let through. */
function offer(seen: SeenEvents, events: [string, number][]): string[] {
  return events.filter(([r, s]) => seen.firstTime(r, s)).map(([r, s]) => `${r}:${s}`);
}

describe("SeenEvents", () => {
  it("lets each (run, sequence) through once, in order or not", () => {
    const seen = new SeenEvents({ maxRuns: 10 });
    expect(
      offer(seen, [
        ["a", 1],
        ["a", 2],
        ["a", 2],
        ["b", 1],
        ["a", 1],
        ["a", 5],
        ["a", 3],
        ["a", 5],
        ["a", 4],
        ["a", 3],
        ["a", 6],
        ["b", 1],
        ["b", 2],
      ]),
    ).toEqual(["a:1", "a:2", "b:1", "a:5", "a:3", "a:4", "a:6", "b:2"]);
    expect(seen.has("a", 6)).toBe(true);
    expect(seen.has("a", 7)).toBe(false);
    expect(seen.has("c", 1)).toBe(false);
  });

  it("catches a repeat however late, while its run is remembered", () => {
    const seen = new SeenEvents({ maxRuns: 3 });
    expect(seen.firstTime("old", 13)).toBe(true);
    for (let i = 0; i < 100_000; i++) seen.firstTime(i % 2 === 0 ? "x" : "y", i);
    expect(seen.firstTime("old", 13)).toBe(false);
  });

  it("forgets the least recently offered run beyond maxRuns, and only that one", () => {
    const seen = new SeenEvents({ maxRuns: 2 });
    seen.firstTime("a", 1);
    seen.firstTime("b", 1);
    seen.firstTime("a", 2); // a is now the most recent
    seen.firstTime("c", 1); // b goes
    expect(seen.size).toBe(2);
    expect(seen.has("a", 2)).toBe(true);
    expect(seen.has("c", 1)).toBe(true);
    expect(seen.has("b", 1)).toBe(false);
    expect(seen.firstTime("b", 1)).toBe(true);
  });

  it("keeps a run with sparse sequences (only some of its events offered) small and exact", () => {
    const seen = new SeenEvents({ maxRuns: 1 });
    const sparse = [1, 2, 13, 40, 41, 97];
    expect(sparse.filter((s) => seen.firstTime("r", s))).toEqual(sparse);
    expect(sparse.filter((s) => seen.firstTime("r", s))).toEqual([]);
    expect(seen.firstTime("r", 12)).toBe(true);
  });

  it("gives up the lower gaps of a run past maxAbovePerRun: memory stays bounded, repeats stay caught", () => {
    const seen = new SeenEvents({ maxRuns: 1, maxAbovePerRun: 3 });
    // Sequences 1, 3 and 5 never come: 2, 4, 6, 8 wait above the gaps until there are more than 3.
    expect([2, 4, 6, 8].map((s) => seen.firstTime("r", s))).toEqual([true, true, true, true]);
    // The gaps below 6 (the middle one) are given up; the one at 7 is still open.
    expect([1, 2, 3, 4, 5, 6, 8].map((s) => seen.firstTime("r", s))).toEqual([false, false, false, false, false, false, false]);
    expect(seen.firstTime("r", 7)).toBe(true);
    expect(seen.firstTime("r", 9)).toBe(true);
  });

  it("refuses a bound below one", () => {
    expect(() => new SeenEvents({ maxRuns: 0 })).toThrow(RangeError);
  });
});
