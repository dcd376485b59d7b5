// The HTTP dispatcher against a real HTTP server: how each kind of response,
// abort and transport failure becomes an attempt outcome.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { HttpStepDispatcher } from "../../src/dispatch/http-step-dispatcher.ts";
import { ATTEMPT_TIMEOUT, type StepCall } from "../../src/ports/step-dispatcher.ts";
import { Signer } from "../../src/signing/sign.ts";
import { verifySignature } from "../../src/signing/verify.ts";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const LIMIT = 1000;

interface Seen {
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

let server: Server;
let base: string;
const seen: Seen[] = [];
/** TCP connections the server has accepted. */
let connections = 0;
const routes = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();
const dispatcher = new HttpStepDispatcher({ signer: new Signer([SECRET]), maxResultBytes: LIMIT });

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({ path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      const route = routes.get((req.url ?? "").split("?")[0]);
      if (route) route(req, res);
      else res.writeHead(404).end();
    });
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await dispatcher.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function call(path: string, overrides: Partial<StepCall> = {}): StepCall {
  return {
    url: `${base}${path}`,
    body: JSON.stringify({ runId: "wf_1", stepId: "s", attempt: 1 }),
    timeoutMs: 5000,
    idempotencyKey: "wf_1:s",
    messageId: "wf_1:s:1",
    headers: { "weft-run-id": "wf_1", "weft-step-id": "s", "weft-attempt": "1" },
    ...overrides,
  };
}

const never = () => new AbortController().signal;

describe("HttpStepDispatcher", () => {
  test("POSTs the body with idempotency, deadline and verifiable signature headers to path and query", async () => {
    routes.set("/ok", (_req, res) => res.writeHead(200, { "content-type": "application/json" }).end('{"success":true,"result":{"n":1}}'));
    const c = call("/ok?tenant=acme");
    const outcome = await dispatcher.dispatch(c, never());
    expect(outcome).toEqual({ ok: true, result: { n: 1 } });
    const req = seen.at(-1)!;
    expect(req.path).toBe("/ok?tenant=acme");
    expect(req.body).toBe(c.body);
    expect(req.headers["idempotency-key"]).toBe("wf_1:s");
    expect(req.headers["weft-step-id"]).toBe("s");
    expect(req.headers["content-type"]).toBe("application/json");
    expect(Date.parse(String(req.headers["weft-deadline"]))).toBeGreaterThan(Date.now());
    expect(verifySignature({ headers: req.headers, body: req.body, secrets: [SECRET] })).toEqual({ ok: true });
  });

  test("a body written in several chunks is put together", async () => {
    routes.set("/chunks", (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"success":true,');
      setTimeout(() => {
        res.write('"result":"h\u00e9');
        setTimeout(() => res.end('llo"}'), 5);
      }, 5);
    });
    expect(await dispatcher.dispatch(call("/chunks"), never())).toEqual({ ok: true, result: "h\u00e9llo" });
  });

  test("a declared length over the limit fails the step without reading the body", async () => {
    routes.set("/declared", (_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": String(LIMIT * 10) });
      res.write("x".repeat(100));
    });
    const outcome = await dispatcher.dispatch(call("/declared"), never());
    expect(outcome).toMatchObject({ ok: false, retryable: false, error: { reason: "result_too_large", httpStatus: 200 } });
  });

  test("a chunked body that grows over the limit fails the step", async () => {
    routes.set("/growing", (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const timer = setInterval(() => {
        if (!res.write("x".repeat(300))) clearInterval(timer);
      }, 2);
      res.on("close", () => clearInterval(timer));
    });
    const outcome = await dispatcher.dispatch(call("/growing"), never());
    expect(outcome).toMatchObject({ ok: false, retryable: false, error: { reason: "result_too_large" } });
  });

  test("status codes and Retry-After are classified", async () => {
    routes.set("/busy", (_req, res) => res.writeHead(503, { "retry-after": "7" }).end("later"));
    routes.set("/bad", (_req, res) => res.writeHead(400).end("no"));
    const busy = await dispatcher.dispatch(call("/busy"), never());
    expect(busy).toMatchObject({ ok: false, retryable: true, error: { httpStatus: 503 } });
    expect((busy as { retryAfterMs?: number }).retryAfterMs).toBe(7000);
    expect(await dispatcher.dispatch(call("/bad"), never())).toMatchObject({ ok: false, retryable: false, error: { httpStatus: 400 } });
  });

  test("an abort with ATTEMPT_TIMEOUT is a retryable timeout; any other abort is a cancellation", async () => {
    let closed = 0;
    routes.set("/slow", (_req, res) => res.on("close", () => closed++));
    const timeout = new AbortController();
    const pending = dispatcher.dispatch(call("/slow", { timeoutMs: 50 }), timeout.signal);
    setTimeout(() => timeout.abort(ATTEMPT_TIMEOUT), 50);
    expect(await pending).toMatchObject({ ok: false, retryable: true, error: { reason: "timeout" } });

    const cancel = new AbortController();
    const cancelled = dispatcher.dispatch(call("/slow"), cancel.signal);
    setTimeout(() => cancel.abort(), 50);
    expect(await cancelled).toMatchObject({ ok: false, retryable: false, error: { reason: "cancelled" } });
    // Both requests were really abandoned: the server saw their connections close.
    await expect.poll(() => closed).toBe(2);
  });

  test("calls queued behind a busy connection answer their timeout at once, are never sent and cost no connection", async () => {
    const single = new HttpStepDispatcher({ signer: new Signer([SECRET]), maxResultBytes: LIMIT, connectionsPerOrigin: 1 });
    try {
      let release!: () => void;
      routes.set("/hold", (_req, res) => {
        release = () => res.writeHead(200, { "content-type": "application/json" }).end('{"success":true,"result":1}');
      });
      const connectionsBefore = connections;
      const held = single.dispatch(call("/hold"), never());
      await expect.poll(() => typeof release).toBe("function");
      const before = seen.length;
      const queued = Array.from({ length: 5 }, () => {
        const c = new AbortController();
        const pending = single.dispatch(call("/queued"), c.signal);
        setTimeout(() => c.abort(ATTEMPT_TIMEOUT), 50);
        return pending;
      });
      for (const outcome of await Promise.all(queued)) {
        expect(outcome).toMatchObject({ ok: false, retryable: true, error: { reason: "timeout" } });
      }
      release();
      expect(await held).toEqual({ ok: true, result: 1 });
      // The connection is free now: the aborted calls still never reach the server, and
      // the one keep-alive connection serves what comes next.
      for (let i = 0; i < 3; i++) expect(await single.dispatch(call("/ok"), never())).toMatchObject({ ok: true });
      expect(seen.slice(before).map((s) => s.path)).toEqual(["/ok", "/ok", "/ok"]);
      expect(connections - connectionsBefore).toBe(1);
    } finally {
      await single.close();
    }
  });

  test("an already aborted signal sends nothing", async () => {
    const before = seen.length;
    const c = new AbortController();
    c.abort();
    expect(await dispatcher.dispatch(call("/ok"), c.signal)).toMatchObject({ ok: false, error: { reason: "cancelled" } });
    expect(seen.length).toBe(before);
  });

  test("a connection dropped mid-response and a refused connection are retryable connection failures", async () => {
    routes.set("/drop", (req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": "100" });
      res.write('{"success":');
      setTimeout(() => req.socket.destroy(), 5);
    });
    expect(await dispatcher.dispatch(call("/drop"), never())).toMatchObject({ ok: false, retryable: true, error: { reason: "connection" } });
    const refused = await dispatcher.dispatch(call("/x", { url: "http://127.0.0.1:9/x" }), never());
    expect(refused).toMatchObject({ ok: false, retryable: true, error: { reason: "connection" } });
    expect((refused as { error: { message: string } }).error.message).toMatch(/ECONNREFUSED/);
  });
});
