// on_complete / on_error webhooks end to end: sent once the run has ended
// (after any compensation), signed, retried with backoff while the receiver
// fails, given up after the retry period, and resumed after a kill -9.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { WebhookState, type Workflow, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { HandlerServer, type RecordedCall } from "../support/handler-server.ts";
import { byReceipt, compensationBody, expectSigned, hangUntilAborted, sleep, webhookBody } from "../support/run-observer.ts";
import { kill9, spawnWeft, type WeftProcess } from "../support/weft-process.ts";
import { startWeft, type TestWeft, waitForRun } from "../support/weft.ts";

let weft: TestWeft;
let handlers: HandlerServer;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  handlers = await HandlerServer.start();
  weft = await startWeft({ webhook: { retryPeriodMs: 60_000, initialIntervalMs: 50, maxIntervalMs: 200, timeoutMs: 2_000 } });
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await weft?.stop();
  await handlers?.close();
});

/** Deliveries received on a webhook path for one run. */
const deliveries = (path: string, runId: string): RecordedCall[] =>
  byReceipt(handlers.calls.filter((c) => c.path === path && webhookBody(c).workflow?.id === runId));

const webhookSettled = (w: Workflow) =>
  w.webhook?.state === WebhookState.DELIVERED || w.webhook?.state === WebhookState.FAILED;

describe("on_complete", () => {
  test("is delivered once when the run completes, signed, with the final status", async () => {
    const p = "/wh-complete";
    handlers.on(`${p}/a`, () => ({ json: { success: true, result: { total: 42 } } }));
    const { workflow } = await weft.client.createWorkflow({
      id: "hooked",
      steps: [{ id: "a", url: handlers.url(`${p}/a`) }],
      onComplete: handlers.url(`${p}/done`),
      onError: handlers.url(`${p}/error`),
    });
    const runId = workflow!.id;
    const done = await waitForRun(weft.client, runId, webhookSettled);
    expect(done.state).toBe(WorkflowState.COMPLETED);
    expect(done.webhook).toMatchObject({
      url: handlers.url(`${p}/done`),
      eventType: "workflow.completed",
      state: WebhookState.DELIVERED,
      attempts: 1,
    });
    expect(done.webhook!.deliveredAt).toBeDefined();
    await sleep(150); // a duplicate delivery would show up by now
    const calls = deliveries(`${p}/done`, runId);
    expect(calls).toHaveLength(1);
    expect(deliveries(`${p}/error`, runId)).toHaveLength(0);
    const body = webhookBody(calls[0]);
    expect(body.eventId).toBe(done.webhook!.eventId);
    expect(body.eventId).toMatch(/^evt_wf_/);
    expect(body.type).toBe("workflow.completed");
    expect(body.workflow).toMatchObject({
      id: runId,
      workflowId: "hooked",
      state: "WORKFLOW_STATE_COMPLETED",
      results: { a: { total: 42 } },
    });
    expect(calls[0].headers["webhook-id"]).toBe(body.eventId);
    expectSigned(calls[0]);
    // The step handler answered before the webhook went out.
    expect(calls[0].receivedAt).toBeGreaterThanOrEqual(handlers.callsFor(runId, `${p}/a`)[0].respondedAt!);
  });
});

describe("on_error", () => {
  test("is delivered as workflow.failed when a step fails for good", async () => {
    const p = "/wh-failed";
    handlers.on(`${p}/a`, () => ({ status: 400, json: { success: false, error: "bad input" } }));
    const { workflow } = await weft.client.createWorkflow({
      id: "hooked-fail",
      steps: [{ id: "a", url: handlers.url(`${p}/a`) }, { id: "b", url: handlers.url(`${p}/b`), dependsOn: ["a"] }],
      onComplete: handlers.url(`${p}/done`),
      onError: handlers.url(`${p}/error`),
    });
    const runId = workflow!.id;
    const done = await waitForRun(weft.client, runId, webhookSettled);
    expect(done.state).toBe(WorkflowState.FAILED);
    expect(done.webhook).toMatchObject({ eventType: "workflow.failed", state: WebhookState.DELIVERED, attempts: 1 });
    const calls = deliveries(`${p}/error`, runId);
    expect(calls).toHaveLength(1);
    expect(deliveries(`${p}/done`, runId)).toHaveLength(0);
    const body = webhookBody(calls[0]);
    expect(body.type).toBe("workflow.failed");
    expect(body.workflow.state).toBe("WORKFLOW_STATE_FAILED");
    expect(body.workflow.error).toMatchObject({ reason: "step_failed", stepId: "a" });
    expectSigned(calls[0]);
  });

  test("in saga mode it is sent only after the last compensation answered", async () => {
    const p = "/wh-saga";
    handlers.on(`${p}/undo-a`, () => ({ json: { success: true }, delayMs: 60 }));
    handlers.on(`${p}/undo-b`, () => ({ json: { success: true }, delayMs: 60 }));
    handlers.on(`${p}/c`, () => ({ status: 400, json: { success: false, error: "declined" } }));
    const { workflow } = await weft.client.createWorkflow({
      id: "hooked-saga",
      saga: true,
      baseUrl: handlers.baseUrl,
      steps: [
        { id: "a", url: `${p}/a`, compensation: `${p}/undo-a` },
        { id: "b", url: `${p}/b`, dependsOn: ["a"], compensation: `${p}/undo-b` },
        { id: "c", url: `${p}/c`, dependsOn: ["b"], compensation: `${p}/undo-c` },
      ],
      onError: `${p}/error`,
    });
    const runId = workflow!.id;
    const done = await waitForRun(weft.client, runId, webhookSettled);
    expect(done.state).toBe(WorkflowState.FAILED);
    expect(done.webhook?.state).toBe(WebhookState.DELIVERED);
    const undo = byReceipt(handlers.callsFor(runId).filter((c) => c.path.startsWith(`${p}/undo-`)));
    expect(undo.map((c) => compensationBody(c).stepId)).toEqual(["b", "a"]);
    const calls = deliveries(`${p}/error`, runId);
    expect(calls).toHaveLength(1);
    expect(calls[0].receivedAt).toBeGreaterThanOrEqual(undo.at(-1)!.respondedAt!);
    const body = webhookBody(calls[0]);
    expect(body.type).toBe("workflow.failed");
    expect(body.workflow.state).toBe("WORKFLOW_STATE_FAILED");
    expect(body.workflow.steps!.map((s) => s.compensationState)).toEqual([
      "COMPENSATION_STATE_SUCCEEDED",
      "COMPENSATION_STATE_SUCCEEDED",
      undefined, // UNSPECIFIED is omitted from proto JSON
    ]);
  });

  test("is delivered as workflow.cancelled when the run is cancelled", async () => {
    const p = "/wh-cancel";
    handlers.on(`${p}/slow`, hangUntilAborted());
    const { workflow } = await weft.client.createWorkflow({
      id: "hooked-cancel",
      steps: [{ id: "slow", url: handlers.url(`${p}/slow`) }],
      onComplete: handlers.url(`${p}/done`),
      onError: handlers.url(`${p}/error`),
    });
    const runId = workflow!.id;
    await handlers.waitForCall((c) => c.body.runId === runId && c.path === `${p}/slow`);
    await weft.client.cancelWorkflow({ id: runId, reason: "operator" });
    const done = await waitForRun(weft.client, runId, webhookSettled);
    expect(done.state).toBe(WorkflowState.CANCELLED);
    expect(done.webhook).toMatchObject({ eventType: "workflow.cancelled", state: WebhookState.DELIVERED, attempts: 1 });
    const calls = deliveries(`${p}/error`, runId);
    expect(calls).toHaveLength(1);
    const body = webhookBody(calls[0]);
    expect(body.type).toBe("workflow.cancelled");
    expect(body.workflow.state).toBe("WORKFLOW_STATE_CANCELLED");
    expect(body.workflow.error).toMatchObject({ reason: "cancelled" });
    expectSigned(calls[0]);
  });

  test("is delivered as workflow.failed with reason timed_out when the run times out", async () => {
    const p = "/wh-timeout";
    handlers.on(`${p}/slow`, hangUntilAborted());
    const { workflow } = await weft.client.createWorkflow({
      id: "hooked-timeout",
      timeout: durationFromMs(300),
      steps: [{ id: "slow", url: handlers.url(`${p}/slow`) }],
      onError: handlers.url(`${p}/error`),
    });
    const runId = workflow!.id;
    const done = await waitForRun(weft.client, runId, webhookSettled);
    expect(done.state).toBe(WorkflowState.FAILED);
    expect(done.webhook).toMatchObject({ eventType: "workflow.failed", state: WebhookState.DELIVERED });
    const calls = deliveries(`${p}/error`, runId);
    expect(calls).toHaveLength(1);
    const body = webhookBody(calls[0]);
    expect(body.type).toBe("workflow.failed");
    expect(body.workflow.state).toBe("WORKFLOW_STATE_FAILED");
    expect(body.workflow.error).toMatchObject({ reason: "timed_out" });
  });
});

describe("delivery retries", () => {
  test("a receiver answering 503 twice, then 200, gets the same event on every attempt; delivered after 3 attempts", async () => {
    const p = "/wh-flaky";
    handlers.on(`${p}/hook`, (call, all) => {
      const n = all.filter((c) => c.path === call.path && webhookBody(c).eventId === webhookBody(call).eventId).length;
      return n <= 2 ? { status: 503, text: "maintenance" } : { status: 204 };
    });
    const { workflow } = await weft.client.createWorkflow({
      id: "hooked-flaky",
      steps: [{ id: "a", url: handlers.url(`${p}/a`) }],
      onComplete: handlers.url(`${p}/hook`),
    });
    const runId = workflow!.id;
    const done = await waitForRun(weft.client, runId, webhookSettled);
    expect(done.webhook).toMatchObject({ state: WebhookState.DELIVERED, attempts: 3 });
    expect(done.webhook!.lastError).toMatchObject({ httpStatus: 503 });
    const calls = deliveries(`${p}/hook`, runId);
    expect(calls).toHaveLength(3);
    expect(new Set(calls.map((c) => c.headers["webhook-id"]))).toEqual(new Set([done.webhook!.eventId]));
    expect(new Set(calls.map((c) => webhookBody(c).eventId))).toEqual(new Set([done.webhook!.eventId]));
    for (const c of calls) expectSigned(c);
    // Backoff: ~50 ms, then ~100 ms (±20%).
    expect(calls[1].receivedAt - calls[0].respondedAt!).toBeGreaterThanOrEqual(35);
    expect(calls[2].receivedAt - calls[1].respondedAt!).toBeGreaterThanOrEqual(75);
  });

  test("a receiver whose port is closed at first is reached once it listens", async () => {
    // Take a free port, then close it: connections are refused until the receiver starts.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const { workflow } = await weft.client.createWorkflow({
      id: "hooked-closed",
      steps: [{ id: "a", url: handlers.url("/wh-closed/a") }],
      onComplete: `http://127.0.0.1:${port}/hook`,
    });
    const runId = workflow!.id;
    const waiting = await waitForRun(weft.client, runId, (w) => (w.webhook?.attempts ?? 0) >= 2 && w.webhook?.state === WebhookState.RETRY_WAIT);
    expect(waiting.webhook!.lastError).toMatchObject({ reason: "connection" });

    const received: { id: string | undefined; body: string }[] = [];
    const receiver: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({ id: req.headers["webhook-id"] as string | undefined, body: Buffer.concat(chunks).toString() });
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((r) => receiver.listen(port, "127.0.0.1", r));
    cleanups.push(() => new Promise<void>((r) => { receiver.closeAllConnections(); receiver.close(() => r()); }));

    const done = await waitForRun(weft.client, runId, webhookSettled);
    expect(done.webhook?.state).toBe(WebhookState.DELIVERED);
    expect(done.webhook!.attempts).toBeGreaterThan(2);
    expect(received).toHaveLength(1);
    expect(received[0].id).toBe(done.webhook!.eventId);
    expect(JSON.parse(received[0].body)).toMatchObject({ eventId: done.webhook!.eventId, type: "workflow.completed" });
  });

  test("when the retry period runs out the delivery is FAILED and no more attempts are made", async () => {
    // A period that holds several 50-100 ms backoffs even on a busy machine; when attempts are
    // scheduled is the run machine's business (unit-tested with a clock), so nothing here
    // depends on how fast this machine is.
    const short = await startWeft({ webhook: { retryPeriodMs: 1500, initialIntervalMs: 50, maxIntervalMs: 100, timeoutMs: 2_000 } });
    cleanups.push(() => short.stop());
    const p = "/wh-giveup";
    handlers.on(`${p}/hook`, () => ({ status: 503, text: "down" }));
    const { workflow } = await short.client.createWorkflow({
      id: "hooked-giveup",
      steps: [{ id: "a", url: handlers.url(`${p}/a`) }],
      onComplete: handlers.url(`${p}/hook`),
    });
    const runId = workflow!.id;
    const done = await waitForRun(short.client, runId, webhookSettled);
    expect(done.state).toBe(WorkflowState.COMPLETED);
    expect(done.webhook?.state).toBe(WebhookState.FAILED);
    expect(done.webhook!.attempts).toBeGreaterThanOrEqual(2);
    expect(done.webhook!.lastError).toMatchObject({ httpStatus: 503 });
    expect(done.webhook!.deliveredAt).toBeUndefined();
    expect(done.webhook!.nextAttemptAt).toBeUndefined();
    const giveUpAt = Number(done.webhook!.giveUpAt!.seconds) * 1000 + done.webhook!.giveUpAt!.nanos / 1e6;
    const completedAt = Number(done.completedAt!.seconds) * 1000 + done.completedAt!.nanos / 1e6;
    expect(giveUpAt - completedAt).toBeCloseTo(1500, -1);
    expect(deliveries(`${p}/hook`, runId)).toHaveLength(done.webhook!.attempts);
    // Given up: nothing more is sent.
    await sleep(500);
    expect(deliveries(`${p}/hook`, runId)).toHaveLength(done.webhook!.attempts);
  });
});

test("a kill -9 while a delivery waits for its retry: after the restart it is delivered, exactly one 2xx in total", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-webhook-"));
  const procs: WeftProcess[] = [];
  cleanups.push(async () => {
    for (const pr of procs) if (pr.child.exitCode === null && pr.child.signalCode === null) await kill9(pr);
    rmSync(dir, { recursive: true, force: true });
  });
  const p = "/wh-restart";
  let answered2xx = 0;
  handlers.on(`${p}/hook`, (call, all) => {
    const n = all.filter((c) => c.path === call.path).length;
    if (n === 1) return { status: 500, text: "not yet" };
    answered2xx++;
    return { status: 200, json: { received: true } };
  });
  const args = ["--webhook-initial-backoff-ms", "1500", "--webhook-max-backoff-ms", "1500"];
  const first = await spawnWeft(dir, args);
  procs.push(first);
  const { workflow } = await first.client.createWorkflow({
    id: "hooked-restart",
    steps: [{ id: "a", url: handlers.url(`${p}/a`) }],
    onComplete: handlers.url(`${p}/hook`),
  });
  const runId = workflow!.id;
  const waiting = await waitForRun(first.client, runId, (w) => w.webhook?.state === WebhookState.RETRY_WAIT);
  expect(waiting.webhook!.attempts).toBe(1);
  await kill9(first);
  expect(deliveries(`${p}/hook`, runId)).toHaveLength(1);

  const second = await spawnWeft(dir, args);
  procs.push(second);
  const done = await waitForRun(second.client, runId, webhookSettled);
  expect(done.webhook).toMatchObject({ state: WebhookState.DELIVERED, attempts: 2 });
  await sleep(200);
  const calls = deliveries(`${p}/hook`, runId);
  expect(calls).toHaveLength(2);
  expect(answered2xx).toBe(1);
  expect(new Set(calls.map((c) => c.headers["webhook-id"]))).toEqual(new Set([done.webhook!.eventId]));
  for (const c of calls) expectSigned(c);
  // The step itself was not run again.
  expect(handlers.callsFor(runId, `${p}/a`)).toHaveLength(1);
  await kill9(second);
});
