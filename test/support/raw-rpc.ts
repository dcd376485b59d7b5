// Sends raw request bodies (valid or not) to a Weft server over each protocol,
// with node:http2 / node:http only (no client library that would refuse to
// send a malformed message), and reads back the status in each protocol's form.
import http from "node:http";
import http2 from "node:http2";

export type Protocol = "grpc" | "grpc-web" | "connect-json" | "connect-proto";

export interface RawAnswer {
  /** Connect code name ("ok", "invalid_argument", …). */
  code: string;
  message: string;
  /** The whole answer was a well-formed status of its protocol. */
  proper: boolean;
  /** What was wrong with it, if not proper. */
  problem?: string;
  httpStatus: number;
  /** Raw error details (Connect JSON) or grpc-status-details-bin (base64). */
  details?: unknown;
}

const GRPC_CODES = [
  "ok", "canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists",
  "permission_denied", "resource_exhausted", "failed_precondition", "aborted", "out_of_range",
  "unimplemented", "internal", "unavailable", "data_loss", "unauthenticated",
];

export function envelope(flags: number, data: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(data.byteLength, 1);
  return Buffer.concat([head, data]);
}

function splitEnvelopes(body: Buffer): { flags: number; data: Buffer }[] | undefined {
  const out: { flags: number; data: Buffer }[] = [];
  let i = 0;
  while (i < body.length) {
    if (body.length - i < 5) return undefined;
    const len = body.readUInt32BE(i + 1);
    if (body.length - i - 5 < len) return undefined;
    out.push({ flags: body[i], data: body.subarray(i + 5, i + 5 + len) });
    i += 5 + len;
  }
  return out;
}

function grpcStatus(status: string | undefined, message: string | undefined): Pick<RawAnswer, "code" | "message" | "proper" | "problem"> {
  const n = Number(status);
  if (status === undefined || !Number.isInteger(n) || n < 0 || n > 16) {
    return { code: "none", message: "", proper: false, problem: `no valid grpc-status (${String(status)})` };
  }
  let text = message ?? "";
  try {
    text = decodeURIComponent(text);
  } catch {
    // shown as sent
  }
  return { code: GRPC_CODES[n], message: text, proper: true };
}

export interface RawOptions {
  /** Sent as grpc-timeout / connect-timeout-ms (ends open streams with a status). */
  timeoutMs?: number;
  /** Overrides the request body entirely (already framed where the protocol frames). */
  rawBody?: Uint8Array;
  /** Extra request headers (e.g. a message encoding). */
  headers?: Record<string, string>;
}

/** gRPC over HTTP/2 on a session the caller owns. */
export function grpcCall(session: http2.ClientHttp2Session, path: string, message: Uint8Array, opts: RawOptions = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const headers: http2.OutgoingHttpHeaders = {
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
    };
    if (opts.timeoutMs) headers["grpc-timeout"] = `${opts.timeoutMs}m`;
    Object.assign(headers, opts.headers);
    const req = session.request(headers);
    let head: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    req.on("response", (h) => (head = h));
    req.on("trailers", (t) => (trailers = t));
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("error", reject);
    req.on("end", () => {
      const httpStatus = Number(head[":status"]);
      const source = trailers ?? head;
      const s = grpcStatus(source["grpc-status"] as string | undefined, source["grpc-message"] as string | undefined);
      const body = Buffer.concat(chunks);
      const frames = splitEnvelopes(body);
      const problem = httpStatus !== 200 ? `HTTP ${httpStatus}` : !frames ? "broken response framing" : s.problem;
      resolve({ ...s, proper: !problem, problem, httpStatus, details: source["grpc-status-details-bin"] });
    });
    req.end(opts.rawBody ?? envelope(0, message));
  });
}

function h1(port: number, path: string, contentType: string, body: Uint8Array, extra: http.OutgoingHttpHeaders = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, method: "POST", headers: { "content-type": contentType, "content-length": body.byteLength, ...extra } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

export async function grpcWebCall(port: number, path: string, message: Uint8Array, opts: RawOptions = {}): Promise<RawAnswer> {
  const extra: http.OutgoingHttpHeaders = { ...(opts.timeoutMs ? { "grpc-timeout": `${opts.timeoutMs}m` } : {}), ...opts.headers };
  const res = await h1(port, path, "application/grpc-web+proto", opts.rawBody ?? envelope(0, message), extra);
  const frames = splitEnvelopes(res.body);
  const trailer = frames?.find((f) => (f.flags & 0x80) === 0x80);
  const fields: Record<string, string> = {};
  if (trailer) {
    for (const line of trailer.data.toString("utf8").split("\r\n")) {
      const i = line.indexOf(":");
      if (i > 0) fields[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
  }
  const source = trailer ? fields : (res.headers as Record<string, string>);
  const s = grpcStatus(source["grpc-status"], source["grpc-message"]);
  const problem = res.status !== 200 ? `HTTP ${res.status}` : !frames ? "broken response framing" : s.problem;
  return { ...s, proper: !problem, problem, httpStatus: res.status, details: source["grpc-status-details-bin"] };
}

interface ConnectErrorJson {
  code?: unknown;
  message?: unknown;
  details?: unknown;
}

function connectError(e: ConnectErrorJson | undefined): Pick<RawAnswer, "code" | "message" | "proper" | "problem" | "details"> {
  if (!e || typeof e.code !== "string" || !GRPC_CODES.includes(e.code) || e.code === "ok") {
    return { code: "none", message: "", proper: false, problem: "no Connect error JSON" };
  }
  return { code: e.code, message: typeof e.message === "string" ? e.message : "", proper: true, details: e.details };
}

/** Connect unary (application/json or application/proto) over HTTP/1.1. */
export async function connectUnaryCall(port: number, path: string, body: Uint8Array, format: "json" | "proto", opts: RawOptions = {}): Promise<RawAnswer> {
  const res = await h1(port, path, `application/${format}`, opts.rawBody ?? body, { "connect-protocol-version": "1", ...opts.headers });
  if (res.status === 200) return { code: "ok", message: "", proper: true, httpStatus: 200 };
  let parsed: ConnectErrorJson | undefined;
  try {
    parsed = JSON.parse(res.body.toString("utf8")) as ConnectErrorJson;
  } catch {
    parsed = undefined;
  }
  return { ...connectError(parsed), httpStatus: res.status };
}

/** Connect streaming (application/connect+json or +proto) over HTTP/1.1. */
export async function connectStreamCall(port: number, path: string, message: Uint8Array, format: "json" | "proto", opts: RawOptions = {}): Promise<RawAnswer> {
  const extra: http.OutgoingHttpHeaders = { "connect-protocol-version": "1" };
  if (opts.timeoutMs) extra["connect-timeout-ms"] = String(opts.timeoutMs);
  Object.assign(extra, opts.headers);
  const res = await h1(port, path, `application/connect+${format}`, opts.rawBody ?? envelope(0, message), extra);
  const frames = splitEnvelopes(res.body);
  const end = frames?.find((f) => (f.flags & 0x02) === 0x02);
  if (res.status !== 200 || !frames || !end) {
    return { code: "none", message: "", proper: false, problem: `HTTP ${res.status}, ${frames ? "no end-stream message" : "broken framing"}`, httpStatus: res.status };
  }
  let parsed: { error?: ConnectErrorJson } | undefined;
  try {
    parsed = JSON.parse(end.data.toString("utf8")) as { error?: ConnectErrorJson };
  } catch {
    return { code: "none", message: "", proper: false, problem: "end-stream message is not JSON", httpStatus: res.status };
  }
  if (!parsed.error) return { code: "ok", message: "", proper: true, httpStatus: 200 };
  return { ...connectError(parsed.error), httpStatus: res.status };
}

/** Connect unary GET (side-effect-free RPCs): the request in the query string. */
export function connectGetCall(port: number, path: string, query: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: `${path}?${query}`, method: "GET" }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        if (status === 200) return resolve({ code: "ok", message: "", proper: true, httpStatus: 200 });
        let parsed: ConnectErrorJson | undefined;
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as ConnectErrorJson;
        } catch {
          parsed = undefined;
        }
        resolve({ ...connectError(parsed), httpStatus: status });
      });
    });
    req.on("error", reject);
    req.end();
  });
}
