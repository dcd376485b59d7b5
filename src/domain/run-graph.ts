// What the run machine derives from a workflow's steps alone: indexes, the
// dependency graph both ways, parallel flags and join policies. Computed once
// per steps list and shared by every run that holds the same list (runs of one
// definition share it, see the engine's shared-steps.ts), so a run in memory
// carries its own state only. Read-only: nothing may change it once built.
import { JOIN_ALL, type JoinPolicy } from "./join-policy.ts";
import type { StepSpec } from "./workflow-spec.ts";

export interface RunGraph {
  readonly indexOf: ReadonlyMap<string, number>;
  readonly parallel: readonly boolean[];
  readonly joins: readonly JoinPolicy[];
  readonly itemJoins: readonly JoinPolicy[];
  /** Per step, the indexes of the steps it depends on. */
  readonly dependencies: readonly (readonly number[])[];
  /** Per step, the indexes of the steps that depend on it. */
  readonly dependents: readonly (readonly number[])[];
}

const graphs = new WeakMap<readonly StepSpec[], RunGraph>();

/** The graph of `steps`, built on first use. Throws when a step depends on a step that is not in the list. */
export function runGraph(steps: readonly StepSpec[]): RunGraph {
  let graph = graphs.get(steps);
  if (graph === undefined) {
    graph = buildGraph(steps);
    graphs.set(steps, graph);
  }
  return graph;
}

function buildGraph(steps: readonly StepSpec[]): RunGraph {
  const indexOf = new Map(steps.map((s, i) => [s.id, i]));
  const dependencies: number[][] = steps.map(() => []);
  const dependents: number[][] = steps.map(() => []);
  steps.forEach((s, i) => {
    for (const dep of s.dependsOn) {
      const d = indexOf.get(dep);
      if (d === undefined) throw new Error(`step ${s.id}: unknown dependency ${dep}`);
      dependencies[i].push(d);
      dependents[d].push(i);
    }
  });
  for (const list of dependencies) Object.freeze(list);
  for (const list of dependents) Object.freeze(list);
  return Object.freeze({
    indexOf,
    parallel: Object.freeze(steps.map((s) => s.parallel)),
    joins: Object.freeze(steps.map((s) => s.join ?? JOIN_ALL)),
    itemJoins: Object.freeze(steps.map((s) => s.itemFailures ?? JOIN_ALL)),
    dependencies: Object.freeze(dependencies),
    dependents: Object.freeze(dependents),
  });
}
