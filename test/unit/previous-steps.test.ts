// What previousSteps lists per step under each previous_steps mode (src/domain/previous-steps.ts),
// and the workflow field's validation.
import { describe, expect, it } from "vitest";
import {
  forEachPreviousStep,
  type ListedState,
  type PreviousStepsMode,
  visibility,
  visibleIndices,
} from "../../src/domain/previous-steps.ts";
import { compileWorkflow } from "../../src/domain/compile-workflow.ts";
import { DEFAULT_LIMITS, type StepInput, type WorkflowInput } from "../../src/domain/workflow-spec.ts";

type Dag = { id: string; dependsOn: string[] }[];

/** Step id → the ids it sees, under `mode`. */
function seen(steps: Dag, mode: PreviousStepsMode): Record<string, string[]> {
  const vis = visibility({ previousSteps: mode, steps });
  return Object.fromEntries(steps.map((s, i) => [s.id, visibleIndices(vis, i, steps.length).map((j) => steps[j].id)]));
}

const chain = (n: number): Dag => Array.from({ length: n }, (_, i) => ({ id: `s${i}`, dependsOn: i === 0 ? [] : [`s${i - 1}`] }));

// a → b, a → c, b + c → d
const DIAMOND: Dag = [
  { id: "a", dependsOn: [] },
  { id: "b", dependsOn: ["a"] },
  { id: "c", dependsOn: ["a"] },
  { id: "d", dependsOn: ["b", "c"] },
];

// The product document's complex pipeline: prepare → process-a|b|c; validate after process-c;
// aggregate after a, b, c; notify after aggregate and validate.
const PIPELINE: Dag = [
  { id: "prepare", dependsOn: [] },
  { id: "process-a", dependsOn: ["prepare"] },
  { id: "process-b", dependsOn: ["prepare"] },
  { id: "process-c", dependsOn: ["prepare"] },
  { id: "validate", dependsOn: ["process-c"] },
  { id: "aggregate", dependsOn: ["process-a", "process-b", "process-c"] },
  { id: "notify", dependsOn: ["aggregate", "validate"] },
];

describe("visibility", () => {
  it("all computes nothing: every step is visible to every step", () => {
    expect(visibility({ steps: DIAMOND })).toBeUndefined();
    expect(visibility({ previousSteps: "all", steps: DIAMOND })).toBeUndefined();
    // A run stored by a newer server with a mode this one does not know is driven as all.
    expect(visibility({ previousSteps: "siblings" as PreviousStepsMode, steps: DIAMOND })).toBeUndefined();
    expect(seen(DIAMOND, "all").b).toEqual(["a", "b", "c", "d"]);
  });

  it("a chain: dependencies is the step before, ancestors every step before", () => {
    expect(seen(chain(4), "dependencies")).toEqual({ s0: [], s1: ["s0"], s2: ["s1"], s3: ["s2"] });
    expect(seen(chain(4), "ancestors")).toEqual({ s0: [], s1: ["s0"], s2: ["s0", "s1"], s3: ["s0", "s1", "s2"] });
  });

  it("none: no step sees any other, in a chain or a diamond; a step under none beside others under all", () => {
    expect(seen(chain(3), "none")).toEqual({ s0: [], s1: [], s2: [] });
    expect(seen(DIAMOND, "none")).toEqual({ a: [], b: [], c: [], d: [] });
    const mixed = [DIAMOND[0], { ...DIAMOND[1], previousSteps: "none" as const }, DIAMOND[2], DIAMOND[3]];
    const vis = visibility({ steps: mixed });
    expect(visibleIndices(vis, 1, 4)).toEqual([]);
    expect(visibleIndices(vis, 3, 4)).toEqual([0, 1, 2, 3]);
  });

  it("a diamond: the join sees both branches; ancestors adds the root once", () => {
    expect(seen(DIAMOND, "dependencies")).toEqual({ a: [], b: ["a"], c: ["a"], d: ["b", "c"] });
    expect(seen(DIAMOND, "ancestors")).toEqual({ a: [], b: ["a"], c: ["a"], d: ["a", "b", "c"] });
  });

  it("fan-out and fan-in (the product document's pipeline): a branch never sees its siblings", () => {
    const deps = seen(PIPELINE, "dependencies");
    expect(deps["process-b"]).toEqual(["prepare"]);
    expect(deps.aggregate).toEqual(["process-a", "process-b", "process-c"]);
    expect(deps.notify).toEqual(["validate", "aggregate"]);
    const anc = seen(PIPELINE, "ancestors");
    expect(anc.validate).toEqual(["prepare", "process-c"]);
    expect(anc.aggregate).toEqual(["prepare", "process-a", "process-b", "process-c"]);
    expect(anc.notify).toEqual(["prepare", "process-a", "process-b", "process-c", "validate", "aggregate"]);
  });

  it("entries follow definition order, also when a dependency is defined after the step", () => {
    const dag: Dag = [
      { id: "last", dependsOn: ["z", "m"] },
      { id: "m", dependsOn: ["z"] },
      { id: "z", dependsOn: [] },
    ];
    expect(seen(dag, "dependencies").last).toEqual(["m", "z"]);
    expect(seen(dag, "ancestors").last).toEqual(["m", "z"]);
    expect(seen(dag, "ancestors").m).toEqual(["z"]);
  });

  it("a 1000-step chain: rows cross word boundaries correctly (bits 31, 32, 999)", () => {
    const dag = chain(1000);
    const anc = visibility({ previousSteps: "ancestors", steps: dag })!;
    const dep = visibility({ previousSteps: "dependencies", steps: dag })!;
    expect(anc.words).toBe(32);
    for (const i of [0, 1, 31, 32, 33, 63, 64, 999]) {
      expect(visibleIndices(anc, i, 1000)).toEqual(Array.from({ length: i }, (_, j) => j));
      expect(visibleIndices(dep, i, 1000)).toEqual(i === 0 ? [] : [i - 1]);
    }
  });

  it("wide fan-in over 1000 steps: the join sees all 999, each branch only the root", () => {
    const dag: Dag = [{ id: "root", dependsOn: [] }];
    for (let i = 1; i < 999; i++) dag.push({ id: `p${i}`, dependsOn: ["root"] });
    dag.push({ id: "join", dependsOn: dag.slice(1).map((s) => s.id) });
    const anc = visibility({ previousSteps: "ancestors", steps: dag })!;
    expect(visibleIndices(anc, 999, 1000)).toHaveLength(999);
    expect(visibleIndices(anc, 500, 1000)).toEqual([0]);
    const dep = visibility({ previousSteps: "dependencies", steps: dag })!;
    expect(visibleIndices(dep, 999, 1000)).toEqual(Array.from({ length: 998 }, (_, j) => j + 1));
  });
});

describe("a step's own previous_steps", () => {
  const withModes = (dag: Dag, modes: Record<string, PreviousStepsMode>) => dag.map((s) => ({ ...s, ...(modes[s.id] ? { previousSteps: modes[s.id] } : {}) }));
  const seenWith = (dag: Dag, workflow: PreviousStepsMode | undefined, modes: Record<string, PreviousStepsMode>) => {
    const steps = withModes(dag, modes);
    const vis = visibility({ ...(workflow ? { previousSteps: workflow } : {}), steps });
    return Object.fromEntries(steps.map((s, i) => [s.id, visibleIndices(vis, i, steps.length).map((j) => steps[j].id)]));
  };

  it("wins over the workflow's, in either direction", () => {
    expect(seenWith(chain(4), "dependencies", { s3: "all" })).toEqual({ s0: [], s1: ["s0"], s2: ["s1"], s3: ["s0", "s1", "s2", "s3"] });
    expect(seenWith(chain(4), undefined, { s2: "dependencies", s3: "ancestors" })).toEqual({
      s0: ["s0", "s1", "s2", "s3"],
      s1: ["s0", "s1", "s2", "s3"],
      s2: ["s1"],
      s3: ["s0", "s1", "s2"],
    });
    expect(seenWith(DIAMOND, "ancestors", { d: "dependencies", b: "all" })).toEqual({ a: [], b: ["a", "b", "c", "d"], c: ["a"], d: ["b", "c"] });
  });

  it("steps that all say all compute nothing, whatever the workflow says", () => {
    expect(visibility({ previousSteps: "dependencies", steps: withModes(DIAMOND, { a: "all", b: "all", c: "all", d: "all" }) })).toBeUndefined();
  });
});

describe("forEachPreviousStep: which visible steps are listed", () => {
  const listed = (mode: PreviousStepsMode, dag: Dag, index: number, states: ListedState[], unsuccessful: boolean) => {
    const out: string[] = [];
    forEachPreviousStep(visibility({ previousSteps: mode, steps: dag }), index, states.map((state) => ({ state })), unsuccessful, (i) => out.push(dag[i].id));
    return out;
  };

  it("a join step sees its failed and cancelled dependencies, as under all; running and skipped ones are absent", () => {
    // d (join all_settled / any) after b failed and c cancelled; a completed.
    const states: ListedState[] = ["completed", "failed", "cancelled", "running"];
    expect(listed("all", DIAMOND, 3, states, true)).toEqual(["a", "b", "c"]);
    expect(listed("dependencies", DIAMOND, 3, states, true)).toEqual(["b", "c"]);
    expect(listed("ancestors", DIAMOND, 3, states, true)).toEqual(["a", "b", "c"]);
    const others: ListedState[] = ["completed", "running", "skipped", "pending"];
    expect(listed("dependencies", DIAMOND, 3, others, true)).toEqual([]);
    expect(listed("all", DIAMOND, 3, ["completed", "retry_wait", "skipped", "pending"], true)).toEqual(["a"]);
  });

  it("compensation calls list completed steps only, within the same visible set", () => {
    // b compensated after d failed: under all it lists every completed step, itself included.
    const states: ListedState[] = ["completed", "completed", "completed", "failed"];
    expect(listed("all", DIAMOND, 1, states, false)).toEqual(["a", "b", "c"]);
    expect(listed("dependencies", DIAMOND, 1, states, false)).toEqual(["a"]);
    expect(listed("ancestors", DIAMOND, 3, ["completed", "failed", "completed", "failed"], false)).toEqual(["a", "c"]);
  });
});

describe("compileWorkflow: previous_steps", () => {
  const step = (id: string, dependsOn: string[] = []): StepInput => ({ id, url: "http://127.0.0.1:9/x", dependsOn, parallel: false, compensation: "" });
  const input = (previousSteps?: string): WorkflowInput => ({
    id: "wf",
    steps: [step("a"), step("b", ["a"])],
    onComplete: "",
    onError: "",
    saga: false,
    baseUrl: "",
    requestId: "",
    ...(previousSteps === undefined ? {} : { previousSteps }),
  });

  it("keeps the mode as given; absent stays absent (all)", () => {
    for (const mode of ["all", "dependencies", "ancestors", "none"] as const) {
      const r = compileWorkflow(input(mode), DEFAULT_LIMITS);
      expect(r.ok && r.spec.previousSteps).toBe(mode);
    }
    const r = compileWorkflow(input(), DEFAULT_LIMITS);
    expect(r.ok).toBe(true);
    expect(r.ok && "previousSteps" in r.spec).toBe(false);
  });

  it("a step's own: kept as given, an unknown value refused naming the step's field", () => {
    const ok = input();
    ok.steps[1] = { ...ok.steps[1], previousSteps: "ancestors" };
    const r = compileWorkflow(ok, DEFAULT_LIMITS);
    expect(r.ok && r.spec.steps.map((s) => s.previousSteps)).toEqual([undefined, "ancestors"]);
    const bad = input("dependencies");
    bad.steps[1] = { ...bad.steps[1], previousSteps: "cousins" };
    expect(compileWorkflow(bad, DEFAULT_LIMITS)).toEqual({
      ok: false,
      violations: [{ field: "steps[1].previous_steps", description: 'must be all, dependencies, ancestors or none (got "cousins")' }],
    });
  });

  it("refuses an unknown value, naming the field and quoting at most 80 characters", () => {
    const r = compileWorkflow(input("parents"), DEFAULT_LIMITS);
    expect(r).toEqual({ ok: false, violations: [{ field: "previous_steps", description: 'must be all, dependencies, ancestors or none (got "parents")' }] });
    const long = compileWorkflow(input("x".repeat(10_000)), DEFAULT_LIMITS);
    expect(long.ok).toBe(false);
    if (!long.ok) expect(long.violations[0].description.length).toBeLessThan(140);
  });
});
