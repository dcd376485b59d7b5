// The HTTP endpoints in front of the Connect handler, on real HTTP/1.1 and
// HTTP/2 servers: /readyz follows readiness (503 while not ready, e.g. during
// shutdown or if the store does not answer), and other requests go on.
import { createServer, type Server } from "node:http";
import { connect as connectH2, createServer as createH2Server, type Http2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { digestApiKeys } from "../../src/domain/api-keys.ts";
import { ApiKeyRing } from "../../src/server/api-key-auth.ts";
import { withHttpEndpoints } from "../../src/server/http-endpoints.ts";
import type { RequestHandler } from "../../src/server/listener.ts";

let readiness: () => Promise<boolean> = async () => true;
const passedOn: string[] = [];
const next: RequestHandler = (req, res) => {
  passedOn.push(`${req.method} ${req.url}`);
  (res as import("node:http").ServerResponse).statusCode = 418;
  res.end();
};
const registry = new Registry();
const handler = withHttpEndpoints(next, {
  ready: () => readiness(),
  metrics: { registry, keys: new ApiKeyRing(digestApiKeys([{ scope: "read", key: "rk_endpoints_1234567890" }])), auth: "auth" },
});

let h1: Server;
let h2: Http2Server;
let h1Url: string;
let h2Url: string;

beforeAll(async () => {
  h1 = createServer(handler);
  h2 = createH2Server(handler);
  await new Promise<void>((r) => h1.listen(0, "127.0.0.1", r));
  await new Promise<void>((r) => h2.listen(0, "127.0.0.1", r));
  h1Url = `http://127.0.0.1:${(h1.address() as AddressInfo).port}`;
  h2Url = `http://127.0.0.1:${(h2.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => h1.close(r));
  await new Promise((r) => h2.close(r));
});

function h2Status(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = connectH2(h2Url);
    session.on("error", reject);
    const req = session.request({ ":path": path });
    req.on("response", (h) => {
      resolve(Number(h[":status"]));
      session.close();
    });
    req.on("error", reject);
    req.resume();
    req.end();
  });
}

describe("/readyz", () => {
  it("is 200 when ready and 503 when not (shutting down), over HTTP/1.1 and HTTP/2", async () => {
    readiness = async () => true;
    expect((await fetch(`${h1Url}/readyz`)).status).toBe(200);
    expect(await h2Status("/readyz")).toBe(200);
    readiness = async () => false;
    const res = await fetch(`${h1Url}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.text()).toBe("not ready\n");
    expect(await h2Status("/readyz")).toBe(503);
    // /healthz says only that the process serves.
    expect((await fetch(`${h1Url}/healthz`)).status).toBe(200);
  });

  it("is 503 when the readiness check fails (the store does not answer)", async () => {
    readiness = () => Promise.reject(new Error("store unreachable"));
    expect((await fetch(`${h1Url}/readyz?verbose=1`)).status).toBe(503);
  });
});

describe("routing", () => {
  it("passes other paths and other methods on", async () => {
    passedOn.length = 0;
    expect((await fetch(`${h1Url}/weft.v1.WorkflowService/ListWorkflows`, { method: "POST", body: "{}" })).status).toBe(418);
    expect((await fetch(`${h1Url}/healthz`, { method: "POST", body: "" })).status).toBe(418);
    expect((await fetch(`${h1Url}/healthzz`)).status).toBe(418);
    expect(await h2Status("/metricsx")).toBe(418);
    expect(passedOn).toEqual(["POST /weft.v1.WorkflowService/ListWorkflows", "POST /healthz", "GET /healthzz", "GET /metricsx"]);
  });

  it("/metrics needs a read key; a malformed authorization header is 401", async () => {
    expect((await fetch(`${h1Url}/metrics`, { headers: { authorization: "Basic abc" } })).status).toBe(401);
    expect((await fetch(`${h1Url}/metrics`, { headers: { authorization: "Bearer rk_endpoints_1234567890" } })).status).toBe(200);
  });
});
