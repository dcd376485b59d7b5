// Map steps end to end (README "Map steps"): a real server, real HTTP
// handlers, on the store WEFT_TEST_STORE names.
import { type MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { expect, test } from "vitest";
import { type StepDefinitionSchema, StepState, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import type { HandlerServer, RecordedCall } from "../support/handler-server.ts";
import { fieldViolations, rejection } from "../support/rejection.ts";
import { allEvents, hangUntilAborted, sleep } from "../support/run-observer.ts";
import { until } from "../support/watch.ts";
import { createPlatform, WeftError } from "../../clients/ts/src/index.ts";
import { TEST_SECRET, type TestWeft, useWeft, waitForRun } from "../support/weft.ts";

type StepInit = MessageInitShape<typeof StepDefinitionSchema>;

let weft: TestWeft;
let handlers: HandlerServer;
useWeft((w, h) => {
  weft = w;
  handlers = h;
});

let n = 0;
const prefix = () => `/m${++n}`;

type ItemBody = RecordedCall["body"] & { item: unknown; index: number };
const itemBody = (c: RecordedCall) => c.body as ItemBody;

async function create(steps: StepInit[], context: Record<string, unknown> = {}): Promise<string> {
  const { workflow } = await weft.client.createWorkflow({ id: "map", baseUrl: handlers.baseUrl, steps, context: context as never });
  return workflow!.id;
}

const stepOf = (w: Awaited<ReturnType<typeof waitForRun>>, id: string) => w.steps.find((s) => s.id === id)!;
const policy = (c: "allSettled" | "any" | "all") => ({ policy: { case: c, value: {} } }) as const;

test("1,000 items with max_concurrency 50: never more than 50 in flight, results in item order reach the fan-in, an item retried twice", async () => {
  const p = prefix();
  const N = 1000;
  let inFlight = 0;
  let maxInFlight = 0;
  const attemptsOf7: number[] = [];
  handlers.on(`${p}/prepare`, () => ({ json: { success: true, result: { items: Array.from({ length: N }, (_, i) => ({ n: i })) } } }));
  handlers.on(`${p}/item`, async (call) => {
    const b = itemBody(call);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    // Hold each call a while so that calls pile up to whatever bound Weft keeps.
    await sleep(20);
    inFlight--;
    if (b.index === 7) {
      attemptsOf7.push(b.attempt);
      if (b.attempt < 3) return { status: 500, json: { success: false, error: "flaky" } };
    }
    return { json: { success: true, result: (b.item as { n: number }).n * 2 } };
  });
  const id = await create([
    { id: "prepare", url: `${p}/prepare` },
    {
      id: "process",
      url: `${p}/item`,
      dependsOn: ["prepare"],
      forEach: "/prepare/result/items",
      maxConcurrency: 50,
      retries: { maxAttempts: 3, initialInterval: { nanos: 10_000_000 } },
    },
    { id: "collect", url: `${p}/collect`, dependsOn: ["process"] },
  ]);
  const w = await waitForRun(weft.client, id, undefined, 240_000);
  expect(WorkflowState[w.state]).toBe("COMPLETED");
  expect(maxInFlight).toBeLessThanOrEqual(50);
  expect(maxInFlight).toBeGreaterThan(1);
  expect(attemptsOf7).toEqual([1, 2, 3]);
  const itemCalls = handlers.callsFor(id, `${p}/item`);
  expect(itemCalls).toHaveLength(N + 2);
  expect(new Set(itemCalls.map((c) => itemBody(c).index)).size).toBe(N);
  const seven = itemCalls.filter((c) => itemBody(c).index === 7);
  expect(new Set(seven.map((c) => c.headers["idempotency-key"])).size).toBe(1);
  expect(seven[0].headers["weft-item-index"]).toBe("7");
  const [collect] = handlers.callsFor(id, `${p}/collect`);
  expect(collect.body.previousSteps.process.result).toEqual(Array.from({ length: N }, (_, i) => i * 2));
  const process = stepOf(w, "process");
  expect(process.items).toMatchObject({ total: N, completed: N, failed: 0, running: 0, pending: 0, cancelled: 0 });
  expect(process.itemFailures).toEqual([]);
  expect(process.definition?.forEach).toBe("/prepare/result/items");
  expect(process.definition?.maxConcurrency).toBe(50);
  // Only the failed item attempts are events, with their item index.
  const itemEvents = (await allEvents(weft.client, id)).filter((e) => e.transition.case === "item");
  expect(itemEvents.map((e) => [e.itemIndex, e.attempt, StepState[e.transition.value!.toState as StepState]])).toEqual([
    [7, 1, "RETRY_WAIT"],
    [7, 2, "RETRY_WAIT"],
  ]);
});

test("item_failures all (the default): one failed item fails the step and the run; the fan-in never runs", async () => {
  const p = prefix();
  handlers.on(`${p}/item`, (call) =>
    itemBody(call).index === 3 ? { status: 500, json: { success: false, error: "item 3 is corrupt" } } : { json: { success: true, result: "ok" } },
  );
  const id = await create(
    [
      { id: "process", url: `${p}/item`, forEach: "/context/list", maxConcurrency: 2 },
      { id: "collect", url: `${p}/collect`, dependsOn: ["process"] },
    ],
    { list: [0, 1, 2, 3, 4, 5, 6, 7] },
  );
  const w = await waitForRun(weft.client, id);
  expect(WorkflowState[w.state]).toBe("FAILED");
  expect(w.error).toMatchObject({ reason: "step_failed", stepId: "process" });
  const process = stepOf(w, "process");
  expect(StepState[process.state]).toBe("FAILED");
  expect(process.error?.reason).toBe("items_failed");
  expect(process.itemFailures[0]).toMatchObject({ index: 3, state: StepState.FAILED, attempts: 1, error: { httpStatus: 500 } });
  expect(process.items?.completed).toBeLessThan(8);
  expect(handlers.callsFor(id, `${p}/collect`)).toHaveLength(0);
  // Items that had not started never do.
  expect(handlers.callsFor(id, `${p}/item`).length).toBeLessThan(8);
});

test("item_failures all_settled: the fan-in runs and sees the failed items in place", async () => {
  const p = prefix();
  handlers.on(`${p}/item`, (call) => {
    const i = itemBody(call).index;
    return i === 1 || i === 3 ? { status: 500, json: { success: false, error: `item ${i} failed` } } : { json: { success: true, result: `r${i}` } };
  });
  const id = await create(
    [
      { id: "process", url: `${p}/item`, forEach: "/context/list", maxConcurrency: 3, itemFailures: policy("allSettled") },
      { id: "collect", url: `${p}/collect`, dependsOn: ["process"] },
    ],
    { list: ["a", "b", "c", "d", "e"] },
  );
  const w = await waitForRun(weft.client, id);
  expect(WorkflowState[w.state]).toBe("COMPLETED");
  const [collect] = handlers.callsFor(id, `${p}/collect`);
  const result = collect.body.previousSteps.process.result as unknown[];
  expect(result).toHaveLength(5);
  expect([result[0], result[2], result[4]]).toEqual(["r0", "r2", "r4"]);
  expect(result[1]).toMatchObject({ state: "failed", error: { reason: "http_status", httpStatus: 500 } });
  expect(result[3]).toMatchObject({ state: "failed" });
  const process = stepOf(w, "process");
  expect(process.items).toMatchObject({ total: 5, completed: 3, failed: 2 });
  expect(process.itemFailures.map((f) => f.index)).toEqual([1, 3]);
  expect(itemBody(handlers.callsFor(id, `${p}/item`).find((c) => itemBody(c).index === 4)!).item).toBe("e");
});

test("cancelling a running map aborts its items in flight; the others never start", async () => {
  const p = prefix();
  handlers.on(`${p}/item`, hangUntilAborted(60_000));
  const id = await create([{ id: "process", url: `${p}/item`, forEach: "/context/list", maxConcurrency: 4 }], {
    list: Array.from({ length: 20 }, (_, i) => i),
  });
  await until(() => handlers.callsFor(id, `${p}/item`).length === 4, "4 items in flight", 30_000);
  await weft.client.cancelWorkflow({ id, reason: "enough" });
  const w = await waitForRun(weft.client, id);
  expect(WorkflowState[w.state]).toBe("CANCELLED");
  await until(() => handlers.callsFor(id, `${p}/item`).every((c) => c.aborted), "items aborted", 30_000);
  const process = stepOf(w, "process");
  expect(StepState[process.state]).toBe("CANCELLED");
  expect(process.items).toMatchObject({ total: 20, cancelled: 20, running: 0 });
  await sleep(100);
  expect(handlers.callsFor(id, `${p}/item`)).toHaveLength(4);
});

test("a for_each that names no array fails the step at once, not retried", async () => {
  const p = prefix();
  const id = await create(
    [{ id: "process", url: `${p}/item`, forEach: "/context/list", retries: { maxAttempts: 5 } }],
    { list: { not: "a list" } },
  );
  const w = await waitForRun(weft.client, id);
  expect(WorkflowState[w.state]).toBe("FAILED");
  expect(stepOf(w, "process").error).toMatchObject({ reason: "invalid_for_each", retryable: false });
  expect(handlers.callsFor(id)).toHaveLength(0);
});

test("invalid map fields are INVALID_ARGUMENT naming the field", async () => {
  const err = await rejection(
    weft.client.createWorkflow({
      id: "bad-map",
      steps: [
        { id: "a", url: "http://127.0.0.1:9/a" },
        { id: "b", url: "http://127.0.0.1:9/b", forEach: "/a/result/items" },
        { id: "c", url: "http://127.0.0.1:9/c", forEach: "items", maxConcurrency: 5000 },
        { id: "d", url: "http://127.0.0.1:9/d", maxConcurrency: 5 },
      ],
    }),
  );
  expect(err?.code).toBe(Code.InvalidArgument);
  expect(fieldViolations(err)).toEqual([
    ["steps[1].for_each", 'points into step "a", which is not in depends_on'],
    ["steps[2].for_each", "must be a JSON pointer starting with / (e.g. /context/items or /prepare/result/items)"],
    ["steps[2].max_concurrency", "must be between 1 and 1000 (got 5000)"],
    ["steps[3].max_concurrency", "only a map step (with for_each) can have max_concurrency"],
  ]);
});

test("the TypeScript SDK creates map steps and shows item counts and failures", async () => {
  const p = prefix();
  handlers.on(`${p}/item`, (call) =>
    itemBody(call).index === 2 ? { status: 422, json: { success: false, error: "bad item" } } : { json: { success: true, result: itemBody(call).item } },
  );
  const sdk = createPlatform({ baseUrl: weft.baseUrl, jobsBaseUrl: handlers.baseUrl, signingSecrets: [TEST_SECRET] });
  const workflow = await sdk.workflows.create({
    id: "sdk-map",
    steps: [
      { id: "process", url: `${p}/item`, forEach: "/context/list", maxConcurrency: 2, itemFailures: { atLeast: 3 } },
      { id: "collect", url: `${p}/collect`, dependsOn: ["process"] },
    ],
    context: { list: ["a", "b", "c", "d"] },
  });
  await waitForRun(weft.client, workflow.id);
  const status = await sdk.workflows.getStatus(workflow.id);
  expect(status.state).toBe("completed");
  const process = status.steps.find((s) => s.id === "process")!;
  expect(process.items).toEqual({ total: 4, pending: 0, running: 0, retryWait: 0, completed: 3, failed: 1, cancelled: 0 });
  expect(process.itemFailures).toMatchObject([{ index: 2, state: "failed", attempts: 1, error: { httpStatus: 422 } }]);
  const err = await sdk.workflows
    .create({ id: "bad", steps: [{ id: "a", url: "/a", forEach: "/context/x", maxConcurrency: 1.5, itemFailures: "most" as never }] })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WeftError);
  expect((err as WeftError).fieldViolations.map((v) => v.field)).toEqual(["steps[0].max_concurrency", "steps[0].item_failures"]);
});

test("ListStepItems pages through a map step's items with their results; bad requests name the field", async () => {
  const p = prefix();
  handlers.on(`${p}/item`, (call) =>
    itemBody(call).index === 5 ? { status: 400, json: { success: false, error: "no" } } : { json: { success: true, result: { i: itemBody(call).index } } },
  );
  const id = await create(
    [
      { id: "prepare", url: `${p}/prepare` },
      { id: "process", url: `${p}/item`, forEach: "/context/list", maxConcurrency: 5, itemFailures: policy("allSettled") },
    ],
    { list: Array.from({ length: 250 }, (_, i) => i) },
  );
  await waitForRun(weft.client, id);
  const seen: { index: number; state: StepState; result: unknown }[] = [];
  let pageToken = "";
  let pages = 0;
  do {
    const res = await weft.client.listStepItems({ id, stepId: "process", pageSize: 100, pageToken });
    for (const it of res.items) seen.push({ index: it.index, state: it.state, result: it.result?.kind.case === "structValue" ? it.result.kind.value.fields.i?.kind.value : undefined });
    pageToken = res.nextPageToken;
    pages++;
  } while (pageToken);
  expect(pages).toBe(3);
  expect(seen.map((s) => s.index)).toEqual(Array.from({ length: 250 }, (_, i) => i));
  expect(seen[5].state).toBe(StepState.FAILED);
  expect(seen[249]).toEqual({ index: 249, state: StepState.COMPLETED, result: 249 });
  // A step that is not a map step, an unknown step, a bad page token.
  for (const [req, field] of [
    [{ id, stepId: "prepare" }, "step_id"],
    [{ id, stepId: "nope" }, "step_id"],
    [{ id, stepId: "process", pageToken: "!!" }, "page_token"],
    // The request's bounds (README "Limits"); this token would read as offset 0 but for its length (257 characters).
    [{ id, stepId: "process", pageToken: "MA" + "=".repeat(255) }, "page_token"],
    [{ id, stepId: "process", pageSize: -1 }, "page_size"],
  ] as const) {
    const err = await rejection(weft.client.listStepItems(req));
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(fieldViolations(err).map(([f]) => f)).toEqual([field]);
  }
  expect(fieldViolations(await rejection(weft.client.listStepItems({ id, stepId: "x".repeat(129) })))).toEqual([
    ["step_id", "must be at most 128 characters (got 129)"],
  ]);
});

test("item bodies: the whole JSON body as before, and previousSteps as of each item's call (a branch that settles while the map runs shows from then on)", async () => {
  const p = prefix();
  const N = 12;
  handlers.on(`${p}/side`, async (call) => {
    // Settles only once the map has called item 2.
    await handlers.waitForCall((c) => c.path === `${p}/item` && c.body.runId === call.body.runId && itemBody(c).index === 2, 60_000);
    return { json: { success: true, result: { side: "ü ✓ 🚀", n: [1.5, -0, 1e21, null] } } };
  });
  handlers.on(`${p}/item`, async (call) => {
    const b = itemBody(call);
    // Item 5 answers once the run shows the branch completed: items from 6 on are called after that.
    if (b.index === 5) await waitForRun(weft.client, b.runId, (w) => w.steps.find((s) => s.id === "side")?.state === StepState.COMPLETED, 60_000);
    return { json: { success: true, result: b.index } };
  });
  const list = Array.from({ length: N }, (_, i) => (i % 3 === 0 ? { k: `ключ ${i}`, deep: [[i]] } : i % 3 === 1 ? `item "${i}" \u2028 😀` : i * 0.1));
  const id = await create(
    [
      { id: "side", url: `${p}/side`, parallel: true },
      { id: "process", url: `${p}/item`, forEach: "/context/list", maxConcurrency: 1, parallel: true },
    ],
    { list, note: "ünïcødé" },
  );
  const w = await waitForRun(weft.client, id, undefined, 120_000);
  expect(WorkflowState[w.state]).toBe("COMPLETED");
  const calls = handlers.callsFor(id, `${p}/item`).sort((a, b) => itemBody(a).index - itemBody(b).index);
  expect(calls.map((c) => itemBody(c).index)).toEqual(Array.from({ length: N }, (_, i) => i));
  for (const c of calls) {
    const b = itemBody(c);
    // The bytes are one JSON text with the keys in this order, as JSON.stringify writes it.
    expect(Object.keys(b)).toEqual(["workflowId", "runId", "workflow", "stepId", "attempt", "context", "previousSteps", "item", "index"]);
    expect(c.rawBody).toBe(JSON.stringify(b));
    expect(b.item).toEqual(list[b.index]);
    expect(b.context).toEqual({ list, note: "ünïcødé" });
  }
  for (const c of calls.slice(0, 3)) expect(itemBody(c).previousSteps).toEqual({});
  for (const c of calls.slice(6)) {
    expect(Object.keys(itemBody(c).previousSteps)).toEqual(["side"]);
    expect(itemBody(c).previousSteps.side.result).toEqual({ side: "ü ✓ 🚀", n: [1.5, 0, 1e21, null] });
  }
});
