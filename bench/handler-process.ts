// A trivial step handler, run as its own process by the benchmark
// (`process.execPath bench/handler-process.ts`, with an IPC channel).
//
// Every POST is answered at once with {"success":true,"result":{"ok":true}}.
// Per request it records, on one clock (process.hrtime.bigint(), in ns since
// this process started): when the request was fully received and when the
// response was written. Recording is a few stores into preallocated arrays.
//
// Requests are keyed by the Weft-Run-Id / Weft-Step-Id headers that Weft sends
// with every attempt (the body is parsed only when they are missing).
//
// POST /list answers a list of BENCH_MAP_ITEMS numbers instead (the map scenario's
// first step); POST /big a result of BENCH_BIG_RESULT_BYTES (default 10240) bytes
// of JSON (the size scenarios).
//
// Control endpoints (GET): /records (tab-separated lines), /reset, /stats,
// /release, which answers every POST to /hold that has been waiting (the watch
// benchmark holds a run's first step until its watchers are connected), /open,
// which does that and answers every later /hold at once, and /held (how many wait).
// IPC: sends {type:"listening",port} once, then the run id of every request
// for the step named by BENCH_FINAL_STEP (default "end"), after answering it.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

const FINAL_STEP = process.env.BENCH_FINAL_STEP ?? "end";
const REPLY = Buffer.from('{"success":true,"result":{"ok":true}}');
const REPLY_HEADERS = { "content-type": "application/json", "content-length": String(REPLY.length) };
const T0 = process.hrtime.bigint();
/** POST /list answers {"items": [0, 1, …]} with this many items (the map scenario's first step). */
const LIST_ITEMS = Number(process.env.BENCH_MAP_ITEMS ?? 10_000);
const LIST_REPLY = Buffer.from(JSON.stringify({ success: true, result: { items: Array.from({ length: LIST_ITEMS }, (_, i) => i) } }));
const LIST_HEADERS = { "content-type": "application/json", "content-length": String(LIST_REPLY.length) };

/** POST /big answers {"success":true,"result":{"data":"xxx…"}}, the result this many bytes of JSON. */
const BIG_RESULT_BYTES = Math.max(12, Number(process.env.BENCH_BIG_RESULT_BYTES ?? 10_240));
const BIG_REPLY = Buffer.from(`{"success":true,"result":{"data":"${"x".repeat(BIG_RESULT_BYTES - 11)}"}}`);
const BIG_HEADERS = { "content-type": "application/json", "content-length": String(BIG_REPLY.length) };

let capacity = Math.max(1024, Number(process.env.BENCH_HANDLER_CAPACITY ?? 131_072));
let count = 0;
let runIds: string[] = new Array<string>(capacity);
let stepIds: string[] = new Array<string>(capacity);
let received = new Float64Array(capacity);
let written = new Float64Array(capacity);
/** Hard bound on what is kept (requests beyond it are answered but not recorded). */
const MAX_RECORDS = 4_000_000;
let dropped = 0;

function nowNs(): number {
  return Number(process.hrtime.bigint() - T0);
}

function grow(): boolean {
  if (capacity >= MAX_RECORDS) return false;
  const next = Math.min(capacity * 2, MAX_RECORDS);
  const r = new Float64Array(next);
  r.set(received);
  const w = new Float64Array(next);
  w.set(written);
  received = r;
  written = w;
  runIds.length = next;
  stepIds.length = next;
  capacity = next;
  return true;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === "string" ? v : undefined;
}

const held: ServerResponse[] = [];
/** After GET /open, /hold no longer holds. */
let open = false;

function onPost(req: IncomingMessage, res: ServerResponse): void {
  if (req.url === "/hold" && !open) {
    req.resume();
    req.on("end", () => held.push(res));
    return;
  }
  let runId = header(req, "weft-run-id");
  let stepId = header(req, "weft-step-id");
  const needBody = runId === undefined || stepId === undefined;
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => {
    if (needBody) chunks.push(c);
  });
  req.on("end", () => {
    const recvNs = nowNs();
    if (needBody) {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { runId?: unknown; stepId?: unknown };
        runId = String(body.runId ?? "");
        stepId = String(body.stepId ?? "");
      } catch {
        runId = "";
        stepId = "";
      }
    }
    if (req.url === "/list") {
      res.writeHead(200, LIST_HEADERS);
      res.end(LIST_REPLY);
    } else if (req.url === "/big") {
      res.writeHead(200, BIG_HEADERS);
      res.end(BIG_REPLY);
    } else {
      res.writeHead(200, REPLY_HEADERS);
      res.end(REPLY);
    }
    const sentNs = nowNs();
    if (count < capacity || grow()) {
      runIds[count] = runId!;
      stepIds[count] = stepId!;
      received[count] = recvNs;
      written[count] = sentNs;
      count++;
    } else {
      dropped++;
    }
    if (stepId === FINAL_STEP && process.send) process.send(runId);
  });
}

function onGet(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? "/").split("?")[0];
  if (path === "/records") {
    const lines: string[] = new Array<string>(count);
    for (let i = 0; i < count; i++) {
      lines[i] = `${runIds[i]}\t${stepIds[i]}\t${received[i]}\t${written[i]}`;
    }
    const body = lines.join("\n");
    res.writeHead(200, { "content-type": "text/plain", "content-length": String(Buffer.byteLength(body)) });
    res.end(body);
    return;
  }
  if (path === "/held") {
    const body = String(held.length);
    res.writeHead(200, { "content-type": "text/plain", "content-length": String(body.length) });
    res.end(body);
    return;
  }
  if (path === "/release" || path === "/open") {
    if (path === "/open") open = true;
    for (const r of held.splice(0)) {
      r.writeHead(200, REPLY_HEADERS);
      r.end(REPLY);
    }
  } else if (path === "/reset") {
    for (let i = 0; i < count; i++) {
      runIds[i] = "";
      stepIds[i] = "";
    }
    count = 0;
    dropped = 0;
  } else if (path !== "/stats") {
    res.writeHead(404).end();
    return;
  }
  const body = JSON.stringify({ count, dropped, capacity });
  res.writeHead(200, { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) });
  res.end(body);
}

const server = createServer((req, res) => {
  if (req.method === "POST") onPost(req, res);
  else onGet(req, res);
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
server.requestTimeout = 0;

server.listen(0, "127.0.0.1", () => {
  const port = (server.address() as AddressInfo).port;
  if (process.send) process.send({ type: "listening", port });
  else process.stdout.write(JSON.stringify({ msg: "handler listening", port }) + "\n");
});

// The benchmark owns this process: when it goes away, so do we.
process.on("disconnect", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
