// API-key authentication end to end: a real server with one write and one read
// key, real Connect/gRPC/gRPC-Web clients, raw HTTP, and grpcurl.
import { type Client, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/ts/health/v1/health_pb.js";
import { WorkflowService, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import type { Config } from "../../src/config.ts";
import { digestApiKeys } from "../../src/domain/api-keys.ts";
import { findGrpcurl, runGrpcurl } from "../support/grpcurl.ts";
import { HandlerServer } from "../support/handler-server.ts";
import { startWeft, type TestWeft, waitForRun } from "../support/weft.ts";

const WRITE_KEY = "wk_3f9a1c7e5b2d4086aa11";
const READ_KEY = "rk_8c2e6a0f4d1b7395bb22";
const WRONG_KEY = "xk_0000000000000000cc33";

function authConfig(reflection: Config["auth"]["reflection"]): Partial<Config> {
  return {
    auth: {
      keys: digestApiKeys([
        { scope: "write", key: WRITE_KEY },
        { scope: "read", key: READ_KEY },
      ]),
      reflection,
      allowUnauthenticated: false,
    },
    // WatchWorkflows sends a heartbeat soon, so a test can read a first message from it.
    watchHeartbeatMs: 100,
  };
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

type Weft = Client<typeof WorkflowService>;
type Protocol = "grpc" | "grpc-web" | "connect-json";
const PROTOCOLS: Protocol[] = ["grpc", "grpc-web", "connect-json"];

function transportFor(baseUrl: string, protocol: Protocol): Transport {
  if (protocol === "grpc") return createGrpcTransport({ baseUrl });
  if (protocol === "grpc-web") return createGrpcWebTransport({ baseUrl, httpVersion: "1.1" });
  return createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false });
}

/** Calls any WorkflowService method; for a stream, resolves with its first message. */
async function invoke(client: Weft, localName: string, req: object, headers: Record<string, string> = {}): Promise<unknown> {
  const method = WorkflowService.methods.find((m) => m.localName === localName)!;
  const fn = (client as unknown as Record<string, (r: object, o: object) => unknown>)[localName]!;
  if (method.methodKind === "server_streaming") {
    const abort = new AbortController();
    try {
      for await (const msg of fn(req, { headers, signal: abort.signal }) as AsyncIterable<unknown>) return msg;
      return undefined;
    } finally {
      abort.abort();
    }
  }
  return fn(req, { headers, timeoutMs: 20_000 });
}

/** A minimal request per method (auth is checked before the request is looked at). */
function requestFor(localName: string, runId: string): object {
  switch (localName) {
    case "createWorkflow":
      return { id: "auth-probe", steps: [{ id: "a", url: "http://127.0.0.1:9/a" }] };
    case "listWorkflows":
    case "watchWorkflows":
      return {};
    default:
      return { id: runId };
  }
}

async function rejection(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected the call to fail");
}

function expectAuthError(err: ConnectError, code: Code, reason: string, sentToken?: string): void {
  expect(err.code, err.message).toBe(code);
  const info = err.findDetails(ErrorInfoSchema);
  expect(info).toHaveLength(1);
  expect(info[0]!.domain).toBe("weft.v1");
  expect(info[0]!.reason).toBe(reason);
  if (sentToken !== undefined) {
    const everything = JSON.stringify({ message: err.message, info, metadata: [...err.metadata.entries()] });
    expect(everything).not.toContain(sentToken);
  }
}

describe("API-key authentication (reflection: auth)", () => {
  let weft: TestWeft;
  let handlers: HandlerServer;
  let doneRunId: string;

  beforeAll(async () => {
    handlers = await HandlerServer.start();
    handlers.on("/slow", () => ({ json: { success: true }, delayMs: 60_000 }));
    weft = await startWeft(authConfig("auth"));
    const { workflow } = await weft.client.createWorkflow(
      { id: "auth-e2e", steps: [{ id: "a", url: handlers.url("/a") }], context: { secret: "run-context" } },
      { headers: bearer(WRITE_KEY) },
    );
    doneRunId = workflow!.id;
    await waitForRun(createClient(WorkflowService, createGrpcTransport({ baseUrl: weft.baseUrl, interceptors: [(next) => (req) => {
      req.header.set("authorization", `Bearer ${READ_KEY}`);
      return next(req);
    }] })), doneRunId);
  });
  afterAll(async () => {
    await weft?.stop();
    await handlers?.close();
  });

  for (const protocol of PROTOCOLS) {
    describe(`over ${protocol}`, () => {
      let client: Weft;
      beforeAll(() => {
        client = createClient(WorkflowService, transportFor(weft.baseUrl, protocol));
      });

      it("refuses every RPC without a key: UNAUTHENTICATED, ErrorInfo API_KEY_MISSING", async () => {
        expect(WorkflowService.methods.length).toBeGreaterThanOrEqual(7);
        for (const m of WorkflowService.methods) {
          const err = await rejection(invoke(client, m.localName, requestFor(m.localName, doneRunId)));
          expectAuthError(err, Code.Unauthenticated, "API_KEY_MISSING");
        }
        // Blank counts as missing.
        expectAuthError(await rejection(invoke(client, "listWorkflows", {}, { authorization: "  " })), Code.Unauthenticated, "API_KEY_MISSING");
        // Nothing was created by the anonymous CreateWorkflow.
        const { workflows } = await client.listWorkflows({ workflowId: "auth-probe" }, { headers: bearer(WRITE_KEY) });
        expect(workflows).toHaveLength(0);
      });

      it("refuses a wrong, malformed or oversized key without echoing it", async () => {
        for (const m of WorkflowService.methods) {
          const err = await rejection(invoke(client, m.localName, requestFor(m.localName, doneRunId), bearer(WRONG_KEY)));
          expectAuthError(err, Code.Unauthenticated, "API_KEY_INVALID", WRONG_KEY);
        }
        const basic = `Basic ${Buffer.from(`u:${WRITE_KEY}`).toString("base64")}`;
        expectAuthError(await rejection(invoke(client, "getWorkflow", { id: doneRunId }, { authorization: basic })), Code.Unauthenticated, "API_KEY_INVALID", basic);
        // The key without the Bearer scheme is not accepted either.
        expectAuthError(await rejection(invoke(client, "getWorkflow", { id: doneRunId }, { authorization: WRITE_KEY })), Code.Unauthenticated, "API_KEY_INVALID", WRITE_KEY);
        const huge = `Bearer ${"z".repeat(5000)}`;
        const err = await rejection(invoke(client, "getWorkflow", { id: doneRunId }, { authorization: huge }));
        expectAuthError(err, Code.Unauthenticated, "API_KEY_INVALID", "z".repeat(50));
      });

      it("a read key can get, list, watch and read events, but not create or cancel (PERMISSION_DENIED, required: write)", async () => {
        const run = (await invoke(client, "getWorkflow", { id: doneRunId }, bearer(READ_KEY))) as { workflow: { id: string; context: unknown } };
        expect(run.workflow.id).toBe(doneRunId);
        const list = (await invoke(client, "listWorkflows", { workflowId: "auth-e2e" }, bearer(READ_KEY))) as { workflows: unknown[] };
        expect(list.workflows.length).toBeGreaterThanOrEqual(1);
        const first = (await invoke(client, "watchWorkflow", { id: doneRunId }, bearer(READ_KEY))) as { kind: { case: string } };
        expect(first.kind.case).toBe("snapshot");
        const feed = (await invoke(client, "watchWorkflows", {}, bearer(READ_KEY))) as { kind: { case: string } };
        expect(feed.kind.case).toBeDefined();
        const events = (await invoke(client, "listWorkflowEvents", { id: doneRunId }, bearer(READ_KEY))) as { events: unknown[] };
        expect(events.events.length).toBeGreaterThan(0);

        // A running run that the read key tries to cancel stays running.
        const { workflow } = await client.createWorkflow(
          { id: "auth-e2e-slow", steps: [{ id: "s", url: handlers.url("/slow") }] },
          { headers: bearer(WRITE_KEY) },
        );
        const denied = await rejection(invoke(client, "cancelWorkflow", { id: workflow!.id }, bearer(READ_KEY)));
        expectAuthError(denied, Code.PermissionDenied, "API_KEY_SCOPE", READ_KEY);
        expect(denied.findDetails(ErrorInfoSchema)[0]!.metadata).toEqual({ required: "write" });
        const create = await rejection(invoke(client, "createWorkflow", requestFor("createWorkflow", ""), bearer(READ_KEY)));
        expectAuthError(create, Code.PermissionDenied, "API_KEY_SCOPE", READ_KEY);
        expect(create.findDetails(ErrorInfoSchema)[0]!.metadata).toEqual({ required: "write" });

        const still = await client.getWorkflow({ id: workflow!.id }, { headers: bearer(READ_KEY) });
        expect(still.workflow!.state).not.toBe(WorkflowState.CANCELLED);
        await client.cancelWorkflow({ id: workflow!.id }, { headers: bearer(WRITE_KEY) });
      });

      it("a write key does everything", async () => {
        const { workflow } = await client.createWorkflow(
          { id: "auth-e2e-write", steps: [{ id: "s", url: handlers.url("/slow") }] },
          { headers: bearer(WRITE_KEY) },
        );
        const id = workflow!.id;
        expect(((await invoke(client, "getWorkflow", { id }, bearer(WRITE_KEY))) as { workflow: { id: string } }).workflow.id).toBe(id);
        expect(((await invoke(client, "listWorkflows", { workflowId: "auth-e2e-write" }, bearer(WRITE_KEY))) as { workflows: unknown[] }).workflows.length).toBeGreaterThanOrEqual(1);
        expect(((await invoke(client, "watchWorkflow", { id }, bearer(WRITE_KEY))) as { kind: { case: string } }).kind.case).toBe("snapshot");
        expect(await invoke(client, "watchWorkflows", {}, bearer(WRITE_KEY))).toBeDefined();
        expect(((await invoke(client, "listWorkflowEvents", { id }, bearer(WRITE_KEY))) as { events: unknown[] }).events.length).toBeGreaterThan(0);
        const cancelled = (await invoke(client, "cancelWorkflow", { id }, bearer(WRITE_KEY))) as { workflow: { state: WorkflowState } };
        expect(cancelled.workflow.state).toBe(WorkflowState.CANCELLED);
      });

      it("health checks need no key", async () => {
        const health = createClient(Health, transportFor(weft.baseUrl, protocol));
        expect((await health.check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
        expect((await health.check({ service: WorkflowService.typeName })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
      });
    });
  }

  it("over plain HTTP (curl's view): 401 with a JSON error that does not contain the token", async () => {
    const url = `${weft.baseUrl}/weft.v1.WorkflowService/ListWorkflows`;
    const anon = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(anon.status).toBe(401);
    const anonBody = (await anon.json()) as { code: string; message: string };
    expect(anonBody.code).toBe("unauthenticated");

    const wrong = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...bearer(WRONG_KEY) }, body: "{}" });
    expect(wrong.status).toBe(401);
    const text = await wrong.text();
    expect(text).toContain("unauthenticated");
    expect(text).not.toContain(WRONG_KEY);
    expect([...wrong.headers.values()].join("\n")).not.toContain(WRONG_KEY);

    const ok = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...bearer(READ_KEY) }, body: "{}" });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { workflows: unknown[] }).workflows.length).toBeGreaterThanOrEqual(1);
  });

  it("grpcurl: reflection and calls need a read key; health does not", async (ctx) => {
    const bin = await findGrpcurl();
    if (bin === null) {
      console.warn("\n!!!!!!!! grpcurl unavailable: SKIPPING the grpcurl auth test (not a pass) !!!!!!!!\n");
      return ctx.skip("grpcurl unavailable");
    }
    const target = `127.0.0.1:${weft.server.port}`;
    const anonList = await runGrpcurl(bin, ["-plaintext", target, "list"]);
    expect(anonList.code).not.toBe(0);
    expect(anonList.stderr).toMatch(/Unauthenticated/);

    const list = await runGrpcurl(bin, ["-plaintext", "-H", `authorization: Bearer ${READ_KEY}`, target, "list"]);
    expect(list.stderr).toBe("");
    expect(list.stdout).toContain("weft.v1.WorkflowService");

    const get = await runGrpcurl(bin, ["-plaintext", "-H", `authorization: Bearer ${READ_KEY}`, "-d", JSON.stringify({ id: doneRunId }), target, "weft.v1.WorkflowService/GetWorkflow"]);
    expect(get.stderr).toBe("");
    expect(JSON.parse(get.stdout).workflow.id).toBe(doneRunId);

    const denied = await runGrpcurl(bin, [
      "-plaintext", "-H", `authorization: Bearer ${READ_KEY}`, "-d", JSON.stringify({ id: doneRunId }), target, "weft.v1.WorkflowService/CancelWorkflow",
    ]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain("Code: PermissionDenied");
    expect(denied.stderr).toContain("API_KEY_SCOPE");
    expect(denied.stderr).not.toContain(READ_KEY);

    // Health needs no key (grpcurl describes the request through reflection, so it sends one for that).
    const health = await runGrpcurl(bin, ["-plaintext", "-H", `authorization: Bearer ${READ_KEY}`, target, "grpc.health.v1.Health/Check"]);
    expect(health.stderr).toBe("");
    expect(JSON.parse(health.stdout)).toEqual({ status: "SERVING" });
  });
});

describe("reflection settings", () => {
  it("open: reflection needs no key, the workflow service still does; off: no reflection at all", async (ctx) => {
    const bin = await findGrpcurl();
    if (bin === null) {
      console.warn("\n!!!!!!!! grpcurl unavailable: SKIPPING the reflection-setting test (not a pass) !!!!!!!!\n");
      return ctx.skip("grpcurl unavailable");
    }
    const open = await startWeft(authConfig("open"));
    try {
      const target = `127.0.0.1:${open.server.port}`;
      const list = await runGrpcurl(bin, ["-plaintext", target, "list"]);
      expect(list.stderr).toBe("");
      expect(list.stdout).toContain("weft.v1.WorkflowService");
      const health = await runGrpcurl(bin, ["-plaintext", target, "grpc.health.v1.Health/Check"]);
      expect(health.stderr).toBe("");
      expect(JSON.parse(health.stdout)).toEqual({ status: "SERVING" });
      const anon = await runGrpcurl(bin, ["-plaintext", target, "weft.v1.WorkflowService/ListWorkflows"]);
      expect(anon.code).not.toBe(0);
      expect(anon.stderr).toContain("Code: Unauthenticated");
      expect(anon.stderr).toContain("API_KEY_MISSING");
    } finally {
      await open.stop();
    }

    const off = await startWeft(authConfig("off"));
    try {
      const target = `127.0.0.1:${off.server.port}`;
      const list = await runGrpcurl(bin, ["-plaintext", "-H", `authorization: Bearer ${WRITE_KEY}`, target, "list"]);
      // Not registered: the route does not exist, and gRPC clients are told so (UNIMPLEMENTED).
      expect(list.code).not.toBe(0);
      expect(list.stdout).toBe("");
      expect(list.stderr).toMatch(/server does not support the reflection API/);
      // The service itself answers.
      const res = await off.client.listWorkflows({}, { headers: bearer(READ_KEY) });
      expect(res.workflows).toEqual([]);
    } finally {
      await off.stop();
    }
  });
});
