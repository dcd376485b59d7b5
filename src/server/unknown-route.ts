// What a request for a route that does not exist gets (an unknown service or
// method, or reflection with --reflection off). connect-node answers every such
// request with a bare HTTP 404, which gRPC clients report as a broken stream
// ("server closed the stream without sending trailers") rather than a status.
// gRPC and gRPC-Web clients get UNIMPLEMENTED instead; everything else (Connect,
// curl) keeps the 404 that the Connect protocol prescribes.
// The status is written by hand because connect-es (2.x) has no public call for
// it: ConnectRouter only knows the methods of registered services, the
// adapter's default fallback writes the bare 404, and its helper that sets
// grpc-status/grpc-message (setTrailerStatus in @connectrpc/connect/protocol-grpc)
// is marked internal, outside semantic versioning.
import type * as http2 from "node:http2";
import type { connectNodeAdapter } from "@connectrpc/connect-node";

type NodeHandlerFn = NonNullable<Parameters<typeof connectNodeAdapter>[0]["fallback"]>;

const UNIMPLEMENTED = "12";

/** The part of both Node response types used here. */
interface Response {
  writeHead(status: number, headers?: Record<string, string>): unknown;
  end(): unknown;
}

export const unknownRoute: NodeHandlerFn = (req, response) => {
  const res = response as unknown as Response;
  // The request body is not read: let it drain so that the connection stays usable.
  req.resume();
  const contentType = String(req.headers["content-type"] ?? "");
  const grpc = /^application\/grpc(?:[+;]|$)/.test(contentType);
  const grpcWeb = /^application\/grpc-web(?:-text)?(?:[+;]|$)/.test(contentType);
  const message = encodeURIComponent("unknown service or method");
  if (grpc && req.httpVersionMajor === 2) {
    // HTTP/2 gRPC: a status in the trailers.
    res.writeHead(200, { "content-type": "application/grpc" });
    (response as unknown as http2.Http2ServerResponse).addTrailers({ "grpc-status": UNIMPLEMENTED, "grpc-message": message });
    res.end();
    return;
  }
  if (grpc || grpcWeb) {
    // gRPC-Web (and gRPC over HTTP/1.1, which gRPC does not define): a trailers-only answer.
    res.writeHead(200, { "content-type": grpcWeb ? contentType.split(";")[0]! : "application/grpc", "grpc-status": UNIMPLEMENTED, "grpc-message": message });
    res.end();
    return;
  }
  res.writeHead(404);
  res.end();
};
