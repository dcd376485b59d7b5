// Saga mode end to end: when a run fails (or is cancelled) the compensation URL
// of every completed step is called, one at a time, newest completion first,
// with signed requests carrying the step's result and why the run failed.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, test } from "vitest";
import {
  CompensationState,
  type StepDefinitionSchema,
  StepState,
  WorkflowState,
} from "../../gen/ts/weft/v1/workflow_pb.js";
import { HandlerServer } from "../support/handler-server.ts";
import {
  byReceipt,
  compensationBody,
  compensationTrail,
  expectSigned,
  hangUntilAborted,
  runStates,
} from "../support/run-observer.ts";
import { type TestWeft, waitForRun, useWeft } from "../support/weft.ts";

type StepInit = MessageInitShape<typeof StepDefinitionSchema>;

let weft: TestWeft;
let handlers: HandlerServer;
useWeft((w, h) => {
  weft = w;
  handlers = h;
});

/** Fast retries, so that compensation retries (at least 3 attempts) take tens of ms. */
const fastRetry = { initialInterval: durationFromMs(20), maxInterval: durationFromMs(50) };

/** The product document's order saga, with its handlers under /<p>/. */
function orderSaga(p: string): StepInit[] {
  return [
    { id: "reserve-inventory", url: `/${p}/reserve-inventory`, compensation: `/${p}/release-inventory`, retries: fastRetry },
    {
      id: "charge-payment",
      url: `/${p}/charge-payment`,
      dependsOn: ["reserve-inventory"],
      compensation: `/${p}/refund-payment`,
      retries: fastRetry,
    },
    {
      id: "create-shipment",
      url: `/${p}/create-shipment`,
      dependsOn: ["charge-payment"],
      compensation: `/${p}/cancel-shipment`,
      retries: { ...fastRetry, maxAttempts: 2 },
    },
    { id: "notify-customer", url: `/${p}/notify-customer`, dependsOn: ["create-shipment"], retries: fastRetry },
  ];
}

function programOrderHandlers(p: string): void {
  handlers.on(`/${p}/reserve-inventory`, () => ({ json: { success: true, result: { reservationId: `res_${p}` } } }));
  handlers.on(`/${p}/charge-payment`, () => ({ json: { success: true, result: { chargeId: `ch_${p}`, amount: 4200 } } }));
  handlers.on(`/${p}/create-shipment`, () => ({ json: { success: true, result: { shipmentId: `sh_${p}` } } }));
}

async function createSaga(p: string, steps: StepInit[], saga = true) {
  const { workflow } = await weft.client.createWorkflow({
    id: "order-saga",
    saga,
    baseUrl: handlers.baseUrl,
    steps,
    context: { orderId: `order_${p}` },
  });
  return workflow!.id;
}

const compensationPaths = (p: string) => [`/${p}/release-inventory`, `/${p}/refund-payment`, `/${p}/cancel-shipment`];
const compensationCalls = (runId: string, paths: string[]) =>
  byReceipt(handlers.callsFor(runId).filter((c) => paths.includes(c.path)));

describe("order saga", () => {
  test("create-shipment fails for good: refund then release, cancel-shipment never called, signed bodies carry result and failedStep", async () => {
    const p = "saga-ship";
    programOrderHandlers(p);
    handlers.on(`/${p}/create-shipment`, () => ({ status: 503, json: { success: false, error: "carrier down" } }));
    const runId = await createSaga(p, orderSaga(p));
    const done = await waitForRun(weft.client, runId);

    expect(done.state).toBe(WorkflowState.FAILED);
    expect(done.compensationFailed).toBe(false);
    expect(done.error).toMatchObject({ reason: "step_failed", stepId: "create-shipment" });
    expect(done.steps.map((s) => [s.id, s.state, s.compensationState, s.compensationAttempts])).toEqual([
      ["reserve-inventory", StepState.COMPLETED, CompensationState.SUCCEEDED, 1],
      ["charge-payment", StepState.COMPLETED, CompensationState.SUCCEEDED, 1],
      ["create-shipment", StepState.FAILED, CompensationState.UNSPECIFIED, 0],
      ["notify-customer", StepState.SKIPPED, CompensationState.UNSPECIFIED, 0],
    ]);
    expect(handlers.callsFor(runId, `/${p}/create-shipment`)).toHaveLength(2);
    expect(handlers.callsFor(runId, `/${p}/notify-customer`)).toHaveLength(0);

    const comps = compensationCalls(runId, compensationPaths(p));
    expect(comps.map((c) => c.path)).toEqual([`/${p}/refund-payment`, `/${p}/release-inventory`]);
    // One at a time: release starts only after refund answered.
    expect(comps[1].receivedAt).toBeGreaterThanOrEqual(comps[0].respondedAt!);
    // ... and only after the failed step's last attempt answered.
    const lastShip = byReceipt(handlers.callsFor(runId, `/${p}/create-shipment`)).at(-1)!;
    expect(comps[0].receivedAt).toBeGreaterThanOrEqual(lastShip.respondedAt!);

    const [refund, release] = comps.map(compensationBody);
    expect(refund).toMatchObject({
      workflowId: "order-saga",
      workflow: "order-saga",
      runId,
      stepId: "charge-payment",
      attempt: 1,
      compensation: true,
      result: { chargeId: `ch_${p}`, amount: 4200 },
      failedStep: "create-shipment",
      context: { orderId: `order_${p}` },
    });
    expect(refund.error).toMatchObject({ reason: "step_failed", stepId: "create-shipment" });
    expect(Object.keys(refund.previousSteps).sort()).toEqual(["charge-payment", "reserve-inventory"]);
    expect(refund.previousSteps["reserve-inventory"].result).toEqual({ reservationId: `res_${p}` });
    expect(release).toMatchObject({
      stepId: "reserve-inventory",
      compensation: true,
      result: { reservationId: `res_${p}` },
      failedStep: "create-shipment",
    });
    for (const [call, stepId] of [
      [comps[0], "charge-payment"],
      [comps[1], "reserve-inventory"],
    ] as const) {
      expect(call.headers["weft-compensation"]).toBe("true");
      expect(call.headers["idempotency-key"]).toBe(`${runId}:${stepId}:compensation`);
      expect(call.headers["weft-step-id"]).toBe(stepId);
      expectSigned(call);
    }

    expect(await runStates(weft.client, runId)).toEqual([
      WorkflowState.PENDING,
      WorkflowState.RUNNING,
      WorkflowState.COMPENSATING,
      WorkflowState.FAILED,
    ]);
    // All pending at once (newest completion first), then one at a time.
    expect(await compensationTrail(weft.client, runId)).toEqual([
      "charge-payment:PENDING",
      "reserve-inventory:PENDING",
      "charge-payment:RUNNING",
      "charge-payment:SUCCEEDED",
      "reserve-inventory:RUNNING",
      "reserve-inventory:SUCCEEDED",
    ]);
  });

  test("the first step fails: nothing to compensate, no compensation call, the run fails directly", async () => {
    const p = "saga-first";
    programOrderHandlers(p);
    handlers.on(`/${p}/reserve-inventory`, () => ({ status: 409, json: { success: false, error: "out of stock" } }));
    const runId = await createSaga(p, orderSaga(p));
    const done = await waitForRun(weft.client, runId);
    expect(done.state).toBe(WorkflowState.FAILED);
    expect(done.error).toMatchObject({ reason: "step_failed", stepId: "reserve-inventory" });
    expect(done.compensationFailed).toBe(false);
    expect(done.steps.map((s) => s.compensationState)).toEqual(Array(4).fill(CompensationState.UNSPECIFIED));
    expect(done.steps.map((s) => s.state)).toEqual([StepState.FAILED, StepState.SKIPPED, StepState.SKIPPED, StepState.SKIPPED]);
    expect(handlers.callsFor(runId).map((c) => c.path)).toEqual([`/${p}/reserve-inventory`]);
    expect(await runStates(weft.client, runId)).toEqual([WorkflowState.PENDING, WorkflowState.RUNNING, WorkflowState.FAILED]);
  });

  test("the last step fails: all three compensations run, newest first", async () => {
    const p = "saga-last";
    programOrderHandlers(p);
    handlers.on(`/${p}/notify-customer`, () => ({ json: { success: false, error: "bad address", retryable: false } }));
    const runId = await createSaga(p, orderSaga(p));
    const done = await waitForRun(weft.client, runId);
    expect(done.state).toBe(WorkflowState.FAILED);
    expect(done.error).toMatchObject({ reason: "step_failed", stepId: "notify-customer" });
    expect(done.steps.map((s) => s.compensationState)).toEqual([
      CompensationState.SUCCEEDED,
      CompensationState.SUCCEEDED,
      CompensationState.SUCCEEDED,
      CompensationState.UNSPECIFIED,
    ]);
    const comps = compensationCalls(runId, compensationPaths(p));
    expect(comps.map((c) => c.path)).toEqual([`/${p}/cancel-shipment`, `/${p}/refund-payment`, `/${p}/release-inventory`]);
    for (let i = 1; i < comps.length; i++) expect(comps[i].receivedAt).toBeGreaterThanOrEqual(comps[i - 1].respondedAt!);
    expect(compensationBody(comps[0])).toMatchObject({
      stepId: "create-shipment",
      result: { shipmentId: `sh_${p}` },
      failedStep: "notify-customer",
    });
    expect(handlers.callsFor(runId, `/${p}/notify-customer`)).toHaveLength(1);
  });
});

test("a fan-out branch fails: the finished siblings are recorded and compensated newest first, then prepare; the failed branch is not", async () => {
  const p = "saga-fan";
  handlers.on(`/${p}/a`, () => ({ json: { success: true, result: "a-done" }, delayMs: 250 }));
  handlers.on(`/${p}/b`, () => ({ status: 422, json: { success: false, error: "invalid item" }, delayMs: 30 }));
  handlers.on(`/${p}/c`, () => ({ json: { success: true, result: "c-done" }, delayMs: 120 }));
  const steps: StepInit[] = [
    { id: "prepare", url: `/${p}/prepare`, compensation: `/${p}/undo-prepare` },
    ...["a", "b", "c"].map((x) => ({
      id: x,
      url: `/${p}/${x}`,
      dependsOn: ["prepare"],
      parallel: true,
      compensation: `/${p}/undo-${x}`,
    })),
    { id: "fan-in", url: `/${p}/fan-in`, dependsOn: ["a", "b", "c"], compensation: `/${p}/undo-fan-in` },
  ];
  const runId = await createSaga(p, steps);
  const done = await waitForRun(weft.client, runId);
  expect(done.state).toBe(WorkflowState.FAILED);
  expect(done.error).toMatchObject({ reason: "step_failed", stepId: "b" });
  expect(done.steps.map((s) => [s.id, s.state, s.compensationState])).toEqual([
    ["prepare", StepState.COMPLETED, CompensationState.SUCCEEDED],
    ["a", StepState.COMPLETED, CompensationState.SUCCEEDED],
    ["b", StepState.FAILED, CompensationState.UNSPECIFIED],
    ["c", StepState.COMPLETED, CompensationState.SUCCEEDED],
    ["fan-in", StepState.SKIPPED, CompensationState.UNSPECIFIED],
  ]);
  // a and c were in flight when b failed; they finished before any compensation.
  const branches = handlers.callsFor(runId).filter((c) => ["/a", "/b", "/c"].some((s) => c.path === `/${p}${s}`));
  const undo = byReceipt(handlers.callsFor(runId).filter((c) => c.path.startsWith(`/${p}/undo-`)));
  expect(undo.map((c) => c.path)).toEqual([`/${p}/undo-a`, `/${p}/undo-c`, `/${p}/undo-prepare`]);
  for (const b of branches) expect(undo[0].receivedAt).toBeGreaterThanOrEqual(b.respondedAt!);
  for (let i = 1; i < undo.length; i++) expect(undo[i].receivedAt).toBeGreaterThanOrEqual(undo[i - 1].respondedAt!);
  expect(compensationBody(undo[0])).toMatchObject({ stepId: "a", result: "a-done", failedStep: "b" });
  expect(compensationBody(undo[1])).toMatchObject({ stepId: "c", result: "c-done", failedStep: "b" });
  expect(handlers.callsFor(runId, `/${p}/fan-in`)).toHaveLength(0);
});

describe("compensation failures", () => {
  test("a compensation failing twice then succeeding takes 3 attempts with the same idempotency key", async () => {
    const p = "saga-flaky";
    handlers.on(`/${p}/undo-one`, (call, all) => {
      const n = all.filter((c) => c.body.runId === call.body.runId && c.path === call.path).length;
      return n <= 2 ? { status: 500, json: { success: false, error: `undo boom ${n}` } } : { json: { success: true } };
    });
    handlers.on(`/${p}/two`, () => ({ status: 400, json: { success: false, error: "nope" } }));
    const runId = await createSaga(p, [
      { id: "one", url: `/${p}/one`, compensation: `/${p}/undo-one`, retries: fastRetry },
      { id: "two", url: `/${p}/two`, dependsOn: ["one"] },
    ]);
    const done = await waitForRun(weft.client, runId);
    expect(done.state).toBe(WorkflowState.FAILED);
    expect(done.compensationFailed).toBe(false);
    expect(done.steps[0].compensationState).toBe(CompensationState.SUCCEEDED);
    expect(done.steps[0].compensationAttempts).toBe(3);
    const calls = byReceipt(handlers.callsFor(runId, `/${p}/undo-one`));
    expect(calls.map((c) => c.body.attempt)).toEqual([1, 2, 3]);
    expect(calls.map((c) => c.headers["weft-attempt"])).toEqual(["1", "2", "3"]);
    expect(new Set(calls.map((c) => c.headers["idempotency-key"]))).toEqual(new Set([`${runId}:one:compensation`]));
    for (const c of calls) expectSigned(c);
    const trail = await compensationTrail(weft.client, runId);
    expect(trail).toEqual([
      "one:PENDING",
      "one:RUNNING",
      "one:RETRY_WAIT",
      "one:RUNNING",
      "one:RETRY_WAIT",
      "one:RUNNING",
      "one:SUCCEEDED",
    ]);
  });

  test("compensations failing for good (always 500, or a 400) are marked FAILED, the earlier ones still run, compensation_failed is set", async () => {
    const p = "saga-broken";
    handlers.on(`/${p}/undo-s3`, () => ({ status: 500, json: { success: false, error: "refund service down" } }));
    handlers.on(`/${p}/undo-s2`, () => ({ status: 400, json: { success: false, error: "unknown reservation" } }));
    handlers.on(`/${p}/s4`, () => ({ status: 400, json: { success: false, error: "rejected" } }));
    const runId = await createSaga(p, [
      { id: "s1", url: `/${p}/s1`, compensation: `/${p}/undo-s1`, retries: fastRetry },
      { id: "s2", url: `/${p}/s2`, dependsOn: ["s1"], compensation: `/${p}/undo-s2`, retries: fastRetry },
      { id: "s3", url: `/${p}/s3`, dependsOn: ["s2"], compensation: `/${p}/undo-s3`, retries: fastRetry },
      { id: "s4", url: `/${p}/s4`, dependsOn: ["s3"], compensation: `/${p}/undo-s4` },
    ]);
    const done = await waitForRun(weft.client, runId);
    expect(done.state).toBe(WorkflowState.FAILED);
    expect(done.compensationFailed).toBe(true);
    expect(done.error).toMatchObject({ reason: "step_failed", stepId: "s4" });
    const [s1, s2, s3, s4] = done.steps;
    expect([s3.compensationState, s3.compensationAttempts]).toEqual([CompensationState.FAILED, 3]);
    expect(s3.compensationError).toMatchObject({ httpStatus: 500, attempt: 3 });
    expect([s2.compensationState, s2.compensationAttempts]).toEqual([CompensationState.FAILED, 1]);
    expect(s2.compensationError).toMatchObject({ httpStatus: 400, attempt: 1, retryable: false });
    expect([s1.compensationState, s1.compensationAttempts]).toEqual([CompensationState.SUCCEEDED, 1]);
    expect(s4.compensationState).toBe(CompensationState.UNSPECIFIED);
    const undo = byReceipt(handlers.callsFor(runId).filter((c) => c.path.startsWith(`/${p}/undo-`)));
    expect(undo.map((c) => c.path)).toEqual([
      `/${p}/undo-s3`,
      `/${p}/undo-s3`,
      `/${p}/undo-s3`,
      `/${p}/undo-s2`,
      `/${p}/undo-s1`,
    ]);
  });
});

test("without saga a failing run calls no compensation URL", async () => {
  const p = "no-saga";
  programOrderHandlers(p);
  handlers.on(`/${p}/create-shipment`, () => ({ status: 400, json: { success: false, error: "no" } }));
  const runId = await createSaga(p, orderSaga(p), false);
  const done = await waitForRun(weft.client, runId);
  expect(done.state).toBe(WorkflowState.FAILED);
  expect(done.saga).toBe(false);
  expect(done.compensationFailed).toBe(false);
  expect(done.steps.map((s) => s.compensationState)).toEqual(Array(4).fill(CompensationState.UNSPECIFIED));
  // Give a (wrong) compensation time to show up.
  await new Promise((r) => setTimeout(r, 100));
  expect(compensationCalls(runId, compensationPaths(p))).toEqual([]);
  expect(await runStates(weft.client, runId)).not.toContain(WorkflowState.COMPENSATING);
  expect(await compensationTrail(weft.client, runId)).toEqual([]);
});

test("cancelling a saga run while step 2 is in flight aborts it, compensates step 1 and ends CANCELLED", async () => {
  const p = "saga-cancel";
  programOrderHandlers(p);
  handlers.on(`/${p}/charge-payment`, hangUntilAborted());
  const runId = await createSaga(p, orderSaga(p));
  const inflight = await handlers.waitForCall((c) => c.body.runId === runId && c.path === `/${p}/charge-payment`);
  await weft.client.cancelWorkflow({ id: runId, reason: "customer changed their mind" });
  const done = await waitForRun(weft.client, runId);
  expect(done.state).toBe(WorkflowState.CANCELLED);
  expect(done.error).toMatchObject({ reason: "cancelled" });
  expect(done.compensationFailed).toBe(false);
  expect(done.steps.map((s) => [s.id, s.state, s.compensationState])).toEqual([
    ["reserve-inventory", StepState.COMPLETED, CompensationState.SUCCEEDED],
    ["charge-payment", StepState.CANCELLED, CompensationState.UNSPECIFIED],
    ["create-shipment", StepState.SKIPPED, CompensationState.UNSPECIFIED],
    ["notify-customer", StepState.SKIPPED, CompensationState.UNSPECIFIED],
  ]);
  await expect.poll(() => inflight.aborted).toBe(true);
  const comps = compensationCalls(runId, compensationPaths(p));
  expect(comps.map((c) => c.path)).toEqual([`/${p}/release-inventory`]);
  const body = compensationBody(comps[0]);
  expect(body).toMatchObject({ stepId: "reserve-inventory", compensation: true, result: { reservationId: `res_${p}` }, failedStep: null });
  expect(body.error).toMatchObject({ reason: "cancelled" });
  expectSigned(comps[0]);
  expect(await runStates(weft.client, runId)).toEqual([
    WorkflowState.PENDING,
    WorkflowState.RUNNING,
    WorkflowState.COMPENSATING,
    WorkflowState.CANCELLED,
  ]);
});
