// The HTTP dispatcher's outbound policy against a real HTTP server on
// 127.0.0.1: denied destinations get no request (not even a connection), host
// names are checked by the addresses they resolve to when connecting, allowed
// ones work. Names resolve through an injected resolver that knows only the
// names below and only ever answers loopback addresses; before any of them is
// used, beforeAll checks with "localhost" (which the system resolves from
// /etc/hosts) that the dispatcher really resolves through it, so that not even
// a DNS query leaves the machine if that wiring were broken.
import type { LookupAddress } from "node:dns";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { HttpStepDispatcher, type Resolve } from "../../src/dispatch/http-step-dispatcher.ts";
import { OutboundPolicy, type OutboundPolicyOptions } from "../../src/domain/outbound-policy.ts";
import type { StepCall } from "../../src/ports/step-dispatcher.ts";
import { Signer } from "../../src/signing/sign.ts";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const NAMES: Record<string, LookupAddress[]> = {
  localhost: [{ address: "127.0.0.1", family: 4 }],
  "rebind.test": [{ address: "127.0.0.1", family: 4 }],
  "allowed.test": [{ address: "127.0.0.1", family: 4 }],
  "api.trusted.test": [{ address: "127.0.0.1", family: 4 }],
  "mapped.test": [{ address: "::ffff:127.0.0.1", family: 6 }],
  "mixed.test": [
    { address: "127.0.0.1", family: 4 },
    { address: "127.0.0.2", family: 4 },
  ],
};

let server: Server;
let port: number;
const seen: { path: string; host: string }[] = [];
let connections = 0;
const resolved: string[] = [];
const dispatchers: HttpStepDispatcher[] = [];

const resolve: Resolve = (hostname, _options, callback) => {
  resolved.push(hostname);
  const addresses = NAMES[hostname];
  setImmediate(() =>
    addresses
      ? callback(null, addresses)
      : callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), []),
  );
};

function dispatcher(policy: OutboundPolicyOptions): HttpStepDispatcher {
  const d = new HttpStepDispatcher({
    signer: new Signer([SECRET]),
    maxResultBytes: 1000,
    outbound: new OutboundPolicy(policy),
    resolve,
  });
  dispatchers.push(d);
  return d;
}

function call(url: string): StepCall {
  return {
    url,
    body: "{}",
    timeoutMs: 5000,
    idempotencyKey: "wf_1:s",
    messageId: "wf_1:s:1",
    headers: {},
  };
}

const never = () => new AbortController().signal;

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    req.resume();
    req.on("end", () => {
      seen.push({ path: req.url ?? "", host: req.headers.host ?? "" });
      if (req.url === "/redirect") res.writeHead(302, { location: `http://127.0.0.1:${port}/ok` }).end();
      else res.writeHead(200, { "content-type": "application/json" }).end('{"success":true,"result":"ok"}');
    });
  });
  server.on("connection", () => connections++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
  // The guard described at the top: the injected resolver must be the one used.
  const outcome = await dispatcher({}).dispatch(call(`http://localhost:${port}/ok`), never());
  if (!outcome.ok || resolved.join() !== "localhost") {
    throw new Error("the dispatcher did not resolve through the injected resolver: not running tests that use made-up names");
  }
  seen.length = 0;
  resolved.length = 0;
  connections = 0;
});

afterEach(() => {
  seen.length = 0;
  resolved.length = 0;
  connections = 0;
});

afterAll(async () => {
  await Promise.all(dispatchers.map((d) => d.close()));
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe("outbound policy in the HTTP dispatcher", () => {
  test("a literal address on the deny list is refused with destination_denied, not retried, and the server sees no connection", async () => {
    const d = dispatcher({ deny: ["127.0.0.1/32"] });
    const outcome = await d.dispatch(call(`http://127.0.0.1:${port}/ok`), never());
    expect(outcome).toEqual({
      ok: false,
      retryable: false,
      error: { reason: "destination_denied", message: "destination denied by the outbound policy: 127.0.0.1/32" },
    });
    expect(seen).toEqual([]);
    expect(connections).toBe(0);
    expect(resolved).toEqual([]);
  });

  test("a host name resolving to a denied address is refused when connecting (the name passed validation)", async () => {
    const d = dispatcher({ deny: ["127.0.0.0/8"] });
    const outcome = await d.dispatch(call(`http://rebind.test:${port}/ok`), never());
    expect(outcome).toEqual({
      ok: false,
      retryable: false,
      error: {
        reason: "destination_denied",
        message: "destination denied by the outbound policy: 127.0.0.0/8 (rebind.test resolved to 127.0.0.1)",
      },
    });
    expect(resolved).toEqual(["rebind.test"]);
    expect(seen).toEqual([]);
    expect(connections).toBe(0);
  });

  test("a name that resolves to an IPv4-mapped IPv6 address is checked as the IPv4 address", async () => {
    const d = dispatcher({ deny: ["127.0.0.0/8"] });
    const outcome = await d.dispatch(call(`http://mapped.test:${port}/ok`), never());
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.error.message).toBe("destination denied by the outbound policy: 127.0.0.0/8 (mapped.test resolved to ::ffff:127.0.0.1)");
    expect(connections).toBe(0);
  });

  test("a name is refused when any of its addresses is denied", async () => {
    const d = dispatcher({ deny: ["127.0.0.2/32"] });
    const outcome = await d.dispatch(call(`http://mixed.test:${port}/ok`), never());
    expect(outcome.ok === false && outcome.error.reason).toBe("destination_denied");
    expect(connections).toBe(0);
  });

  test("a host name denied by name is refused without resolving it", async () => {
    const d = dispatcher({ deny: ["*.test"] });
    const outcome = await d.dispatch(call(`http://allowed.test:${port}/ok`), never());
    expect(outcome.ok === false && outcome.error).toEqual({ reason: "destination_denied", message: "destination denied by the outbound policy: *.test" });
    expect(resolved).toEqual([]);
    expect(connections).toBe(0);
  });

  test("an allowed name is resolved and called", async () => {
    const d = dispatcher({});
    const outcome = await d.dispatch(call(`http://allowed.test:${port}/ok`), never());
    expect(outcome).toEqual({ ok: true, result: "ok" });
    expect(resolved).toEqual(["allowed.test"]);
    expect(seen).toEqual([{ path: "/ok", host: `allowed.test:${port}` }]);
  });

  test("under public-only, allow entries beat the deny list: an allowed CIDR and an allowed name suffix are called", async () => {
    const d = dispatcher({ preset: "public-only", allow: ["127.0.0.1/32", "*.trusted.test"] });
    expect(await d.dispatch(call(`http://127.0.0.1:${port}/ok`), never())).toEqual({ ok: true, result: "ok" });
    const strict = dispatcher({ preset: "public-only", allow: ["*.trusted.test"] });
    expect(await strict.dispatch(call(`http://api.trusted.test:${port}/ok`), never())).toEqual({ ok: true, result: "ok" });
    const denied = await strict.dispatch(call(`http://allowed.test:${port}/ok`), never());
    expect(denied.ok === false && denied.error.message).toBe(
      "destination denied by the outbound policy: 127.0.0.0/8 (allowed.test resolved to 127.0.0.1)",
    );
    expect(seen.map((s) => s.host)).toEqual([`127.0.0.1:${port}`, `api.trusted.test:${port}`]);
  });

  test("redirects are not followed: a 3xx is the handler's answer", async () => {
    const d = dispatcher({});
    const outcome = await d.dispatch(call(`http://127.0.0.1:${port}/redirect`), never());
    expect(outcome.ok === false && outcome.error).toMatchObject({ reason: "http_status", httpStatus: 302 });
    expect(outcome.ok === false && outcome.retryable).toBe(false);
    expect(seen.map((s) => s.path)).toEqual(["/redirect"]);
  });
});
