// Which events a consumer has had already, by (run id, sequence): lets each
// event through once however often, and in whatever order, it is offered.
//
// Decisions:
// - An event's identity is its run and sequence (sequences are 1, 2, 3, … per
//   run), so a run costs one number in the common case: every sequence up to
//   `through` was seen. Sequences seen above a gap are kept as a set until the
//   gap fills; at most maxAbovePerRun of them, after which the gaps below the
//   middle one are given up (their sequences count as seen: a consumer that
//   lost them reads the store, as it would for any lost event). That costs a
//   sort once per maxAbovePerRun/2 offers at most.
// - Memory is bounded by runs, not by time: the maxRuns runs offered an event
//   most recently are remembered, the least recently offered is forgotten first.
//   A repeat is caught however late it comes, as long as its run is among them.

interface RunSeen {
  /** Every sequence up to this one was seen. */
  through: number;
  /** Sequences above `through + 1` seen out of order. */
  above?: Set<number>;
}

export interface SeenEventsOptions {
  /** Runs remembered (least recently offered forgotten first). */
  maxRuns: number;
  /** Sequences above a gap kept per run (default 1024). */
  maxAbovePerRun?: number;
}

export class SeenEvents {
  private readonly runs = new Map<string, RunSeen>();
  private readonly maxRuns: number;
  private readonly maxAbove: number;

  constructor(options: SeenEventsOptions) {
    if (!(options.maxRuns >= 1)) throw new RangeError("maxRuns must be at least 1");
    this.maxRuns = options.maxRuns;
    this.maxAbove = Math.max(1, options.maxAbovePerRun ?? 1024);
  }

  /** True the first time (runId, seq) is offered, false for every repeat; records it. */
  firstTime(runId: string, seq: number): boolean {
    let run = this.runs.get(runId);
    if (run) {
      // Least recently used order: Maps iterate in insertion order.
      this.runs.delete(runId);
    } else {
      run = { through: 0 };
      if (this.runs.size >= this.maxRuns) this.runs.delete(this.runs.keys().next().value as string);
    }
    this.runs.set(runId, run);
    if (seq <= run.through || run.above?.has(seq)) return false;
    if (seq === run.through + 1) {
      run.through = seq;
      absorb(run);
    } else {
      (run.above ??= new Set()).add(seq);
      if (run.above.size > this.maxAbove) {
        // Give up the gaps below the middle one: the lower half counts as seen.
        const sorted = [...run.above].sort((x, y) => x - y);
        run.through = sorted[sorted.length >> 1];
        for (const s of sorted) {
          if (s > run.through) break;
          run.above.delete(s);
        }
        absorb(run);
      }
    }
    return true;
  }

  /** Whether (runId, seq) was seen (does not record it). */
  has(runId: string, seq: number): boolean {
    const run = this.runs.get(runId);
    return run !== undefined && (seq <= run.through || run.above?.has(seq) === true);
  }

  /** Runs remembered. */
  get size(): number {
    return this.runs.size;
  }
}

/** Moves `through` over the sequences above it that are now contiguous. */
function absorb(run: RunSeen): void {
  const above = run.above;
  if (!above) return;
  while (above.delete(run.through + 1)) run.through++;
  if (above.size === 0) run.above = undefined;
}
