// What a step call's `previousSteps` carries (README "Execution semantics"). Pure.
//
// A workflow's `previous_steps` (or a step's own, which wins) picks, for a
// step's calls:
// - all (the default, as the product document has it): every step of the run
//   that has settled, whatever the graph says;
// - dependencies: the step's own depends_on steps only;
// - ancestors: its transitive dependencies (depends_on, theirs, and so on);
// - none: nothing (a map step's items then carry only their item and index
//   besides the context, not the list they came from).
//
// Decisions:
// - The visible set is computed once per run (visibility(), when the engine
//   takes the run up), as one bitset row per step over the step indices: a
//   body is then built by walking the row's set bits, never the graph. A row
//   is ceil(n / 32) words, so a run of 1000 steps keeps 125 KiB, 10 steps 40
//   bytes. A workflow whose steps are all `all` computes nothing and keeps the
//   walk over every step.
// - Within the visible set the entries are what `all` lists: completed steps,
//   and for step calls (not compensations) failed and cancelled ones, so a
//   join step sees its failed dependencies as it does under `all`. Steps still
//   unfinished (e.g. `any`'s losers still running) and skipped ones are absent.
// - Entries keep definition order, as under `all`.
// - A map step's item calls see what the map step sees (same row).
// - A compensation call follows the same mode as the step's own calls: its
//   completed visible steps (under `all`, every completed step, as before).

export type PreviousStepsMode = "all" | "dependencies" | "ancestors" | "none";

export const PREVIOUS_STEPS_MODES: readonly PreviousStepsMode[] = ["all", "dependencies", "ancestors", "none"];

export function isPreviousStepsMode(value: string): value is PreviousStepsMode {
  return (PREVIOUS_STEPS_MODES as readonly string[]).includes(value);
}

/**
 * Each step's visible steps, as bitset rows over step indices (row i = words
 * [i*words, (i+1)*words)); a step marked in `everything` (mode all) sees every
 * step and has an empty row.
 */
export interface StepVisibility {
  readonly words: number;
  readonly rows: Uint32Array;
  readonly everything: Uint8Array;
}

/** What visibility() needs of a workflow: step ids and dependencies, and the modes. */
export interface VisibilityInput {
  previousSteps?: PreviousStepsMode;
  steps: readonly { id: string; dependsOn: readonly string[]; previousSteps?: PreviousStepsMode }[];
}

/**
 * A known mode, or all: absent, or (in a run stored by a newer server) a mode
 * this one does not know.
 */
function modeOf(m: PreviousStepsMode | undefined): PreviousStepsMode {
  return m !== undefined && isPreviousStepsMode(m) ? m : "all";
}

/**
 * The visible set of every step, each under its own mode (the step's
 * previous_steps, else the workflow's); undefined when every step's is `all`
 * (every settled step is visible). The graph must be acyclic, as
 * compileWorkflow ensures; a dependency naming no step is ignored.
 */
export function visibility(spec: VisibilityInput): StepVisibility | undefined {
  const steps = spec.steps;
  const n = steps.length;
  const fallback = spec.previousSteps;
  // The common case first, without allocating: every step under all.
  let any = false;
  for (let i = 0; i < n && !any; i++) any = modeOf(steps[i].previousSteps ?? fallback) !== "all";
  if (!any) return undefined;
  const modes = steps.map((s) => modeOf(s.previousSteps ?? fallback));
  const words = (n + 31) >>> 5;
  const rows = new Uint32Array(n * words);
  const everything = new Uint8Array(n);
  const index = new Map<string, number>();
  steps.forEach((s, i) => {
    if (!index.has(s.id)) index.set(s.id, i);
  });
  const deps: number[][] = steps.map((s) => {
    const out: number[] = [];
    for (const d of s.dependsOn) {
      const j = index.get(d);
      if (j !== undefined) out.push(j);
    }
    return out;
  });
  const closure = modes.includes("ancestors") ? ancestors(deps, words) : undefined;
  modes.forEach((mode, i) => {
    const at = i * words;
    if (mode === "all") everything[i] = 1;
    else if (mode === "ancestors") rows.set(closure!.subarray(at, at + words), at);
    else if (mode === "none") return;
    else for (const j of deps[i]) rows[at + (j >>> 5)] |= 1 << (j & 31);
  });
  return { words, rows, everything };
}

/**
 * Every step's transitive dependencies as bitset rows: row(i) = ⋃ over d in
 * deps(i) of ({d} ∪ row(d)), each row filled after its dependencies' (a
 * depth-first post-order, without recursion; a dependency still open would
 * be a cycle and is left out).
 */
function ancestors(deps: readonly number[][], words: number): Uint32Array {
  const n = deps.length;
  const rows = new Uint32Array(n * words);
  const state = new Uint8Array(n); // 0 new, 1 open, 2 done
  const stack: number[] = [];
  const next: number[] = [];
  for (let root = 0; root < n; root++) {
    if (state[root] !== 0) continue;
    state[root] = 1;
    stack.push(root);
    next.push(0);
    while (stack.length > 0) {
      const top = stack.length - 1;
      const i = stack[top];
      const e = next[top];
      if (e < deps[i].length) {
        next[top] = e + 1;
        const d = deps[i][e];
        if (state[d] === 0) {
          state[d] = 1;
          stack.push(d);
          next.push(0);
        }
        continue;
      }
      const at = i * words;
      for (const d of deps[i]) {
        if (state[d] !== 2) continue;
        rows[at + (d >>> 5)] |= 1 << (d & 31);
        const from = d * words;
        for (let w = 0; w < words; w++) rows[at + w] |= rows[from + w];
      }
      state[i] = 2;
      stack.pop();
      next.pop();
    }
  }
  return rows;
}

/** The states that decide whether a step is listed. */
export type ListedState = "pending" | "running" | "retry_wait" | "completed" | "failed" | "cancelled" | "skipped";

/** Whether a step in `state` is listed: completed always, failed and cancelled in step calls (`unsuccessful`). */
function listed(state: ListedState, unsuccessful: boolean): boolean {
  return state === "completed" || (unsuccessful && (state === "failed" || state === "cancelled"));
}

/**
 * Calls `fn` with the index of every step that step `index`'s call lists in
 * previousSteps, in definition order: the settled steps among those it sees
 * (every step when `vis` is undefined). `unsuccessful`: step and item calls
 * (failed and cancelled steps listed too); false for compensation calls.
 */
export function forEachPreviousStep(
  vis: StepVisibility | undefined,
  index: number,
  steps: readonly { state: ListedState }[],
  unsuccessful: boolean,
  fn: (i: number) => void,
): void {
  if (vis === undefined || vis.everything[index] === 1) {
    for (let i = 0; i < steps.length; i++) if (listed(steps[i].state, unsuccessful)) fn(i);
    return;
  }
  const { words, rows } = vis;
  const at = index * words;
  for (let w = 0; w < words; w++) {
    let bits = rows[at + w];
    while (bits !== 0) {
      const low = bits & -bits;
      const i = (w << 5) + 31 - Math.clz32(low);
      bits ^= low;
      if (listed(steps[i].state, unsuccessful)) fn(i);
    }
  }
}

/** The indices step `index` sees (whatever their state), in definition order; every step under `all`. For tests and tools. */
export function visibleIndices(vis: StepVisibility | undefined, index: number, stepCount: number): number[] {
  const out: number[] = [];
  const all = Array.from({ length: stepCount }, () => ({ state: "completed" as const }));
  forEachPreviousStep(vis, index, all, true, (i) => out.push(i));
  return out;
}
