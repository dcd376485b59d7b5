// connect-es (v2) reports some requests a client got wrong as INTERNAL: a body
// that is not valid protobuf binary ("parse binary: …": truncated varints,
// illegal tags, invalid UTF-8 in a string, too deep nesting; its binary
// serialization is shared with clients, where a bad response is an internal
// error, and it cannot be replaced per router), a compressed message without a
// declared encoding, and a compressed message that does not decompress. Request
// parsing happens before interceptors run for unary calls, so this wraps each
// route's handler and turns exactly those errors into INVALID_ARGUMENT, in the
// form of each protocol: the gRPC trailer, the gRPC-Web trailer frame, the
// Connect unary error body and the Connect end-of-stream message. It also
// refuses a Connect GET whose base64 `message` does not decode (connect-es
// would answer INTERNAL). Every other response passes through untouched.
import { base64Decode } from "@bufbuild/protobuf/wire";
import { encodeEnvelope, type UniversalHandler, type UniversalServerRequest, type UniversalServerResponse } from "@connectrpc/connect/protocol";
import { trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import { singleChunk } from "./universal-body.ts";

const PARSE_BINARY = "parse binary: ";
const GRPC_WEB_TRAILER_FLAG = 0x80;
const CONNECT_END_STREAM_FLAG = 0x02;
const COMPRESSED_FLAG = 0x01;

/** connect-es's INTERNAL messages for requests the client got wrong, and what to say instead. */
const CLIENT_FAULTS: Record<string, string> = {
  "received compressed envelope, but do not know how to decompress": "the request message is compressed, but no message encoding was declared",
  "decompression failed": "the request message could not be decompressed",
};

/** The INVALID_ARGUMENT message for a connect-es request decode failure, or undefined for any other message. */
export function decodeFailureMessage(message: string): string | undefined {
  if (!message.startsWith(PARSE_BINARY)) return CLIENT_FAULTS[message];
  const reason = message.slice(PARSE_BINARY.length);
  return `malformed request message: ${reason.length > 100 ? reason.slice(0, 100) + "…" : reason}`;
}

type Protocol = "grpc" | "grpc-web" | "connect-stream" | "connect-unary";

function protocolOf(contentType: string): Protocol {
  const t = contentType.toLowerCase();
  if (t.startsWith("application/grpc-web")) return "grpc-web";
  if (t.startsWith("application/grpc")) return "grpc";
  if (t.startsWith("application/connect+")) return "connect-stream";
  return "connect-unary";
}

function decodeGrpcMessage(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Rewrites gRPC status headers (a trailer block) in place; true if it did. */
function fixGrpcStatus(headers: Headers): boolean {
  if (headers.get("grpc-status") !== "13") return false;
  const message = decodeFailureMessage(decodeGrpcMessage(headers.get("grpc-message") ?? ""));
  if (message === undefined) return false;
  headers.set("grpc-status", "3");
  headers.set("grpc-message", encodeURIComponent(message));
  return true;
}

/** The single envelope a chunk holds (connect-es writes one envelope per chunk), if it has the flag. */
function envelopeData(chunk: Uint8Array, flag: number): Uint8Array | undefined {
  if (chunk.byteLength < 5 || (chunk[0] & flag) !== flag || (chunk[0] & COMPRESSED_FLAG) !== 0) return undefined;
  const length = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength).getUint32(1);
  return length === chunk.byteLength - 5 ? chunk.subarray(5) : undefined;
}

function fixGrpcWebTrailer(chunk: Uint8Array): Uint8Array {
  const data = envelopeData(chunk, GRPC_WEB_TRAILER_FLAG);
  if (!data) return chunk;
  const headers = trailerParse(data);
  if (!fixGrpcStatus(headers)) return chunk;
  return encodeEnvelope(chunk[0], trailerSerialize(headers));
}

interface ConnectErrorJson {
  code?: unknown;
  message?: unknown;
}

/** Turns a Connect error JSON holding a decode failure into invalid_argument, in place; false for any other error. */
function fixConnectErrorJson(error: ConnectErrorJson): boolean {
  if (error.code !== "internal" || typeof error.message !== "string") return false;
  const message = decodeFailureMessage(error.message);
  if (message === undefined) return false;
  error.code = "invalid_argument";
  error.message = message;
  return true;
}

function fixConnectEndStream(chunk: Uint8Array): Uint8Array {
  const data = envelopeData(chunk, CONNECT_END_STREAM_FLAG);
  if (!data) return chunk;
  try {
    const end = JSON.parse(new TextDecoder().decode(data)) as { error?: ConnectErrorJson };
    if (!end.error || !fixConnectErrorJson(end.error)) return chunk;
    return encodeEnvelope(chunk[0], new TextEncoder().encode(JSON.stringify(end)));
  } catch {
    return chunk;
  }
}

async function* mapChunks(body: AsyncIterable<Uint8Array>, fix: (chunk: Uint8Array) => Uint8Array, atEnd?: () => void) {
  for await (const chunk of body) yield fix(chunk);
  atEnd?.();
}

async function fixConnectUnary(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  // Only a 500 can carry the decode failure; it is a small JSON error body.
  if (res.status !== 500 || !res.body || res.header?.get("content-encoding")) return res;
  const chunks: Uint8Array[] = [];
  for await (const chunk of res.body) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  const unchanged = { ...res, body: singleChunk(body) };
  let error: ConnectErrorJson;
  try {
    error = JSON.parse(body.toString("utf8")) as ConnectErrorJson;
  } catch {
    return unchanged;
  }
  if (!fixConnectErrorJson(error)) return unchanged;
  const fixed = new TextEncoder().encode(JSON.stringify(error));
  const header = new Headers(res.header);
  header.set("content-length", String(fixed.byteLength));
  return { ...res, status: 400, header, body: singleChunk(fixed) };
}

async function fixResponse(protocol: Protocol, res: UniversalServerResponse): Promise<UniversalServerResponse> {
  switch (protocol) {
    case "grpc": {
      const trailer = res.trailer;
      if (!trailer) return res;
      fixGrpcStatus(trailer);
      return res.body ? { ...res, body: mapChunks(res.body, (c) => c, () => fixGrpcStatus(trailer)) } : res;
    }
    case "grpc-web":
      if (res.header) fixGrpcStatus(res.header);
      return res.body ? { ...res, body: mapChunks(res.body, fixGrpcWebTrailer) } : res;
    case "connect-stream":
      return res.body ? { ...res, body: mapChunks(res.body, fixConnectEndStream) } : res;
    case "connect-unary":
      return fixConnectUnary(res);
  }
}

/** A Connect GET's `message` query parameter, when base64, must decode. */
function validGetMessage(url: string): boolean {
  const query = new URL(url, "http://localhost").searchParams;
  if (query.get("base64") !== "1") return true;
  try {
    base64Decode(query.get("message") ?? "");
    return true;
  } catch {
    return false;
  }
}

function connectUnaryError(status: number, code: string, message: string): UniversalServerResponse {
  const body = new TextEncoder().encode(JSON.stringify({ code, message }));
  const header = new Headers({ "content-type": "application/json", "content-length": String(body.byteLength) });
  return { status, header, body: singleChunk(body) };
}

/** The handler, answering INVALID_ARGUMENT where connect-es answers INTERNAL for an unparseable request message. */
export function withRequestDecodeErrors(handler: UniversalHandler): UniversalHandler {
  const wrapped = async (req: UniversalServerRequest): Promise<UniversalServerResponse> => {
    if (req.method === "GET" && !validGetMessage(req.url)) {
      return connectUnaryError(400, "invalid_argument", "message: not valid base64");
    }
    const res = await handler(req);
    return fixResponse(protocolOf(req.header.get("content-type") ?? ""), res);
  };
  return Object.assign(wrapped, {
    protocolNames: handler.protocolNames,
    service: handler.service,
    method: handler.method,
    requestPath: handler.requestPath,
    allowedMethods: handler.allowedMethods,
    supportedContentType: handler.supportedContentType,
  });
}
