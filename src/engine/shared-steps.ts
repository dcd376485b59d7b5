// One copy of a workflow's step definitions for every run in memory that has
// the same ones. Runs of one definition (the common case: a service creates
// the same workflow over and over) then hold their own state only, not a copy
// of the definition and of the graph derived from it (run-graph.ts), which made
// up much of a waiting run's memory. A shared list is frozen, deeply: a change
// to it would change every run that holds it.
import type { StepSpec } from "../domain/workflow-spec.ts";

/** Lists whose JSON is longer are not shared (each run keeps its own, as it came). */
const MAX_SHARED_JSON = 64 * 1024;
/** The JSON texts kept as keys, in all, at most: the least recently used go first. */
const MAX_KEY_BYTES = 8 * 1024 * 1024;

export class SharedSteps {
  readonly #lists = new Map<string, StepSpec[]>();
  #keyBytes = 0;

  /** The shared list equal to `steps` (the first one seen becomes it), or `steps` itself when too large to share. */
  intern(steps: StepSpec[]): StepSpec[] {
    if (Object.isFrozen(steps)) return steps;
    const key = JSON.stringify(steps);
    if (key.length > MAX_SHARED_JSON) return steps;
    const found = this.#lists.get(key);
    if (found !== undefined) {
      // Most recently used last.
      this.#lists.delete(key);
      this.#lists.set(key, found);
      return found;
    }
    this.#lists.set(key, deepFreeze(steps));
    this.#keyBytes += key.length;
    for (const k of this.#lists.keys()) {
      if (this.#keyBytes <= MAX_KEY_BYTES) break;
      this.#lists.delete(k);
      this.#keyBytes -= k.length;
    }
    return steps;
  }

  /** Distinct lists held (for tests). */
  get size(): number {
    return this.#lists.size;
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
