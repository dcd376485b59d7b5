// The size a rerun's new run is held to (README "Limits"): the CreateWorkflow
// request that would make it, counted from its spec (src/transport/mappers.ts).
import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, test } from "vitest";
import { CreateWorkflowRequestSchema, PreviousSteps } from "../../gen/ts/weft/v1/workflow_pb.js";
import { compileWorkflow } from "../../src/domain/compile-workflow.ts";
import { DEFAULT_LIMITS, type WorkflowSpec } from "../../src/domain/workflow-spec.ts";
import { createRequestBytes, rerunSizeViolations, workflowInput } from "../../src/transport/mappers.ts";

function specOf(fields: { previousSteps?: PreviousSteps; labels?: Record<string, string>; requestId?: string } = {}): WorkflowSpec {
  const req = create(CreateWorkflowRequestSchema, { id: "size", steps: [{ id: "a", url: "http://127.0.0.1:1/a" }], context: { n: 1 }, ...fields });
  const compiled = compileWorkflow(workflowInput(req), DEFAULT_LIMITS);
  if (!compiled.ok) throw new Error(JSON.stringify(compiled));
  return compiled.spec;
}

describe("createRequestBytes", () => {
  test("never less than the request that made the spec, workflow-level previous_steps included", () => {
    const fields = { previousSteps: PreviousSteps.DEPENDENCIES, labels: { team: "t" }, requestId: "req-1" };
    const req = create(CreateWorkflowRequestSchema, { id: "size", steps: [{ id: "a", url: "http://127.0.0.1:1/a" }], context: { n: 1 }, ...fields });
    const spec = specOf(fields);
    expect(spec.previousSteps).toBe("dependencies");
    expect(createRequestBytes(spec)).toBeGreaterThanOrEqual(toBinary(CreateWorkflowRequestSchema, req).byteLength);
    const { previousSteps: _p, ...without } = spec;
    expect(createRequestBytes(spec)).toBe(createRequestBytes(without) + 2);
  });
});

describe("rerunSizeViolations", () => {
  const original = specOf({ labels: { team: "t" } });
  const base = createRequestBytes(original);

  test("nothing over the limit: no violation", () => {
    const spec = { ...original, labels: { team: "u" }, requestId: "r" };
    expect(rerunSizeViolations(spec, original, { labels: { team: "u" }, requestId: "r" }, base + 100)).toEqual([]);
  });

  test("names the field given that takes the new run over: context, then labels, then request_id", () => {
    const labels = { team: "t", note: "n".repeat(100) };
    const requestId = "r".repeat(100);
    const context = { n: 1, s: "x".repeat(100) };
    const withLabels = createRequestBytes({ ...original, labels });
    const withContext = createRequestBytes({ ...original, context });
    expect(withLabels).toBeGreaterThan(base + 100);
    expect(withContext).toBeGreaterThan(base + 100);
    const fields = (spec: WorkflowSpec, input: Parameters<typeof rerunSizeViolations>[2], max: number) =>
      rerunSizeViolations(spec, original, input, max).map((v) => v.field);
    // New labels and request id: the labels alone fit, with the request id they do not.
    const both = { ...original, labels, requestId };
    expect(createRequestBytes(both)).toBeGreaterThan(withLabels + 100);
    expect(fields(both, { labels, requestId }, withLabels)).toEqual(["request_id"]);
    expect(fields(both, { labels, requestId }, withLabels - 1)).toEqual(["labels"]);
    expect(fields(both, { labels, requestId }, createRequestBytes(both))).toEqual([]);
    // A new context that alone passes the limit: context, whatever follows.
    const all = { ...original, context, labels, requestId };
    expect(fields(all, { context, labels, requestId }, withContext - 1)).toEqual(["context"]);
    expect(fields(all, { context, labels, requestId }, withContext)).toEqual(["labels"]);
    // The request id alone.
    const onlyId = { ...original, requestId };
    const [v, ...more] = rerunSizeViolations(onlyId, original, { requestId }, base + 50);
    expect(more).toEqual([]);
    expect(v.field).toBe("request_id");
    expect(v.description).toBe(`the run with this request id would be created by a request of ${createRequestBytes(onlyId)} bytes, over the limit of ${base + 50}`);
  });
});
