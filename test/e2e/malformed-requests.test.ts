// Malformed requests on every protocol get INVALID_ARGUMENT (never INTERNAL),
// JSON errors name the field, unknown enum numbers are refused, and every RPC
// but CreateWorkflow has a small request size limit.
import http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import {
  Backoff,
  CreateWorkflowRequestSchema,
  GetWorkflowRequestSchema,
  ListWorkflowsRequestSchema,
  WatchWorkflowRequestSchema,
  WatchWorkflowsRequestSchema,
  type WorkflowState,
} from "../../gen/ts/weft/v1/workflow_pb.js";
import { connectGetCall, connectStreamCall, connectUnaryCall, envelope, grpcCall, grpcWebCall, type RawAnswer } from "../support/raw-rpc.ts";
import { type TestWeft, useWeft } from "../support/weft.ts";

const SVC = "/weft.v1.WorkflowService/";
let weft: TestWeft;
useWeft((w) => (weft = w));
let session: http2.ClientHttp2Session;
beforeAll(() => {
  session = http2.connect(`http://127.0.0.1:${weft.server.port}`);
});
afterAll(() => session.close());

const enc = (s: string) => new TextEncoder().encode(s);
const port = () => weft.server.port;

/** Field 1 (id, a string) holding the bytes 0xff 0xfe: not UTF-8. */
const BAD_UTF8 = new Uint8Array([0x0a, 0x02, 0xff, 0xfe]);
/** Field 1, length-delimited, claims 100 bytes; 1 follows. */
const TRUNCATED = new Uint8Array([0x0a, 0x64, 0x61]);
/** Wire type 7 does not exist. */
const ILLEGAL_TAG = new Uint8Array([0x0f, 0x01]);
/** A varint that never ends. */
const BAD_VARINT = new Uint8Array([0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/** A Struct context nested deeper than protobuf-es's recursion limit: context.fields["a"].struct_value.fields["a"]… */
function deepContext(depth: number): Uint8Array {
  let value: Uint8Array = new Uint8Array(0); // an empty google.protobuf.Value
  let struct: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < depth; i++) {
    struct = ld(0x0a, new Uint8Array([0x0a, 0x01, 0x61, ...ld(0x12, value)])); // Struct.fields {key "a", value}
    value = ld(0x2a, struct); // Value.struct_value
  }
  return new Uint8Array([...ld(0x0a, enc("x")), ...ld(0x1a, struct)]); // id, context
}
function ld(tag: number, data: Uint8Array): Uint8Array {
  const len: number[] = [];
  let n = data.byteLength;
  while (n > 0x7f) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  return new Uint8Array([tag, ...len, ...data]);
}

const MALFORMED: Record<string, Uint8Array> = { BAD_UTF8, TRUNCATED, ILLEGAL_TAG, BAD_VARINT };

function expectInvalid(a: RawAnswer): void {
  expect(a.proper, a.problem).toBe(true);
  expect(a.code, a.message).toBe("invalid_argument");
}

function badRequest(a: RawAnswer): { field: string; description: string }[] {
  const details = a.details as { type: string; value: string }[] | undefined;
  const d = details?.find((x) => x.type === "google.rpc.BadRequest");
  if (!d) return [];
  return fromBinary(BadRequestSchema, Buffer.from(d.value, "base64")).fieldViolations.map((v) => ({ field: v.field, description: v.description }));
}

describe("malformed protobuf binary is INVALID_ARGUMENT on every protocol", () => {
  for (const [name, body] of Object.entries(MALFORMED)) {
    it(`${name}: gRPC, gRPC-Web, Connect unary and streaming`, async () => {
      for (const rpc of ["GetWorkflow", "CreateWorkflow", "ListWorkflows"]) {
        expectInvalid(await grpcCall(session, SVC + rpc, body));
        expectInvalid(await grpcWebCall(port(), SVC + rpc, body));
        expectInvalid(await connectUnaryCall(port(), SVC + rpc, body, "proto"));
      }
      for (const rpc of ["WatchWorkflow", "WatchWorkflows"]) {
        expectInvalid(await grpcCall(session, SVC + rpc, body, { timeoutMs: 5000 }));
        expectInvalid(await grpcWebCall(port(), SVC + rpc, body, { timeoutMs: 5000 }));
        expectInvalid(await connectStreamCall(port(), SVC + rpc, body, "proto", { timeoutMs: 5000 }));
      }
    });
  }

  it("a Struct context nested past the recursion limit", async () => {
    const body = deepContext(120);
    const a = await grpcCall(session, SVC + "CreateWorkflow", body);
    expectInvalid(a);
    expect(a.message).toMatch(/recursion/);
    expectInvalid(await connectUnaryCall(port(), SVC + "CreateWorkflow", body, "proto"));
  });

  it("the message says what is wrong", async () => {
    const a = await connectUnaryCall(port(), SVC + "GetWorkflow", BAD_UTF8, "proto");
    expect(a.message).toMatch(/^malformed request message: .*utf-8/i);
  });
});

describe("Connect JSON", () => {
  const create = (body: string) => connectUnaryCall(port(), SVC + "CreateWorkflow", enc(body), "json");
  const steps = '{"id":"a","url":"http://127.0.0.1:1/a"},';

  it("a wrong type names the field's path (steps[1].timeout)", async () => {
    const a = await create(`{"id":"w","steps":[${steps}{"id":"b","url":"http://127.0.0.1:1/b","timeout":300}]}`);
    expectInvalid(a);
    expect(badRequest(a)).toEqual([{ field: "steps[1].timeout", description: expect.stringMatching(/duration/) }]);
    expect(a.message).toMatch(/^steps\[1\]\.timeout: /);
  });

  it("an unknown field, an unknown enum name and a context that is not an object name the field", async () => {
    expect(badRequest(await create(`{"id":"w","steps":[${steps}{"id":"b","url":"http://127.0.0.1:1/b","dependOn":["a"]}]}`))[0].field).toBe("steps[1].dependOn");
    const e = await create(`{"id":"w","steps":[{"id":"a","url":"http://127.0.0.1:1/a","retries":{"backoff":"linear"}}]}`);
    expectInvalid(e);
    expect(badRequest(e)[0]).toEqual({ field: "steps[0].retries.backoff", description: expect.stringContaining("BACKOFF_LINEAR") });
    expect(badRequest(await create(`{"id":"w","steps":[${steps.slice(0, -1)}],"context":5}`))[0].field).toBe("context");
    expect(badRequest(await create(`{"id":"w","steps":[{"id":"a","url":"http://127.0.0.1:1/a","depends_on":[7]}]}`))[0].field).toBe("steps[0].depends_on[0]");
    const list = await connectUnaryCall(port(), SVC + "ListWorkflows", enc('{"pageSize":"many"}'), "json");
    expect(badRequest(list)[0].field).toBe("page_size");
  });

  it("invalid UTF-8 is refused, unary and streaming, and nothing is stored", async () => {
    const before = (await weft.client.listWorkflows({ pageSize: 100 })).workflows.length;
    const body = Buffer.concat([enc('{"id":"w'), Buffer.from([0xff]), enc(`","steps":[${steps.slice(0, -1)}]}`)]);
    const unary = await connectUnaryCall(port(), SVC + "CreateWorkflow", body, "json");
    expectInvalid(unary);
    expect(unary.message).toMatch(/UTF-8/);
    const stream = await connectStreamCall(port(), SVC + "WatchWorkflows", Buffer.concat([enc('{"workflowId":"'), Buffer.from([0xc3]), enc('"}')]), "json", { timeoutMs: 5000 });
    expectInvalid(stream);
    expect(stream.message).toMatch(/UTF-8/);
    expect((await weft.client.listWorkflows({ pageSize: 100 })).workflows.length).toBe(before);
  });

  it("not JSON at all", async () => {
    const a = await create("{nope");
    expectInvalid(a);
    expect(a.message).toMatch(/not valid JSON/);
  });
});

describe("unknown enum numbers", () => {
  it('"backoff": 7 in JSON and in binary names the field; nothing is stored', async () => {
    const before = (await weft.client.listWorkflows({ pageSize: 100 })).workflows.length;
    const json = await connectUnaryCall(port(), SVC + "CreateWorkflow", enc('{"id":"w","steps":[{"id":"a","url":"http://127.0.0.1:1/a","retries":{"maxAttempts":2,"backoff":7}}]}'), "json");
    expectInvalid(json);
    expect(badRequest(json)).toEqual([{ field: "steps[0].retries.backoff", description: "unknown weft.v1.Backoff value 7" }]);
    const msg = create(CreateWorkflowRequestSchema, {
      id: "w",
      steps: [{ id: "a", url: "http://127.0.0.1:1/a", retries: { maxAttempts: 2, backoff: 7 as Backoff } }],
    });
    const err = await weft.client.createWorkflow(msg).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect((err as ConnectError).findDetails(BadRequestSchema)[0].fieldViolations[0].field).toBe("steps[0].retries.backoff");
    expect((await weft.client.listWorkflows({ pageSize: 100 })).workflows.length).toBe(before);
  });

  it("states 99 in ListWorkflows and WatchWorkflows (binary)", async () => {
    const list = await grpcCall(session, SVC + "ListWorkflows", toBinary(ListWorkflowsRequestSchema, create(ListWorkflowsRequestSchema, { states: [2, 99 as WorkflowState] })));
    expectInvalid(list);
    expect(list.message).toMatch(/states\[1\]/);
    const watch = await grpcCall(session, SVC + "WatchWorkflows", toBinary(WatchWorkflowsRequestSchema, create(WatchWorkflowsRequestSchema, { states: [99 as WorkflowState] })), { timeoutMs: 5000 });
    expectInvalid(watch);
    expect(watch.message).toMatch(/states\[0\]/);
  });
});

describe("request size limits", () => {
  const hugeGet = toBinary(GetWorkflowRequestSchema, create(GetWorkflowRequestSchema, { id: "wf_" + "x".repeat(8_000_000) }));

  it("an 8 MB GetWorkflow over grpc-js gets RESOURCE_EXHAUSTED, and the server stays fine", async () => {
    const client = new grpc.Client(`127.0.0.1:${port()}`, grpc.credentials.createInsecure());
    try {
      const err = await new Promise<grpc.ServiceError>((resolve, reject) => {
        client.makeUnaryRequest(
          SVC + "GetWorkflow",
          (b: Uint8Array) => Buffer.from(b),
          (b: Buffer) => b,
          hugeGet,
          (e) => (e ? resolve(e) : reject(new Error("accepted"))),
        );
      });
      expect(err.code, err.details).toBe(grpc.status.RESOURCE_EXHAUSTED);
    } finally {
      client.close();
    }
    const ok = await grpcCall(session, SVC + "ListWorkflows", new Uint8Array(0));
    expect(ok.code).toBe("ok");
  });

  it("an 8 MB GetWorkflow over Connect (HTTP/1.1 and HTTP/2) and a 100 KB WatchWorkflow get RESOURCE_EXHAUSTED", async () => {
    for (const version of ["1.1", "2"] as const) {
      const err = await weft.connectClient(version).getWorkflow({ id: "wf_" + "x".repeat(8_000_000) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code, `HTTP/${version}: ${String(err)}`).toBe(Code.ResourceExhausted);
    }
    const watch = await grpcCall(session, SVC + "WatchWorkflow", toBinary(WatchWorkflowRequestSchema, create(WatchWorkflowRequestSchema, { id: "x".repeat(100_000) })), { timeoutMs: 5000 });
    expect(watch.proper, watch.problem).toBe(true);
    expect(watch.code).toBe("resource_exhausted");
  });

  it("CreateWorkflow keeps its larger limit: a 1 MB create is read and judged by its fields", async () => {
    const msg = create(CreateWorkflowRequestSchema, { id: "w", steps: [{ id: "a", url: "http://127.0.0.1:1/" + "p".repeat(1_000_000) }] });
    const a = await grpcCall(session, SVC + "CreateWorkflow", toBinary(CreateWorkflowRequestSchema, msg));
    expect(a.code).not.toBe("resource_exhausted");
    expect(a.code).not.toBe("internal");
  });
});


describe("framing and compression faults", () => {
  it("a compressed message without a declared encoding, or that does not decompress, is INVALID_ARGUMENT", async () => {
    const compressed = envelope(1, new Uint8Array([0x0a, 0x01, 0x61]));
    const a = await grpcCall(session, SVC + "GetWorkflow", new Uint8Array(0), { rawBody: compressed });
    expectInvalid(a);
    expect(a.message).toMatch(/compressed, but no message encoding/);
    expectInvalid(await grpcCall(session, SVC + "GetWorkflow", new Uint8Array(0), { rawBody: compressed, headers: { "grpc-encoding": "gzip" } }));
    expectInvalid(await grpcWebCall(port(), SVC + "GetWorkflow", new Uint8Array(0), { rawBody: compressed }));
    expectInvalid(await connectStreamCall(port(), SVC + "WatchWorkflows", new Uint8Array(0), "proto", { rawBody: compressed, timeoutMs: 5000 }));
    expectInvalid(await connectUnaryCall(port(), SVC + "GetWorkflow", new Uint8Array([1, 2, 3]), "proto", { headers: { "content-encoding": "gzip" } }));
  });

  it("a Connect GET whose base64 message does not decode is INVALID_ARGUMENT", async () => {
    const a = await connectGetCall(port(), SVC + "GetWorkflow", "connect=v1&encoding=proto&base64=1&message=!!!!");
    expectInvalid(a);
    expect(a.message).toBe("message: not valid base64");
    expectInvalid(await connectGetCall(port(), SVC + "GetWorkflow", `connect=v1&encoding=proto&base64=1&message=${Buffer.from(BAD_UTF8).toString("base64url")}`));
  });
});

describe("an unknown service or method", () => {
  it("is UNIMPLEMENTED as a status for gRPC and gRPC-Web clients, and a 404 for Connect", async () => {
    const path = "/weft.v1.WorkflowService/NoSuchMethod";
    const viaGrpc = await grpcCall(session, path, new Uint8Array(0), { timeoutMs: 10_000 });
    expect(viaGrpc.proper, viaGrpc.problem).toBe(true);
    expect(viaGrpc.code).toBe("unimplemented");
    const viaGrpcWeb = await grpcWebCall(port(), "/no.such.Service/Get", new Uint8Array(0));
    expect(viaGrpcWeb.proper, viaGrpcWeb.problem).toBe(true);
    expect(viaGrpcWeb.code).toBe("unimplemented");
    const viaConnect = await connectUnaryCall(port(), path, enc("{}"), "json");
    expect(viaConnect.httpStatus).toBe(404);
    // grpc-js sees a status, not a broken stream; the session still serves.
    const client = new grpc.Client(`127.0.0.1:${port()}`, grpc.credentials.createInsecure());
    try {
      const err = await new Promise<grpc.ServiceError>((resolve) =>
        client.makeUnaryRequest(path, (x: Buffer) => x, (x: Buffer) => x, Buffer.alloc(0), (e) => resolve(e as grpc.ServiceError)),
      );
      expect(err.code).toBe(grpc.status.UNIMPLEMENTED);
    } finally {
      client.close();
    }
    const ok = await grpcCall(session, SVC + "ListWorkflows", new Uint8Array(0), { timeoutMs: 10_000 });
    expect(ok.code).toBe("ok");
  });
});
