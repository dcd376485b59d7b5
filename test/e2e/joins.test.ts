// Join policies end to end (README "Partial failures"): a real server, real
// HTTP handlers, on the store WEFT_TEST_STORE names. The product document's
// fan-in route handler (test/support/sdk-snippets/finalize-batch-route.ts,
// verbatim) counts the successful and failed branches of a fan-out in which
// one branch failed.
import { type MessageInitShape, toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { describe, expect, test } from "vitest";
import { type StepDefinitionSchema, StepState, type WorkflowEvent, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { createPlatform, WeftError } from "../../clients/ts/src/index.ts";
import { db } from "../support/sdk-snippets/db.ts";
import { POST } from "../support/sdk-snippets/finalize-batch-route.ts";
import { NextRequest } from "../support/sdk-snippets/next-server.ts";
import { fetchRequestFor, replyFrom } from "../support/sdk.ts";
import type { HandlerServer, RecordedCall } from "../support/handler-server.ts";
import { fieldViolations, rejection } from "../support/rejection.ts";
import { allEvents, hangUntilAborted } from "../support/run-observer.ts";
import { collectWatch, Gate, isTerminalRunEvent, stepTrail, until } from "../support/watch.ts";
import { TEST_SECRET, type TestWeft, useWeft, waitForRun } from "../support/weft.ts";

type StepInit = MessageInitShape<typeof StepDefinitionSchema>;

let weft: TestWeft;
let handlers: HandlerServer;
useWeft((w, h) => {
  weft = w;
  handlers = h;
  // The document's route handler verifies requests with the SDK's default platform.
  process.env.WEFT_URL = w.baseUrl;
  process.env.WEFT_SIGNING_SECRETS = TEST_SECRET;
});

let n = 0;
/** A fresh path prefix per test, so that handlers of different tests never meet. */
const prefix = () => `/j${++n}`;

const ok = (result: unknown) => ({ json: { success: true, result } });
const broken = { status: 500, json: { success: false, error: "item is corrupt" } };

async function create(steps: StepInit[], extra: { saga?: boolean; context?: Record<string, unknown> } = {}): Promise<string> {
  const { workflow } = await weft.client.createWorkflow({
    id: "joins",
    baseUrl: handlers.baseUrl,
    steps,
    saga: extra.saga ?? false,
    context: (extra.context ?? {}) as never,
  });
  return workflow!.id;
}

const stepOf = (w: { steps: { id: string }[] }, id: string) => w.steps.find((s) => s.id === id)! as Awaited<ReturnType<typeof waitForRun>>["steps"][number];
const stateOf = (w: Awaited<ReturnType<typeof waitForRun>>) => Object.fromEntries(w.steps.map((s) => [s.id, StepState[s.state]]));
/** Three retries a few ms apart: a branch that is aborted must not use them. */
const retries = { maxAttempts: 3, initialInterval: { nanos: 20_000_000 } };

/** Waits until the handler saw the call end without an answer (Weft aborted it). */
async function expectAborted(call: () => RecordedCall | undefined, what: string): Promise<void> {
  await until(() => call()?.aborted === true, `${what} aborted`, 15_000);
}

describe("all_settled: the product document's fan-in with one failed branch", () => {
  test("the fan-in runs, its handler counts 2 successful and 1 failed, the run completes with the branch still failed", async () => {
    const p = prefix();
    const counts: Record<string, number> = { "process-item-1": 4, "process-item-3": 2 };
    handlers.on(`${p}/prepare-batch`, () => ok({ prepared: true }));
    handlers.on(`${p}/process-item`, (call) =>
      call.body.stepId === "process-item-2" ? broken : ok({ success: true, processedCount: counts[call.body.stepId] }),
    );
    handlers.on(`${p}/finalize-batch`, async (call) => replyFrom(await POST(fetchRequestFor(NextRequest, handlers.baseUrl, call))));
    const rowsBefore = db.batchResults.rows.length;
    const items = ["process-item-1", "process-item-2", "process-item-3"];
    const id = await create(
      [
        { id: "prepare", url: `${p}/prepare-batch` },
        ...items.map((item) => ({ id: item, url: `${p}/process-item`, dependsOn: ["prepare"], parallel: true })),
        { id: "finalize", url: `${p}/finalize-batch`, dependsOn: items, join: { policy: { case: "allSettled", value: {} } } },
      ],
      { context: { batchId: "batch_123", items: ["item_1", "item_2", "item_3"] } },
    );
    const done = await waitForRun(weft.client, id);

    expect(WorkflowState[done.state]).toBe("COMPLETED");
    expect(done.error).toBeUndefined();
    expect(done.failedSteps).toEqual(["process-item-2"]);
    expect(stateOf(done)).toEqual({
      prepare: "COMPLETED",
      "process-item-1": "COMPLETED",
      "process-item-2": "FAILED",
      "process-item-3": "COMPLETED",
      finalize: "COMPLETED",
    });
    expect(stepOf(done, "process-item-2").error).toMatchObject({ reason: "http_status", httpStatus: 500 });
    const stats = { total: 3, successful: 2, failed: 1, totalProcessed: 6 };
    expect(toJson(ValueSchema, done.results.finalize!)).toEqual(stats);
    expect(db.batchResults.rows).toHaveLength(rowsBefore + 1);
    expect(db.batchResults.rows.at(-1)!.stats).toEqual(stats);

    // What the fan-in got: completed branches in their usual shape, the failed one with its state and error.
    const fin = handlers.callsFor(id, `${p}/finalize-batch`);
    expect(fin).toHaveLength(1);
    const prev = fin[0].body.previousSteps as Record<string, Record<string, unknown>>;
    expect(Object.keys(prev).sort()).toEqual(["prepare", ...items]);
    expect(Object.keys(prev["process-item-1"]).sort()).toEqual(["attempts", "completedAt", "result"]);
    expect(prev["process-item-1"].result).toEqual({ success: true, processedCount: 4 });
    expect(prev["process-item-2"]).toEqual({
      state: "failed",
      error: expect.objectContaining({ reason: "http_status", httpStatus: 500, attempt: 1, message: expect.any(String) }),
      completedAt: expect.any(String),
      attempts: 1,
    });
    expect(prev["process-item-2"]).not.toHaveProperty("result");
  });

  test("under the default policy the same failure fails the run and the fan-in never runs", async () => {
    const p = prefix();
    handlers.on(`${p}/b`, () => broken);
    const id = await create([
      { id: "a", url: `${p}/a`, parallel: true },
      { id: "b", url: `${p}/b`, parallel: true },
      { id: "fin", url: `${p}/fin`, dependsOn: ["a", "b"] },
    ]);
    const done = await waitForRun(weft.client, id);
    expect(WorkflowState[done.state]).toBe("FAILED");
    expect(done.error).toMatchObject({ reason: "step_failed", stepId: "b" });
    expect(stepOf(done, "fin").state).toBe(StepState.SKIPPED);
    expect(handlers.callsFor(id, `${p}/fin`)).toHaveLength(0);
  });
});

describe("at_least", () => {
  test("met: one of three failed, two completed: the join step runs and the run completes", async () => {
    const p = prefix();
    handlers.on(`${p}/b`, () => broken);
    const id = await create([
      { id: "a", url: `${p}/a`, parallel: true },
      { id: "b", url: `${p}/b`, parallel: true },
      { id: "c", url: `${p}/c`, parallel: true },
      { id: "fin", url: `${p}/fin`, dependsOn: ["a", "b", "c"], join: { policy: { case: "atLeast", value: 2 } } },
    ]);
    const done = await waitForRun(weft.client, id);
    expect(WorkflowState[done.state]).toBe("COMPLETED");
    expect(stateOf(done)).toEqual({ a: "COMPLETED", b: "FAILED", c: "COMPLETED", fin: "COMPLETED" });
    expect(done.failedSteps).toEqual(["b"]);
  });

  test("unmet: fails as soon as two of three failed, while the third still hangs; that call is aborted and never retried", async () => {
    const p = prefix();
    handlers.on(`${p}/a`, () => broken);
    handlers.on(`${p}/b`, () => broken);
    handlers.on(`${p}/c`, hangUntilAborted());
    const id = await create([
      { id: "a", url: `${p}/a`, parallel: true },
      { id: "b", url: `${p}/b`, parallel: true },
      { id: "c", url: `${p}/c`, parallel: true, retries },
      { id: "fin", url: `${p}/fin`, dependsOn: ["a", "b", "c"], join: { policy: { case: "atLeast", value: 2 } } },
    ]);
    const done = await waitForRun(weft.client, id);
    expect(WorkflowState[done.state]).toBe("FAILED");
    expect(done.error).toMatchObject({
      reason: "join_failed",
      stepId: "fin",
      message: 'step "fin" cannot run (join at_least 2): needs at least 2 of 3 to complete; 2 failed',
    });
    expect(stateOf(done)).toEqual({ a: "FAILED", b: "FAILED", c: "CANCELLED", fin: "SKIPPED" });
    expect(stepOf(done, "fin").error).toMatchObject({ reason: "join_failed" });
    expect(stepOf(done, "c").error).toMatchObject({ reason: "not_needed", message: 'not needed: step "fin" can no longer run', attempt: 1 });
    await expectAborted(() => handlers.callsFor(id, `${p}/c`)[0], "c");
    expect(handlers.callsFor(id, `${p}/c`)).toHaveLength(1);
    expect(handlers.callsFor(id, `${p}/fin`)).toHaveLength(0);
  });
});

describe("tolerated_failure_percent", () => {
  const four = (p: string, percent: number): StepInit[] => [
    ...["a", "b", "c", "d"].map((s) => ({ id: s, url: `${p}/${s}`, parallel: true, retries })),
    { id: "fin", url: `${p}/fin`, dependsOn: ["a", "b", "c", "d"], join: { policy: { case: "toleratedFailurePercent" as const, value: percent } } },
  ];

  test("within the percentage (1 of 4 at 25%) the run completes", async () => {
    const p = prefix();
    handlers.on(`${p}/c`, () => ({ ...broken, status: 400 }));
    const done = await waitForRun(weft.client, await create(four(p, 25)));
    expect(WorkflowState[done.state]).toBe("COMPLETED");
    expect(done.failedSteps).toEqual(["c"]);
  });

  test("past it (2 of 4) the join fails at once; the two branches still in flight are aborted", async () => {
    const p = prefix();
    handlers.on(`${p}/a`, () => ({ ...broken, status: 400 }));
    handlers.on(`${p}/b`, () => ({ ...broken, status: 400 }));
    handlers.on(`${p}/c`, hangUntilAborted());
    handlers.on(`${p}/d`, hangUntilAborted());
    const id = await create(four(p, 25));
    const done = await waitForRun(weft.client, id);
    expect(WorkflowState[done.state]).toBe("FAILED");
    expect(done.error).toMatchObject({ reason: "join_failed", stepId: "fin", message: expect.stringContaining("2 of 4 failed, more than the tolerated 25%") });
    expect(stateOf(done)).toEqual({ a: "FAILED", b: "FAILED", c: "CANCELLED", d: "CANCELLED", fin: "SKIPPED" });
    for (const s of ["c", "d"]) {
      await expectAborted(() => handlers.callsFor(id, `${p}/${s}`)[0], s);
      expect(handlers.callsFor(id, `${p}/${s}`)).toHaveLength(1);
    }
  });
});

describe("any", () => {
  test("the first completion runs the step; the losers' calls are aborted, never retried, and watch shows them cancelled as not needed", async () => {
    const p = prefix();
    const slow = new Gate();
    handlers.on(`${p}/fast`, async () => {
      // Answer only once both losers are in flight, so that they are aborted mid-call.
      await slow.opened;
      return ok({ winner: "fast" });
    });
    handlers.on(`${p}/slow-1`, hangUntilAborted());
    handlers.on(`${p}/slow-2`, hangUntilAborted());
    const id = await create([
      { id: "fast", url: `${p}/fast`, parallel: true },
      { id: "slow-1", url: `${p}/slow-1`, parallel: true, retries },
      { id: "slow-2", url: `${p}/slow-2`, parallel: true, retries },
      { id: "first", url: `${p}/first`, dependsOn: ["fast", "slow-1", "slow-2"], join: { policy: { case: "any", value: {} } } },
    ]);
    const watched = collectWatch((signal) => weft.client.watchWorkflow({ id }, { signal }), {
      stopWhen: (m) => m.kind.case === "event" && isTerminalRunEvent(m.kind.value),
    });
    await until(() => handlers.callsFor(id, `${p}/slow-1`).length === 1 && handlers.callsFor(id, `${p}/slow-2`).length === 1, "losers in flight");
    slow.open();
    const done = await waitForRun(weft.client, id);
    expect(WorkflowState[done.state]).toBe("COMPLETED");
    expect(stateOf(done)).toEqual({ fast: "COMPLETED", "slow-1": "CANCELLED", "slow-2": "CANCELLED", first: "COMPLETED" });
    expect(done.failedSteps).toEqual([]);
    for (const s of ["slow-1", "slow-2"]) {
      expect(stepOf(done, s).error).toMatchObject({ reason: "not_needed", message: 'not needed: step "first" went on without it' });
      await expectAborted(() => handlers.callsFor(id, `${p}/${s}`)[0], s);
      expect(handlers.callsFor(id, `${p}/${s}`)).toHaveLength(1);
    }
    const first = handlers.callsFor(id, `${p}/first`);
    expect(first).toHaveLength(1);
    expect((first[0].body.previousSteps as Record<string, { result?: unknown }>).fast.result).toEqual({ winner: "fast" });

    const w = await watched;
    expect(w.error).toBeUndefined();
    const events: WorkflowEvent[] = w.events;
    for (const s of ["slow-1", "slow-2"]) {
      expect(stepTrail(events, s).at(-1)).toBe("RUNNING→CANCELLED");
      const cancelled = events.find((e) => e.stepId === s && e.transition.case === "step" && e.transition.value.toState === StepState.CANCELLED)!;
      expect(cancelled.error).toMatchObject({ reason: "not_needed", attempt: 1 });
    }
    // The log holds the same events.
    const log = await allEvents(weft.client, id);
    expect(stepTrail(log, "slow-1")).toEqual(["PENDING→RUNNING", "RUNNING→CANCELLED"]);
  });

  test("a dependency that another waiting step needs is not cancelled", async () => {
    const p = prefix();
    const gate = new Gate();
    handlers.on(`${p}/shared`, async () => {
      await gate.opened;
      return ok({ shared: true });
    });
    const id = await create([
      { id: "shared", url: `${p}/shared`, parallel: true },
      { id: "quick", url: `${p}/quick`, parallel: true },
      { id: "first", url: `${p}/first`, dependsOn: ["shared", "quick"], parallel: true, join: { policy: { case: "any", value: {} } } },
      { id: "needs-shared", url: `${p}/needs-shared`, dependsOn: ["shared"] },
    ]);
    await waitForRun(weft.client, id, (w) => stepOf(w, "first").state === StepState.COMPLETED);
    const mid = await weft.client.getWorkflow({ id });
    expect(stepOf(mid.workflow!, "shared").state).toBe(StepState.RUNNING);
    gate.open();
    const done = await waitForRun(weft.client, id);
    expect(WorkflowState[done.state]).toBe("COMPLETED");
    expect(stateOf(done)).toEqual({ shared: "COMPLETED", quick: "COMPLETED", first: "COMPLETED", "needs-shared": "COMPLETED" });
    expect(handlers.callsFor(id, `${p}/shared`).map((c) => c.aborted)).toEqual([false]);
  });

  test("every branch failed: the join fails the run", async () => {
    const p = prefix();
    handlers.on(`${p}/a`, () => broken);
    handlers.on(`${p}/b`, () => broken);
    const id = await create([
      { id: "a", url: `${p}/a`, parallel: true },
      { id: "b", url: `${p}/b`, parallel: true },
      { id: "first", url: `${p}/first`, dependsOn: ["a", "b"], join: { policy: { case: "any", value: {} } } },
    ]);
    const done = await waitForRun(weft.client, id);
    expect(WorkflowState[done.state]).toBe("FAILED");
    expect(done.error).toMatchObject({ reason: "join_failed", stepId: "first", message: 'step "first" cannot run (join any): all 2 failed' });
  });
});

describe("saga mode", () => {
  test("a tolerated failure completes the run: no compensation is called", async () => {
    const p = prefix();
    handlers.on(`${p}/b`, () => broken);
    const id = await create(
      [
        { id: "prepare", url: `${p}/prepare`, compensation: `${p}/undo-prepare` },
        { id: "a", url: `${p}/a`, dependsOn: ["prepare"], parallel: true, compensation: `${p}/undo-a` },
        { id: "b", url: `${p}/b`, dependsOn: ["prepare"], parallel: true, compensation: `${p}/undo-b` },
        { id: "fin", url: `${p}/fin`, dependsOn: ["a", "b"], join: { policy: { case: "allSettled", value: {} } } },
      ],
      { saga: true },
    );
    const done = await waitForRun(weft.client, id);
    expect(WorkflowState[done.state]).toBe("COMPLETED");
    expect(stateOf(done)).toEqual({ prepare: "COMPLETED", a: "COMPLETED", b: "FAILED", fin: "COMPLETED" });
    expect(handlers.callsFor(id).filter((c) => c.path.includes("/undo-"))).toEqual([]);
    expect(done.steps.every((s) => s.compensationAttempts === 0)).toBe(true);
  });

  test("a failed join compensates the completed steps, not the failed or cancelled branches", async () => {
    const p = prefix();
    handlers.on(`${p}/b`, () => broken);
    handlers.on(`${p}/c`, hangUntilAborted());
    const id = await create(
      [
        { id: "prepare", url: `${p}/prepare`, compensation: `${p}/undo-prepare` },
        { id: "b", url: `${p}/b`, dependsOn: ["prepare"], parallel: true, compensation: `${p}/undo-b` },
        { id: "c", url: `${p}/c`, dependsOn: ["prepare"], parallel: true, compensation: `${p}/undo-c` },
        { id: "fin", url: `${p}/fin`, dependsOn: ["b", "c"], join: { policy: { case: "atLeast", value: 2 } } },
      ],
      { saga: true },
    );
    const done = await waitForRun(weft.client, id);
    expect(WorkflowState[done.state]).toBe("FAILED");
    expect(done.error).toMatchObject({ reason: "join_failed", stepId: "fin" });
    expect(stateOf(done)).toEqual({ prepare: "COMPLETED", b: "FAILED", c: "CANCELLED", fin: "SKIPPED" });
    const undo = handlers.callsFor(id).filter((c) => c.path.includes("/undo-"));
    expect(undo.map((c) => c.path)).toEqual([`${p}/undo-prepare`]);
    // Compensation calls list the completed steps only, as before join policies.
    expect(Object.keys(undo[0].body.previousSteps)).toEqual(["prepare"]);
  });
});

describe("definitions", () => {
  test("the join policy is shown in the step definitions of the run", async () => {
    const p = prefix();
    const id = await create([
      { id: "a", url: `${p}/a`, parallel: true },
      { id: "b", url: `${p}/b`, parallel: true },
      { id: "pct", url: `${p}/pct`, dependsOn: ["a", "b"], join: { policy: { case: "toleratedFailurePercent", value: 12.5 } } },
      { id: "all", url: `${p}/all`, dependsOn: ["a"], join: { policy: { case: "all", value: {} } } },
      { id: "plain", url: `${p}/plain`, dependsOn: ["a"] },
    ]);
    const done = await waitForRun(weft.client, id);
    expect(stepOf(done, "pct").definition?.join?.policy).toEqual({ case: "toleratedFailurePercent", value: 12.5 });
    expect(stepOf(done, "all").definition?.join?.policy.case).toBe("all");
    expect(stepOf(done, "plain").definition?.join).toBeUndefined();
  });

  test("Connect JSON: the README's spelling is accepted; a wrongly typed policy is refused naming the field", async () => {
    const post = (body: unknown) =>
      fetch(`${weft.baseUrl}/weft.v1.WorkflowService/CreateWorkflow`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    // Loopback handlers only (the default one answers at once).
    const steps = (join: unknown) => [
      { id: "a", url: "/json/a" },
      { id: "b", url: "/json/b", dependsOn: ["a"], join },
    ];
    for (const join of [{ allSettled: {} }, { atLeast: 1 }, { toleratedFailurePercent: 10 }, { any: {} }, { all: {} }]) {
      const res = await post({ id: "json-join", baseUrl: handlers.baseUrl, steps: steps(join) });
      expect(res.status, JSON.stringify(join)).toBe(200);
      const { workflow } = (await res.json()) as { workflow: { id: string; steps: { definition: { join?: unknown } }[] } };
      expect(workflow.steps[1].definition.join).toEqual(join);
      expect(WorkflowState[(await waitForRun(weft.client, workflow.id)).state]).toBe("COMPLETED");
    }
    const bad = await post({ id: "json-join", baseUrl: handlers.baseUrl, steps: steps({ atLeast: "two" }) });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain("steps[1].join.at_least");
  });

  test("impossible settings are rejected with INVALID_ARGUMENT naming the field, and no run is created", async () => {
    const before = (await weft.client.listWorkflows({ pageSize: 100 })).workflows.length;
    const err = await rejection(
      weft.client.createWorkflow({
        id: "bad-joins",
        steps: [
          { id: "a", url: "http://127.0.0.1:9/a", join: { policy: { case: "any", value: {} } } },
          { id: "b", url: "http://127.0.0.1:9/b" },
          { id: "c", url: "http://127.0.0.1:9/c", dependsOn: ["a", "b"], join: { policy: { case: "atLeast", value: 3 } } },
          { id: "d", url: "http://127.0.0.1:9/d", dependsOn: ["a", "b"], join: { policy: { case: "toleratedFailurePercent", value: Number.NaN } } },
          { id: "e", url: "http://127.0.0.1:9/e", dependsOn: ["a"], join: {} },
        ],
      }),
    );
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(fieldViolations(err)).toEqual([
      ["steps[0].join", "only a step with depends_on can have a join policy"],
      ["steps[2].join.at_least", "must be at most 2, the number of dependencies (got 3)"],
      ["steps[3].join.tolerated_failure_percent", "must be a finite number"],
      ["steps[4].join", "no policy set: expected one of all, all_settled, at_least, tolerated_failure_percent, any"],
    ]);
    expect((await weft.client.listWorkflows({ pageSize: 100 })).workflows.length).toBe(before);
  });
});

describe("the TypeScript SDK", () => {
  test("create() takes join as in the README: 'all_settled', { atLeast }, { toleratedFailurePercent }, 'any'; status shows the failed and cancelled steps", async () => {
    const p = prefix();
    handlers.on(`${p}/b`, () => broken);
    handlers.on(`${p}/slow`, hangUntilAborted());
    const sdk = createPlatform({ baseUrl: weft.baseUrl, jobsBaseUrl: handlers.baseUrl, signingSecrets: [TEST_SECRET] });
    const workflow = await sdk.workflows.create({
      id: "sdk-joins",
      steps: [
        { id: "a", url: `${p}/a`, parallel: true },
        { id: "b", url: `${p}/b`, parallel: true },
        { id: "slow", url: `${p}/slow`, parallel: true },
        { id: "settled", url: `${p}/settled`, dependsOn: ["a", "b"], join: "all_settled", parallel: true },
        { id: "two", url: `${p}/two`, dependsOn: ["a", "b", "settled"], join: { atLeast: 2 }, parallel: true },
        { id: "pct", url: `${p}/pct`, dependsOn: ["a", "b"], join: { toleratedFailurePercent: 50 }, parallel: true },
        { id: "first", url: `${p}/first`, dependsOn: ["a", "slow"], join: "any" },
      ],
    });
    await waitForRun(weft.client, workflow.id);
    const status = await sdk.workflows.getStatus(workflow.id);
    expect(status.state).toBe("completed");
    expect(status.failedSteps).toEqual(["b"]);
    expect(Object.fromEntries(status.steps.map((s) => [s.id, s.state]))).toEqual({
      a: "completed",
      b: "failed",
      slow: "cancelled",
      settled: "completed",
      two: "completed",
      pct: "completed",
      first: "completed",
    });
    expect(status.steps.find((s) => s.id === "slow")!.error).toMatchObject({ reason: "not_needed" });

    const err = await sdk.workflows
      .create({ id: "bad", steps: [{ id: "a", url: "/a" }, { id: "b", url: "/b", dependsOn: ["a"], join: "majority" as never }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeftError);
    expect((err as WeftError).fieldViolations).toEqual([
      { field: "steps[1].join", description: 'must be "all", "all_settled", "any", { atLeast: k } or { toleratedFailurePercent: p }' },
    ]);
  });
});
