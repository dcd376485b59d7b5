// Plain HTTP endpoints in front of the Connect handler, on the same port
// (HTTP/1.1 and HTTP/2): GET /healthz (live), GET /readyz (ready to serve) and
// GET /metrics (Prometheus), and the web console's files under /ui/ (console-assets.ts). Every
// other request goes on to Connect.
import type { ServerResponse } from "node:http";
import { Code } from "@connectrpc/connect";
import type { Registry } from "prom-client";
import type { RequestHandler } from "./listener.ts";
import { type ApiKeyRing, checkAuthorization } from "./api-key-auth.ts";
import { type ConsoleAssets, isConsolePath } from "./console-assets.ts";

export interface HttpEndpointsOptions {
  /** Resolves with whether the server is ready (start-up recovery done, store reachable, not shutting down). */
  ready(): Promise<boolean>;
  /** Unset: no /metrics (it goes on to Connect, which answers 404). */
  metrics?: {
    registry: Registry;
    /** With keys configured and auth "auth", /metrics needs a read key. */
    keys: ApiKeyRing;
    auth: "auth" | "open";
  };
  /** Unset: no console (/ui/ goes on to Connect, which answers 404). */
  console?: ConsoleAssets;
}

type Req = Parameters<RequestHandler>[0];
type Res = Parameters<RequestHandler>[1];

function send(res: Res, status: number, body: string, contentType = "text/plain; charset=utf-8", head = false): void {
  // Both response kinds have these; their union's overloads do not type-check together.
  const r = res as ServerResponse;
  r.statusCode = status;
  r.setHeader("content-type", contentType);
  r.setHeader("cache-control", "no-store");
  r.setHeader("content-length", Buffer.byteLength(body));
  if (head) r.end();
  else r.end(body);
}

export function withHttpEndpoints(next: RequestHandler, options: HttpEndpointsOptions): RequestHandler {
  const metrics = options.metrics;
  const needsKey = metrics !== undefined && metrics.auth === "auth" && metrics.keys.size > 0;
  const consoleAssets = options.console;
  return (req, res) => {
    const method = req.method;
    const url = req.url ?? "";
    const q = url.indexOf("?");
    const path = q === -1 ? url : url.slice(0, q);
    if (consoleAssets && isConsolePath(path)) return consoleAssets.handle(req, res, path);
    if (method !== "GET" && method !== "HEAD") return next(req, res);
    const head = method === "HEAD";
    switch (path) {
      case "/healthz":
        return send(res, 200, "ok\n", undefined, head);
      case "/readyz":
        void options.ready().then(
          (ok) => send(res, ok ? 200 : 503, ok ? "ready\n" : "not ready\n", undefined, head),
          () => send(res, 503, "not ready\n", undefined, head),
        );
        return;
      case "/metrics":
        if (!metrics) return next(req, res);
        return serveMetrics(req, res, metrics, needsKey, head);
      default:
        return next(req, res);
    }
  };
}

function serveMetrics(req: Req, res: Res, metrics: NonNullable<HttpEndpointsOptions["metrics"]>, needsKey: boolean, head: boolean): void {
  if (needsKey) {
    const header = req.headers.authorization;
    const error = checkAuthorization(metrics.keys, typeof header === "string" ? header : null, "read");
    if (error) {
      // The same words as the RPCs' errors; never the header's value.
      const status = error.code === Code.PermissionDenied ? 403 : 401;
      (res as ServerResponse).setHeader("www-authenticate", 'Bearer realm="weft"');
      return send(res, status, error.rawMessage + "\n", undefined, head);
    }
  }
  metrics.registry.metrics().then(
    (text) => send(res, 200, text, metrics.registry.contentType, head),
    (err: unknown) => send(res, 500, `metrics failed: ${String((err as Error)?.message ?? err).slice(0, 200)}\n`, undefined, head),
  );
}
