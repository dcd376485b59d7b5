// OpenTelemetry traces end to end: a spawned Weft with --tracing otlp exports
// its spans over OTLP/HTTP (JSON) to a receiver in this test; step handlers and
// webhooks get a W3C traceparent whose trace is the run's; a caller's
// traceparent makes the run join the caller's trace; after kill -9 the
// attempts made by the next process parent to the same run span.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, expect, test } from "vitest";
import { Backoff, WebhookState, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { HandlerServer, type RecordedCall } from "../support/handler-server.ts";
import { kill9, spawnWeft, stopWeft, type WeftProcess } from "../support/weft-process.ts";
import { startWeft, waitForRun } from "../support/weft.ts";
import { describeMongo, newTestDbName } from "../support/mongo-server.ts";

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startMs: number;
  attributes: Record<string, unknown>;
  status: { code?: number; message?: string };
  events: { name: string; attributes: Record<string, unknown> }[];
  serviceName: unknown;
}

type OtlpValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
type OtlpAttr = { key: string; value: OtlpValue };

const attrs = (list: OtlpAttr[] | undefined): Record<string, unknown> =>
  Object.fromEntries((list ?? []).map((a) => [a.key, a.value.stringValue ?? (a.value.intValue !== undefined ? Number(a.value.intValue) : (a.value.boolValue ?? a.value.doubleValue))]));

/** A collector's OTLP/HTTP traces endpoint that keeps what it receives (JSON protocol). */
class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  private server!: Server;
  endpoint = "";

  static async start(): Promise<OtlpReceiver> {
    const r = new OtlpReceiver();
    r.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        if (req.url === "/v1/traces" && req.headers["content-type"]?.startsWith("application/json")) {
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
            resourceSpans: { resource: { attributes: OtlpAttr[] }; scopeSpans: { spans: Record<string, unknown>[] }[] }[];
          };
          for (const rs of body.resourceSpans ?? []) {
            const resource = attrs(rs.resource?.attributes);
            for (const ss of rs.scopeSpans ?? []) {
              for (const s of ss.spans ?? []) {
                r.spans.push({
                  traceId: s.traceId as string,
                  spanId: s.spanId as string,
                  parentSpanId: (s.parentSpanId as string | undefined) ?? "",
                  name: s.name as string,
                  kind: s.kind as number,
                  startMs: Number(BigInt(s.startTimeUnixNano as string) / 1_000_000n),
                  attributes: attrs(s.attributes as OtlpAttr[]),
                  status: (s.status as ReceivedSpan["status"]) ?? {},
                  events: ((s.events as { name: string; attributes: OtlpAttr[] }[]) ?? []).map((e) => ({ name: e.name, attributes: attrs(e.attributes) })),
                  serviceName: resource["service.name"],
                });
              }
            }
          }
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{}");
      });
    });
    await new Promise<void>((ok) => r.server.listen(0, "127.0.0.1", ok));
    r.endpoint = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}/v1/traces`;
    return r;
  }

  forRun(runId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.attributes["weft.run_id"] === runId);
  }

  /** Polls until pred holds for the spans received. */
  async waitFor<T>(what: string, pred: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = pred();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; received: ${JSON.stringify(this.spans.map((s) => s.name))}`);
      await new Promise((ok) => setTimeout(ok, 20));
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }
}

/** traceparent = version-traceid-parentid-flags */
function parseTraceparent(value: unknown): { traceId: string; spanId: string; flags: string } {
  expect(value).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  const [, traceId, spanId, flags] = (value as string).split("-");
  return { traceId, spanId, flags };
}

let handlers: HandlerServer;
let receiver: OtlpReceiver;
const dirs: string[] = [];
const procs: WeftProcess[] = [];

beforeAll(async () => {
  handlers = await HandlerServer.start();
  receiver = await OtlpReceiver.start();
});

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null) await kill9(p);
  await handlers?.close();
  await receiver?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function tracedWeft(dir?: string, args: string[] = []): Promise<{ p: WeftProcess; dir: string }> {
  const d = dir ?? mkdtempSync(join(tmpdir(), "weft-tracing-"));
  if (!dir) dirs.push(d);
  const p = await spawnWeft(d, ["--tracing", "otlp", "--webhook-initial-backoff-ms", "50", ...args], {
    env: {
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: "50",
      OTEL_SERVICE_NAME: "weft-under-test",
    },
  });
  procs.push(p);
  return { p, dir: d };
}

const retry = (maxAttempts: number) => ({ maxAttempts, backoff: Backoff.FIXED, initialInterval: durationFromMs(50) });
const one = (calls: RecordedCall[]) => {
  expect(calls).toHaveLength(1);
  return calls[0];
};

test("a run joins the caller's trace: CreateWorkflow span, run span, one span per attempt, and each handler's traceparent is its attempt's span", async () => {
  const { p } = await tracedWeft();
  const path = "/traced";
  handlers.on(`${path}/b`, (call) => (call.body.attempt === 1 ? { status: 503, text: "busy" } : { json: { success: true, result: "ok" } }));
  const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
  const callerSpan = "00f067aa0ba902b7";
  const { workflow } = await p.client.createWorkflow(
    {
      id: "traced",
      steps: [
        { id: "a", url: handlers.url(`${path}/a`) },
        { id: "b", url: handlers.url(`${path}/b`), dependsOn: ["a"], retries: retry(3) },
      ],
      onComplete: handlers.url(`${path}/done`),
    },
    { headers: { traceparent: `00-${callerTrace}-${callerSpan}-01`, tracestate: "vendor=abc" } },
  );
  const runId = workflow!.id;
  const done = await waitForRun(p.client, runId, (w) => w.webhook?.state === WebhookState.DELIVERED);
  expect(done.state).toBe(WorkflowState.COMPLETED);

  const run = await receiver.waitFor("the run span", () => receiver.forRun(runId).find((s) => s.name === "workflow traced"));
  const rpc = receiver.spans.find((s) => s.name === "weft.v1.WorkflowService/CreateWorkflow" && s.attributes["weft.run_id"] === runId);
  expect(rpc).toBeDefined();
  // The CreateWorkflow span is a child of the caller's span; the run span of the CreateWorkflow span.
  expect(rpc!).toMatchObject({ traceId: callerTrace, parentSpanId: callerSpan, kind: 2 /* SERVER */ });
  expect(run).toMatchObject({ traceId: callerTrace, parentSpanId: rpc!.spanId, serviceName: "weft-under-test" });
  expect(run.attributes).toMatchObject({ "weft.workflow_id": "traced", "weft.run.state": "completed", "weft.webhook.state": "delivered" });

  const attempts = await receiver.waitFor("4 attempt spans", () => {
    const a = receiver.forRun(runId).filter((s) => s !== run && s !== rpc);
    return a.length >= 4 && a;
  });
  expect(attempts.map((s) => s.name).sort()).toEqual(["step a", "step b", "step b", "webhook workflow.completed"]);
  for (const s of attempts) expect(s).toMatchObject({ traceId: callerTrace, parentSpanId: run.spanId, kind: 3 /* CLIENT */ });
  const [b1, b2] = attempts.filter((s) => s.name === "step b").sort((x, y) => Number(x.attributes["weft.attempt"]) - Number(y.attributes["weft.attempt"]));
  expect(b1.attributes).toMatchObject({ "weft.step_id": "b", "weft.attempt": 1, "http.response.status_code": 503, "error.type": "http_status" });
  expect(b1.status.code).toBe(2 /* ERROR */);
  expect(b1.events.map((e) => e.name)).toEqual(["retry_scheduled"]);
  expect(b2.attributes).toMatchObject({ "weft.step_id": "b", "weft.attempt": 2 });
  expect(b2.status.code ?? 0).not.toBe(2);

  // Every call carried its own attempt span as the parent, in the caller's trace, with the caller's tracestate.
  const received = [one(handlers.callsFor(runId, `${path}/a`)), ...handlers.callsFor(runId, `${path}/b`)];
  const webhook = one(handlers.calls.filter((c) => c.path === `${path}/done`));
  received.push(webhook);
  const spanIds = received.map((c) => {
    const tp = parseTraceparent(c.headers.traceparent);
    expect(tp.traceId).toBe(callerTrace);
    expect(tp.flags).toBe("01");
    expect(c.headers.tracestate).toBe("vendor=abc");
    return tp.spanId;
  });
  const spanOf = (name: string, attempt: number) => attempts.find((s) => s.name === name && s.attributes["weft.attempt"] === attempt)!.spanId;
  expect(spanIds).toEqual([spanOf("step a", 1), spanOf("step b", 1), spanOf("step b", 2), spanOf("webhook workflow.completed", 1)]);
  await stopWeft(p);
});

test("without a caller traceparent the run span starts a trace of its own, which the handlers get", async () => {
  const { p } = await tracedWeft();
  const { workflow } = await p.client.createWorkflow({ id: "untraced-caller", steps: [{ id: "a", url: handlers.url("/own-trace/a") }] });
  const runId = workflow!.id;
  await waitForRun(p.client, runId);
  const run = await receiver.waitFor("the run span", () => receiver.forRun(runId).find((s) => s.name.startsWith("workflow ")));
  expect(run.parentSpanId).toBe("");
  expect(run.traceId).toMatch(/^[0-9a-f]{32}$/);
  const tp = parseTraceparent(one(handlers.callsFor(runId, "/own-trace/a")).headers.traceparent);
  expect(tp.traceId).toBe(run.traceId);
  const attempt = await receiver.waitFor("the attempt span", () => receiver.forRun(runId).find((s) => s.name === "step a"));
  expect(attempt).toMatchObject({ spanId: tp.spanId, parentSpanId: run.spanId, traceId: run.traceId });
  expect(receiver.spans.some((s) => s.name.endsWith("/CreateWorkflow") && s.attributes["weft.run_id"] === runId)).toBe(false);
  await stopWeft(p);
});

test("after kill -9 mid-run, the next process's attempts parent to the same run span, which it exports", async () => {
  const first = await tracedWeft();
  let hang = true;
  handlers.on("/crash-traced/b", () => {
    if (hang) {
      hang = false;
      return { json: { success: true, result: "too late" }, delayMs: 60_000 };
    }
    return { json: { success: true, result: "ok" } };
  });
  const created = Date.now();
  const { workflow } = await first.p.client.createWorkflow({
    id: "crash-traced",
    steps: [
      { id: "a", url: handlers.url("/crash-traced/a") },
      { id: "b", url: handlers.url("/crash-traced/b"), dependsOn: ["a"] },
      { id: "c", url: handlers.url("/crash-traced/c"), dependsOn: ["b"] },
    ],
  });
  const runId = workflow!.id;
  const before = await handlers.waitForCall((c) => c.body.runId === runId && c.path === "/crash-traced/b");
  await kill9(first.p);
  const killedAt = Date.now();
  const beforeTp = parseTraceparent(before.headers.traceparent);

  const second = await tracedWeft(first.dir);
  const done = await waitForRun(second.p.client, runId);
  expect(done.state).toBe(WorkflowState.COMPLETED);
  const run = await receiver.waitFor("the run span", () => receiver.forRun(runId).find((s) => s.name === "workflow crash-traced"));
  // The run span has the trace the first process started, and its creation time.
  expect(run.traceId).toBe(beforeTp.traceId);
  expect(run.startMs).toBeGreaterThanOrEqual(created - 1000);
  expect(run.startMs).toBeLessThanOrEqual(killedAt);
  const after = await receiver.waitFor("the attempts after the restart", () => {
    const s = receiver.forRun(runId).filter((x) => x.name === "step b" || x.name === "step c");
    return s.length >= 2 && s;
  });
  for (const s of after) expect(s).toMatchObject({ traceId: beforeTp.traceId, parentSpanId: run.spanId });
  const bCalls = handlers.callsFor(runId, "/crash-traced/b");
  expect(bCalls).toHaveLength(2);
  const resentTp = parseTraceparent(bCalls[1].headers.traceparent);
  expect(resentTp.traceId).toBe(beforeTp.traceId);
  expect(after.map((s) => s.spanId)).toContain(resentTp.spanId);
  await stopWeft(second.p);
});

test("with tracing off (the default) no traceparent is sent", async () => {
  const weft = await startWeft();
  try {
    const { workflow } = await weft.client.createWorkflow(
      { id: "no-tracing", steps: [{ id: "a", url: handlers.url("/no-tracing/a") }] },
      { headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } },
    );
    await waitForRun(weft.client, workflow!.id);
    const call = one(handlers.callsFor(workflow!.id, "/no-tracing/a"));
    expect(call.headers.traceparent).toBeUndefined();
    expect(call.headers.tracestate).toBeUndefined();
  } finally {
    await weft.stop();
  }
});

test("with tracing off the OpenTelemetry SDK is not even loaded; with it on, it is", async () => {
  const loaded = async (args: string[]): Promise<number> => {
    const dir = mkdtempSync(join(tmpdir(), "weft-tracing-imports-"));
    dirs.push(dir);
    const p = await spawnWeft(dir, args, {
      env: { NODE_OPTIONS: "--import ./test/support/record-otel-imports.ts", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.endpoint },
    });
    procs.push(p);
    const { workflow } = await p.client.createWorkflow({ id: "imports", steps: [{ id: "a", url: handlers.url("/imports/a") }] });
    await waitForRun(p.client, workflow!.id);
    expect(await stopWeft(p)).toBe(0);
    const line = p.logs.join("").match(/opentelemetry SDK modules loaded: (\d+)/);
    expect(line, p.logs.join("").slice(-2000)).not.toBeNull();
    return Number(line![1]);
  };
  expect(await loaded([])).toBe(0);
  expect(await loaded(["--tracing", "otlp"])).toBeGreaterThan(0);
});

describeMongo("tracing across MongoDB replicas", (mongo) => {
  test("a run taken over by another replica after kill -9: its attempts there parent to the run span the first replica chose", async () => {
    const database = newTestDbName();
    const args = ["--mongodb-uri", mongo().uri, "--mongodb-database", database, "--lease-ttl-ms", "2000", "--sweep-interval-ms", "300", "--poll-interval-ms", "20", "--shutdown-grace-ms", "300"];
    const a = await tracedWeft(undefined, args);
    const b = await tracedWeft(undefined, args);
    let hang = true;
    handlers.on("/replica-traced/b", () => {
      if (hang) {
        hang = false;
        return { json: { success: true, result: "too late" }, delayMs: 60_000 };
      }
      return { json: { success: true, result: "ok" } };
    });
    const { workflow } = await a.p.client.createWorkflow(
      {
        id: "replica-traced",
        steps: [
          { id: "a", url: handlers.url("/replica-traced/a") },
          { id: "b", url: handlers.url("/replica-traced/b"), dependsOn: ["a"] },
        ],
      },
      { headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } },
    );
    const runId = workflow!.id;
    await handlers.waitForCall((c) => c.body.runId === runId && c.path === "/replica-traced/b");
    await kill9(a.p);
    const done = await waitForRun(b.p.client, runId, undefined, 60_000);
    expect(done.state).toBe(WorkflowState.COMPLETED);
    const calls = handlers.callsFor(runId, "/replica-traced/b");
    expect(calls).toHaveLength(2);
    const [before, after] = calls.map((c) => parseTraceparent(c.headers.traceparent));
    expect(before.traceId).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(after.traceId).toBe(before.traceId);
    // Replica b exports the run span with the ids replica a stored, and b's attempt is its child.
    const run = await receiver.waitFor("the run span", () => receiver.forRun(runId).find((s) => s.name === "workflow replica-traced"));
    expect(run.traceId).toBe(before.traceId);
    const rpc = receiver.spans.find((s) => s.name.endsWith("/CreateWorkflow") && s.attributes["weft.run_id"] === runId);
    expect(rpc).toMatchObject({ parentSpanId: "b7ad6b7169203331" });
    expect(run.parentSpanId).toBe(rpc!.spanId);
    const resent = await receiver.waitFor("b's attempt span", () => receiver.forRun(runId).find((s) => s.spanId === after.spanId));
    expect(resent).toMatchObject({ name: "step b", parentSpanId: run.spanId, traceId: before.traceId });
    await stopWeft(b.p);
  }, 120_000);
});
