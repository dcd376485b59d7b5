// The product document's examples, end to end: a real Weft server, real HTTP
// step handlers, the generated Connect client over gRPC.
import { toJson } from "@bufbuild/protobuf";
import { durationFromMs, type Value, ValueSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, test } from "vitest";
import { Backoff, StepState, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { verifySignature } from "../../src/signing/verify.ts";
import { HandlerServer, type RecordedCall } from "../support/handler-server.ts";
import { TEST_SECRET, type TestWeft, waitForRun, useWeft } from "../support/weft.ts";

let weft: TestWeft;
let handlers: HandlerServer;
useWeft((w, h) => {
  weft = w;
  handlers = h;
});

const json = (v: Value | undefined) => (v === undefined ? undefined : toJson(ValueSchema, v));

function expectSigned(call: RecordedCall): void {
  const verdict = verifySignature({
    headers: call.headers as Record<string, string>,
    body: call.rawBody,
    secrets: [TEST_SECRET],
  });
  expect(verdict).toEqual({ ok: true });
}

describe("order-processing chain", () => {
  test("steps run one after another with context and previous results", async () => {
    const { workflow } = await weft.client.createWorkflow({
      id: "order-processing",
      baseUrl: handlers.baseUrl,
      steps: [
        { id: "validate", url: "/api/jobs/validate-order" },
        { id: "charge", url: "/api/jobs/charge-payment", dependsOn: ["validate"] },
        { id: "fulfill", url: "/api/jobs/fulfill-order", dependsOn: ["charge"] },
        { id: "notify", url: "/api/jobs/send-confirmation", dependsOn: ["fulfill"] },
      ],
      context: { orderId: "order_123", userId: "user_456" },
    });
    expect(workflow?.id).toMatch(/^wf_[0-9A-Z]{26}$/);
    expect(workflow?.workflowId).toBe("order-processing");
    const done = await waitForRun(weft.client, workflow!.id);
    expect(done.state).toBe(WorkflowState.COMPLETED);

    const calls = handlers.callsFor(workflow!.id);
    expect(calls.map((c) => c.body.stepId)).toEqual(["validate", "charge", "fulfill", "notify"]);
    // Each step starts only after the previous one answered.
    for (let i = 1; i < calls.length; i++) {
      expect(calls[i].receivedAt).toBeGreaterThanOrEqual(calls[i - 1].respondedAt!);
    }
    for (const c of calls) {
      expect(c.body.context).toEqual({ orderId: "order_123", userId: "user_456" });
      expect(c.body.runId).toBe(workflow!.id);
      expect(c.body.workflowId).toBe("order-processing");
      expect(c.body.attempt).toBe(1);
      expect(c.headers["idempotency-key"]).toBe(`${workflow!.id}:${c.body.stepId}`);
      expectSigned(c);
    }
    expect(Object.keys(calls[0].body.previousSteps)).toEqual([]);
    expect(calls[3].body.previousSteps.fulfill.result).toEqual({ step: "fulfill" });
    expect(Object.keys(calls[3].body.previousSteps).sort()).toEqual(["charge", "fulfill", "validate"]);
    expect(calls[3].body.previousSteps.charge.attempts).toBe(1);

    expect(done.completedSteps).toEqual(["validate", "charge", "fulfill", "notify"]);
    expect(done.failedSteps).toEqual([]);
    expect(done.currentSteps).toEqual([]);
    expect(done.context).toEqual({ orderId: "order_123", userId: "user_456" });
    expect(done.startedAt).toBeDefined();
    expect(done.completedAt).toBeDefined();
    expect(done.steps.map((s) => [s.id, s.state, s.attempts])).toEqual([
      ["validate", StepState.COMPLETED, 1],
      ["charge", StepState.COMPLETED, 1],
      ["fulfill", StepState.COMPLETED, 1],
      ["notify", StepState.COMPLETED, 1],
    ]);
    expect(done.steps[1].definition?.url).toBe("/api/jobs/charge-payment");
  });
});

describe("batch fan-out / fan-in", () => {
  test("items run concurrently and the fan-in step aggregates previousSteps", async () => {
    const counts: Record<string, number> = { "process-item-1": 4, "process-item-2": 7, "process-item-3": 2 };
    handlers.on("/api/jobs/process-item", (call) => ({
      json: { success: true, result: { success: true, processedCount: counts[call.body.stepId] } },
      delayMs: 150,
    }));
    // The fan-in handler from the product document.
    handlers.on("/api/jobs/finalize-batch", (call) => {
      const { previousSteps } = call.body;
      const processResults = Object.entries(previousSteps)
        .filter(([stepId]) => stepId.startsWith("process-"))
        .map(([stepId, result]) => ({ stepId, ...(result.result as Record<string, unknown>) })) as {
        stepId: string;
        success?: boolean;
        processedCount?: number;
      }[];
      const stats = {
        total: processResults.length,
        successful: processResults.filter((r) => r.success).length,
        failed: processResults.filter((r) => !r.success).length,
        totalProcessed: processResults.reduce((sum, r) => sum + (r.processedCount || 0), 0),
      };
      return { json: { success: true, result: stats } };
    });
    const { workflow } = await weft.client.createWorkflow({
      id: "batch-process",
      steps: [
        { id: "prepare", url: handlers.url("/api/jobs/prepare-batch") },
        { id: "process-item-1", url: handlers.url("/api/jobs/process-item"), dependsOn: ["prepare"], parallel: true },
        { id: "process-item-2", url: handlers.url("/api/jobs/process-item"), dependsOn: ["prepare"], parallel: true },
        { id: "process-item-3", url: handlers.url("/api/jobs/process-item"), dependsOn: ["prepare"], parallel: true },
        {
          id: "finalize",
          url: handlers.url("/api/jobs/finalize-batch"),
          dependsOn: ["process-item-1", "process-item-2", "process-item-3"],
        },
      ],
      context: { batchId: "batch_123", items: ["item_1", "item_2", "item_3"] },
    });
    const done = await waitForRun(weft.client, workflow!.id);
    expect(done.state).toBe(WorkflowState.COMPLETED);
    const items = handlers.callsFor(workflow!.id, "/api/jobs/process-item");
    expect(items).toHaveLength(3);
    // Fan-out: every item request arrived before any item answered.
    const firstAnswer = Math.min(...items.map((c) => c.respondedAt!));
    for (const c of items) expect(c.receivedAt).toBeLessThan(firstAnswer);
    const expected = { total: 3, successful: 3, failed: 0, totalProcessed: 13 };
    expect(json(done.results.finalize)).toEqual(expected);
    expect(json(done.steps.find((s) => s.id === "finalize")?.result)).toEqual(expected);
    const fin = handlers.callsFor(workflow!.id, "/api/jobs/finalize-batch")[0];
    expect(fin.body.previousSteps["process-item-2"].result).toEqual({ success: true, processedCount: 7 });
  });
});

describe("complex-pipeline DAG", () => {
  test("every dependency is respected and process-a/b/c overlap", async () => {
    for (const p of ["a", "b", "c"]) {
      handlers.on(`/api/jobs/process-${p}`, (call) => ({ json: { success: true, result: { p } }, delayMs: 200 }));
    }
    const steps = [
      { id: "prepare", url: "/api/jobs/prepare" },
      { id: "process-a", url: "/api/jobs/process-a", dependsOn: ["prepare"], parallel: true },
      { id: "process-b", url: "/api/jobs/process-b", dependsOn: ["prepare"], parallel: true },
      { id: "process-c", url: "/api/jobs/process-c", dependsOn: ["prepare"], parallel: true },
      { id: "validate", url: "/api/jobs/validate", dependsOn: ["process-c"] },
      { id: "aggregate", url: "/api/jobs/aggregate", dependsOn: ["process-a", "process-b", "process-c"] },
      { id: "notify", url: "/api/jobs/notify", dependsOn: ["aggregate", "validate"] },
    ];
    const { workflow } = await weft.client.createWorkflow({
      id: "complex-pipeline",
      baseUrl: handlers.baseUrl,
      steps,
      context: { pipelineId: "pipeline_123" },
    });
    const done = await waitForRun(weft.client, workflow!.id);
    expect(done.state).toBe(WorkflowState.COMPLETED);
    const calls = handlers.callsFor(workflow!.id);
    const byStep = new Map(calls.map((c) => [c.body.stepId, c]));
    expect(byStep.size).toBe(7);
    for (const s of steps) {
      const call = byStep.get(s.id)!;
      for (const dep of s.dependsOn ?? []) {
        expect(call.receivedAt, `${s.id} after ${dep}`).toBeGreaterThanOrEqual(byStep.get(dep)!.respondedAt!);
        expect(call.body.previousSteps[dep]).toBeDefined();
      }
    }
    const proc = ["process-a", "process-b", "process-c"].map((id) => byStep.get(id)!);
    expect(Math.max(...proc.map((c) => c.receivedAt))).toBeLessThan(Math.min(...proc.map((c) => c.respondedAt!)));
    expect(byStep.get("notify")!.body.previousSteps["process-a"].result).toEqual({ p: "a" });
  });
});

describe("retries", () => {
  test("a handler failing twice then succeeding completes on attempt 3 (exponential)", async () => {
    handlers.on("/flaky", (call, all) => {
      const mine = all.filter((c) => c.body.runId === call.body.runId && c.path === "/flaky");
      return mine.length <= 2
        ? { status: 500, json: { success: false, error: `boom ${mine.length}` } }
        : { json: { success: true, result: { ok: true } } };
    });
    const { workflow } = await weft.client.createWorkflow({
      id: "retry",
      steps: [
        {
          id: "process-payment",
          url: handlers.url("/flaky"),
          retries: { maxAttempts: 3, backoff: Backoff.EXPONENTIAL, initialInterval: durationFromMs(100) },
        },
      ],
    });
    const done = await waitForRun(weft.client, workflow!.id);
    expect(done.state).toBe(WorkflowState.COMPLETED);
    const step = done.steps[0];
    expect(step.attempts).toBe(3);
    expect(json(step.result)).toEqual({ ok: true });
    const calls = handlers.callsFor(workflow!.id, "/flaky");
    expect(calls.map((c) => c.body.attempt)).toEqual([1, 2, 3]);
    expect(calls.map((c) => c.headers["weft-attempt"])).toEqual(["1", "2", "3"]);
    expect(new Set(calls.map((c) => c.headers["idempotency-key"])).size).toBe(1);
    expect(new Set(calls.map((c) => c.headers["webhook-id"])).size).toBe(3);
    // Exponential: ~100 ms, then ~200 ms between attempts.
    const gap1 = calls[1].receivedAt - calls[0].respondedAt!;
    const gap2 = calls[2].receivedAt - calls[1].respondedAt!;
    expect(gap1).toBeGreaterThanOrEqual(90);
    expect(gap2).toBeGreaterThanOrEqual(190);
  });
});
