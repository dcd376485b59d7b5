// gRPC status messages travel percent-encoded in the `grpc-message` header. The
// gRPC spec encodes only bytes outside 0x20–0x7E and '%'; connect-node encodes
// with encodeURIComponent (':' becomes %3A), which some clients (grpc-js
// decodes with decodeURI) then show undecoded. Re-encoding to the spec's
// minimal form reads back correctly in every client.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";

type Handler = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => void;

export function encodeGrpcMessage(message: string): string {
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out += byte < 0x20 || byte > 0x7e || byte === 0x25 ? "%" + byte.toString(16).toUpperCase().padStart(2, "0") : String.fromCharCode(byte);
  }
  return out;
}

function normalise(headers: OutgoingHttpHeaders | undefined): void {
  const value = headers?.["grpc-message"];
  if (typeof value !== "string") return;
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    return;
  }
  headers!["grpc-message"] = encodeGrpcMessage(decoded);
}

/** Wraps a Node request handler so `grpc-message` (headers and trailers) uses the spec's encoding. */
export function withSpecGrpcMessage(handler: Handler): Handler {
  return (req, res) => {
    const r = res as ServerResponse & { writeHead: (...a: unknown[]) => unknown };
    const writeHead = r.writeHead;
    r.writeHead = function (this: unknown, status: unknown, ...rest: unknown[]) {
      const headers = rest.find((x) => x !== null && typeof x === "object" && !Array.isArray(x));
      normalise(headers as OutgoingHttpHeaders | undefined);
      return writeHead.call(this, status, ...rest);
    } as typeof r.writeHead;
    const addTrailers = res.addTrailers.bind(res) as (t: OutgoingHttpHeaders) => void;
    res.addTrailers = ((trailers: OutgoingHttpHeaders) => {
      normalise(trailers);
      addTrailers(trailers);
    }) as typeof res.addTrailers;
    handler(req, res);
  };
}
