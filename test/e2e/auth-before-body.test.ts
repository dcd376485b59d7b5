// The API key is checked before a request body is read: a call without a key
// is refused UNAUTHENTICATED whatever its body holds (a body that does not
// parse included: the protocol-level proof that it was never decoded), over
// every protocol, and a huge unauthenticated body does not hold up other calls.
import http from "node:http";
import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { digestApiKeys } from "../../src/domain/api-keys.ts";
import { connectGetCall, connectStreamCall, connectUnaryCall, envelope, grpcCall, grpcWebCall, type RawAnswer } from "../support/raw-rpc.ts";
import { startWeft, type TestWeft } from "../support/weft.ts";

const KEY = "wk_5d1e9b3a7c2f4680dd44";
const SVC = "/weft.v1.WorkflowService/";
const HEALTH_CHECK = "/grpc.health.v1.Health/Check";

let weft: TestWeft;
let session: http2.ClientHttp2Session;

beforeAll(async () => {
  weft = await startWeft({
    auth: { keys: digestApiKeys([{ scope: "write", key: KEY }]), reflection: "auth", allowUnauthenticated: false },
  });
  session = http2.connect(`http://127.0.0.1:${weft.server.port}`);
});

afterAll(async () => {
  session?.close();
  await weft?.stop();
});

function expectUnauthenticated(a: RawAnswer): void {
  expect(a.proper, a.problem).toBe(true);
  expect(a.code).toBe("unauthenticated");
  expect(a.message).toMatch(/missing API key/);
}

/** Not a protobuf message: an illegal wire type. */
const BAD_BINARY = Uint8Array.from([0x0f, 0xff, 0xff, 0xff]);
/** Not JSON, and misspelled fields for good measure. */
const BAD_JSON = new TextEncoder().encode('{"idd": "x", "stepz": [');

describe("a malformed request without a key gets UNAUTHENTICATED, not a decode error", () => {
  it("gRPC", async () => {
    for (const rpc of ["CreateWorkflow", "GetWorkflow", "WatchWorkflow"]) {
      expectUnauthenticated(await grpcCall(session, SVC + rpc, BAD_BINARY));
      expectUnauthenticated(await grpcCall(session, SVC + rpc, BAD_JSON, { headers: { "content-type": "application/grpc+json" } }));
      // Broken framing (a length longer than the body) too.
      expectUnauthenticated(await grpcCall(session, SVC + rpc, new Uint8Array(0), { rawBody: Uint8Array.from([0, 0, 0, 1, 0, 1]) }));
    }
  });

  it("gRPC-Web", async () => {
    for (const rpc of ["CreateWorkflow", "WatchWorkflows"]) {
      expectUnauthenticated(await grpcWebCall(weft.server.port, SVC + rpc, BAD_BINARY));
    }
  });

  it("Connect unary (JSON and binary), streaming and GET", async () => {
    const port = weft.server.port;
    expectUnauthenticated(await connectUnaryCall(port, SVC + "CreateWorkflow", BAD_JSON, "json"));
    expectUnauthenticated(await connectUnaryCall(port, SVC + "CreateWorkflow", BAD_BINARY, "proto"));
    const unary = await connectUnaryCall(port, SVC + "GetWorkflow", BAD_JSON, "json");
    expectUnauthenticated(unary);
    expect(unary.httpStatus).toBe(401);
    expectUnauthenticated(await connectStreamCall(port, SVC + "WatchWorkflow", BAD_JSON, "json"));
    expectUnauthenticated(await connectStreamCall(port, SVC + "WatchWorkflows", BAD_BINARY, "proto"));
    expectUnauthenticated(await connectGetCall(port, SVC + "GetWorkflow", "connect=v1&encoding=json&base64=1&message=%%%"));
    expectUnauthenticated(await connectGetCall(port, SVC + "GetWorkflow", "connect=v1&encoding=json&message=%7Bnot-json"));
  });

  it("a call with the key still gets the decode error", async () => {
    const a = await grpcCall(session, SVC + "CreateWorkflow", BAD_BINARY, { headers: { authorization: `Bearer ${KEY}` } });
    expect(a.code).toBe("invalid_argument");
    const b = await connectUnaryCall(weft.server.port, SVC + "CreateWorkflow", BAD_JSON, "json", { headers: { authorization: `Bearer ${KEY}` } });
    expect(b.code).toBe("invalid_argument");
  });
});

describe("an 8 MB CreateWorkflow without a key", () => {
  // 8 MB that would take seconds to parse if it were valid, and is not
  // valid at all (unterminated): decoding it would answer INVALID_ARGUMENT.
  const big = new TextEncoder().encode('{"id":"x","steps":[' + '{"id":"s","url":"http://127.0.0.1:9/"},'.repeat(200_000));

  it("is refused UNAUTHENTICATED over Connect JSON (HTTP/1.1), unread, while a health check is answered", async () => {
    expect(big.byteLength).toBeGreaterThan(7_000_000);
    expect(big.byteLength).toBeLessThan(weft.config.limits.maxRequestBytes * 2);
    const refused = connectUnaryCall(weft.server.port, SVC + "CreateWorkflow", big, "json").catch((err: Error) => err);
    const health = await grpcCall(session, HEALTH_CHECK, new Uint8Array(0));
    expect(health.code).toBe("ok");
    const answer = await refused;
    // The server may close the connection while the client still uploads: an
    // answer, if the client got to read it, must be the refusal.
    if (!(answer instanceof Error)) expectUnauthenticated(answer);
  });

  it("is refused UNAUTHENTICATED over gRPC, and the connection keeps serving", async () => {
    const framed = envelope(0, big);
    const answers = await Promise.all([
      grpcCall(session, SVC + "CreateWorkflow", new Uint8Array(0), { rawBody: framed, headers: { "content-type": "application/grpc+json" } }),
      grpcCall(session, HEALTH_CHECK, new Uint8Array(0)),
    ]);
    expectUnauthenticated(answers[0]);
    expect(answers[1].code).toBe("ok");
    expect((await grpcCall(session, HEALTH_CHECK, new Uint8Array(0))).code).toBe("ok");
  });

  it("over HTTP/1.1, a refused large upload closes its connection; a refused small one keeps it alive", async () => {
    const small = await h1Headers(weft.server.port, SVC + "GetWorkflow", BAD_JSON);
    expect(small.status).toBe(401);
    expect(small.connection).not.toBe("close");
    const large = await h1Headers(weft.server.port, SVC + "CreateWorkflow", big);
    expect(large.status).toBe(401);
    expect(large.connection).toBe("close");
  });
});

/** Status and Connection header of a Connect JSON POST without a key; the upload stops at the answer. */
function h1Headers(port: number, path: string, body: Uint8Array): Promise<{ status: number; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, method: "POST", headers: { "content-type": "application/json", "content-length": body.byteLength } },
      (res) => {
        resolve({ status: res.statusCode ?? 0, connection: res.headers.connection });
        res.resume();
        req.destroy();
      },
    );
    req.on("error", (err) => reject(err));
    // Only the first 64 KiB: the answer must come without the rest.
    req.write(body.subarray(0, 65_536));
  });
}
