// Every input and every answer bounded: oversized fields are refused before any
// work with a short INVALID_ARGUMENT, a cancel reason is stored once, list pages
// are bounded in bytes. Against a real server, real handlers and real clients
// (Connect over gRPC and the Connect protocol, and @grpc/grpc-js).
import { create, type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import {
  CancelWorkflowRequestSchema,
  CancelWorkflowResponseSchema,
  GetWorkflowRequestSchema,
  GetWorkflowResponseSchema,
  ListWorkflowEventsRequestSchema,
  ListWorkflowEventsResponseSchema,
  ListWorkflowsResponseSchema,
  StepState,
  WatchWorkflowRequestSchema,
  WatchWorkflowResponseSchema,
  WorkflowService,
  WorkflowState,
  WorkflowView,
} from "../../gen/ts/weft/v1/workflow_pb.js";
import { HandlerServer } from "../support/handler-server.ts";
import { allEvents, hangUntilAborted } from "../support/run-observer.ts";
import { startWeft, type TestWeft, waitForRun } from "../support/weft.ts";

let weft: TestWeft;
let handlers: HandlerServer;

beforeAll(async () => {
  handlers = await HandlerServer.start();
  // The default limits: they admit the ~2.6 MB creates below.
  weft = await startWeft();
}, 60_000);

afterAll(async () => {
  await weft?.stop();
  await handlers?.close();
});

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

/**
 * Everything an error carries back besides its code is short: the message, the
 * headers/trailers (grpc-status-details-bin holds the message and details again,
 * base64) and the ErrorInfo metadata.
 */
function expectShortError(err: ConnectError, what: string): void {
  expect(err.rawMessage.length, `${what}: message ${err.rawMessage.slice(0, 200)}`).toBeLessThan(200);
  err.metadata.forEach((value, key) => expect(value.length, `${what}: header ${key}`).toBeLessThan(600));
  for (const info of err.findDetails(ErrorInfoSchema)) {
    for (const [k, v] of Object.entries(info.metadata)) expect(v.length, `${what}: ErrorInfo ${k}`).toBeLessThan(200);
  }
  for (const v of violationsOf(err)) expect(v.field.length + v.description.length, what).toBeLessThan(200);
}

describe("cancel reason", () => {
  test("an oversized reason is refused naming `reason`, and nothing is committed", async () => {
    handlers.on("/cancel-big/hang", hangUntilAborted());
    const { workflow } = await weft.client.createWorkflow({ id: "cancel-big", steps: [{ id: "hang", url: handlers.url("/cancel-big/hang") }] });
    const id = workflow!.id;
    await handlers.waitForCall((c) => c.body.runId === id);
    // Huge (may also be refused by a request size limit first) and merely too long (passes any size limit).
    for (const reason of ["r".repeat(4_000_000), "r".repeat(1025)]) {
      const err = await connectError(weft.client.cancelWorkflow({ id, reason }));
      expect([Code.InvalidArgument, Code.ResourceExhausted], err.message).toContain(err.code);
      if (reason.length === 1025 || err.code === Code.InvalidArgument) {
        expect(err.code).toBe(Code.InvalidArgument);
        expect(violationsOf(err)).toEqual([{ field: "reason", description: `must be at most 1024 characters (got ${reason.length})` }]);
      }
      expectShortError(err, `reason of ${reason.length}`);
    }
    const got = (await weft.client.getWorkflow({ id })).workflow!;
    expect(got.state).toBe(WorkflowState.RUNNING);
    expect(got.steps[0].state).toBe(StepState.RUNNING);
    expect(got.error).toBeUndefined();
    await weft.client.cancelWorkflow({ id });
  });

  test("a maximal reason on a run with 20 hanging parallel steps is stored once; the answer stays small", async () => {
    handlers.on("/cancel-wide/hang", hangUntilAborted());
    const steps = Array.from({ length: 20 }, (_, i) => ({ id: `s${i}`, url: handlers.url("/cancel-wide/hang"), parallel: true }));
    const { workflow } = await weft.client.createWorkflow({ id: "cancel-wide", steps });
    const id = workflow!.id;
    await expect.poll(() => handlers.callsFor(id).length, { timeout: 20_000 }).toBe(20);
    const reason = "Q".repeat(1024);
    const res = await weft.client.cancelWorkflow({ id, reason });
    expect(res.workflow!.state).toBe(WorkflowState.CANCELLED);
    expect(res.workflow!.error?.message).toContain(reason);
    expect(toBinary(CancelWorkflowResponseSchema, res).byteLength).toBeLessThan(32 * 1024);

    const got = (await weft.client.getWorkflow({ id })).workflow!;
    expect(got.state).toBe(WorkflowState.CANCELLED);
    for (const st of got.steps) {
      expect(st.state).toBe(StepState.CANCELLED);
      expect(st.error?.reason).toBe("cancelled");
      expect(st.error?.message).not.toContain(reason);
    }
    const events = await allEvents(weft.client, id);
    const stepEvents = events.filter((e) => e.transition.case === "step" && e.transition.value.toState === StepState.CANCELLED);
    expect(stepEvents).toHaveLength(20);
    for (const e of stepEvents) expect(e.error?.message).not.toContain(reason);
    // The reason is in the run's error and its terminal event, nowhere else.
    expect(events.filter((e) => e.error?.message.includes(reason))).toHaveLength(1);

    const list = await weft.client.listWorkflows({ workflowId: "cancel-wide", view: WorkflowView.FULL });
    expect(list.workflows.map((w) => w.id)).toContain(id);
    expect(toBinary(ListWorkflowsResponseSchema, list).byteLength).toBeLessThan(64 * 1024);
  });
});

// ---- oversized ids: Connect clients and @grpc/grpc-js ------------------------------------------

function method<I extends DescMessage, O extends DescMessage>(path: string, input: I, output: O) {
  return {
    path: `/weft.v1.WorkflowService/${path}`,
    request: (id: string) => create(input, { id } as never),
    serialize: (m: MessageShape<I>) => Buffer.from(toBinary(input, m)),
    deserialize: (b: Buffer) => fromBinary(output, b),
  };
}

const GRPC_METHODS = {
  get: method("GetWorkflow", GetWorkflowRequestSchema, GetWorkflowResponseSchema),
  cancel: method("CancelWorkflow", CancelWorkflowRequestSchema, CancelWorkflowResponseSchema),
  events: method("ListWorkflowEvents", ListWorkflowEventsRequestSchema, ListWorkflowEventsResponseSchema),
  watch: method("WatchWorkflow", WatchWorkflowRequestSchema, WatchWorkflowResponseSchema),
};

/** The call's status (a stream reset shows up as INTERNAL/UNAVAILABLE with a transport message). */
function grpcJsCall(client: grpc.Client, name: keyof typeof GRPC_METHODS, id: string): Promise<grpc.ServiceError> {
  const m = GRPC_METHODS[name];
  const req = m.request(id);
  return new Promise((resolve, reject) => {
    if (name === "watch") {
      const call = client.makeServerStreamRequest(m.path, m.serialize as never, m.deserialize as never, req);
      call.on("data", () => reject(new Error("watch answered a message")));
      call.on("error", (err: grpc.ServiceError) => resolve(err));
      call.on("end", () => reject(new Error("watch ended without an error")));
      return;
    }
    client.makeUnaryRequest(m.path, m.serialize as never, m.deserialize as never, req, (err: grpc.ServiceError | null) =>
      err ? resolve(err) : reject(new Error(`${name} succeeded`)),
    );
  });
}

async function connectCall(client: TestWeft["client"], name: keyof typeof GRPC_METHODS, id: string): Promise<ConnectError> {
  if (name === "get") return connectError(client.getWorkflow({ id }));
  if (name === "cancel") return connectError(client.cancelWorkflow({ id }));
  if (name === "events") return connectError(client.listWorkflowEvents({ id }));
  return connectError((async () => {
    for await (const _ of client.watchWorkflow({ id })) throw new Error("watch answered a message");
  })());
}

describe("ids that are not run ids", () => {
  const names = ["get", "cancel", "watch", "events"] as const;

  test.each([10_000, 8_000_000])("%i characters: a clean, short status over Connect (gRPC and Connect protocol)", async (length) => {
    const id = "x".repeat(length);
    for (const label of ["grpc", "connect"] as const) {
      for (const name of names) {
        // A client of its own per call: a client-side HTTP/2 session holds what it sends in its memory budget.
        const transport = label === "grpc" ? createGrpcTransport({ baseUrl: weft.baseUrl }) : createConnectTransport({ baseUrl: weft.baseUrl, httpVersion: "1.1" });
        const err = await connectCall(createClient(WorkflowService, transport), name, id);
        const what = `${label} ${name} ${length}`;
        expect([Code.InvalidArgument, Code.ResourceExhausted], `${what}: ${err.code} ${err.message.slice(0, 200)}`).toContain(err.code);
        if (length === 10_000) {
          expect(err.code, what).toBe(Code.InvalidArgument);
          expect(violationsOf(err), what).toEqual([{ field: "id", description: "not a run id" }]);
        }
        expectShortError(err, what);
      }
    }
  }, 120_000);

  test.each([10_000, 8_000_000])("%i characters: a clean, short status over @grpc/grpc-js", async (length) => {
    const id = "x".repeat(length);
    for (const name of names) {
      const client = new grpc.Client(`127.0.0.1:${weft.server.port}`, grpc.credentials.createInsecure());
      try {
        const err = await grpcJsCall(client, name, id);
        const what = `grpc-js ${name} ${length}`;
        expect([grpc.status.INVALID_ARGUMENT, grpc.status.RESOURCE_EXHAUSTED], `${what}: ${err.code} ${err.details.slice(0, 200)}`).toContain(err.code);
        if (length === 10_000) {
          expect(err.code, what).toBe(grpc.status.INVALID_ARGUMENT);
          expect(err.details).toBe("id: not a run id");
        }
        expect(err.details.length, what).toBeLessThan(200);
        for (const [key, values] of Object.entries(err.metadata.toJSON())) {
          for (const v of values as (string | Buffer)[]) expect(v.length, `${what}: ${key}`).toBeLessThan(600);
        }
      } finally {
        client.close();
      }
    }
  }, 120_000);
});

// ---- list pages -----------------------------------------------------------------------------

describe("list pages", () => {
  test("large runs: the basic view is small; the full view is cut by bytes and pages through every run once", async () => {
    const path = `/big/${"p".repeat(1500)}`;
    handlers.on(path, () => ({ status: 400, json: { error: "no" } }));
    const context = { pad: "c".repeat(1024 * 1024 - 20) };
    const steps = Array.from({ length: 1000 }, (_, i) => ({ id: `s${i}`, url: handlers.url(path), dependsOn: i === 0 ? [] : [`s${i - 1}`] }));
    const made: string[] = [];
    for (let i = 0; i < 12; i++) {
      const { workflow } = await weft.client.createWorkflow({ id: "big-list", steps, context });
      made.push(workflow!.id);
    }
    for (const id of made) await waitForRun(weft.client, id, undefined, 60_000);

    const basic = await weft.client.listWorkflows({});
    expect(basic.workflows.slice(0, 12).map((w) => w.id)).toEqual([...made].reverse());
    expect(toBinary(ListWorkflowsResponseSchema, basic).byteLength).toBeLessThan(256 * 1024);
    for (const w of basic.workflows) {
      expect(w.steps).toEqual([]);
      expect(w.context).toBeUndefined();
      expect(w.results).toEqual({});
    }
    expect(basic.workflows[0]).toMatchObject({ workflowId: "big-list", state: WorkflowState.FAILED, failedSteps: ["s0"] });

    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await weft.client.listWorkflows({ workflowId: "big-list", view: WorkflowView.FULL, pageSize: 100, pageToken });
      pages++;
      expect(page.workflows.length).toBeGreaterThan(0);
      expect(toBinary(ListWorkflowsResponseSchema, page).byteLength).toBeLessThan(4 * 1024 * 1024 + 3 * 1024 * 1024);
      for (const w of page.workflows) expect(w.steps).toHaveLength(1000);
      seen.push(...page.workflows.map((w) => w.id));
      pageToken = page.nextPageToken;
    } while (pageToken && pages < 20);
    expect(seen).toEqual([...made].reverse());
    expect(pages).toBeGreaterThan(1);
  }, 300_000);

  test("ListWorkflowEvents pages are cut by bytes too, and their tokens lead to every event once", async () => {
    // A server whose runs may hold more results than one page's byte budget.
    const big = await startWeft({ limits: { ...weft.config.limits, maxRunResultBytes: 6 * 1024 * 1024 } });
    try {
      handlers.on("/events-big/a", () => ({ json: { success: true, result: "r".repeat(1_000_000) } }));
      const steps = Array.from({ length: 6 }, (_, i) => ({ id: `s${i}`, url: handlers.url("/events-big/a"), parallel: true }));
      const { workflow } = await big.client.createWorkflow({ id: "events-big", steps });
      const id = workflow!.id;
      const done = await waitForRun(big.client, id);
      expect(done.state).toBe(WorkflowState.COMPLETED);
      const sequences: bigint[] = [];
      let pageToken = "";
      let pages = 0;
      do {
        const page = await big.client.listWorkflowEvents({ id, pageSize: 1000, pageToken });
        pages++;
        expect(page.events.length).toBeGreaterThan(0);
        expect(toBinary(ListWorkflowEventsResponseSchema, page).byteLength).toBeLessThan(4 * 1024 * 1024 + 1024 * 1024);
        sequences.push(...page.events.map((e) => e.sequence));
        pageToken = page.nextPageToken;
      } while (pageToken && pages < 20);
      expect(pages).toBeGreaterThan(1);
      expect(sequences).toEqual(Array.from({ length: Number(done.lastSequence) }, (_, i) => BigInt(i + 1)));
    } finally {
      await big.stop();
    }
  }, 120_000);

  test("a create with thousands of problems lists at most 50 in its BadRequest, and says how many there were", async () => {
    const err = await connectError(weft.client.createWorkflow({ id: "many-problems", steps: Array.from({ length: 1000 }, (_, i) => ({ id: `s${i}`, url: "" })) }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(violationsOf(err)).toHaveLength(50);
    expect(err.findDetails(ErrorInfoSchema)[0]?.metadata.violations).toBe("1000");
    expect(err.rawMessage).toContain("… and 980 more");
  });

  test("more states than there are is INVALID_ARGUMENT naming states; duplicates within that collapse", async () => {
    const many = await connectError(weft.client.listWorkflows({ states: Array.from({ length: 32_766 }, () => WorkflowState.RUNNING) }));
    expect(many.code).toBe(Code.InvalidArgument);
    expect(violationsOf(many)).toEqual([{ field: "states", description: "at most 7 entries (got 32766)" }]);
    expectShortError(many, "states");
    const all = [1, 2, 3, 4, 5, 6, 7] as WorkflowState[];
    const repeated = await connectError(weft.client.listWorkflows({ states: [...all, ...all] }));
    expect(violationsOf(repeated)).toEqual([{ field: "states", description: "at most 7 entries (got 14)" }]);
    await weft.client.listWorkflows({ states: all, pageSize: 1 });
    await weft.client.listWorkflows({ states: [WorkflowState.FAILED, WorkflowState.FAILED], pageSize: 1 });
    const watchErr = await connectError((async () => {
      for await (const _ of weft.client.watchWorkflows({ states: Array.from({ length: 8 }, () => WorkflowState.FAILED) })) break;
    })());
    expect(violationsOf(watchErr)).toEqual([{ field: "states", description: "at most 7 entries (got 8)" }]);
  });

  test("page tokens and workflow_id filters have maxima", async () => {
    const token = await connectError(weft.client.listWorkflows({ pageToken: "A".repeat(257) }));
    expect(violationsOf(token)).toEqual([{ field: "page_token", description: "invalid page token" }]);
    const filter = await connectError(weft.client.listWorkflows({ workflowId: "w".repeat(129) }));
    expect(violationsOf(filter)).toEqual([{ field: "workflow_id", description: "must be at most 128 characters (got 129)" }]);
    const eventsToken = await connectError(weft.client.listWorkflowEvents({ id: "wf_01ARZ3NDEKTSV4RRFFQ69G5FAV", pageToken: "1".repeat(10_000) }));
    expect(violationsOf(eventsToken)).toEqual([{ field: "page_token", description: "invalid page token" }]);
  });
});
