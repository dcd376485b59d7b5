// The API key is checked when a request's headers arrive, before its body is
// read: connect-es reads and decodes a unary request message (up to the
// method's size limit) before interceptors run, so an interceptor would let
// anyone without a key make the server read and parse megabytes, and would
// tell them about malformed messages. This wraps each route's handler, checks
// the authorization header against the scope table (api-key-auth.ts) and, when
// the call is refused, answers in the protocol's own error form (gRPC trailer,
// gRPC-Web trailer frame, Connect unary JSON error, Connect end-of-stream
// message) without parsing the body. An HTTP/1.1 connection whose refused
// request declares more than a small body is closed after the answer rather
// than drained; a body of unknown length (chunked) is read, unparsed, up to
// that bound first, so that a client still sending it reads the refusal
// instead of a broken pipe.
import type { ConnectError } from "@connectrpc/connect";
import { encodeEnvelope, type UniversalHandler, type UniversalServerRequest, type UniversalServerResponse } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, endStreamFlag, endStreamToJson, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import { type ApiKeyRing, checkAuthorization, requirementOf } from "./api-key-auth.ts";
import { singleChunk } from "./universal-body.ts";

/** An HTTP/1.1 request body up to this size is drained after a refusal (keep-alive); a larger or unknown one closes the connection. */
const DRAIN_MAX_BYTES = 64 * 1024;

/** The refusal in the form of the request's protocol (from its content type; a GET is Connect unary). */
export function refusal(req: UniversalServerRequest, error: ConnectError): UniversalServerResponse {
  const contentType = (req.header.get("content-type") ?? "").toLowerCase();
  const json = /\+json\b/.test(contentType);
  if (contentType.startsWith("application/grpc-web")) {
    const trailer = new Headers();
    setTrailerStatus(trailer, error);
    const header = new Headers({ "content-type": json ? "application/grpc-web+json" : "application/grpc-web+proto" });
    return { status: 200, header, body: singleChunk(encodeEnvelope(trailerFlag, trailerSerialize(trailer))) };
  }
  if (contentType.startsWith("application/grpc")) {
    const trailer = new Headers();
    setTrailerStatus(trailer, error);
    const header = new Headers({ "content-type": json ? "application/grpc+json" : "application/grpc+proto" });
    return { status: 200, header, body: (async function* () {})(), trailer };
  }
  if (contentType.startsWith("application/connect+")) {
    const end = new TextEncoder().encode(JSON.stringify(endStreamToJson(new Headers(), error, undefined)));
    const header = new Headers({ "content-type": json ? "application/connect+json" : "application/connect+proto" });
    return { status: 200, header, body: singleChunk(encodeEnvelope(endStreamFlag, end)) };
  }
  const body = errorToJsonBytes(error, {});
  const header = new Headers({ "content-type": "application/json", "content-length": String(body.byteLength) });
  return { status: codeToHttpStatus(error.code), header, body: singleChunk(body) };
}

/** Reads (and drops) a request body of unknown length; true if it ended within `max` bytes. */
async function drained(body: UniversalServerRequest["body"], max: number): Promise<boolean> {
  if (typeof body !== "object" || body === null || !(Symbol.asyncIterator in body)) return true;
  let seen = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    seen += chunk.byteLength;
    if (seen > max) return false;
  }
  return true;
}

/** Whether the handler would take this request at all (else it answers 405/415 itself, without reading the body). */
function servedBy(handler: UniversalHandler, req: UniversalServerRequest): boolean {
  if (!handler.allowedMethods.includes(req.method)) return false;
  if (req.method === "GET") return true;
  return handler.supportedContentType(req.header.get("content-type") ?? "");
}

/** The handler, behind an API-key check that runs before the request body is read. */
export function withApiKeyGate(handler: UniversalHandler, ring: ApiKeyRing, reflection: "auth" | "open" | "off"): UniversalHandler {
  const requirement = requirementOf(handler.service.typeName, handler.method.name, reflection);
  const gated = async (req: UniversalServerRequest): Promise<UniversalServerResponse> => {
    if (requirement === "none" || !servedBy(handler, req)) return handler(req);
    const error = checkAuthorization(ring, req.header.get("authorization"), requirement);
    if (!error) return handler(req);
    const res = refusal(req, error);
    if (req.httpVersion.startsWith("1") && req.method !== "GET") {
      const declared = req.header.get("content-length");
      const length = declared === null ? NaN : Number(declared);
      const small = length <= DRAIN_MAX_BYTES || (Number.isNaN(length) && (await drained(req.body, DRAIN_MAX_BYTES)));
      if (!small) res.header!.set("connection", "close");
    }
    return res;
  };
  return Object.assign(gated, {
    protocolNames: handler.protocolNames,
    service: handler.service,
    method: handler.method,
    requestPath: handler.requestPath,
    allowedMethods: handler.allowedMethods,
    supportedContentType: handler.supportedContentType,
  });
}
