// Memory back after a drain. V8 collects its old generation when the heap
// grows, not when a server goes quiet: once many runs have finished and
// nothing new comes in, the heap they filled stays committed (measured: 100,000
// runs drained, the process stayed at its peak RSS). So when the runs held in
// memory have fallen to a quarter of a peak of at least minPeak runs (the most
// held at once since the last look, not only what a look happened to see), one full
// collection runs, and V8 hands the emptied pages back to the OS. It does not
// run again until the runs in memory have reached such a peak again.
//
// Node offers no call for a full collection without --expose-gc on its command
// line, which `npm start`, the container and the service unit do not pass; the
// flag set at run time (v8.setFlagsFromString) gives the function to new
// contexts, so one is made to fetch it.
import type { Logger } from "pino";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

export interface DrainGcOptions {
  /** Runs the engine holds in memory now. */
  runsInMemory: () => number;
  /** The most runs held in memory at once since the last call (default: the count at each look). */
  peakRunsInMemory?: () => number;
  logger: Logger;
  /** How often the count is looked at. */
  intervalMs?: number;
  /** A peak smaller than this is no drain worth a full collection. */
  minPeak?: number;
  /** The full collection (default: V8's, see above). */
  collect?: () => void;
  /** Heap in use, bytes (default: process.memoryUsage().heapTotal), for the log line. */
  heapBytes?: () => number;
}

export const DRAIN_GC_MIN_PEAK = 2000;

export class DrainGc {
  readonly #runsInMemory: () => number;
  readonly #peakRunsInMemory: () => number;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #minPeak: number;
  readonly #collect: () => void;
  readonly #heapBytes: () => number;
  #peak = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Full collections run so far. */
  collections = 0;

  constructor(options: DrainGcOptions) {
    this.#runsInMemory = options.runsInMemory;
    this.#peakRunsInMemory = options.peakRunsInMemory ?? options.runsInMemory;
    this.#log = options.logger;
    this.#intervalMs = options.intervalMs ?? 5000;
    this.#minPeak = options.minPeak ?? DRAIN_GC_MIN_PEAK;
    this.#collect = options.collect ?? v8FullGc;
    this.#heapBytes = options.heapBytes ?? (() => process.memoryUsage().heapTotal);
  }

  start(): void {
    this.#timer ??= setInterval(() => this.check(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One look at the count: collects when it fell to a quarter of a large enough peak. */
  check(): void {
    // The peak first: runs that came and went between two looks count too.
    this.#peak = Math.max(this.#peak, this.#peakRunsInMemory());
    const runs = this.#runsInMemory();
    if (runs > this.#peak) this.#peak = runs;
    if (this.#peak < this.#minPeak || runs > this.#peak / 4) return;
    const peak = this.#peak;
    this.#peak = runs;
    const before = this.#heapBytes();
    const start = performance.now();
    try {
      this.#collect();
    } catch (err) {
      this.#log.warn({ err }, "could not run a full garbage collection after a drain");
      return;
    }
    this.collections++;
    const MiB = 1024 * 1024;
    this.#log.info(
      { runsInMemory: runs, peak, heapMiB: Math.round(before / MiB), heapAfterMiB: Math.round(this.#heapBytes() / MiB), pauseMs: Math.round(performance.now() - start) },
      "runs drained: full garbage collection, memory handed back",
    );
  }
}

let gc: (() => void) | undefined;

function v8FullGc(): void {
  if (gc === undefined) {
    setFlagsFromString("--expose-gc");
    gc = runInNewContext("gc") as () => void;
  }
  gc();
}
