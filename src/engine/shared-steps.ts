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
    const key = sharedKey(steps);
    if (key === undefined) return steps;
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

/** JSON.stringify(steps), or undefined once it is longer than MAX_SHARED_JSON (a large list costs no more than that to turn down). */
function sharedKey(steps: readonly StepSpec[]): string | undefined {
  const parts = new Array<string>(steps.length);
  let length = 2 + Math.max(0, steps.length - 1);
  for (let i = 0; i < steps.length; i++) {
    parts[i] = JSON.stringify(steps[i]);
    length += parts[i].length;
    if (length > MAX_SHARED_JSON) return undefined;
  }
  return `[${parts.join(",")}]`;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
