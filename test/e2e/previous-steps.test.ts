// previous_steps end to end (README "Execution semantics"): a real server and
// real HTTP handlers that record every body; for each mode, the exact keys of
// previousSteps each handler received, on a chain, a diamond, a join with a
// failed dependency, a map step's items and saga compensations.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { describe, expect, test } from "vitest";
import { PreviousSteps, type StepDefinitionSchema, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { createPlatform, WeftError } from "../../clients/ts/src/index.ts";
import type { HandlerServer, RecordedCall } from "../support/handler-server.ts";
import { fieldViolations, rejection } from "../support/rejection.ts";
import { type TestWeft, useWeft, waitForRun } from "../support/weft.ts";

type StepInit = MessageInitShape<typeof StepDefinitionSchema>;

let weft: TestWeft;
let handlers: HandlerServer;
useWeft((w, h) => {
  weft = w;
  handlers = h;
});

let n = 0;
/** A fresh path per test, so that handlers of different tests never meet. */
const prefix = () => `/ps${++n}`;

const MODES = {
  unspecified: PreviousSteps.UNSPECIFIED,
  all: PreviousSteps.ALL,
  dependencies: PreviousSteps.DEPENDENCIES,
  ancestors: PreviousSteps.ANCESTORS,
  none: PreviousSteps.NONE,
} as const;
type ModeName = keyof typeof MODES;

async function run(steps: StepInit[], mode: ModeName, extra: { saga?: boolean } = {}) {
  const { workflow } = await weft.client.createWorkflow({
    id: "previous-steps",
    baseUrl: handlers.baseUrl,
    steps,
    saga: extra.saga ?? false,
    previousSteps: MODES[mode],
  });
  const done = await waitForRun(weft.client, workflow!.id);
  return { id: workflow!.id, done };
}

/** Step id (or "<step>#<index>" for items, "<step>:compensation") → the keys of previousSteps it received. */
function keysByCall(calls: RecordedCall[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const c of calls) {
    const b = c.body as RecordedCall["body"] & { index?: number; compensation?: boolean };
    const name = b.compensation ? `${b.stepId}:compensation` : b.index !== undefined ? `${b.stepId}#${b.index}` : b.stepId;
    out[name] = Object.keys(b.previousSteps);
  }
  return out;
}

/** s0 → s1 → s2 → s3, each answering {n: its index} padded with its id. */
function chain(p: string): StepInit[] {
  handlers.on(`${p}/step`, (call) => ({ json: { success: true, result: { from: call.body.stepId } } }));
  return [0, 1, 2, 3].map((i) => ({ id: `s${i}`, url: `${p}/step`, dependsOn: i === 0 ? [] : [`s${i - 1}`] }));
}

/** a → b, a → c, b + c → d; not parallel, so b runs before c and `all` is deterministic. */
function diamond(p: string): StepInit[] {
  handlers.on(`${p}/step`, (call) => ({ json: { success: true, result: { from: call.body.stepId } } }));
  return [
    { id: "a", url: `${p}/step` },
    { id: "b", url: `${p}/step`, dependsOn: ["a"] },
    { id: "c", url: `${p}/step`, dependsOn: ["a"] },
    { id: "d", url: `${p}/step`, dependsOn: ["b", "c"] },
  ];
}

describe("the keys each step call's previousSteps holds", () => {
  const CHAIN: Record<ModeName, Record<string, string[]>> = {
    unspecified: { s0: [], s1: ["s0"], s2: ["s0", "s1"], s3: ["s0", "s1", "s2"] },
    all: { s0: [], s1: ["s0"], s2: ["s0", "s1"], s3: ["s0", "s1", "s2"] },
    dependencies: { s0: [], s1: ["s0"], s2: ["s1"], s3: ["s2"] },
    ancestors: { s0: [], s1: ["s0"], s2: ["s0", "s1"], s3: ["s0", "s1", "s2"] },
    none: { s0: [], s1: [], s2: [], s3: [] },
  };
  const DIAMOND: Record<ModeName, Record<string, string[]>> = {
    unspecified: { a: [], b: ["a"], c: ["a", "b"], d: ["a", "b", "c"] },
    all: { a: [], b: ["a"], c: ["a", "b"], d: ["a", "b", "c"] },
    dependencies: { a: [], b: ["a"], c: ["a"], d: ["b", "c"] },
    ancestors: { a: [], b: ["a"], c: ["a"], d: ["a", "b", "c"] },
    none: { a: [], b: [], c: [], d: [] },
  };

  for (const mode of Object.keys(MODES) as ModeName[]) {
    test(`${mode}: a chain of 4`, async () => {
      const p = prefix();
      const { id, done } = await run(chain(p), mode);
      expect(done.state).toBe(WorkflowState.COMPLETED);
      expect(keysByCall(handlers.callsFor(id))).toEqual(CHAIN[mode]);
      // The entries themselves are as under all.
      const last = handlers.callsFor(id).find((c) => c.body.stepId === "s3")!.body.previousSteps;
      if (mode === "none") expect(last).toEqual({});
      else expect(last.s2).toEqual({ result: { from: "s2" }, completedAt: expect.any(String), attempts: 1 });
    });

    test(`${mode}: a diamond`, async () => {
      const p = prefix();
      const { id, done } = await run(diamond(p), mode);
      expect(done.state).toBe(WorkflowState.COMPLETED);
      expect(keysByCall(handlers.callsFor(id))).toEqual(DIAMOND[mode]);
    });
  }

  test("GetWorkflow shows the mode as given (unspecified when not)", async () => {
    const p = prefix();
    const a = await run(chain(p), "dependencies");
    expect(a.done.previousSteps).toBe(PreviousSteps.DEPENDENCIES);
    const b = await run(chain(p), "unspecified");
    expect(b.done.previousSteps).toBe(PreviousSteps.UNSPECIFIED);
  });
});

describe("joins, map steps and compensations", () => {
  test("dependencies: a join step sees its failed dependency with state and error, as under all, and nothing else", async () => {
    const entries: Record<string, unknown> = {};
    for (const mode of ["all", "dependencies"] as const) {
      const p = prefix();
      handlers.on(`${p}/ok`, (call) => ({ json: { success: true, result: { from: call.body.stepId } } }));
      handlers.on(`${p}/bad`, () => ({ status: 500, json: { success: false, error: "branch broke" } }));
      const { id, done } = await run(
        [
          { id: "a", url: `${p}/ok` },
          { id: "b", url: `${p}/bad`, dependsOn: ["a"] },
          { id: "c", url: `${p}/ok`, dependsOn: ["a"] },
          { id: "d", url: `${p}/ok`, dependsOn: ["b", "c"], join: { policy: { case: "allSettled", value: {} } } },
        ],
        mode,
      );
      expect(done.state).toBe(WorkflowState.COMPLETED);
      const d = handlers.callsFor(id).find((c) => c.body.stepId === "d")!.body.previousSteps;
      expect(Object.keys(d)).toEqual(mode === "all" ? ["a", "b", "c"] : ["b", "c"]);
      const { completedAt, ...rest } = d.b as unknown as { completedAt: string };
      expect(completedAt).toEqual(expect.any(String));
      entries[mode] = rest;
    }
    expect(entries.dependencies).toEqual(entries.all);
    expect(entries.dependencies).toMatchObject({ state: "failed", attempts: 1, error: { message: expect.stringContaining("branch broke"), httpStatus: 500 } });
  });

  test("a map step's item calls see what the map step would", async () => {
    const seen: Record<string, Record<string, string[]>> = {};
    for (const mode of ["all", "dependencies", "ancestors", "none"] as const) {
      const p = prefix();
      handlers.on(`${p}/start`, () => ({ json: { success: true, result: { started: true } } }));
      handlers.on(`${p}/prep`, () => ({ json: { success: true, result: { items: ["x", "y", "z"] } } }));
      handlers.on(`${p}/item`, (call) => ({ json: { success: true, result: (call.body as unknown as { item: string }).item } }));
      const { id, done } = await run(
        [
          { id: "start", url: `${p}/start` },
          { id: "prep", url: `${p}/prep`, dependsOn: ["start"] },
          { id: "map", url: `${p}/item`, dependsOn: ["prep"], forEach: "/prep/result/items" },
          { id: "end", url: `${p}/start`, dependsOn: ["map"] },
        ],
        mode,
      );
      expect(done.state).toBe(WorkflowState.COMPLETED);
      seen[mode] = keysByCall(handlers.callsFor(id));
      // The dependent sees the map step's item results in every mode that shows it anything.
      if (mode !== "none") expect(handlers.callsFor(id).find((c) => c.body.stepId === "end")!.body.previousSteps.map.result).toEqual(["x", "y", "z"]);
    }
    for (const i of [0, 1, 2]) {
      expect(seen.all[`map#${i}`]).toEqual(["start", "prep"]);
      expect(seen.dependencies[`map#${i}`]).toEqual(["prep"]);
      expect(seen.ancestors[`map#${i}`]).toEqual(["start", "prep"]);
      expect(seen.none[`map#${i}`]).toEqual([]);
    }
    expect(seen.none.end).toEqual([]);
    expect(seen.dependencies.end).toEqual(["map"]);
    expect(seen.ancestors.end).toEqual(["start", "prep", "map"]);
    expect(seen.all.end).toEqual(["start", "prep", "map"]);
  });

  test("none on a map step alone: its items get the context, their item and index, no previousSteps; the rest of the run sees all", async () => {
    const p = prefix();
    handlers.on(`${p}/prep`, () => ({ json: { success: true, result: { items: ["x", "y"], bulky: "b".repeat(10_000) } } }));
    handlers.on(`${p}/item`, (call) => ({ json: { success: true, result: (call.body as unknown as { item: string }).item.toUpperCase() } }));
    handlers.on(`${p}/end`, () => ({ json: { success: true } }));
    const { workflow } = await weft.client.createWorkflow({
      id: "previous-steps",
      baseUrl: handlers.baseUrl,
      context: { tenant: "t1" },
      steps: [
        { id: "prep", url: `${p}/prep` },
        { id: "map", url: `${p}/item`, dependsOn: ["prep"], forEach: "/prep/result/items", previousSteps: PreviousSteps.NONE },
        { id: "end", url: `${p}/end`, dependsOn: ["map"] },
      ],
    });
    const done = await waitForRun(weft.client, workflow!.id);
    expect(done.state).toBe(WorkflowState.COMPLETED);
    const calls = handlers.callsFor(workflow!.id);
    const items = calls.filter((c) => c.body.stepId === "map").map((c) => c.body as RecordedCall["body"] & { item: string; index: number });
    expect(items.map((b) => [b.item, b.index, b.previousSteps, b.context]).sort()).toEqual([
      ["x", 0, {}, { tenant: "t1" }],
      ["y", 1, {}, { tenant: "t1" }],
    ]);
    // The bulky list is not in the items' bodies; the step after the map sees everything.
    for (const c of calls.filter((c) => c.body.stepId === "map")) expect(c.rawBody.length).toBeLessThan(2_000);
    expect(Object.keys(calls.find((c) => c.body.stepId === "end")!.body.previousSteps)).toEqual(["prep", "map"]);
    expect(calls.find((c) => c.body.stepId === "end")!.body.previousSteps.map.result).toEqual(["X", "Y"]);
  });

  test("saga compensations follow the mode: completed steps among those the step sees", async () => {
    const seen: Record<string, Record<string, string[]>> = {};
    for (const mode of ["all", "dependencies", "ancestors"] as const) {
      const p = prefix();
      handlers.on(`${p}/ok`, (call) => ({ json: { success: true, result: { from: call.body.stepId } } }));
      handlers.on(`${p}/undo`, () => ({ json: { success: true } }));
      handlers.on(`${p}/bad`, () => ({ status: 400, json: { success: false, error: "no", retryable: false } }));
      const { id, done } = await run(
        [
          { id: "a", url: `${p}/ok`, compensation: `${p}/undo` },
          { id: "b", url: `${p}/ok`, dependsOn: ["a"], compensation: `${p}/undo` },
          { id: "c", url: `${p}/ok`, dependsOn: ["b"], compensation: `${p}/undo` },
          { id: "d", url: `${p}/bad`, dependsOn: ["c"] },
        ],
        mode,
        { saga: true },
      );
      expect(done.state).toBe(WorkflowState.FAILED);
      seen[mode] = keysByCall(handlers.callsFor(id, `${p}/undo`));
    }
    expect(seen.all).toEqual({ "a:compensation": ["a", "b", "c"], "b:compensation": ["a", "b", "c"], "c:compensation": ["a", "b", "c"] });
    expect(seen.dependencies).toEqual({ "a:compensation": [], "b:compensation": ["a"], "c:compensation": ["b"] });
    expect(seen.ancestors).toEqual({ "a:compensation": [], "b:compensation": ["a"], "c:compensation": ["a", "b"] });
  });
});

describe("a step's own previous_steps", () => {
  test("wins over the workflow's: a dependencies chain whose last step asks for all, and the reverse", async () => {
    const p = prefix();
    const steps = chain(p);
    const a = await run([...steps.slice(0, 3), { ...steps[3], previousSteps: PreviousSteps.ALL }], "dependencies");
    expect(keysByCall(handlers.callsFor(a.id))).toEqual({ s0: [], s1: ["s0"], s2: ["s1"], s3: ["s0", "s1", "s2"] });
    expect(a.done.steps.map((s) => s.definition?.previousSteps)).toEqual([0, 0, 0, PreviousSteps.ALL]);
    const b = await run([...steps.slice(0, 3), { ...steps[3], previousSteps: PreviousSteps.DEPENDENCIES }], "unspecified");
    expect(keysByCall(handlers.callsFor(b.id))).toEqual({ s0: [], s1: ["s0"], s2: ["s0", "s1"], s3: ["s2"] });
  });

  test("an unknown step value is INVALID_ARGUMENT naming the step's field", async () => {
    const err = await rejection(
      weft.client.createWorkflow({ id: "bad-step-mode", steps: [{ id: "a", url: "http://127.0.0.1:9/a", previousSteps: 9 as PreviousSteps }] }),
    );
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(fieldViolations(err).map(([f]) => f)).toEqual(["steps[0].previous_steps"]);
  });
});

describe("the field through the clients", () => {
  test("TypeScript client: previousSteps 'dependencies' on create, shown in the status; absent (all) by default", async () => {
    const p = prefix();
    handlers.on(`${p}/step`, (call) => ({ json: { success: true, result: { from: call.body.stepId } } }));
    const platform = createPlatform({ baseUrl: weft.baseUrl });
    const steps = [
      { id: "one", url: `${p}/step` },
      { id: "two", url: `${p}/step`, dependsOn: ["one"] },
      { id: "three", url: `${p}/step`, dependsOn: ["two"] },
    ];
    const created = await platform.workflows.create({ id: "sdk-previous-steps", baseUrl: handlers.baseUrl, steps, previousSteps: "dependencies" });
    expect(created.previousSteps).toBe("dependencies");
    await waitForRun(weft.client, created.id);
    expect(keysByCall(handlers.callsFor(created.id))).toEqual({ one: [], two: ["one"], three: ["two"] });
    const own = await platform.workflows.create({
      id: "sdk-previous-steps",
      baseUrl: handlers.baseUrl,
      steps: [...steps.slice(0, 2), { ...steps[2], previousSteps: "ancestors" }],
      previousSteps: "dependencies",
    });
    await waitForRun(weft.client, own.id);
    expect(keysByCall(handlers.callsFor(own.id))).toEqual({ one: [], two: ["one"], three: ["one", "two"] });
    const plain = await platform.workflows.create({ id: "sdk-previous-steps", baseUrl: handlers.baseUrl, steps });
    expect(plain.previousSteps).toBeUndefined();
    expect(keysByCall(handlers.callsFor((await waitForRun(weft.client, plain.id)).id))).toEqual({ one: [], two: ["one"], three: ["one", "two"] });
  });

  test("TypeScript client: an unknown mode is invalid_argument naming previous_steps, before any call", async () => {
    const platform = createPlatform({ baseUrl: weft.baseUrl });
    const err = await platform.workflows
      .create({ id: "x", steps: [{ id: "a", url: "http://127.0.0.1:9/a" }], previousSteps: "parents" as never })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeftError);
    expect((err as WeftError).fieldViolations.map((v) => v.field)).toEqual(["previous_steps"]);
  });

  test("server: an enum number the API does not define is INVALID_ARGUMENT naming previous_steps, and no run is stored", async () => {
    const before = (await weft.client.listWorkflows({ workflowId: "bad-mode" })).workflows.length;
    const err = await rejection(
      weft.client.createWorkflow({ id: "bad-mode", steps: [{ id: "a", url: "http://127.0.0.1:9/a" }], previousSteps: 7 as PreviousSteps }),
    );
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(fieldViolations(err).map(([f]) => f)).toEqual(["previous_steps"]);
    expect((await weft.client.listWorkflows({ workflowId: "bad-mode" })).workflows.length).toBe(before);
  });
});
