// Health/Watch needs no API key and never ends by itself, so the server keeps
// at most MAX_HEALTH_WATCHES of them open at once: one more is refused with
// RESOURCE_EXHAUSTED (Check still answers), and a slot frees when a watch ends.
import http2 from "node:http2";
import { afterAll, beforeAll, expect, test } from "vitest";
import { digestApiKeys } from "../../src/domain/api-keys.ts";
import { MAX_HEALTH_WATCHES } from "../../src/server/health-service.ts";
import { grpcCall } from "../support/raw-rpc.ts";
import { until } from "../support/watch.ts";
import { startWeft, type TestWeft } from "../support/weft.ts";

const WATCH = "/grpc.health.v1.Health/Watch";

let weft: TestWeft;
let session: http2.ClientHttp2Session;

beforeAll(async () => {
  weft = await startWeft({
    auth: { keys: digestApiKeys([{ scope: "write", key: "wk_7e2a9c4b1d3f5680ee55" }]), reflection: "auth", allowUnauthenticated: false },
  });
  session = http2.connect(`http://127.0.0.1:${weft.server.port}`);
  session.on("error", () => {});
});

afterAll(async () => {
  session?.destroy();
  await weft?.stop();
});

interface OpenWatch {
  stream: http2.ClientHttp2Stream;
  /** Bytes of response messages received. */
  received: () => number;
  /** grpc-status once the stream ended with one. */
  status: () => string | undefined;
}

function openWatch(): OpenWatch {
  const stream = session.request({ ":method": "POST", ":path": WATCH, "content-type": "application/grpc", te: "trailers" });
  stream.on("error", () => {});
  let received = 0;
  let status: string | undefined;
  stream.on("data", (d: Buffer) => (received += d.length));
  stream.on("response", (h) => (status ??= h["grpc-status"] as string | undefined));
  stream.on("trailers", (t) => (status = t["grpc-status"] as string | undefined));
  stream.end(Buffer.from([0, 0, 0, 0, 0]));
  return { stream, received: () => received, status: () => status };
}

test(`at most ${MAX_HEALTH_WATCHES} Health/Watch streams at once; one more gets RESOURCE_EXHAUSTED; a slot frees when one ends`, async () => {
  const watches: OpenWatch[] = [];
  try {
    for (let i = 0; i < MAX_HEALTH_WATCHES; i++) watches.push(openWatch());
    // Every one is open: it got its first status and no end.
    await until(() => watches.every((w) => w.received() > 0), "every watch's first status", 30_000);
    expect(watches.every((w) => w.status() === undefined)).toBe(true);

    const extra = openWatch();
    await until(() => extra.status() !== undefined, "the extra watch to end", 30_000);
    expect(extra.status()).toBe("8"); // RESOURCE_EXHAUSTED
    expect(extra.received()).toBe(0);
    // Check is not limited.
    expect((await grpcCall(session, "/grpc.health.v1.Health/Check", new Uint8Array(0))).code).toBe("ok");

    watches.shift()!.stream.close(http2.constants.NGHTTP2_CANCEL);
    // The server notices the cancel asynchronously: retry until a new watch is taken.
    let next: OpenWatch | undefined;
    for (let i = 0; i < 200; i++) {
      next = openWatch();
      await until(() => next!.received() > 0 || next!.status() !== undefined, "the new watch's first answer", 30_000);
      if (next.received() > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(next!.received()).toBeGreaterThan(0);
    expect(next!.status()).toBeUndefined();
    watches.push(next!);
  } finally {
    for (const w of watches) w.stream.close(http2.constants.NGHTTP2_CANCEL);
  }
});
