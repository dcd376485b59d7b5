// The JSON nesting limit shared by context and step results: measured without
// recursion, and small enough that every client decodes a run carrying it.
import { create, fromBinary, fromJson, toBinary } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, test } from "vitest";
import { ListWorkflowsResponseSchema, WatchWorkflowResponseSchema } from "../../gen/ts/weft/v1/workflow_pb.js";
import { classifyResponse } from "../../src/domain/attempt-outcome.ts";
import { compileWorkflow } from "../../src/domain/compile-workflow.ts";
import { MAX_JSON_DEPTH, jsonDepth, nestedTooDeep } from "../../src/domain/json-depth.ts";
import { DEFAULT_LIMITS, type WorkflowInput } from "../../src/domain/workflow-spec.ts";

function objects(depth: number, leaf: unknown = 1): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}
function arrays(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}
/** JSON text nested `depth` levels, without JSON.stringify (which recurses). */
function deepText(depth: number): string {
  return '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
}

describe("jsonDepth", () => {
  test("counts objects and arrays alike; scalars are 0", () => {
    expect(jsonDepth(1)).toBe(0);
    expect(jsonDepth("s")).toBe(0);
    expect(jsonDepth(null)).toBe(0);
    expect(jsonDepth({})).toBe(1);
    expect(jsonDepth([])).toBe(1);
    expect(jsonDepth({ a: 1, b: [2] })).toBe(2);
    expect(jsonDepth({ a: [{ b: [] }], c: {} })).toBe(4);
    expect(jsonDepth(objects(30))).toBe(30);
    expect(jsonDepth(arrays(31))).toBe(31);
  });

  test("stops at limit + 1 and never overflows the stack (100,000 levels)", () => {
    const huge = JSON.parse('{"a":'.repeat(100_000) + "1" + "}".repeat(100_000)) as unknown;
    expect(jsonDepth(huge, MAX_JSON_DEPTH)).toBe(MAX_JSON_DEPTH + 1);
    expect(jsonDepth(huge)).toBe(100_000);
    expect(nestedTooDeep(huge)).toBe(true);
    expect(nestedTooDeep(objects(MAX_JSON_DEPTH))).toBe(false);
    expect(nestedTooDeep(objects(MAX_JSON_DEPTH + 1))).toBe(true);
  });
});

describe("a run at the limit decodes as binary with protobuf-es defaults", () => {
  test("result in StepStatus and results, context, in Watch and List responses", () => {
    const deepest = MAX_JSON_DEPTH;
    const value = fromJson(ValueSchema, objects(deepest) as never);
    const context = objects(deepest) as never; // a Struct field is a JsonObject in protobuf-es
    const workflow = { id: "wf_x", steps: [{ id: "s", result: value }], results: { s: value }, context };
    const watch = create(WatchWorkflowResponseSchema, { kind: { case: "snapshot", value: workflow } });
    const back = fromBinary(WatchWorkflowResponseSchema, toBinary(WatchWorkflowResponseSchema, watch));
    expect(back.kind.case === "snapshot" && jsonDepth(back.kind.value.context)).toBe(deepest);
    const list = create(ListWorkflowsResponseSchema, { workflows: [workflow] });
    expect(fromBinary(ListWorkflowsResponseSchema, toBinary(ListWorkflowsResponseSchema, list)).workflows).toHaveLength(1);
    const event = create(WatchWorkflowResponseSchema, { kind: { case: "event", value: { result: value } } });
    expect(fromBinary(WatchWorkflowResponseSchema, toBinary(WatchWorkflowResponseSchema, event)).kind.case).toBe("event");
  });
});

describe("handler results", () => {
  test("at the limit: the result; over it: invalid_response, not retried", () => {
    const ok = classifyResponse(200, "application/json", undefined, deepText(MAX_JSON_DEPTH), 0);
    expect(ok.ok).toBe(true);
    const wrapped = classifyResponse(200, "application/json", undefined, `{"success":true,"result":${deepText(MAX_JSON_DEPTH + 1)}}`, 0);
    expect(wrapped).toMatchObject({ ok: false, retryable: false, error: { reason: "invalid_response", message: `handler result nested more than ${MAX_JSON_DEPTH} levels` } });
    for (const depth of [MAX_JSON_DEPTH + 1, 5_000, 100_000]) {
      const bad = classifyResponse(200, "application/json", undefined, deepText(depth), 0);
      expect(bad).toMatchObject({ ok: false, retryable: false, error: { reason: "invalid_response" } });
    }
  });
});

describe("context", () => {
  const input = (context: unknown): WorkflowInput => ({
    id: "w",
    steps: [{ id: "s", url: "https://myapp.com/s", dependsOn: [], parallel: false, compensation: "" }],
    onComplete: "",
    onError: "",
    saga: false,
    baseUrl: "",
    requestId: "",
    context: context as WorkflowInput["context"],
  });
  test("at the limit accepted; deeper refused with `nested more than N levels` (5,000 and 100,000 levels too)", () => {
    expect(compileWorkflow(input(objects(MAX_JSON_DEPTH)), DEFAULT_LIMITS).ok).toBe(true);
    for (const depth of [MAX_JSON_DEPTH + 1, 5_000, 100_000]) {
      const r = compileWorkflow(input(JSON.parse(deepText(depth))), DEFAULT_LIMITS);
      expect(r.ok ? [] : r.violations).toEqual([{ field: "context", description: `nested more than ${MAX_JSON_DEPTH} levels` }]);
    }
  });
});
