// After a drain, one full collection; not at every quiet moment, nor for small peaks.
import pino from "pino";
import { describe, expect, test } from "vitest";
import { DrainGc } from "../../src/server/drain-gc.ts";

function setup(minPeak = 2000) {
  let runs = 0;
  let collected = 0;
  const lines: string[] = [];
  const logger = pino({ level: "info" }, { write: (s: string) => lines.push(s) });
  const gc = new DrainGc({ runsInMemory: () => runs, logger, minPeak, collect: () => collected++, heapBytes: () => 64 * 1024 * 1024 });
  const at = (n: number) => {
    runs = n;
    gc.check();
    return collected;
  };
  return { at, lines, gc };
}

describe("DrainGc", () => {
  test("collects once when the runs fall to a quarter of a peak of at least minPeak, then waits for a new peak", () => {
    const { at, lines } = setup();
    expect(at(1000)).toBe(0);
    expect(at(10_000)).toBe(0);
    expect(at(5000)).toBe(0);
    expect(at(2501)).toBe(0);
    expect(at(2500)).toBe(1);
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ runsInMemory: 2500, peak: 10_000, msg: "runs drained: full garbage collection, memory handed back" });
    // The peak is now 2,500: the rest of the drain is one more (still at least minPeak runs).
    expect(at(1000)).toBe(1);
    expect(at(0)).toBe(2);
    // From a peak of 0, quiet is no drain.
    expect(at(0)).toBe(2);
    expect(at(1500)).toBe(2);
    expect(at(0)).toBe(2);
    // A new peak, a new drain.
    expect(at(8000)).toBe(2);
    expect(at(1999)).toBe(3);
  });

  test("a peak between two looks counts: runs that came and went while nobody looked", () => {
    let runs = 0;
    let peakSince = 0;
    let collected = 0;
    const gc = new DrainGc({
      runsInMemory: () => runs,
      peakRunsInMemory: () => {
        const p = peakSince;
        peakSince = runs;
        return p;
      },
      logger: pino({ level: "silent" }),
      collect: () => collected++,
    });
    gc.check();
    // 5,000 runs arrived and all but 100 finished between two looks.
    peakSince = 5000;
    runs = 100;
    gc.check();
    expect(collected).toBe(1);
    // Nothing new since: no second collection.
    gc.check();
    expect(collected).toBe(1);
  });

  test("a peak below minPeak never collects", () => {
    const { at } = setup();
    for (const n of [1999, 0, 1999, 0, 500, 0]) expect(at(n)).toBe(0);
  });

  test("a collection that throws is logged as a warning and the server goes on", () => {
    const lines: string[] = [];
    const logger = pino({ level: "info" }, { write: (s: string) => lines.push(s) });
    let runs = 3000;
    const gc = new DrainGc({
      runsInMemory: () => runs,
      logger,
      collect: () => {
        throw new Error("no gc here");
      },
    });
    gc.check();
    runs = 0;
    expect(() => gc.check()).not.toThrow();
    expect(gc.collections).toBe(0);
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ level: 40, msg: "could not run a full garbage collection after a drain" });
  });

  test("V8's own collection runs in this process (the default collect)", () => {
    let runs = 2000;
    const gc = new DrainGc({ runsInMemory: () => runs, logger: pino({ level: "silent" }) });
    gc.check();
    runs = 0;
    gc.check();
    expect(gc.collections).toBe(1);
  });
});
