// The HTTP dispatcher's per-origin queue against a real HTTP server: what the
// caller hears (queued, sent), aborted waiting calls never sent, other origins
// not held up, close() answering waiting calls.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, test } from "vitest";
import { HttpStepDispatcher } from "../../src/dispatch/http-step-dispatcher.ts";
import type { AttemptOutcome } from "../../src/domain/attempt-outcome.ts";
import { ATTEMPT_TIMEOUT, type DispatchProgress, type StepCall } from "../../src/ports/step-dispatcher.ts";
import { Signer } from "../../src/signing/sign.ts";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

let servers: Server[] = [];
const held: ServerResponse[] = [];
const seen: string[] = [];

async function startServer(): Promise<string> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on("end", () => {
      seen.push(`${req.headers.host}${req.url}`);
      if (req.url?.startsWith("/hold")) held.push(res);
      else res.writeHead(200, { "content-type": "application/json" }).end('{"success":true,"result":1}');
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let a = "";
let b = "";
beforeAll(async () => {
  a = await startServer();
  b = await startServer();
});
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
  servers = [];
});

function call(url: string, id: string): StepCall {
  return { url, body: "{}", timeoutMs: 5000, idempotencyKey: id, messageId: id, headers: {} };
}

function progress() {
  const heard: string[] = [];
  const p: DispatchProgress = {
    queued: (origin, ahead) => heard.push(`queued ${origin} ${ahead}`),
    sent: () => heard.push("sent"),
  };
  return { heard, p };
}

const waitFor = async (pred: () => boolean) => {
  const end = Date.now() + 10_000;
  while (!pred()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
};

test("one in flight per origin: the next calls wait (queued, then sent), an aborted waiting call is never sent, another origin is not held up", async () => {
  const d = new HttpStepDispatcher({
    signer: new Signer([SECRET]),
    maxResultBytes: 1000,
    hostLimits: { defaults: { maxInflight: 1, ratePerSecond: 0, burst: 1 }, origins: new Map() },
  });
  try {
    const first = progress();
    const p1 = d.dispatch(call(`${a}/hold/1`, "1"), new AbortController().signal, first.p);
    await waitFor(() => held.length === 1);
    expect(first.heard).toEqual([]);

    const second = progress();
    const abort2 = new AbortController();
    const p2 = d.dispatch(call(`${a}/two`, "2"), abort2.signal, second.p);
    const third = progress();
    const p3 = d.dispatch(call(`${a}/three`, "3"), new AbortController().signal, third.p);
    expect(second.heard).toEqual([`queued ${a} 0`]);
    expect(third.heard).toEqual([`queued ${a} 1`]);
    expect([...d.waitingByOrigin()]).toEqual([[a, 2]]);

    // Another origin has its own slot.
    const other = progress();
    expect(await d.dispatch(call(`${b}/other`, "4"), new AbortController().signal, other.p)).toMatchObject({ ok: true });
    expect(other.heard).toEqual([]);

    // An aborted waiting call is answered at once and leaves the queue.
    abort2.abort(ATTEMPT_TIMEOUT);
    expect(await p2).toMatchObject({ ok: false, retryable: true, error: { reason: "timeout" } });
    expect([...d.waitingByOrigin()]).toEqual([[a, 1]]);

    held.shift()!.writeHead(200, { "content-type": "application/json" }).end('{"success":true,"result":"held"}');
    expect(await p1).toEqual({ ok: true, result: "held" } satisfies AttemptOutcome);
    expect(await p3).toMatchObject({ ok: true });
    expect(third.heard).toEqual([`queued ${a} 1`, "sent"]);
    expect(second.heard).toEqual([`queued ${a} 0`]);
    const host = new URL(a).host;
    expect(seen.filter((s) => s.startsWith(host))).toEqual([`${host}/hold/1`, `${host}/three`]);
    expect([...d.waitingByOrigin()]).toEqual([]);
  } finally {
    await d.close();
  }
});

test("close() answers waiting calls without sending them", async () => {
  const d = new HttpStepDispatcher({
    signer: new Signer([SECRET]),
    maxResultBytes: 1000,
    hostLimits: { defaults: { maxInflight: 1, ratePerSecond: 0, burst: 1 }, origins: new Map() },
  });
  const hold = new AbortController();
  const p1 = d.dispatch(call(`${a}/hold/close`, "c1"), hold.signal);
  await waitFor(() => held.length === 1);
  const p2 = d.dispatch(call(`${a}/never`, "c2"), new AbortController().signal);
  hold.abort();
  expect(await p1).toMatchObject({ ok: false, error: { reason: "cancelled" } });
  held.shift()!.destroy();
  // The slot freed by the abort went to the waiting call, so queue one more behind a new held call.
  await p2;
  const hold2 = new AbortController();
  const p3 = d.dispatch(call(`${a}/hold/close2`, "c3"), hold2.signal);
  await waitFor(() => held.length === 1);
  const p4 = d.dispatch(call(`${a}/never-sent`, "c4"), new AbortController().signal);
  const closing = d.close();
  expect(await p4).toMatchObject({ ok: false, retryable: true, error: { reason: "connection", message: "not sent: the server is shutting down" } });
  hold2.abort();
  await p3;
  held.shift()?.destroy();
  await closing;
  expect(seen.some((s) => s.endsWith("/never-sent"))).toBe(false);
});
