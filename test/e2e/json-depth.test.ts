// Context and step results are nested at most MAX_JSON_DEPTH levels, so every
// client reads every run back in every protocol; a deeper result fails its step
// and never takes the server down (webhooks, restarts). The full view of
// ListWorkflows reads only as many runs as its page holds. Against a real
// server, real handlers and real clients (Connect over gRPC, the Connect
// protocol with JSON, @grpc/grpc-js) and a real process for restarts.
import { loadConfig } from "../../src/config.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, type JsonObject, toBinary, toJson } from "@bufbuild/protobuf";
import { type Value, ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { BadRequestSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import {
  GetWorkflowRequestSchema,
  GetWorkflowResponseSchema,
  ListWorkflowEventsRequestSchema,
  ListWorkflowEventsResponseSchema,
  StepState,
  WebhookState,
  type Workflow,
  WorkflowService,
  WorkflowState,
  WorkflowView,
} from "../../gen/ts/weft/v1/workflow_pb.js";
import { MAX_JSON_DEPTH, jsonDepth } from "../../src/domain/json-depth.ts";
import { HandlerServer } from "../support/handler-server.ts";
import { connectUnaryCall, type RawAnswer } from "../support/raw-rpc.ts";
import { webhookBody } from "../support/run-observer.ts";
import { kill9, logEntries, spawnWeft, stopWeft } from "../support/weft-process.ts";
import { startWeft, type TestWeft, waitForRun } from "../support/weft.ts";

let weft: TestWeft;
let handlers: HandlerServer;

beforeAll(async () => {
  handlers = await HandlerServer.start();
  weft = await startWeft();
}, 60_000);

afterAll(async () => {
  await weft?.stop();
  await handlers?.close();
});

/** JSON text nested `depth` object levels (built as text: JSON.stringify recurses). */
function deepText(depth: number): string {
  return '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
}
function deepObject(depth: number): JsonObject {
  return JSON.parse(deepText(depth)) as JsonObject;
}
function val(v: Value | undefined): unknown {
  return v === undefined ? undefined : toJson(ValueSchema, v);
}
/** A handler answering `text` as its JSON body. */
function answers(path: string, text: string): string {
  handlers.on(path, () => ({ text, headers: { "content-type": "application/json" } }));
  return handlers.url(path);
}

async function connectError(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected an error");
}

function violationsOf(err: ConnectError) {
  return err.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => ({ field: v.field, description: v.description })));
}

function badRequestOf(a: RawAnswer) {
  const details = a.details as { type: string; value: string }[] | undefined;
  const d = details?.find((x) => x.type === "google.rpc.BadRequest");
  return d ? fromBinary(BadRequestSchema, Buffer.from(d.value, "base64")).fieldViolations.map((v) => ({ field: v.field, description: v.description })) : [];
}

function grpcJs<I, O>(path: string, serialize: (m: I) => Uint8Array, deserialize: (b: Uint8Array) => O, req: I): Promise<O> {
  const client = new grpc.Client(`127.0.0.1:${weft.server.port}`, grpc.credentials.createInsecure());
  return new Promise<O>((resolve, reject) => {
    client.makeUnaryRequest(
      path,
      (m: I) => Buffer.from(serialize(m)),
      (b: Buffer) => deserialize(b),
      req,
      (err: grpc.ServiceError | null, res?: O) => {
        client.close();
        if (err) reject(err);
        else resolve(res!);
      },
    );
  });
}

/** The Connect protocol with JSON bodies. */
function connectJson() {
  return createClient(WorkflowService, createConnectTransport({ baseUrl: weft.baseUrl, httpVersion: "1.1", useBinaryFormat: false }));
}

const TOO_DEEP = `nested more than ${MAX_JSON_DEPTH} levels`;

describe("step results", () => {
  test("a result at the limit completes the run and reads back over gRPC, grpc-js, Connect JSON (also list, events, on_complete)", async () => {
    const url = answers("/depth/at-limit", deepText(MAX_JSON_DEPTH));
    const { workflow } = await weft.client.createWorkflow({
      id: "depth-at-limit",
      steps: [{ id: "deep", url }],
      context: deepObject(MAX_JSON_DEPTH),
      onComplete: handlers.url("/depth/at-limit/hook"),
    });
    const id = workflow!.id;
    const done = await waitForRun(weft.client, id, (w) => w.webhook?.state === WebhookState.DELIVERED, 30_000);
    expect(done.state).toBe(WorkflowState.COMPLETED);
    expect(jsonDepth(val(done.steps[0].result))).toBe(MAX_JSON_DEPTH);
    expect(jsonDepth(done.context)).toBe(MAX_JSON_DEPTH);

    const json = await connectJson().getWorkflow({ id });
    expect(jsonDepth(val(json.workflow!.results.deep))).toBe(MAX_JSON_DEPTH);

    const viaGrpcJs = await grpcJs(
      "/weft.v1.WorkflowService/GetWorkflow",
      (m: ReturnType<typeof create<typeof GetWorkflowRequestSchema>>) => toBinary(GetWorkflowRequestSchema, m),
      (b) => fromBinary(GetWorkflowResponseSchema, b),
      create(GetWorkflowRequestSchema, { id }),
    );
    expect(jsonDepth(val(viaGrpcJs.workflow!.steps[0].result))).toBe(MAX_JSON_DEPTH);
    const events = await grpcJs(
      "/weft.v1.WorkflowService/ListWorkflowEvents",
      (m: ReturnType<typeof create<typeof ListWorkflowEventsRequestSchema>>) => toBinary(ListWorkflowEventsRequestSchema, m),
      (b) => fromBinary(ListWorkflowEventsResponseSchema, b),
      create(ListWorkflowEventsRequestSchema, { id }),
    );
    expect(events.events.some((e) => e.result !== undefined && jsonDepth(val(e.result)) === MAX_JSON_DEPTH)).toBe(true);
    const list = await connectJson().listWorkflows({ workflowId: "depth-at-limit", view: WorkflowView.FULL });
    expect(jsonDepth(val(list.workflows[0].steps[0].result))).toBe(MAX_JSON_DEPTH);
    expect(list.workflows.map((w) => w.id)).toEqual([id]);

    const hook = handlers.calls.find((c) => c.path === "/depth/at-limit/hook");
    expect(webhookBody(hook!).workflow?.id).toBe(id);
  }, 60_000);

  for (const depth of [MAX_JSON_DEPTH + 1, 99, 5_000, 100_000]) {
    test(`a result nested ${depth} levels fails its step (invalid_response, not retried); on_error is delivered; reads work`, async () => {
      const url = answers(`/depth/over-${depth}`, deepText(depth));
      const { workflow } = await weft.client.createWorkflow({
        id: "depth-over",
        steps: [{ id: "deep", url, retries: { maxAttempts: 3 } }],
        onError: handlers.url(`/depth/over-${depth}/hook`),
      });
      const id = workflow!.id;
      const done: Workflow = await waitForRun(weft.client, id, (w) => w.webhook?.state === WebhookState.DELIVERED, 30_000);
      expect(done.state).toBe(WorkflowState.FAILED);
      expect(done.steps[0]).toMatchObject({ state: StepState.FAILED, attempts: 1 });
      expect(done.steps[0].error).toMatchObject({ reason: "invalid_response", message: `handler result ${TOO_DEEP}` });
      expect(done.steps[0].result).toBeUndefined();
      await connectJson().getWorkflow({ id });
      await weft.client.listWorkflowEvents({ id });
      await weft.client.listWorkflows({ workflowId: "depth-over", view: WorkflowView.FULL });
    }, 60_000);
  }
});

describe("context", () => {
  test("deeper than the limit is INVALID_ARGUMENT `context: nested more than N levels` over Connect JSON and gRPC binary", async () => {
    const steps = [{ id: "s", url: handlers.url("/depth/never") }];
    for (const depth of [MAX_JSON_DEPTH + 1, 45]) {
      const err = await connectError(connectJson().createWorkflow({ id: "depth-ctx", steps, context: deepObject(depth) }));
      expect(err.code, `${depth}: ${err.rawMessage}`).toBe(Code.InvalidArgument);
      expect(violationsOf(err), `${depth}: ${err.rawMessage}`).toEqual([{ field: "context", description: TOO_DEEP }]);
      expect(err.rawMessage).toBe(`context: ${TOO_DEEP}`);
    }
    // Deeper than a client would encode: the JSON body as text (98 and 99 were the attack's depths).
    for (const depth of [98, 99, 5_000, 100_000]) {
      const body = `{"id":"depth-ctx","steps":[{"id":"s","url":${JSON.stringify(steps[0].url)}}],"context":${deepText(depth)}}`;
      const a = await connectUnaryCall(weft.server.port, "/weft.v1.WorkflowService/CreateWorkflow", Buffer.from(body), "json");
      expect(a.code, `${depth}: ${a.message}`).toBe("invalid_argument");
      expect(a.message).toBe(`context: ${TOO_DEEP}`);
      expect(badRequestOf(a), String(depth)).toEqual([{ field: "context", description: TOO_DEEP }]);
    }
    // Binary (gRPC): up to where protobuf-es's own decoder limit (100 messages, ~48 levels) refuses the
    // request first, as `malformed request message`.
    for (const depth of [MAX_JSON_DEPTH + 1, 45]) {
      const err = await connectError(weft.client.createWorkflow({ id: "depth-ctx", steps, context: deepObject(depth) }));
      expect(err.code, `${depth}: ${err.rawMessage}`).toBe(Code.InvalidArgument);
      expect(violationsOf(err), `${depth}: ${err.rawMessage}`).toEqual([{ field: "context", description: TOO_DEEP }]);
    }
    const list = await weft.client.listWorkflows({ workflowId: "depth-ctx" });
    expect(list.workflows).toEqual([]);
  }, 60_000);
});

describe("ListWorkflows full view", () => {
  test("a page of large runs reads no more runs than its byte budget holds, plus one", async () => {
    handlers.on("/depth/big", () => ({ status: 400, json: { error: "no" } }));
    const context = { pad: "c".repeat(1024 * 1024 - 20) };
    const made: string[] = [];
    for (let i = 0; i < 10; i++) {
      const { workflow } = await weft.client.createWorkflow({ id: "depth-big-list", steps: [{ id: "s", url: handlers.url("/depth/big") }], context });
      made.push(workflow!.id);
    }
    for (const id of made) await waitForRun(weft.client, id, undefined, 60_000);
    const list = vi.spyOn(weft.server.engine, "list");
    try {
      const seen: string[] = [];
      let pageToken = "";
      let pages = 0;
      do {
        list.mockClear();
        const page = await weft.client.listWorkflows({ workflowId: "depth-big-list", view: WorkflowView.FULL, pageSize: 100, pageToken });
        pages++;
        const read = (await Promise.all(list.mock.results.map((r) => r.value as Promise<unknown[]>))).reduce((n, runs) => n + runs.length, 0);
        // 4 MiB of budget holds three 1 MiB runs; the fourth passes it.
        expect(page.workflows.length).toBeLessThanOrEqual(4);
        expect(read, `page ${pages}`).toBeLessThanOrEqual(Math.floor((4 * 1024 * 1024) / (1024 * 1024)) + 1);
        seen.push(...page.workflows.map((w) => w.id));
        pageToken = page.nextPageToken;
      } while (pageToken && pages < 20);
      expect(seen).toEqual([...made].reverse());
    } finally {
      list.mockRestore();
    }
  }, 300_000);
});

describe("a restart", () => {
  test("a process that failed a run for a too-deep result (with on_error) keeps serving and restarts on the same data", async () => {
    const dir = mkdtempSync(join(tmpdir(), "weft-depth-"));
    let p = await spawnWeft(dir);
    try {
      const url = answers("/depth/restart", deepText(5_000));
      const { workflow } = await p.client.createWorkflow({ id: "depth-restart", steps: [{ id: "deep", url }], onError: handlers.url("/depth/restart/hook") });
      const id = workflow!.id;
      const done = await waitForRun(p.client, id, (w) => w.webhook?.state === WebhookState.DELIVERED, 30_000);
      expect(done.steps[0].error?.reason).toBe("invalid_response");
      await kill9(p);
      p = await spawnWeft(dir);
      const again = await p.client.getWorkflow({ id });
      expect(again.workflow!.state).toBe(WorkflowState.FAILED);
      expect(logEntries(p).filter((e) => (e.level as number) >= 50)).toEqual([]);
    } finally {
      await stopWeft(p);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe("a run whose stored data cannot be rendered", () => {
  test("(written before the limit existed) neither stops start-up nor the other runs: its webhook fails, reads of it alone are INTERNAL", async () => {
    const dir = mkdtempSync(join(tmpdir(), "weft-poison-"));
    const webhook = { retryPeriodMs: 600_000, initialIntervalMs: 50, maxIntervalMs: 200, timeoutMs: 2_000 };
    let accept = false;
    handlers.on("/poison/hook", () => ({ status: accept ? 200 : 503, json: {} }));
    handlers.on("/poison/step", () => ({ json: { success: true, result: "POISON_MARK" } }));
    handlers.on("/poison/fine", () => ({ json: { success: true, result: "fine" } }));
    let w = await startWeft({ webhook, mongodb: loadConfig([], {})!.mongodb }, dir);
    let poison = "";
    let healthy = "";
    try {
      poison = (await w.client.createWorkflow({ id: "poison", steps: [{ id: "s", url: handlers.url("/poison/step") }], onComplete: handlers.url("/poison/hook") })).workflow!.id;
      healthy = (await w.client.createWorkflow({ id: "healthy", steps: [{ id: "s", url: handlers.url("/poison/fine") }], onComplete: handlers.url("/poison/hook") })).workflow!.id;
      for (const id of [poison, healthy]) await waitForRun(w.client, id, (r) => (r.webhook?.attempts ?? 0) >= 1, 30_000);
    } finally {
      await w.server.close(500);
    }
    // What an older version could store: a result nested deeper than any client (or renderer) reads.
    const db = new DatabaseSync(join(dir, "weft.db"));
    const changed = db.prepare("UPDATE steps SET record = replace(record, '\"POISON_MARK\"', ?) WHERE run_id = ?").run(deepText(150), poison);
    db.close();
    expect(changed.changes).toBe(1);

    accept = true;
    w = await startWeft({ webhook, mongodb: loadConfig([], {})!.mongodb }, dir);
    try {
      const fine = await waitForRun(w.client, healthy, (r) => r.webhook?.state === WebhookState.DELIVERED, 30_000);
      expect(fine.state).toBe(WorkflowState.COMPLETED);
      const end = Date.now() + 30_000;
      for (;;) {
        const run = await w.server.engine.get(poison);
        if (run?.webhook?.state === "failed") {
          expect(run.webhook.lastError?.reason).toBe("render_failed");
          break;
        }
        if (Date.now() > end) throw new Error(`webhook of the poisoned run did not fail: ${JSON.stringify(run?.webhook)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const err = await connectError(w.client.getWorkflow({ id: poison }));
      expect(err.code).toBe(Code.Internal);
      expect((await w.client.listWorkflows({})).workflows.map((x) => x.id)).toContain(healthy);
    } finally {
      await w.server.close(500);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
