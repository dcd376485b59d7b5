// Runs of one definition share its steps and the graph derived from them, and
// what is shared cannot be changed by one run.
import { describe, expect, test } from "vitest";
import { RunMachine } from "../../src/domain/run-machine.ts";
import { runGraph } from "../../src/domain/run-graph.ts";
import { newRunRecord } from "../../src/domain/run-record.ts";
import { SharedSteps } from "../../src/engine/shared-steps.ts";
import { testWorkflow } from "../support/test-workflow.ts";

const chain = () => testWorkflow([{ id: "a" }, { id: "b", dependsOn: ["a"] }, { id: "c", dependsOn: ["b"] }]);

describe("SharedSteps", () => {
  test("equal step lists of different runs become one, frozen to the leaves; a different list stays its own", () => {
    const shared = new SharedSteps();
    const first = chain().steps;
    const second = chain().steps;
    expect(second).not.toBe(first);
    expect(shared.intern(first)).toBe(first);
    expect(shared.intern(second)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first[1])).toBe(true);
    expect(Object.isFrozen(first[1].dependsOn)).toBe(true);
    expect(Object.isFrozen(first[1].retry)).toBe(true);
    expect(Object.isFrozen(first[1].submitted)).toBe(true);
    expect(() => {
      (first[0] as { url: string }).url = "http://elsewhere.test/";
    }).toThrow(TypeError);
    const other = testWorkflow([{ id: "a" }, { id: "b" }]).steps;
    expect(shared.intern(other)).toBe(other);
    expect(shared.size).toBe(2);
    // A shared list given again is returned as it is.
    expect(shared.intern(first)).toBe(first);
  });

  test("a list whose JSON passes 64 KiB is not shared (each run keeps its own, unfrozen)", () => {
    const shared = new SharedSteps();
    const big = () => testWorkflow(Array.from({ length: 400 }, (_, i) => ({ id: `step-${i}-${"x".repeat(100)}` }))).steps;
    const a = big();
    expect(JSON.stringify(a).length).toBeGreaterThan(64 * 1024);
    expect(shared.intern(a)).toBe(a);
    expect(shared.intern(big())).not.toBe(a);
    expect(Object.isFrozen(a)).toBe(false);
    expect(shared.size).toBe(0);
  });

  test("the 64 KiB bound is on the list's JSON: at it, shared; just over, not", () => {
    // Steps with 100-character ids, the last ones' ids shorter by `short` characters in all
    // (90 at most each); an id is in a step's JSON twice (its submitted copy too).
    const list = (count: number, short: number) =>
      testWorkflow(
        Array.from({ length: count }, (_, i) => {
          const cut = Math.max(0, Math.min(90, short - 90 * (count - 1 - i)));
          return { id: `${i}-`.padEnd(100 - cut, "x"), url: "https://h.test/s" };
        }),
      ).steps;
    const length = (steps: unknown) => JSON.stringify(steps).length;
    let count = 1;
    while (length(list(count + 1, 0)) <= 64 * 1024) count++;
    count++;
    const short = Math.ceil((length(list(count, 0)) - 64 * 1024) / 2);
    const at = () => list(count, short);
    const over = () => list(count, short - 1);
    expect(length(at())).toBeLessThanOrEqual(64 * 1024);
    expect(length(at())).toBeGreaterThanOrEqual(64 * 1024 - 1);
    expect(length(over())).toBeGreaterThan(64 * 1024);
    expect(length(over())).toBeLessThanOrEqual(64 * 1024 + 2);
    const shared = new SharedSteps();
    const atBound = at();
    expect(shared.intern(atBound)).toBe(atBound);
    expect(shared.intern(at())).toBe(atBound);
    const oneOver = over();
    expect(shared.intern(oneOver)).toBe(oneOver);
    expect(shared.intern(over())).not.toBe(oneOver);
    expect(shared.size).toBe(1);
  });

  test("the keys kept are bounded: the least recently used lists are let go first", () => {
    const shared = new SharedSteps();
    // 40-64 KB of JSON each: 8 MiB hold at most ~200 of them.
    const list = (n: number) => testWorkflow([{ id: `s${n}` }, ...Array.from({ length: 75 }, (_, i) => ({ id: `t${i}-${"z".repeat(110)}` }))]).steps;
    const firstKept = list(0);
    const bytes = JSON.stringify(firstKept).length;
    expect(bytes).toBeGreaterThan(40_000);
    expect(bytes).toBeLessThan(64 * 1024);
    shared.intern(firstKept);
    for (let n = 1; n < 400; n++) {
      shared.intern(list(n));
      if (n % 50 === 0) expect(shared.intern(list(0))).toBe(firstKept); // used again: kept
    }
    expect(shared.size).toBeLessThanOrEqual(Math.floor((8 * 1024 * 1024) / bytes));
    expect(shared.size).toBeGreaterThan(100);
    expect(shared.intern(list(0))).toBe(firstKept);
    const fresh = list(1);
    expect(shared.intern(fresh)).toBe(fresh); // let go long ago: this one becomes the shared list
  });
});

describe("runGraph", () => {
  test("is built once per steps list, read-only, and machines of runs sharing the list share it", () => {
    const steps = chain().steps;
    const g = runGraph(steps);
    expect(runGraph(steps)).toBe(g);
    expect(g.dependencies).toEqual([[], [0], [1]]);
    expect(g.dependents).toEqual([[1], [2], []]);
    expect(g.indexOf.get("c")).toBe(2);
    expect(Object.isFrozen(g.dependents[0])).toBe(true);
    const spec = chain();
    spec.steps = steps;
    const m1 = new RunMachine(newRunRecord("wf_A", spec, 1));
    const m2 = new RunMachine(newRunRecord("wf_B", { ...spec }, 1));
    // Each run keeps its own state while the graph is shared.
    m1.start(2);
    expect(m1.run.steps[0].state).toBe("running");
    expect(m2.run.steps[0].state).toBe("pending");
    expect(runGraph(m2.run.spec.steps)).toBe(g);
  });

  test("a dependency on a step that is not in the list is refused, and nothing is cached", () => {
    const steps = testWorkflow([{ id: "a" }]).steps;
    const broken = [{ ...steps[0], dependsOn: ["ghost"] }];
    expect(() => runGraph(broken)).toThrow(/unknown dependency ghost/);
    expect(() => runGraph(broken)).toThrow(/unknown dependency ghost/);
  });
});
