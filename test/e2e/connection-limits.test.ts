// The listener's limits against real sockets: a connection that sends half a
// request, or nothing, is dropped after the header/request timeout; beyond
// --max-connections new connections are closed at once while the open ones
// keep working; long-lived watch streams (HTTP/2 and HTTP/1.1) outlive
// every timeout; and an HTTP/2 session with no open stream is closed after
// the idle timeout.
import * as http2 from "node:http2";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { listen, type Listener } from "../../src/server/listener.ts";
import { HandlerServer } from "../support/handler-server.ts";
import { Gate, collectWatch, gated, isTerminalRunEvent, sleep, until } from "../support/watch.ts";
import { startWeft, type TestWeft } from "../support/weft.ts";

const HEADER_TIMEOUT_MS = 300;
const REQUEST_TIMEOUT_MS = 600;
/** Slack for a loaded machine: a drop must come within the timeout plus this. */
const SLACK_MS = 15_000;

/** Connects, writes `bytes` (if any), and resolves with how long the server took to close the connection. */
async function timeUntilClosed(port: number, bytes?: string): Promise<{ ms: number; received: string }> {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  let received = "";
  socket.setEncoding("latin1").on("data", (d: string) => (received += d));
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  const start = performance.now();
  if (bytes) socket.write(bytes);
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  const limit = sleep(HEADER_TIMEOUT_MS + REQUEST_TIMEOUT_MS + SLACK_MS).then(() => "limit" as const);
  const outcome = await Promise.race([closed.then(() => "closed" as const), limit]);
  socket.destroy();
  expect(outcome, "the server should have closed the connection").toBe("closed");
  return { ms: performance.now() - start, received };
}

describe("header and request timeouts (real server)", () => {
  let weft: TestWeft;
  let handlers: HandlerServer;
  beforeAll(async () => {
    handlers = await HandlerServer.start();
    weft = await startWeft({
      connections: { max: 100, headerTimeoutMs: HEADER_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS, idleTimeoutMs: 65_000 },
      // No heartbeat during the test: the watch streams below stay silent for longer than every timeout.
      watchHeartbeatMs: 600_000,
    });
  });
  afterAll(async () => {
    await weft?.stop();
    await handlers?.close();
  });

  test("a connection that sends nothing is dropped after the header timeout", async () => {
    const { ms } = await timeUntilClosed(weft.server.port);
    expect(ms).toBeGreaterThanOrEqual(HEADER_TIMEOUT_MS - 50);
  });

  test("an HTTP/1.1 request whose headers never end is dropped after the header timeout", async () => {
    const { ms } = await timeUntilClosed(weft.server.port, "POST /weft.v1.WorkflowService/ListWorkflows HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n");
    expect(ms).toBeGreaterThanOrEqual(HEADER_TIMEOUT_MS - 50);
  });

  test("an HTTP/1.1 request whose body never ends is dropped after the request timeout, with 408", async () => {
    const { ms, received } = await timeUntilClosed(
      weft.server.port,
      "POST /weft.v1.WorkflowService/ListWorkflows HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"pageSize\":",
    );
    expect(ms).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
  });

  test("an idle HTTP/1.1 keep-alive connection outlives the timeouts and serves its next request", async () => {
    const socket = net.connect(weft.server.port, "127.0.0.1");
    socket.on("error", () => {});
    let received = "";
    socket.setEncoding("latin1").on("data", (d: string) => (received += d));
    let closed = false;
    socket.once("close", () => (closed = true));
    const body = "{}";
    const request = `POST /weft.v1.WorkflowService/ListWorkflows HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    try {
      socket.write(request);
      await until(() => /\r\n\r\n\{.*\}$/s.test(received), "the first response", 20_000);
      expect(received).toMatch(/^HTTP\/1\.1 200 /);
      await sleep(4 * REQUEST_TIMEOUT_MS);
      expect(closed).toBe(false);
      received = "";
      socket.write(request);
      await until(() => /\r\n\r\n\{.*\}$/s.test(received), "the second response", 20_000);
      expect(received).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      socket.destroy();
    }
  });

  test("an HTTP/2 session that never sends a request is closed after the header timeout", async () => {
    const session = http2.connect(`http://127.0.0.1:${weft.server.port}`);
    session.on("error", () => {});
    await new Promise<void>((resolve) => session.once("connect", () => resolve()));
    const start = performance.now();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("HTTP/2 session was not closed")), HEADER_TIMEOUT_MS + SLACK_MS);
      session.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    expect(performance.now() - start).toBeGreaterThanOrEqual(HEADER_TIMEOUT_MS - 50);
  });

  test("silent watch streams over HTTP/2 and HTTP/1.1 outlive the timeouts and end normally", async () => {
    const gate = new Gate();
    gated(handlers, "/cl/first", gate);
    const { workflow } = await weft.client.createWorkflow({ id: "limits-watch", steps: [{ id: "first", url: handlers.url("/cl/first") }] });
    const id = workflow!.id;
    const h1 = weft.connectClient("1.1");
    let snapshots = 0;
    const options = { timeoutMs: 60_000, onMessage: (m: { kind: { case?: string } }) => void (m.kind.case === "snapshot" && snapshots++) };
    const overH2 = collectWatch((signal) => weft.client.watchWorkflow({ id }, { signal }), options);
    const overH1 = collectWatch((signal) => h1.watchWorkflow({ id }, { signal }), options);
    await until(() => snapshots === 2, "both watch streams to get their snapshot", 20_000);
    // Several times every timeout (and the HTTP/1.1 checking interval) with nothing on the wire.
    await sleep(4 * REQUEST_TIMEOUT_MS);
    gate.open();
    for (const w of await Promise.all([overH2, overH1])) {
      expect(w.error).toBeUndefined();
      expect(w.ended).toBe(true);
      expect(w.heartbeats).toBe(0);
      expect(w.snapshot?.state).toBe(WorkflowState.RUNNING);
      expect(w.events.some(isTerminalRunEvent)).toBe(true);
    }
  });
});

describe("idle timeout (real server)", () => {
  const IDLE_TIMEOUT_MS = 400;
  let weft: TestWeft;
  beforeAll(async () => {
    weft = await startWeft({
      connections: { max: 100, headerTimeoutMs: 10_000, requestTimeoutMs: 30_000, idleTimeoutMs: IDLE_TIMEOUT_MS },
      watchHeartbeatMs: 100,
    });
  });
  afterAll(async () => {
    await weft?.stop();
  });

  const connect = async () => {
    const session = http2.connect(`http://127.0.0.1:${weft.server.port}`);
    session.on("error", () => {});
    await new Promise<void>((resolve) => session.once("connect", () => resolve()));
    let closed = false;
    let goaway = false;
    session.once("goaway", () => (goaway = true));
    session.once("close", () => (closed = true));
    return { session, closed: () => closed, goaway: () => goaway };
  };
  /** One unary call (Health/Check) on the session, to its end. */
  const healthCheck = (session: http2.ClientHttp2Session) =>
    new Promise<string | undefined>((resolve, reject) => {
      const req = session.request({ ":method": "POST", ":path": "/grpc.health.v1.Health/Check", "content-type": "application/grpc", te: "trailers" });
      let status: string | undefined;
      req.on("trailers", (t) => (status = t["grpc-status"] as string | undefined));
      req.on("error", reject);
      req.on("data", () => {});
      req.on("end", () => resolve(status));
      req.end(Buffer.from([0, 0, 0, 0, 0]));
    });

  test("an HTTP/2 session that made a call and then idles is sent GOAWAY and closed", async () => {
    const c = await connect();
    try {
      expect(await healthCheck(c.session)).toBe("0");
      await until(() => c.closed(), "the idle session to be closed", 30_000);
      expect(c.goaway()).toBe(true);
    } finally {
      c.session.destroy();
    }
  });

  test("a session with an open WatchWorkflows stream stays open while the stream lasts, and idles out after", async () => {
    const c = await connect();
    try {
      const req = c.session.request({ ":method": "POST", ":path": "/weft.v1.WorkflowService/WatchWorkflows", "content-type": "application/grpc", te: "trailers" });
      req.on("error", () => {});
      let received = 0;
      req.on("data", (d: Buffer) => (received += d.length));
      req.end(Buffer.from([0, 0, 0, 0, 0]));
      // Heartbeats keep coming; many idle timeouts pass.
      await until(() => received > 0, "a first heartbeat", 20_000);
      const start = received;
      await sleep(6 * IDLE_TIMEOUT_MS);
      expect(c.closed()).toBe(false);
      expect(received).toBeGreaterThan(start);
      // A second call on the same session still works.
      expect(await healthCheck(c.session)).toBe("0");
      req.close(http2.constants.NGHTTP2_CANCEL);
      await until(() => c.closed(), "the session to be closed once idle", 30_000);
    } finally {
      c.session.destroy();
    }
  });
});

describe("connection cap", () => {
  let listener: Listener;
  const drops: number[] = [];
  beforeAll(async () => {
    listener = await listen((_req, res) => res.end("ok"), {
      host: "127.0.0.1",
      port: 0,
      maxConnections: 2,
      onConnectionsDropped: (total) => drops.push(total),
    });
  });
  afterAll(() => listener?.close(500));

  const request = (socket: net.Socket) =>
    new Promise<string>((resolve, reject) => {
      let got = "";
      const onData = (d: Buffer) => {
        got += d.toString("latin1");
        if (got.endsWith("ok")) {
          socket.off("data", onData);
          resolve(got);
        }
      };
      socket.on("data", onData);
      socket.once("close", () => reject(new Error(`closed after ${JSON.stringify(got)}`)));
      socket.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    });
  const connect = async () => {
    const s = net.connect(listener.port, "127.0.0.1");
    s.on("error", () => {});
    await new Promise<void>((resolve) => s.once("connect", () => resolve()));
    return s;
  };

  test("the connection past max-connections is closed at once, counted; the first ones keep working", async () => {
    const first = await connect();
    const second = await connect();
    // Both are served (and so are surely accepted) before the third comes.
    expect(await request(first)).toMatch(/^HTTP\/1\.1 200 /);
    expect(await request(second)).toMatch(/^HTTP\/1\.1 200 /);
    const third = await connect();
    const closed = await new Promise<boolean>((resolve) => {
      third.once("close", () => resolve(true));
      setTimeout(() => resolve(false), SLACK_MS);
    });
    expect(closed).toBe(true);
    expect(drops).toEqual([1]);
    expect(await request(first)).toMatch(/^HTTP\/1\.1 200 /);
    expect(await request(second)).toMatch(/^HTTP\/1\.1 200 /);

    // Once one goes, a new connection is served again.
    second.destroy();
    let served = false;
    for (let i = 0; i < 100 && !served; i++) {
      const next = await connect();
      served = await request(next).then(() => true, () => false);
      next.destroy();
      if (!served) await sleep(100);
    }
    expect(served).toBe(true);
    first.destroy();
  });
});
