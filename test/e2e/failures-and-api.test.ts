// Failure semantics, cancellation, idempotent create, validation and listing,
// against a real server and real HTTP handlers.
import { toJson } from "@bufbuild/protobuf";
import { durationFromMs, ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { Backoff, StepState, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { HandlerServer } from "../support/handler-server.ts";
import { startWeft, type TestWeft, waitForRun } from "../support/weft.ts";

let weft: TestWeft;
let handlers: HandlerServer;

beforeAll(async () => {
  handlers = await HandlerServer.start();
  weft = await startWeft({ limits: { maxSteps: 50, maxRequestBytes: 64 * 1024, maxContextBytes: 1024, maxResultBytes: 4096, maxRunResultBytes: 64 * 1024 } });
});

afterAll(async () => {
  await weft?.stop();
  await handlers?.close();
});

const retry = (maxAttempts: number, initialMs = 50) => ({
  maxAttempts,
  backoff: Backoff.FIXED,
  initialInterval: durationFromMs(initialMs),
});

async function expectConnectError(p: Promise<unknown>, code: Code): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    const ce = ConnectError.from(err);
    expect(ce.code, ce.message).toBe(code);
    return ce;
  }
  throw new Error("expected an error");
}

describe("attempt failures", () => {
  test("a step timeout is retried, then fails the step and the run; later steps are skipped", async () => {
    handlers.on("/slow", () => ({ json: { success: true }, delayMs: 1500 }));
    const { workflow } = await weft.client.createWorkflow({
      id: "timeouts",
      steps: [
        { id: "slow", url: handlers.url("/slow"), timeout: durationFromMs(200), retries: retry(2) },
        { id: "after", url: handlers.url("/after"), dependsOn: ["slow"] },
      ],
    });
    const done = await waitForRun(weft.client, workflow!.id);
    expect(done.state).toBe(WorkflowState.FAILED);
    expect(done.steps[0]).toMatchObject({ state: StepState.FAILED, attempts: 2 });
    expect(done.steps[0].error).toMatchObject({ reason: "timeout", attempt: 2, retryable: true });
    expect(done.steps[1].state).toBe(StepState.SKIPPED);
    expect(done.error).toMatchObject({ reason: "step_failed", stepId: "slow" });
    expect(done.failedSteps).toEqual(["slow"]);
    const calls = handlers.callsFor(workflow!.id, "/slow");
    expect(calls).toHaveLength(2);
    expect(calls.every((c) => c.aborted)).toBe(true);
    expect(handlers.callsFor(workflow!.id, "/after")).toHaveLength(0);
  });

  test("a 4xx other than 408/429 is not retried", async () => {
    handlers.on("/bad", () => ({ status: 422, json: { error: "order is malformed" } }));
    const { workflow } = await weft.client.createWorkflow({
      id: "non-retryable",
      steps: [{ id: "bad", url: handlers.url("/bad"), retries: retry(5) }],
    });
    const done = await waitForRun(weft.client, workflow!.id);
    expect(done.state).toBe(WorkflowState.FAILED);
    expect(done.steps[0].attempts).toBe(1);
    expect(done.steps[0].error).toMatchObject({
      httpStatus: 422,
      reason: "http_status",
      retryable: false,
      message: "HTTP 422: order is malformed",
    });
  });

  test("{success:false, retryable:false} fails the step at once; {success:false} is retried", async () => {
    handlers.on("/final", () => ({ json: { success: false, error: "card declined", retryable: false } }));
    handlers.on("/soft", (call, all) =>
      all.filter((c) => c.body.runId === call.body.runId && c.path === "/soft").length < 2
        ? { json: { success: false, error: "try later" } }
        : { json: { success: true, result: 7 } },
    );
    const a = await weft.client.createWorkflow({ id: "declined", steps: [{ id: "charge", url: handlers.url("/final"), retries: retry(4) }] });
    const b = await weft.client.createWorkflow({ id: "soft", steps: [{ id: "s", url: handlers.url("/soft"), retries: retry(4) }] });
    const da = await waitForRun(weft.client, a.workflow!.id);
    const db = await waitForRun(weft.client, b.workflow!.id);
    expect(da.state).toBe(WorkflowState.FAILED);
    expect(da.steps[0]).toMatchObject({ attempts: 1, error: { message: "card declined", reason: "handler_error", retryable: false } });
    expect(db.state).toBe(WorkflowState.COMPLETED);
    expect(db.steps[0].attempts).toBe(2);
    expect(toJson(ValueSchema, db.results.s)).toBe(7);
  });

  test("Retry-After on a 503 delays the next attempt beyond the policy's interval", async () => {
    handlers.on("/busy", (call, all) =>
      all.filter((c) => c.body.runId === call.body.runId && c.path === "/busy").length < 2
        ? { status: 503, headers: { "retry-after": "1" }, text: "overloaded" }
        : { json: { success: true, result: "ok" } },
    );
    const { workflow } = await weft.client.createWorkflow({
      id: "retry-after",
      steps: [{ id: "busy", url: handlers.url("/busy"), retries: retry(3, 10) }],
    });
    const done = await waitForRun(weft.client, workflow!.id);
    expect(done.state).toBe(WorkflowState.COMPLETED);
    const calls = handlers.callsFor(workflow!.id, "/busy");
    expect(calls).toHaveLength(2);
    expect(calls[1].receivedAt - calls[0].respondedAt!).toBeGreaterThanOrEqual(950);
  });

  test("a response over the result limit fails the step without retries", async () => {
    handlers.on("/huge", () => ({ json: { success: true, result: "x".repeat(10_000) } }));
    const { workflow } = await weft.client.createWorkflow({
      id: "huge",
      steps: [{ id: "huge", url: handlers.url("/huge"), retries: retry(3) }],
    });
    const done = await waitForRun(weft.client, workflow!.id);
    expect(done.steps[0]).toMatchObject({ state: StepState.FAILED, attempts: 1, error: { reason: "result_too_large" } });
  });

  test("connection refused is retried and reported", async () => {
    const { workflow } = await weft.client.createWorkflow({
      id: "refused",
      steps: [{ id: "nobody", url: "http://127.0.0.1:9/never", retries: retry(2, 10) }],
    });
    const done = await waitForRun(weft.client, workflow!.id);
    expect(done.steps[0]).toMatchObject({ state: StepState.FAILED, attempts: 2, error: { reason: "connection", retryable: true } });
  });

  test("in a fan-out, a branch failing lets in-flight siblings finish and be recorded", async () => {
    handlers.on("/branch-fail", () => ({ status: 400, json: { error: "no" } }));
    handlers.on("/branch-slow", () => ({ json: { success: true, result: "slow done" }, delayMs: 300 }));
    const { workflow } = await weft.client.createWorkflow({
      id: "fan-out-fail",
      steps: [
        { id: "f", url: handlers.url("/branch-fail"), parallel: true },
        { id: "s", url: handlers.url("/branch-slow"), parallel: true },
        { id: "join", url: handlers.url("/join"), dependsOn: ["f", "s"] },
      ],
    });
    const done = await waitForRun(weft.client, workflow!.id);
    expect(done.state).toBe(WorkflowState.FAILED);
    expect(done.steps.map((s) => s.state)).toEqual([StepState.FAILED, StepState.COMPLETED, StepState.SKIPPED]);
    expect(toJson(ValueSchema, done.results.s)).toBe("slow done");
  });
});

describe("cancel", () => {
  test("cancelling mid-run aborts the in-flight call and marks the run cancelled", async () => {
    handlers.on("/hang", () => ({ json: { success: true }, delayMs: 30_000 }));
    const { workflow } = await weft.client.createWorkflow({
      id: "cancel-me",
      steps: [
        { id: "first", url: handlers.url("/quick") },
        { id: "hang", url: handlers.url("/hang"), dependsOn: ["first"] },
        { id: "never", url: handlers.url("/never"), dependsOn: ["hang"] },
      ],
    });
    const call = await handlers.waitForCall((c) => c.body.runId === workflow!.id && c.path === "/hang");
    const res = await weft.client.cancelWorkflow({ id: workflow!.id, reason: "customer changed their mind" });
    expect(res.workflow?.state).toBe(WorkflowState.CANCELLED);
    const got = (await weft.client.getWorkflow({ id: workflow!.id })).workflow!;
    expect(got.state).toBe(WorkflowState.CANCELLED);
    expect(got.error?.message).toContain("customer changed their mind");
    expect(got.steps.map((s) => s.state)).toEqual([StepState.COMPLETED, StepState.CANCELLED, StepState.SKIPPED]);
    await expect.poll(() => call.aborted).toBe(true);
    const again = await expectConnectError(weft.client.cancelWorkflow({ id: workflow!.id }), Code.FailedPrecondition);
    expect(again.findDetails(ErrorInfoSchema)[0]?.reason).toBe("RUN_FINISHED");
  });

  test("unknown runs are NOT_FOUND for get and cancel", async () => {
    await expectConnectError(weft.client.getWorkflow({ id: "wf_01ARZ3NDEKTSV4RRFFQ69G5FAV" }), Code.NotFound);
    await expectConnectError(weft.client.cancelWorkflow({ id: "wf_01ARZ3NDEKTSV4RRFFQ69G5FAV" }), Code.NotFound);
    await expectConnectError(weft.client.getWorkflow({ id: "" }), Code.InvalidArgument);
  });
});

describe("idempotent create", () => {
  test("the same request_id returns the original run; another key makes another run", async () => {
    const req = { id: "idem", requestId: "order-123-create", steps: [{ id: "a", url: handlers.url("/a") }] };
    const first = await weft.client.createWorkflow(req);
    const second = await weft.client.createWorkflow(req);
    expect(first.deduplicated).toBe(false);
    expect(second.deduplicated).toBe(true);
    expect(second.workflow!.id).toBe(first.workflow!.id);
    const third = await weft.client.createWorkflow({ ...req, requestId: "order-124-create" });
    expect(third.workflow!.id).not.toBe(first.workflow!.id);
    await waitForRun(weft.client, first.workflow!.id);
    expect(handlers.callsFor(first.workflow!.id)).toHaveLength(1);
  });
});

describe("validation", () => {
  async function violations(req: Parameters<TestWeft["client"]["createWorkflow"]>[0]) {
    const before = (await weft.client.listWorkflows({ pageSize: 100 })).workflows.length;
    const err = await expectConnectError(weft.client.createWorkflow(req), Code.InvalidArgument);
    const after = (await weft.client.listWorkflows({ pageSize: 100 })).workflows.length;
    expect(after).toBe(before);
    const details = err.findDetails(BadRequestSchema);
    expect(details).toHaveLength(1);
    return { message: err.rawMessage, list: details[0].fieldViolations.map((v) => ({ field: v.field, description: v.description })) };
  }
  const url = "https://h.test/x";

  test.each([
    ["missing workflow id", { steps: [{ id: "a", url }] }, "id", "required"],
    ["no steps", { id: "w" }, "steps", "at least one step is required"],
    ["missing step id", { id: "w", steps: [{ url }] }, "steps[0].id", "required"],
    ["unknown dependency", { id: "w", steps: [{ id: "a", url }, { id: "b", url }, { id: "c", url, dependsOn: ["charge"] }] }, "steps[2].depends_on[0]", 'unknown step "charge"'],
    ["self dependency", { id: "w", steps: [{ id: "a", url, dependsOn: ["a"] }] }, "steps[0].depends_on[0]", 'step "a" depends on itself'],
    ["empty url", { id: "w", steps: [{ id: "a", url: "" }] }, "steps[0].url", "required"],
    ["relative url without base_url", { id: "w", steps: [{ id: "a", url: "/api/jobs/x" }] }, "steps[0].url", 'relative URL "/api/jobs/x" needs base_url'],
  ])("%s", async (_name, req, field, description) => {
    const v = await violations(req as never);
    expect(v.list).toContainEqual({ field, description });
    expect(v.message).toContain(`${field}: ${description}`);
  });

  test("duplicate ids, cycles, bad URLs, ranges and context are all reported at once", async () => {
    const v = await violations({
      id: "w",
      steps: [
        { id: "a", url, dependsOn: ["c"] },
        { id: "b", url: "ftp://h.test/x", dependsOn: ["a"], timeout: durationFromMs(0) },
        { id: "c", url, dependsOn: ["b"], retries: { maxAttempts: 1000 } },
        { id: "a", url },
      ],
      timeout: durationFromMs(-5),
    });
    const fields = v.list.map((x) => x.field);
    expect(fields).toContain("steps[3].id");
    expect(fields).toContain("steps[1].url");
    expect(fields).toContain("steps[1].timeout");
    expect(fields).toContain("steps[2].retries.max_attempts");
    expect(fields).toContain("timeout");
    const cycle = v.list.find((x) => x.description.startsWith("dependency cycle"));
    expect(cycle?.description).toMatch(/a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c/);
  });

  test("sizes over the configured limits", async () => {
    const many = Array.from({ length: 51 }, (_, i) => ({ id: `s${i}`, url }));
    expect((await violations({ id: "w", steps: many })).list.map((x) => x.field)).toContain("steps");
    const bigContext = await violations({ id: "w", steps: [{ id: "a", url }], context: { blob: "x".repeat(2000) } });
    expect(bigContext.list.map((x) => x.field)).toContain("context");
    const bigRequest = await violations({ id: "w", steps: [{ id: "a", url: "https://h.test/" + "p".repeat(2000) }, ...Array.from({ length: 40 }, (_, i) => ({ id: `x${i}`, url: "https://h.test/" + "q".repeat(1900) }))] });
    expect(bigRequest.list.map((x) => x.field)).toContain("request");
  });
});

describe("listing", () => {
  test("newest first, filtered by state and workflow id, paged", async () => {
    const made: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { workflow } = await weft.client.createWorkflow({ id: "listing", steps: [{ id: "a", url: handlers.url("/a") }] });
      made.push(workflow!.id);
    }
    for (const id of made) await waitForRun(weft.client, id);
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await weft.client.listWorkflows({ workflowId: "listing", pageSize: 2, pageToken });
      expect(page.workflows.length).toBeLessThanOrEqual(2);
      seen.push(...page.workflows.map((w) => w.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen).toEqual([...made].reverse());
    const completed = await weft.client.listWorkflows({ workflowId: "listing", states: [WorkflowState.COMPLETED], pageSize: 100 });
    expect(completed.workflows).toHaveLength(5);
    const failed = await weft.client.listWorkflows({ workflowId: "listing", states: [WorkflowState.FAILED] });
    expect(failed.workflows).toHaveLength(0);
    await expectConnectError(weft.client.listWorkflows({ pageToken: "garbage" }), Code.InvalidArgument);
  });
});
