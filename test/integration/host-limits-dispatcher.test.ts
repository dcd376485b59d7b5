// The HTTP dispatcher's per-origin queue against a real HTTP server: what the
// caller hears (queued, sent), aborted waiting calls never sent, other origins
// not held up, close() answering waiting calls.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, test } from "vitest";
import { HttpStepDispatcher } from "../../src/dispatch/http-step-dispatcher.ts";
import type { AttemptOutcome } from "../../src/domain/attempt-outcome.ts";
import { ATTEMPT_TIMEOUT, type DispatchProgress, type SlotReservation, type SlotWaiter, type StepCall } from "../../src/ports/step-dispatcher.ts";
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

test("reserve(): a slot before the call is built; waiters are granted in turn with dispatched calls, a cancelled one never, close() drops the rest", async () => {
  const d = new HttpStepDispatcher({
    signer: new Signer([SECRET]),
    maxResultBytes: 1000,
    hostLimits: { defaults: { maxInflight: 1, ratePerSecond: 0, burst: 1 }, origins: new Map() },
  });
  let closed = false;
  const heard: string[] = [];
  const waiter = (name: string, onGrant: () => void = () => {}): SlotWaiter => ({
    granted: () => {
      heard.push(`granted ${name}`);
      onGrant();
    },
    dropped: () => heard.push(`dropped ${name}`),
  });
  try {
    // A free slot is held at once; the call then goes out with `reserved` and takes no second slot.
    expect(d.reserve(`${a}/hold/r1`, waiter("r1"))).toBe("held");
    const p1 = d.dispatch(call(`${a}/hold/r1`, "r1"), new AbortController().signal, undefined, true);
    await waitFor(() => held.length === 1);

    // Behind it: a waiter, a dispatched call, a waiter that will be cancelled, a waiter that gives its slot back.
    let p3: Promise<AttemptOutcome> | undefined;
    const w2 = d.reserve(`${a}/two`, waiter("w2", () => void (p3 = d.dispatch(call(`${a}/hold/w2`, "w2"), new AbortController().signal, undefined, true))));
    expect(w2).toMatchObject({ origin: a, ahead: 0 });
    const queuedCall = progress();
    const p2 = d.dispatch(call(`${a}/queued`, "q"), new AbortController().signal, queuedCall.p);
    const w4 = d.reserve(`${a}/four`, waiter("w4")) as SlotReservation;
    expect(w4).toMatchObject({ origin: a, ahead: 2 });
    const w5 = d.reserve(`${a}/five`, waiter("w5", () => d.giveBack(`${a}/five`)));
    expect(w5).toMatchObject({ ahead: 3 });
    const w6 = d.reserve(`${a}/six`, waiter("w6"));
    expect([...d.waitingByOrigin()]).toEqual([[a, 5]]);
    w4.cancel();
    expect([...d.waitingByOrigin()]).toEqual([[a, 4]]);
    // A URL that cannot be reserved is left to dispatch() to answer.
    expect(d.reserve("not a url", waiter("bad"))).toBe("none");
    expect(heard).toEqual([]);

    held.shift()!.writeHead(200, { "content-type": "application/json" }).end('{"success":true,"result":"r1"}');
    expect(await p1).toEqual({ ok: true, result: "r1" });
    // w2 was granted and sent its call (which holds the slot now).
    await waitFor(() => held.length === 1);
    expect(heard).toEqual(["granted w2"]);
    held.shift()!.writeHead(200, { "content-type": "application/json" }).end('{"success":true,"result":"w2"}');
    expect(await p3).toEqual({ ok: true, result: "w2" });
    // Then the dispatched call, then w5 (w4 left): w5 gives its slot back, so w6 is granted.
    expect(await p2).toMatchObject({ ok: true });
    expect(queuedCall.heard).toEqual([`queued ${a} 1`, "sent"]);
    await waitFor(() => heard.length === 3);
    expect(heard).toEqual(["granted w2", "granted w5", "granted w6"]);
    expect(w6).toMatchObject({ ahead: 4 });

    // w6 holds the slot and never uses it (nor gives it back): the next waiter is dropped by close().
    d.reserve(`${a}/seven`, waiter("w7"));
    closed = true;
    await d.close();
    expect(heard).toEqual(["granted w2", "granted w5", "granted w6", "dropped w7"]);
    const host = new URL(a).host;
    expect(seen.filter((s) => s.startsWith(host)).slice(-3)).toEqual([`${host}/hold/r1`, `${host}/hold/w2`, `${host}/queued`]);
  } finally {
    if (!closed) await d.close();
  }
});
