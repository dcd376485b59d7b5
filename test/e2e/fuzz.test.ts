// Fuzzes the server with ~2,000 mutated requests (fixed seed) over gRPC
// (HTTP/2), gRPC-Web (HTTP/1.1), Connect JSON and Connect binary, on every
// WorkflowService RPC, sent raw. The server must never crash, never answer
// INTERNAL, always answer with a proper status, never store a run for a
// request it refused, keep serving, and not keep the memory.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, type DescMessage, toBinary, toJsonString } from "@bufbuild/protobuf";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  Backoff,
  CancelWorkflowRequestSchema,
  CreateWorkflowRequestSchema,
  GetWorkflowRequestSchema,
  ListStepItemsRequestSchema,
  RedeliverWebhookRequestSchema,
  RerunWorkflowRequestSchema,
  RedriveWorkflowRequestSchema,
  DeleteWorkflowRequestSchema,
  ListWorkflowEventsRequestSchema,
  ListWorkflowsRequestSchema,
  WatchWorkflowRequestSchema,
  WatchWorkflowsRequestSchema,
  WorkflowState,
} from "../../gen/ts/weft/v1/workflow_pb.js";
import { connectGetCall, connectStreamCall, connectUnaryCall, envelope, grpcCall, grpcWebCall, type Protocol, type RawAnswer, type RawOptions } from "../support/raw-rpc.ts";
import { spawnWeft, stopWeft, type WeftProcess } from "../support/weft-process.ts";
import { waitForRun } from "../support/weft.ts";

const SEED = 0x5eed_f00d;
const REQUESTS = 2000;
const IN_FLIGHT = 8;
/** RSS may grow by this much over the run (the first report saw ~1 GB). */
const RSS_GROWTH_LIMIT = 300 * 1024 * 1024;

/** mulberry32: a small, fixed-seed PRNG so every run sends the same requests. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(SEED);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];

interface Rpc {
  name: string;
  schema: DescMessage;
  valid: () => object;
  stream: boolean;
}

const step = (id: string, deps: string[] = []) => ({
  id,
  url: "http://127.0.0.1:9/job", // discard port on loopback: nothing answers, the run fails; fine
  dependsOn: deps,
  retries: { maxAttempts: 2, backoff: Backoff.LINEAR, initialInterval: { seconds: 1n } },
  timeout: { seconds: 5n },
});

const RPCS: Rpc[] = [
  {
    name: "CreateWorkflow",
    schema: CreateWorkflowRequestSchema,
    stream: false,
    valid: () => ({ id: "fuzz", steps: [step("a"), step("b", ["a"])], context: { orderId: "o1", n: 2, nested: { list: [1, "x", true] } }, timeout: { seconds: 60n } }),
  },
  { name: "GetWorkflow", schema: GetWorkflowRequestSchema, stream: false, valid: () => ({ id: "wf_01JDQ00000000000000000000" }) },
  { name: "ListWorkflows", schema: ListWorkflowsRequestSchema, stream: false, valid: () => ({ states: [WorkflowState.RUNNING], pageSize: 5, workflowId: "fuzz" }) },
  { name: "CancelWorkflow", schema: CancelWorkflowRequestSchema, stream: false, valid: () => ({ id: "wf_01JDQ00000000000000000000", reason: "fuzz" }) },
  { name: "ListWorkflowEvents", schema: ListWorkflowEventsRequestSchema, stream: false, valid: () => ({ id: "wf_01JDQ00000000000000000000", pageSize: 10 }) },
  { name: "DeleteWorkflow", schema: DeleteWorkflowRequestSchema, stream: false, valid: () => ({ id: "wf_01JDQ00000000000000000000" }) },
  { name: "ListStepItems", schema: ListStepItemsRequestSchema, stream: false, valid: () => ({ id: "wf_01JDQ00000000000000000000", stepId: "a", pageSize: 10 }) },
  { name: "RedriveWorkflow", schema: RedriveWorkflowRequestSchema, stream: false, valid: () => ({ id: "wf_01JDQ00000000000000000000", deadlineExtension: { seconds: 60n } }) },
  { name: "RedeliverWebhook", schema: RedeliverWebhookRequestSchema, stream: false, valid: () => ({ id: "wf_01JDQ00000000000000000000" }) },
  {
    name: "RerunWorkflow",
    schema: RerunWorkflowRequestSchema,
    stream: false,
    // A finished run (made in beforeAll), so that valid reruns get past the id and state checks.
    valid: () => ({ id: finishedRunId, fromSteps: ["a", "b"], context: { n: 1 }, requestId: "fuzz", labels: { labels: { team: "x" } } }),
  },
  { name: "WatchWorkflow", schema: WatchWorkflowRequestSchema, stream: true, valid: () => ({ id: "wf_01JDQ00000000000000000000", afterSequence: 3n }) },
  { name: "WatchWorkflows", schema: WatchWorkflowsRequestSchema, stream: true, valid: () => ({ states: [WorkflowState.FAILED], workflowId: "fuzz" }) },
];

// ---- mutations ---------------------------------------------------------------

const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** A Struct nested `depth` deep, as binary CreateWorkflowRequest.context. */
function deepStruct(depth: number): Uint8Array {
  const ld = (tag: number, d: Uint8Array) => new Uint8Array([tag, ...varint(d.byteLength), ...d]);
  let value: Uint8Array = new Uint8Array(0);
  let struct: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < depth; i++) {
    struct = ld(0x0a, new Uint8Array([0x0a, 0x01, 0x61, ...ld(0x12, value)]));
    value = ld(0x2a, struct);
  }
  return new Uint8Array([0x0a, 0x01, 0x78, ...ld(0x1a, struct)]);
}

const BINARY_MUTATIONS: Record<string, (b: Uint8Array) => Uint8Array> = {
  bitflips(b) {
    const c = Uint8Array.from(b);
    for (let i = 0, n = 1 + int(4); i < n && c.length > 0; i++) c[int(c.length)] ^= 1 << int(8);
    return c;
  },
  truncate: (b) => b.subarray(0, int(b.length)),
  illegalTag: (b) => insert(b, new Uint8Array([(int(30) << 3) | pick([6, 7]), ...bytes(3)])),
  badVarint: (b) => insert(b, new Uint8Array([0x10, ...Array(11).fill(0xff)])),
  hugeLength: (b) => insert(b, new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x61])),
  badUtf8: () => new Uint8Array([0x0a, 4, 0x61, pick([0xff, 0xc3, 0xed, 0xf8]), 0xa0, 0x80]),
  deepNesting: () => deepStruct(90 + int(60)),
  random: () => bytes(int(200)),
  valid: (b) => b,
};

function insert(b: Uint8Array, piece: Uint8Array): Uint8Array {
  const at = int(b.length + 1);
  return new Uint8Array([...b.subarray(0, at), ...piece, ...b.subarray(at)]);
}

const enc = (s: string) => new TextEncoder().encode(s);

const JSON_MUTATIONS: Record<string, (json: string, rpc: Rpc) => Uint8Array> = {
  wrongType(json) {
    const v = JSON.parse(json) as Record<string, unknown>;
    const keys = Object.keys(v);
    if (keys.length > 0) v[pick(keys)] = pick([300, "x", true, [], {}, null, -1, 1e300]);
    if (Array.isArray(v.steps) && v.steps.length > 0) (v.steps[0] as Record<string, unknown>)[pick(["timeout", "retries", "dependsOn", "url"])] = pick([300, "300", {}, [1]]);
    return enc(JSON.stringify(v));
  },
  unknownField: (json) => enc(json.replace("{", `{"dependOn":["a"],`)),
  badEnum: (json) => enc(json.replace(/"(BACKOFF|WORKFLOW_STATE)_[A-Z_]+"/, () => pick(['"linear"', "7", "99", "-1", '"WORKFLOW_STATE_NOPE"']))),
  badUtf8: (json) => {
    const b = enc(json);
    return new Uint8Array([...b.subarray(0, Math.max(1, b.length - 3)), pick([0xff, 0xc3, 0xed]), ...b.subarray(Math.max(1, b.length - 3))]);
  },
  truncate: (json) => enc(json.slice(0, int(json.length))),
  deepNesting: () => enc(`{"id":"x","steps":[],"context":${'{"a":'.repeat(200 + int(200))}1${"}".repeat(300)}}`),
  bitflips(json) {
    const c = Uint8Array.from(enc(json));
    for (let i = 0, n = 1 + int(3); i < n && c.length > 0; i++) c[int(c.length)] ^= 1 << int(8);
    return c;
  },
  random: () => bytes(int(120)),
  valid: (json) => enc(json),
};

/** Broken framing (gRPC, gRPC-Web, Connect streams): flags, lengths, compression. */
const FRAME_MUTATIONS: Record<string, (message: Uint8Array) => RawOptions> = {
  flags: (m) => ({ rawBody: envelope(int(256), m) }),
  shortLength: (m) => ({ rawBody: Buffer.concat([envelope(0, m).subarray(0, 5 + int(m.length + 1)), Buffer.from(bytes(int(3)))]) }),
  claimsMore: (m) => {
    const e = envelope(0, m);
    e.writeUInt32BE(m.length + 1 + int(1000), 1);
    return { rawBody: e };
  },
  hugeLength: (m) => {
    const e = envelope(0, m);
    e.writeUInt32BE(0xffffffff - int(1000), 1);
    return { rawBody: e };
  },
  twoMessages: (m) => ({ rawBody: Buffer.concat([envelope(0, m), envelope(0, m)]) }),
  noMessage: () => ({ rawBody: new Uint8Array(0) }),
  headerOnly: () => ({ rawBody: bytes(int(5)) }),
  gzipGarbage: (m) => ({ rawBody: envelope(1, bytes(1 + int(m.length + 1))), headers: { [pick(["grpc-encoding", "connect-content-encoding"])]: "gzip" } }),
  unknownEncoding: (m) => ({ rawBody: envelope(1, m), headers: { "grpc-encoding": "zstd", "connect-content-encoding": "zstd" } }),
};

interface Sent {
  protocol: Protocol | "connect-get";
  rpc: string;
  mutation: string;
  body: Uint8Array;
  opts?: RawOptions;
}

let weft: WeftProcess;
let dataDir: string;
/** The id of a finished run of workflow "fuzz": what RerunWorkflow requests rerun. */
let finishedRunId = "";
let session: http2.ClientHttp2Session;

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "weft-fuzz-"));
  weft = await spawnWeft(dataDir);
  session = http2.connect(`http://127.0.0.1:${weft.port}`);
  const made = await weft.client.createWorkflow({ id: "fuzz", steps: [step("a"), step("b", ["a"])].map((s) => ({ ...s, retries: { maxAttempts: 1 } })) });
  finishedRunId = made.workflow!.id;
  expect(finishedRunId).toMatch(/^wf_[0-9A-Z]{26}$/);
  await waitForRun(weft.client, finishedRunId);
}, 180_000);

afterAll(async () => {
  session?.close();
  if (weft) await stopWeft(weft);
  rmSync(dataDir, { recursive: true, force: true });
});

async function send(s: Sent, stream: boolean): Promise<RawAnswer> {
  const path = `/weft.v1.WorkflowService/${s.rpc}`;
  // Streams that are validly opened stay open: a short deadline ends them with a status.
  const opts: RawOptions = { ...s.opts, ...(stream ? { timeoutMs: 300 } : {}) };
  switch (s.protocol) {
    case "connect-get":
      return connectGetCall(weft.port, path, new TextDecoder().decode(s.body));
    case "grpc":
      return grpcCall(session, path, s.body, opts);
    case "grpc-web":
      return grpcWebCall(weft.port, path, s.body, opts);
    case "connect-json":
    case "connect-proto": {
      const format = s.protocol === "connect-json" ? "json" : "proto";
      return stream ? connectStreamCall(weft.port, path, s.body, format, opts) : connectUnaryCall(weft.port, path, s.body, format, opts);
    }
  }
}

it(`survives ${REQUESTS} fuzzed requests on every protocol without an INTERNAL answer`, { timeout: 180_000 }, async () => {
  const rssBefore = rss(weft.child.pid!);
  const plan: Sent[] = [];
  const protocols: Protocol[] = ["grpc", "grpc-web", "connect-json", "connect-proto"];
  for (let i = 0; i < REQUESTS; i++) {
    const rpc = pick(RPCS);
    const protocol = pick(protocols);
    const msg = create(rpc.schema, rpc.valid() as never);
    const binary = toBinary(rpc.schema, msg);
    const framed = protocol === "grpc" || protocol === "grpc-web" || rpc.stream;
    if (framed && rand() < 0.15) {
      const mutation = pick(Object.keys(FRAME_MUTATIONS));
      const body = protocol === "connect-json" ? enc(toJsonString(rpc.schema, msg)) : binary;
      plan.push({ protocol, rpc: rpc.name, mutation: `frame:${mutation}`, body, opts: FRAME_MUTATIONS[mutation](body) });
    } else if (!rpc.stream && !["CreateWorkflow", "CancelWorkflow", "RedriveWorkflow", "RedeliverWebhook", "DeleteWorkflow", "RerunWorkflow"].includes(rpc.name) && rand() < 0.1) {
      // Connect GET: the message in the query string, base64 binary or JSON.
      const mutation = pick(Object.keys(BINARY_MUTATIONS));
      const b64 = Buffer.from(BINARY_MUTATIONS[mutation](binary)).toString("base64url");
      const query = pick([
        `connect=v1&encoding=proto&base64=1&message=${b64}`,
        `connect=v1&encoding=proto&base64=1&message=${b64.slice(0, -1)}!${pick(["", "%", "*"])}`,
        `connect=v1&encoding=json&message=${encodeURIComponent(toJsonString(rpc.schema, msg)).slice(0, int(60) + 5)}`,
        `connect=v1&encoding=json&message=%FF%FE`,
      ]);
      plan.push({ protocol: "connect-get", rpc: rpc.name, mutation: `get:${mutation}`, body: enc(query) });
    } else if (protocol === "connect-json") {
      const mutation = pick(Object.keys(JSON_MUTATIONS));
      plan.push({ protocol, rpc: rpc.name, mutation, body: JSON_MUTATIONS[mutation](toJsonString(rpc.schema, msg), rpc) });
    } else {
      const mutation = pick(Object.keys(BINARY_MUTATIONS));
      plan.push({ protocol, rpc: rpc.name, mutation, body: BINARY_MUTATIONS[mutation](binary) });
    }
  }

  const bad: { sent: Sent; answer?: RawAnswer; error?: string }[] = [];
  let createdOk = 0;
  let rerunOk = 0;
  let next = 0;
  const worker = async () => {
    while (next < plan.length) {
      const sent = plan[next++];
      const rpc = RPCS.find((r) => r.name === sent.rpc)!;
      try {
        const answer = await send(sent, rpc.stream);
        if (!answer.proper || answer.code === "internal" || answer.code === "unknown") bad.push({ sent, answer });
        if (sent.rpc === "CreateWorkflow" && answer.code === "ok") createdOk++;
        if (sent.rpc === "RerunWorkflow" && answer.code === "ok") rerunOk++;
      } catch (err) {
        bad.push({ sent, error: String(err) });
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));

  const show = (b: (typeof bad)[number]) =>
    `${b.sent.protocol} ${b.sent.rpc} ${b.sent.mutation} body=${Buffer.from(b.sent.body.subarray(0, 120)).toString("hex")} -> ${
      b.error ?? `${b.answer!.code} ${b.answer!.problem ?? ""} ${b.answer!.message.slice(0, 200)}`
    }`;
  expect(bad.length, `bad answers:\n${bad.slice(0, 5).map(show).join("\n")}`).toBe(0);
  expect(weft.child.exitCode, "the server exited").toBeNull();

  // No refused request created a run: the runs stored are exactly the creates answered OK (and the
  // run made in beforeAll), and at most one rerun per rerun answered OK (a repeated request id answers the run it made).
  let stored = 0;
  let reruns = 0;
  let pageToken = "";
  do {
    const page = await weft.client.listWorkflows({ pageSize: 100, pageToken });
    for (const w of page.workflows) {
      if (w.rerunOf === "") stored++;
      else {
        expect(w.rerunOf).toBe(finishedRunId);
        reruns++;
      }
    }
    pageToken = page.nextPageToken;
  } while (pageToken);
  expect(stored).toBe(createdOk + 1);
  expect(createdOk).toBeGreaterThan(0); // the valid requests did get through
  expect(rerunOk).toBeGreaterThan(0); // reruns too: past the id and state checks
  expect(reruns).toBeGreaterThan(0);
  expect(reruns).toBeLessThanOrEqual(rerunOk);

  // Still serving normal requests.
  const ok = await weft.client.createWorkflow({ id: "after-fuzz", steps: [{ id: "a", url: "http://127.0.0.1:9/a" }] });
  expect(ok.workflow?.id).toMatch(/^wf_/);

  const growth = rss(weft.child.pid!) - rssBefore;
  expect(growth, `RSS grew by ${Math.round(growth / 1048576)} MB`).toBeLessThan(RSS_GROWTH_LIMIT);
});

