// TLS on the one port, with real certificates made by `openssl` for this test
// and real clients: grpc-js, Connect over HTTP/1.1 and HTTP/2, gRPC-Web,
// grpcurl; and mutual TLS (a client certificate signed by the client CA).
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as http2 from "node:http2";
import * as https from "node:https";
import * as tls from "node:tls";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  type HealthCheckRequest,
  HealthCheckRequestSchema,
  type HealthCheckResponse,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus,
} from "../../gen/ts/health/v1/health_pb.js";
import { WorkflowService } from "../../gen/ts/weft/v1/workflow_pb.js";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { listen } from "../../src/server/listener.ts";
import { findGrpcurl, runGrpcurl } from "../support/grpcurl.ts";
import { makeTestCerts, type TestCerts } from "../support/tls-certs.ts";
import { kill9, spawnWeft } from "../support/weft-process.ts";
import { startWeft, type TestWeft } from "../support/weft.ts";

let certs: TestCerts;
beforeAll(() => {
  certs = makeTestCerts();
});
afterAll(() => certs?.remove());

function grpcJsCheck(client: grpc.Client): Promise<HealthCheckResponse> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest<HealthCheckRequest, HealthCheckResponse>(
      "/grpc.health.v1.Health/Check",
      (msg) => Buffer.from(toBinary(HealthCheckRequestSchema, msg)),
      (buf) => fromBinary(HealthCheckResponseSchema, buf),
      create(HealthCheckRequestSchema, { service: "" }),
      { deadline: Date.now() + 10_000 },
      (err, res) => (err ? reject(err) : resolve(res!)),
    );
  });
}

type Tls = { ca?: Buffer; cert?: Buffer; key?: Buffer };
/** One client per kind: Connect over HTTP/1.1 and HTTP/2, gRPC (HTTP/2), gRPC-Web (HTTP/1.1). */
function clients(port: number, nodeOptions: Tls): [string, Client<typeof WorkflowService>][] {
  const baseUrl = `https://127.0.0.1:${port}`;
  return [
    ["Connect over HTTP/1.1", createClient(WorkflowService, createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions }))],
    ["Connect over HTTP/2", createClient(WorkflowService, createConnectTransport({ baseUrl, httpVersion: "2", nodeOptions }))],
    ["gRPC", createClient(WorkflowService, createGrpcTransport({ baseUrl, nodeOptions }))],
    ["gRPC-Web over HTTP/1.1", createClient(WorkflowService, createGrpcWebTransport({ baseUrl, httpVersion: "1.1", nodeOptions }))],
  ];
}

/** Resolves with the ALPN protocol the server picked, or rejects if the handshake fails. */
function handshake(port: number, options: tls.ConnectionOptions): Promise<string | false> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, ...options }, () => {
      const alpn = socket.alpnProtocol ?? false;
      socket.end();
      resolve(alpn);
    });
    socket.once("error", reject);
  });
}

describe("TLS", () => {
  let weft: TestWeft;
  beforeAll(async () => {
    weft = await startWeft({ tls: { certFile: certs.files.cert, keyFile: certs.files.key, clientCaFile: undefined, cert: certs.cert, key: certs.key, clientCa: undefined } });
  });
  afterAll(() => weft?.stop());

  test("Connect (HTTP/1.1 and HTTP/2), gRPC and gRPC-Web clients that trust the CA are served", async () => {
    for (const [name, client] of clients(weft.server.port, { ca: certs.ca })) {
      const res = await client.listWorkflows({ pageSize: 1 });
      expect(res.workflows, name).toBeDefined();
      await expect(client.getWorkflow({ id: "wf_00000000000000000000000000" }), name).rejects.toMatchObject({ code: 5 });
    }
  });

  test("grpc-js with TLS credentials (the CA) is served", async () => {
    const client = new grpc.Client(`127.0.0.1:${weft.server.port}`, grpc.credentials.createSsl(certs.ca));
    try {
      expect((await grpcJsCheck(client)).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    } finally {
      client.close();
    }
  });

  test("ALPN picks h2 or http/1.1 as the client offers", async () => {
    expect(await handshake(weft.server.port, { ca: certs.ca, ALPNProtocols: ["h2", "http/1.1"] })).toBe("h2");
    expect(await handshake(weft.server.port, { ca: certs.ca, ALPNProtocols: ["http/1.1"] })).toBe("http/1.1");
  });

  test("clients that do not trust the CA, and cleartext clients, are refused", async () => {
    for (const [name, client] of clients(weft.server.port, {})) {
      await expect(client.listWorkflows({}), name).rejects.toThrow(/certificate|unavailable|internal/i);
    }
    const untrusting = new grpc.Client(`127.0.0.1:${weft.server.port}`, grpc.credentials.createSsl());
    try {
      await expect(grpcJsCheck(untrusting)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    } finally {
      untrusting.close();
    }
    const cleartext = createClient(WorkflowService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${weft.server.port}` }));
    await expect(cleartext.listWorkflows({})).rejects.toThrow();
  });

  test("grpcurl with -cacert lists the services", async (ctx) => {
    const bin = await findGrpcurl();
    if (!bin) return ctx.skip("grpcurl is not installed (scripts/install-tools.sh)");
    const list = await runGrpcurl(bin, ["-cacert", certs.files.ca, `127.0.0.1:${weft.server.port}`, "list"]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.split("\n")).toContain("weft.v1.WorkflowService");
    const refused = await runGrpcurl(bin, [`127.0.0.1:${weft.server.port}`, "list"]);
    expect(refused.code).not.toBe(0);
  });
});

describe("graceful close with TLS", () => {
  test("idle HTTP/1.1 and HTTP/2 connections are closed at once, without waiting for the grace period", async () => {
    const listener = await listen((_req, res) => res.end("ok"), { host: "127.0.0.1", port: 0, tls: { cert: certs.cert, key: certs.key } });
    const agent = new https.Agent({ keepAlive: true, ca: certs.ca });
    const h1Closed = new Promise<void>((resolve, reject) => {
      https
        .get({ host: "127.0.0.1", port: listener.port, path: "/", agent }, (res) => {
          res.resume();
          res.socket.once("close", () => resolve());
        })
        .on("error", reject);
    });
    const session = http2.connect(`https://127.0.0.1:${listener.port}`, { ca: certs.ca });
    session.on("error", () => {});
    const h2Closed = new Promise<void>((resolve) => session.once("close", () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const req = session.request({ ":path": "/" });
      req.on("error", reject);
      req.resume();
      req.on("end", () => resolve());
    });
    const started = performance.now();
    // A grace period far longer than the test may take: close() must not need it.
    await listener.close(600_000);
    await Promise.all([h1Closed, h2Closed]);
    expect(performance.now() - started).toBeLessThan(300_000);
    agent.destroy();
  });
});

describe("mutual TLS", () => {
  let weft: TestWeft;
  beforeAll(async () => {
    weft = await startWeft({
      tls: { certFile: certs.files.cert, keyFile: certs.files.key, clientCaFile: certs.files.clientCa, cert: certs.cert, key: certs.key, clientCa: certs.clientCa },
    });
  });
  afterAll(() => weft?.stop());

  test("a client certificate signed by the client CA is served, over every protocol", async () => {
    for (const [name, client] of clients(weft.server.port, { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey })) {
      const res = await client.listWorkflows({ pageSize: 1 });
      expect(res.workflows, name).toBeDefined();
    }
    const client = new grpc.Client(`127.0.0.1:${weft.server.port}`, grpc.credentials.createSsl(certs.ca, certs.clientKey, certs.clientCert));
    try {
      expect((await grpcJsCheck(client)).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    } finally {
      client.close();
    }
  });

  test("a client without a certificate, or with one from another CA, is refused", async () => {
    for (const nodeOptions of [{ ca: certs.ca }, { ca: certs.ca, cert: certs.otherClientCert, key: certs.otherClientKey }]) {
      for (const [name, client] of clients(weft.server.port, nodeOptions)) {
        await expect(client.listWorkflows({}), name).rejects.toThrow();
      }
    }
    for (const creds of [grpc.credentials.createSsl(certs.ca), grpc.credentials.createSsl(certs.ca, certs.otherClientKey, certs.otherClientCert)]) {
      const client = new grpc.Client(`127.0.0.1:${weft.server.port}`, creds);
      try {
        await expect(grpcJsCheck(client)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
      } finally {
        client.close();
      }
    }
  });
});

describe("TLS configuration", () => {
  test("cert and key come together; a client CA needs them", () => {
    expect(() => loadConfig(["--tls-cert", certs.files.cert], {})).toThrow(/tls-cert: needs --tls-key too/);
    expect(() => loadConfig([], { WEFT_TLS_KEY: certs.files.key })).toThrow(/tls-key: needs --tls-cert too/);
    expect(() => loadConfig(["--tls-client-ca", certs.files.clientCa], {})).toThrow(/tls-client-ca: needs --tls-cert and --tls-key/);
    const c = loadConfig([], { WEFT_TLS_CERT: certs.files.cert, WEFT_TLS_KEY: certs.files.key, WEFT_TLS_CLIENT_CA: certs.files.clientCa })!;
    expect(c.tls).toMatchObject({ certFile: certs.files.cert, keyFile: certs.files.key, clientCaFile: certs.files.clientCa });
    expect(c.tls!.cert.equals(certs.cert)).toBe(true);
    expect(loadConfig([], {})!.tls).toBeUndefined();
  });

  test("unreadable or invalid files fail the start with the file named", () => {
    const missing = join(certs.dir, "missing.pem");
    const load = (cert: string, key: string, ca?: string) => () => loadConfig(["--tls-cert", cert, "--tls-key", key, ...(ca ? ["--tls-client-ca", ca] : [])], {});
    expect(load(missing, certs.files.key)).toThrow(ConfigError);
    expect(load(missing, certs.files.key)).toThrow(`tls-cert: cannot read ${missing} (ENOENT)`);
    expect(load(certs.files.cert, missing)).toThrow(`tls-key: cannot read ${missing}`);
    expect(load(certs.files.cert, certs.files.key, missing)).toThrow(`tls-client-ca: cannot read ${missing}`);
    // A key in the place of the certificate, a certificate in the place of the key, a key of another certificate.
    expect(load(certs.files.key, certs.files.key)).toThrow(`tls-cert: ${certs.files.key} holds no valid certificate`);
    expect(load(certs.files.cert, certs.files.cert)).toThrow(`tls-key: ${certs.files.cert} is not a valid private key for ${certs.files.cert}`);
    expect(load(certs.files.cert, certs.files.clientKey)).toThrow(`tls-key: ${certs.files.clientKey} is not a valid private key`);
    expect(load(certs.files.cert, certs.files.key, certs.files.key)).toThrow(`tls-client-ca: ${certs.files.key} holds no valid CA certificate`);
  });

  test("node src/main.ts with --tls-cert/--tls-key serves TLS and logs it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "weft-tls-proc-"));
    const p = await spawnWeft(dir, ["--tls-cert", certs.files.cert, "--tls-key", certs.files.key, "--tls-client-ca", certs.files.clientCa]);
    try {
      const listening = p.logs.map((l) => { try { return JSON.parse(l) as { msg?: string; tls?: string }; } catch { return {}; } }).find((e) => e.msg === "weft listening");
      expect(listening?.tls).toBe("mtls");
      const [, client] = clients(p.port, { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey })[2]!;
      expect((await client.listWorkflows({})).workflows).toEqual([]);
    } finally {
      await kill9(p);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
