// The product document's code snippets, run verbatim through the TypeScript SDK
// (clients/ts/src, the @weftflow/client package's sources) against a real Weft server and real HTTP step handlers.
//
// Each snippet lives in test/support/sdk-snippets/<name>.ts, exactly as in the
// document except its import line ('@/lib/platform' → clients/ts/src/index.ts);
// importing the module runs it. The snippets use the default `platform`, which
// reads its configuration from the environment on first use, so before any
// snippet runs this file sets:
//   WEFT_URL             → the test Weft server
//   WEFT_SIGNING_SECRETS → the secret that server signs step requests with
//   WEFT_JOBS_BASE_URL   → the handler server (relative step URLs: '/api/jobs/…')
// Snippets with absolute 'https://myapp.com/…' URLs are routed to the handler
// server by the SDK option `rewriteUrl`, set with configurePlatform(): it maps
// every URL of a create() call right before it is sent. A `baseUrl` cannot do
// this (absolute URLs ignore it), and pointing myapp.com at 127.0.0.1 would
// need root and a TLS certificate; with the rewrite, the snippet text stays as
// it is and everything after the SDK (validation, dispatch, signing) is real.
import { describe, expect, test, vi } from "vitest";
import { configurePlatform, platform, type WatchEvent, type WatchMessage, WeftError } from "../../clients/ts/src/index.ts";
import { db } from "../support/sdk-snippets/db.ts";
import { POST } from "../support/sdk-snippets/finalize-batch-route.ts";
import { NextRequest } from "../support/sdk-snippets/next-server.ts";
import { aliasRunId, fetchRequestFor, replyFrom, settle } from "../support/sdk.ts";
import { defaultBehaviour, type HandlerServer, type RecordedCall } from "../support/handler-server.ts";
import { Gate } from "../support/watch.ts";
import { TEST_SECRET, type TestWeft, useWeft } from "../support/weft.ts";

let weft: TestWeft;
let handlers: HandlerServer;
const shipmentGate = new Gate();

useWeft((w, h) => {
  weft = w;
  handlers = h;
  process.env.WEFT_URL = w.baseUrl;
  process.env.WEFT_SIGNING_SECRETS = TEST_SECRET;
  process.env.WEFT_JOBS_BASE_URL = h.baseUrl;
  // Test-only mapping of the snippets' absolute URLs (see the top of this file).
  configurePlatform({ rewriteUrl: (url) => url.replace(/^https:\/\/myapp\.com(?=\/)/, h.baseUrl) });
  programHandlers(h);
});

/** The job handlers the snippets call, played by the handler server. */
function programHandlers(h: HandlerServer): void {
  // Chaining: the payment gateway is busy once; the snippet's retries (3, exponential) absorb it.
  h.on("/api/jobs/process-payment", (call) =>
    call.body.attempt === 1
      ? { status: 503, json: { success: false, error: "payment gateway busy" } }
      : { json: { success: true, result: { chargeId: "ch_chain", amount: 4200 } } },
  );
  // Saga: charge-payment returns the charge the refund must reverse; create-shipment
  // fails for good (after the test has started watching).
  h.on("/api/jobs/charge-payment", (call, all) =>
    call.body.workflowId === "order-saga" ? { json: { success: true, result: { chargeId: "ch_saga" } } } : defaultBehaviour(call, all),
  );
  h.on("/api/jobs/reserve-inventory", () => ({ json: { success: true, result: { reservationId: "res_1" } } }));
  h.on("/api/jobs/create-shipment", async (call) => {
    if (call.body.workflowId !== "order-saga") return { json: { success: true, result: { shipmentId: "sh_1" } } };
    await shipmentGate.opened;
    return { json: { success: false, error: "carrier rejected the address", retryable: false } };
  });
  // Fan-out: the three items overlap; fan-in: the document's route handler.
  const counts: Record<string, number> = { "process-item-1": 4, "process-item-2": 7, "process-item-3": 2 };
  h.on("/api/jobs/process-item", (call) => ({
    json: { success: true, result: { success: true, processedCount: counts[call.body.stepId] } },
    delayMs: 150,
  }));
  h.on("/api/jobs/finalize-batch", async (call) => replyFrom(await POST(fetchRequestFor(NextRequest, h.baseUrl, call))));
  for (const p of ["a", "b", "c"]) {
    h.on(`/api/jobs/process-${p}`, () => ({ json: { success: true, result: { p } }, delayMs: 150 }));
  }
}

const stepIds = (calls: RecordedCall[]) => calls.map((c) => c.body.stepId);
const events = (messages: WatchMessage[]) => messages.filter((m): m is WatchEvent => m.type === "event");

/** Snapshot first, then events with sequences snapshot+1, +2, … and the terminal run event last. */
function expectWatchShape(messages: WatchMessage[], terminal: "completed" | "failed"): void {
  expect(messages[0]?.type).toBe("snapshot");
  expect(messages.filter((m) => m.type === "snapshot")).toHaveLength(1);
  const snapshot = messages[0].type === "snapshot" ? messages[0].status : undefined;
  const evs = events(messages);
  expect(evs.map((e) => e.sequence)).toEqual(evs.map((_, i) => snapshot!.lastSequence + 1 + i));
  const last = evs.at(-1)!;
  expect(messages.at(-1)).toBe(last);
  expect([last.kind, last.to]).toEqual(["run", terminal]);
}

describe("the product document's snippets, through the SDK", () => {
  test("Overview: the order-processing chain (relative URLs, WEFT_JOBS_BASE_URL) runs in order", async () => {
    const { workflow } = await import("../support/sdk-snippets/overview.ts");
    expect(workflow.id).toMatch(/^wf_[0-9A-Z]{26}$/);
    expect(workflow.workflowId).toBe("order-processing");
    expect(["pending", "running"]).toContain(workflow.state);
    expect(workflow.baseUrl).toBe(handlers.baseUrl);

    const { messages, status } = await settle(platform, workflow.id);
    expectWatchShape(messages, "completed");
    expect(status.state).toBe("completed");
    const calls = handlers.callsFor(workflow.id);
    expect(calls.map((c) => c.path)).toEqual([
      "/api/jobs/validate-order",
      "/api/jobs/charge-payment",
      "/api/jobs/fulfill-order",
      "/api/jobs/send-confirmation",
    ]);
    for (let i = 1; i < calls.length; i++) expect(calls[i].receivedAt).toBeGreaterThanOrEqual(calls[i - 1].respondedAt!);
    for (const c of calls) expect(c.body.context).toEqual({ orderId: "order_123", userId: "user_456" });
  });

  test("Workflow State Management: the getStatus snippet logs the documented fields", async () => {
    const { workflow } = await import("../support/sdk-snippets/overview.ts");
    await settle(platform, workflow.id);

    // As written, the snippet asks for 'workflow_abc123', which is not a run id (those are
    // server-assigned 'wf_…'): INVALID_ARGUMENT naming the field, before any lookup.
    const notFound = await platform.workflows.getStatus("workflow_abc123").catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(WeftError);
    expect((notFound as WeftError).code).toBe("invalid_argument");
    expect((notFound as WeftError).fieldViolations).toEqual([{ field: "id", description: "not a run id" }]);

    // Run it with that id standing for the overview's run (a Connect interceptor,
    // test only: real run ids are assigned by the server), capturing console.log.
    configurePlatform({ interceptors: [aliasRunId("workflow_abc123", workflow.id)] });
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    let logged: Record<string, unknown>[];
    try {
      await import("../support/sdk-snippets/state.ts");
    } finally {
      logged = log.mock.calls.map((args) => args[0] as Record<string, unknown>);
      log.mockRestore();
      configurePlatform({ interceptors: [] });
    }
    expect(logged).toHaveLength(1 + 4);
    const [run, ...steps] = logged;
    expect(run).toEqual({
      id: workflow.id,
      state: "completed",
      startedAt: expect.any(Date),
      completedAt: expect.any(Date),
      currentStep: undefined,
      completedSteps: ["validate", "charge", "fulfill", "notify"],
      failedSteps: [],
      context: { orderId: "order_123", userId: "user_456" },
      results: {
        validate: { step: "validate" },
        charge: { step: "charge" },
        fulfill: { step: "fulfill" },
        notify: { step: "notify" },
      },
    });
    // No field of the snippet is missing (toEqual would accept a missing key for an undefined value).
    expect(Object.keys(run)).toEqual(["id", "state", "startedAt", "completedAt", "currentStep", "completedSteps", "failedSteps", "context", "results"]);
    expect("currentStep" in (await platform.workflows.getStatus(workflow.id))).toBe(true);
    expect((run.completedAt as Date).getTime()).toBeGreaterThanOrEqual((run.startedAt as Date).getTime());
    expect(steps.map((s) => s.stepId)).toEqual(["validate", "charge", "fulfill", "notify"]);
    for (const s of steps) {
      expect(s).toEqual({
        stepId: s.stepId,
        state: "completed",
        startedAt: expect.any(Date),
        completedAt: expect.any(Date),
        attempts: 1,
        result: { step: s.stepId },
        error: undefined,
      });
    }
  });

  test("Chaining Jobs: absolute URLs, a retried payment and the onComplete webhook", async () => {
    const { workflow } = await import("../support/sdk-snippets/chaining.ts");
    const { status } = await settle(platform, workflow.id);
    expect(status.state).toBe("completed");
    expect(status.completedSteps).toEqual(["validate", "reserve-inventory", "process-payment", "create-shipment", "send-confirmation"]);
    expect(stepIds(handlers.callsFor(workflow.id))).toEqual([
      "validate",
      "reserve-inventory",
      "process-payment",
      "process-payment",
      "create-shipment",
      "send-confirmation",
    ]);
    const payment = status.steps.find((s) => s.id === "process-payment")!;
    expect(payment.attempts).toBe(2);
    expect(payment.result).toEqual({ chargeId: "ch_chain", amount: 4200 });
    expect(status.results["process-payment"]).toEqual({ chargeId: "ch_chain", amount: 4200 });
    expect(status.context).toEqual({
      orderId: "order_123",
      userId: "user_456",
      items: [
        { sku: "SKU001", quantity: 2 },
        { sku: "SKU002", quantity: 1 },
      ],
    });
    expect(status.onComplete).toBe(`${handlers.baseUrl}/api/webhooks/workflow-complete`);

    // onComplete is delivered, signed: the SDK's verifyRequest accepts it.
    const hook = await handlers.waitForCall(
      (c) => c.path === "/api/webhooks/workflow-complete" && (c.body as unknown as { workflow?: { id?: string } }).workflow?.id === workflow.id,
    );
    expect((hook.body as unknown as { type: string }).type).toBe("workflow.completed");
    expect(await platform.jobs.verifyRequest(fetchRequestFor(Request, handlers.baseUrl, hook))).toBe(true);
    expect(handlers.calls.some((c) => c.path === "/api/webhooks/workflow-error")).toBe(false);
  });

  test("Fan-Out / Fan-In: items overlap; the finalize-batch route verifies the request and aggregates", async () => {
    const rowsBefore = db.batchResults.rows.length;
    const { workflow } = await import("../support/sdk-snippets/fan-out.ts");
    const { status } = await settle(platform, workflow.id);
    expect(status.state).toBe("completed");
    const items = handlers.callsFor(workflow.id, "/api/jobs/process-item");
    expect(items).toHaveLength(3);
    const firstAnswer = Math.min(...items.map((c) => c.respondedAt!));
    for (const c of items) expect(c.receivedAt).toBeLessThan(firstAnswer);

    const stats = { total: 3, successful: 3, failed: 0, totalProcessed: 13 };
    expect(status.results.finalize).toEqual(stats);
    expect(db.batchResults.rows).toHaveLength(rowsBefore + 1);
    const row = db.batchResults.rows.at(-1)!;
    expect(row.batchId).toBe("batch_123");
    expect(row.stats).toEqual(stats);
    expect(row.results.map((r) => r.stepId).sort()).toEqual(["process-item-1", "process-item-2", "process-item-3"]);
    expect(row.results.find((r) => r.stepId === "process-item-2")).toEqual({ stepId: "process-item-2", success: true, processedCount: 7 });

    // The same route handler refuses a request whose body was changed after signing.
    const fin = handlers.callsFor(workflow.id, "/api/jobs/finalize-batch")[0];
    const tampered = { ...fin, rawBody: fin.rawBody.replace('"batch_123"', '"batch_999"') };
    expect(tampered.rawBody).not.toBe(fin.rawBody);
    const res = await POST(fetchRequestFor(NextRequest, handlers.baseUrl, tampered));
    expect(res.status).toBe(401);
    expect(await res.text()).toBe("Unauthorized");
    expect(db.batchResults.rows).toHaveLength(rowsBefore + 1);
  });

  test("Job Dependencies: the complex-pipeline DAG respects every dependency", async () => {
    const { workflow } = await import("../support/sdk-snippets/dependencies.ts");
    const { messages, status } = await settle(platform, workflow.id);
    expectWatchShape(messages, "completed");
    expect(status.state).toBe("completed");
    const byStep = new Map(handlers.callsFor(workflow.id).map((c) => [c.body.stepId, c]));
    expect(byStep.size).toBe(7);
    const deps: Record<string, string[]> = {
      "process-a": ["prepare"],
      "process-b": ["prepare"],
      "process-c": ["prepare"],
      validate: ["process-c"],
      aggregate: ["process-a", "process-b", "process-c"],
      notify: ["aggregate", "validate"],
    };
    for (const [step, ds] of Object.entries(deps)) {
      for (const d of ds) expect(byStep.get(step)!.receivedAt, `${step} after ${d}`).toBeGreaterThanOrEqual(byStep.get(d)!.respondedAt!);
    }
    const proc = ["process-a", "process-b", "process-c"].map((id) => byStep.get(id)!);
    expect(Math.max(...proc.map((c) => c.receivedAt))).toBeLessThan(Math.min(...proc.map((c) => c.respondedAt!)));
    // The watch saw each step go pending → running → completed, in dependency order.
    const completedAt = (step: string) =>
      events(messages).find((e) => e.kind === "step" && e.stepId === step && e.to === "completed")?.sequence ?? -1;
    const startedAt = (step: string) =>
      events(messages).find((e) => e.kind === "step" && e.stepId === step && e.to === "running")?.sequence ?? -1;
    expect(completedAt("notify")).toBeGreaterThan(Math.max(completedAt("aggregate"), completedAt("validate")));
    expect(startedAt("notify")).toBeGreaterThan(Math.max(completedAt("aggregate"), completedAt("validate")));
  });

  test("Saga Patterns: create-shipment fails, refund-payment then release-inventory compensate", async () => {
    const { workflow } = await import("../support/sdk-snippets/saga.ts");
    expect(workflow.saga).toBe(true);
    const watching = settle(platform, workflow.id);
    await handlers.waitForCall((c) => c.body.runId === workflow.id && c.path === "/api/jobs/create-shipment");
    shipmentGate.open();
    const { messages, status } = await watching;

    expect(status.state).toBe("failed");
    expect(status.error).toMatchObject({ reason: "step_failed", stepId: "create-shipment" });
    expect(status.failedSteps).toEqual(["create-shipment"]);
    expect(status.steps.map((s) => [s.id, s.state, s.compensation?.state])).toEqual([
      ["reserve-inventory", "completed", "succeeded"],
      ["charge-payment", "completed", "succeeded"],
      ["create-shipment", "failed", undefined],
      ["notify-customer", "skipped", undefined],
    ]);
    expect(status.steps[2].error).toMatchObject({ message: expect.stringContaining("carrier rejected the address"), attempt: 1 });

    // 1. cancel-shipment is NOT called; 2. refund-payment, 3. release-inventory, in that order.
    const calls = handlers.callsFor(workflow.id);
    expect(calls.map((c) => c.path)).toEqual([
      "/api/jobs/reserve-inventory",
      "/api/jobs/charge-payment",
      "/api/jobs/create-shipment",
      "/api/jobs/refund-payment",
      "/api/jobs/release-inventory",
    ]);
    const refund = calls[3].body as unknown as Record<string, unknown>;
    expect(refund).toMatchObject({ compensation: true, stepId: "charge-payment", failedStep: "create-shipment", result: { chargeId: "ch_saga" } });
    expect(await platform.jobs.verifyRequest(fetchRequestFor(Request, handlers.baseUrl, calls[3]))).toBe(true);

    // The watch saw it live: running → compensating → failed, compensations newest first.
    expectWatchShape(messages, "failed");
    const evs = events(messages);
    // (The watch may start before or after pending → running is committed: that first transition is not the point.)
    const runTransitions = evs.filter((e) => e.kind === "run").map((e) => `${e.from}→${e.to}`).filter((t) => t !== "pending→running");
    expect(runTransitions).toEqual(["running→compensating", "compensating→failed"]);
    expect(evs.filter((e) => e.kind === "compensation" && e.to === "running").map((e) => e.stepId)).toEqual(["charge-payment", "reserve-inventory"]);
    const shipmentFailed = evs.find((e) => e.kind === "step" && e.stepId === "create-shipment" && e.to === "failed")!;
    expect(shipmentFailed).toMatchObject({ from: "running", attempt: 1, error: { reason: expect.any(String) } });
  });
});
