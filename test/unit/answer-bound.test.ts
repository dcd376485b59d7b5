// The largest Workflow answer the limits allow stays under maxWorkflowAnswerBytes,
// which stays under the server's 64 MiB write limit with the default limits.
import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, test } from "vitest";
import { CreateWorkflowRequestSchema, WorkflowSchema } from "../../gen/ts/weft/v1/workflow_pb.js";
import { compileWorkflow } from "../../src/domain/compile-workflow.ts";
import { FIELD_LIMITS, maxWorkflowAnswerBytes } from "../../src/domain/field-limits.ts";
import { newRunRecord } from "../../src/domain/run-record.ts";
import { DEFAULT_LIMITS } from "../../src/domain/workflow-spec.ts";
import { workflowInput, workflowToProto } from "../../src/transport/mappers.ts";

const DEFAULT_WRITE_MAX_BYTES = 64 * 1024 * 1024;

describe("the largest answer", () => {
  test("a run at every limit encodes within the bound, and the bound is under 64 MiB", () => {
    const limits = DEFAULT_LIMITS;
    const n = limits.maxSteps;
    const id = (i: number) => `s${String(i).padStart(FIELD_LIMITS.maxIdLength - 1, "0")}`;
    const req = create(CreateWorkflowRequestSchema, {
      id: "w".repeat(FIELD_LIMITS.maxIdLength),
      steps: Array.from({ length: n }, (_, i) => ({
        id: id(i),
        url: `https://h.test/${"u".repeat(1800)}`,
        dependsOn: i === 0 ? [] : [id(i - 1)],
        compensation: "/c",
        concurrency: { key: "/context/k", limit: 1000 },
      })),
      concurrency: { key: "/context/k", limit: 1000 },
      priority: -1000,
      baseUrl: "https://h.test",
      onComplete: `/${"o".repeat(2000)}`,
      onError: `/${"e".repeat(2000)}`,
      saga: true,
      // The concurrency keys' value at its cap, in characters of three UTF-8 bytes.
      context: { zeros: Array.from({ length: 40_000 }, () => 0), k: "€".repeat(FIELD_LIMITS.maxConcurrencyValueLength) },
      requestId: "r".repeat(FIELD_LIMITS.maxRequestIdLength),
    });
    const requestBytes = toBinary(CreateWorkflowRequestSchema, req).byteLength;
    expect(requestBytes).toBeLessThanOrEqual(limits.maxRequestBytes);
    const compiled = compileWorkflow(workflowInput(req), limits, requestBytes);
    if (!compiled.ok) throw new Error(JSON.stringify(compiled.violations.slice(0, 3)));
    const run = newRunRecord("wf_01ARZ3NDEKTSV4RRFFQ69G5FAV", compiled.spec, 1000);

    // Results: zeros (the costliest JSON per character in protobuf), all results together at the limit.
    const zerosPerStep = Math.floor((limits.maxRunResultBytes / n - 1) / 2);
    const result = Array.from({ length: zerosPerStep }, () => 0);
    expect(JSON.stringify(result).length * n).toBeLessThanOrEqual(limits.maxRunResultBytes);
    // Error messages at the cap, in characters of three UTF-8 bytes.
    const message = "€".repeat(FIELD_LIMITS.maxErrorMessageLength);
    const error = (attempt: number) => ({ reason: "handler_error", message, httpStatus: 500, attempt, retryable: true, stepId: id(0) });
    run.steps = run.steps.map((st, i) => ({
      ...st,
      state: "completed",
      attempts: 100,
      startedAt: 2e12,
      completedAt: 2e12,
      nextAttemptAt: 2e12,
      result,
      error: error(100),
      compensation: { state: "failed", attempts: 100, startedAt: 2e12, completedAt: 2e12, nextAttemptAt: 2e12, error: error(100) },
      waitingFor: "concurrency_key",
      copiedFrom: "wf_01ARZ3NDEKTSV4RRFFQ69G5FAW",
      id: id(i),
    }));
    run.state = "failed";
    run.startedAt = run.completedAt = 2e12;
    run.error = { ...error(100), reason: "step_failed", message: `step "${id(0)}" failed: ${message}` };
    run.compensation = { outcome: "failed", failed: true };
    run.webhook = {
      url: compiled.spec.onError!,
      eventId: "evt_".padEnd(64, "x"),
      eventType: "workflow.failed",
      state: "retry_wait",
      attempts: 1000,
      lastError: error(1000),
      nextAttemptAt: 2e12,
      giveUpAt: 2e12,
    };
    run.lastSeq = 1e9;
    run.waitingFor = "concurrency_key";
    run.rerunOf = "wf_01ARZ3NDEKTSV4RRFFQ69G5FAW";

    const bytes = toBinary(WorkflowSchema, workflowToProto(run)).byteLength;
    const bound = maxWorkflowAnswerBytes(limits);
    expect(bytes).toBeLessThanOrEqual(bound);
    // The bound is not loose by more than a third for this run.
    expect(bytes).toBeGreaterThan(bound * 0.66);
    expect(bound).toBeLessThan(DEFAULT_WRITE_MAX_BYTES);
  });
});
