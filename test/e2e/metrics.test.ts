// /metrics, /healthz and /readyz on the API port, and the run/attempt log
// lines: a real server (API keys configured), real step handlers, real HTTP/1.1
// and HTTP/2 requests, pino's output captured in-process.
import { spawnSync } from "node:child_process";
import { connect as connectH2 } from "node:http2";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Backoff, StepState, WebhookState, WorkflowService, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { type Config, loadConfig } from "../../src/config.ts";
import { digestApiKeys } from "../../src/domain/api-keys.ts";
import { type RunningServer, startServer } from "../../src/server/server.ts";
import { HandlerServer } from "../support/handler-server.ts";
import { REPO_ROOT } from "../support/weft-process.ts";
import { TEST_SECRET, waitForRun } from "../support/weft.ts";

const WRITE_KEY = "wk_metrics_5b2d4086aa11f9a1";
const READ_KEY = "rk_metrics_0f4d1b7395bb22c6";

type LogLine = Record<string, unknown> & { msg: string; level: number };

interface Started {
  server: RunningServer;
  baseUrl: string;
  logs: LogLine[];
  stop(): Promise<void>;
}

async function start(overrides: Partial<Config>): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), "weft-metrics-"));
  const base = loadConfig([], {})!;
  const config: Config = { ...base, host: "127.0.0.1", port: 0, dataDir: dir, signingSecrets: [TEST_SECRET], ...overrides };
  const logs: LogLine[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const server = await startServer(config, logger);
  return {
    server,
    baseUrl: `http://127.0.0.1:${server.port}`,
    logs,
    async stop() {
      await server.close(500);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const withKeys = (metrics: Partial<Config["metrics"]> = {}): Partial<Config> => ({
  auth: {
    keys: digestApiKeys([
      { scope: "write", key: WRITE_KEY },
      { scope: "read", key: READ_KEY },
    ]),
    reflection: "auth",
    allowUnauthenticated: false,
  },
  metrics: { enabled: true, auth: "auth", maxWorkflowLabels: 3, ...metrics },
});

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** The value of the sample `name{labels}` in a Prometheus text exposition, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? "").matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) got[k!] = v!;
    if (Object.keys(got).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/** GET over HTTP/2 (cleartext, prior knowledge). */
function h2Get(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const session = connectH2(baseUrl);
    session.on("error", reject);
    const req = session.request({ ":method": "GET", ":path": path, ...headers });
    let status = 0;
    let body = "";
    req.on("response", (h) => (status = Number(h[":status"])));
    req.setEncoding("utf8");
    req.on("data", (d: string) => (body += d));
    req.on("end", () => {
      session.close();
      resolve({ status, body });
    });
    req.on("error", reject);
    req.end();
  });
}

describe("metrics, health endpoints and logs (API keys configured)", () => {
  let weft: Started;
  let handlers: HandlerServer;
  const runIds: Record<string, string> = {};

  beforeAll(async () => {
    handlers = await HandlerServer.start();
    handlers.on("/flaky", (call) => (call.body.attempt === 1 ? { status: 503, text: "busy" } : { json: { success: true, result: 1 } }));
    handlers.on("/bad", () => ({ status: 400, text: "no" }));
    handlers.on("/ok", () => ({ json: { success: true } }));
    weft = await start(withKeys());
    const client = createClient(
      WorkflowService,
      createGrpcTransport({ baseUrl: weft.baseUrl, interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${WRITE_KEY}`), next(req))] }),
    );
    const create = async (workflowId: string, steps: { id: string; url: string; dependsOn?: string[]; retries?: object }[]) => {
      const { workflow } = await client.createWorkflow({ id: workflowId, steps });
      runIds[workflowId] = workflow!.id;
    };
    await create("wf-a", [
      { id: "flaky", url: handlers.url("/flaky"), retries: { maxAttempts: 3, backoff: Backoff.FIXED, initialInterval: durationFromMs(50) } },
      { id: "after", url: handlers.url("/ok"), dependsOn: ["flaky"] },
    ]);
    await create("wf-b", [{ id: "bad", url: handlers.url("/bad"), retries: { maxAttempts: 3, backoff: Backoff.FIXED, initialInterval: durationFromMs(50) } }]);
    for (const id of ["wf-c", "wf-d", "wf-e"]) await create(id, [{ id: "only", url: handlers.url("/ok") }]);
    for (const id of Object.values(runIds)) await waitForRun(client, id);
    expect((await client.getWorkflow({ id: runIds["wf-a"] })).workflow!.state).toBe(WorkflowState.COMPLETED);
    expect((await client.getWorkflow({ id: runIds["wf-b"] })).workflow!.state).toBe(WorkflowState.FAILED);
  });
  afterAll(async () => {
    await weft?.stop();
    await handlers?.close();
  });

  it("GET /metrics over HTTP/1.1 with a read key counts runs, attempts and latencies with their labels", async () => {
    const res = await fetch(`${weft.baseUrl}/metrics`, { headers: bearer(READ_KEY) });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    // Runs: a cap of 3 workflow ids, the 4th and 5th are "other".
    expect(sample(text, "weft_runs_created_total", { workflow: "wf-a" })).toBe(1);
    expect(sample(text, "weft_runs_created_total", { workflow: "wf-c" })).toBe(1);
    expect(sample(text, "weft_runs_created_total", { workflow: "other" })).toBe(2);
    expect(sample(text, "weft_runs_created_total", { workflow: "wf-d" })).toBeUndefined();
    const createdLabels = text.split("\n").filter((l) => l.startsWith("weft_runs_created_total{"));
    expect(createdLabels).toHaveLength(4);
    expect(sample(text, "weft_runs_finished_total", { workflow: "wf-a", state: "completed" })).toBe(1);
    expect(sample(text, "weft_runs_finished_total", { workflow: "wf-b", state: "failed" })).toBe(1);
    expect(sample(text, "weft_runs_finished_total", { workflow: "other", state: "completed" })).toBe(2);
    // Attempts: flaky's 503 (retried) and bad's 400 (not retried) failed; 5 succeeded.
    expect(sample(text, "weft_attempts_total", { kind: "step", outcome: "failed", reason: "http_status" })).toBe(2);
    expect(sample(text, "weft_attempts_total", { kind: "step", outcome: "ok", reason: "" })).toBe(5);
    expect(sample(text, "weft_attempt_duration_seconds_count", { kind: "step" })).toBe(7);
    expect(sample(text, "weft_attempt_duration_seconds_bucket", { kind: "step", le: "+Inf" })).toBe(7);
    // Every attempt but bad's was sent after a commit: the run's start, a dependency's result or a retry timer.
    expect(sample(text, "weft_orchestration_overhead_seconds_count")).toBe(7);
    expect(sample(text, "weft_store_commit_duration_seconds_count")).toBeGreaterThanOrEqual(7);
    // Gauges, read at scrape time: everything is finished.
    expect(sample(text, "weft_runs_active")).toBe(0);
    expect(sample(text, "weft_retries_waiting")).toBe(0);
    expect(sample(text, "weft_webhook_backlog")).toBe(0);
    expect(sample(text, "weft_watchers")).toBe(0);
    // prom-client's default process metrics.
    expect(sample(text, "process_cpu_user_seconds_total")).toBeGreaterThan(0);
    expect(text).toContain("nodejs_eventloop_lag_seconds");
    // No run or step ids as labels.
    for (const id of Object.values(runIds)) expect(text).not.toContain(id);
    expect(text).not.toContain("flaky");
  });

  it("GET /metrics without a key, or with an unknown key, is 401 and tells nothing", async () => {
    const none = await fetch(`${weft.baseUrl}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    const body = await none.text();
    expect(body).toContain("missing API key");
    expect(body).not.toContain("weft_");
    const wrong = await fetch(`${weft.baseUrl}/metrics`, { headers: bearer("xk_metrics_0000000000000000") });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).not.toContain("xk_metrics");
    // A write key covers read.
    expect((await fetch(`${weft.baseUrl}/metrics`, { headers: bearer(WRITE_KEY) })).status).toBe(200);
  });

  it("GET /metrics over HTTP/2 with a key", async () => {
    const res = await h2Get(weft.baseUrl, "/metrics", bearer(READ_KEY));
    expect(res.status).toBe(200);
    expect(sample(res.body, "weft_runs_created_total", { workflow: "wf-b" })).toBe(1);
    expect((await h2Get(weft.baseUrl, "/metrics")).status).toBe(401);
  });

  it("/healthz and /readyz answer 200 without a key, over HTTP/1.1 and HTTP/2", async () => {
    for (const path of ["/healthz", "/readyz"]) {
      expect((await fetch(`${weft.baseUrl}${path}`)).status).toBe(200);
      expect((await h2Get(weft.baseUrl, path)).status).toBe(200);
      expect((await fetch(`${weft.baseUrl}${path}`, { method: "HEAD" })).status).toBe(200);
    }
  });

  it("unknown paths still go to Connect (404), and the API still needs its key", async () => {
    expect((await fetch(`${weft.baseUrl}/nope`)).status).toBe(404);
    const rpc = await fetch(`${weft.baseUrl}/weft.v1.WorkflowService/ListWorkflows`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(rpc.status).toBe(401);
  });

  it("logs run creation and finish at info with workflow id, run id, duration, state and reason", () => {
    const created = weft.logs.filter((l) => l.msg === "workflow created");
    expect(created.map((l) => l.workflowId).sort()).toEqual(["wf-a", "wf-b", "wf-c", "wf-d", "wf-e"]);
    expect(created.find((l) => l.workflowId === "wf-a")).toMatchObject({ level: 30, runId: runIds["wf-a"], steps: 2 });
    const finished = weft.logs.filter((l) => l.msg === "workflow finished");
    expect(finished).toHaveLength(5);
    const a = finished.find((l) => l.runId === runIds["wf-a"])!;
    expect(a).toMatchObject({ level: 30, workflowId: "wf-a", state: "completed" });
    expect(typeof a.durationMs).toBe("number");
    const b = finished.find((l) => l.runId === runIds["wf-b"])!;
    expect(b).toMatchObject({ level: 30, workflowId: "wf-b", state: "failed", reason: "step_failed" });
    expect(b.error).toMatchObject({ stepId: "bad" });
  });

  it("logs every failed attempt at info: step, attempt, HTTP status, reason, duration, and whether and when it is retried", () => {
    const failed = weft.logs.filter((l) => l.msg === "step attempt failed");
    expect(failed).toHaveLength(2);
    const flaky = failed.find((l) => l.runId === runIds["wf-a"])!;
    expect(flaky).toMatchObject({ level: 30, kind: "step", stepId: "flaky", attempt: 1, httpStatus: 503, reason: "http_status", retry: true });
    expect(typeof flaky.durationMs).toBe("number");
    expect(Number.isNaN(Date.parse(flaky.retryAt as string))).toBe(false);
    const bad = failed.find((l) => l.runId === runIds["wf-b"])!;
    expect(bad).toMatchObject({ level: 30, stepId: "bad", attempt: 1, httpStatus: 400, reason: "http_status", retry: false });
    expect(bad.retryAt).toBeUndefined();
    // Successful attempts are logged at debug only.
    expect(weft.logs.some((l) => l.msg === "attempt succeeded")).toBe(false);
  });
});

describe("gauges", () => {
  it("count runs active, retries waiting, undelivered webhooks and watchers while they last", async () => {
    const handlers = await HandlerServer.start();
    handlers.on("/down", () => ({ status: 503, text: "down" }));
    handlers.on("/ok", () => ({ json: { success: true } }));
    const w = await start({ webhook: { retryPeriodMs: 3_600_000, initialIntervalMs: 600_000, maxIntervalMs: 600_000, timeoutMs: 5_000 } });
    const abort = new AbortController();
    try {
      const client = createClient(WorkflowService, createGrpcTransport({ baseUrl: w.baseUrl }));
      const long = { maxAttempts: 3, backoff: Backoff.FIXED, initialInterval: durationFromMs(600_000) };
      const { workflow: retrying } = await client.createWorkflow({ id: "gauge-retry", steps: [{ id: "s", url: handlers.url("/down"), retries: long }] });
      const { workflow: notifying } = await client.createWorkflow({ id: "gauge-webhook", steps: [{ id: "s", url: handlers.url("/ok") }], onComplete: handlers.url("/down") });
      // Both wait (the step for its retry, the webhook for its next delivery) for ten minutes.
      await waitForRun(client, retrying!.id, (r) => r.steps[0]?.state === StepState.RETRY_WAIT);
      await waitForRun(client, notifying!.id, (r) => r.webhook?.state === WebhookState.RETRY_WAIT);
      const watching = (async () => {
        for await (const _ of client.watchWorkflows({}, { signal: abort.signal }));
      })().catch(() => {});
      const want = { weft_runs_active: 2, weft_retries_waiting: 1, weft_webhook_backlog: 1, weft_watchers: 1 };
      let got: Record<string, number | undefined> = {};
      for (const end = Date.now() + 20_000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
        const text = await (await fetch(`${w.baseUrl}/metrics`)).text();
        got = Object.fromEntries(Object.keys(want).map((k) => [k, sample(text, k)]));
        if (Object.entries(want).every(([k, v]) => got[k] === v)) break;
      }
      expect(got).toEqual(want);
      await client.cancelWorkflow({ id: retrying!.id });
      abort.abort();
      await watching;
    } finally {
      abort.abort();
      await w.stop();
      await handlers.close();
    }
  });
});

describe("metrics options", () => {
  it("--metrics-auth open serves /metrics without a key even when keys are configured", async () => {
    const w = await start(withKeys({ auth: "open" }));
    try {
      const res = await fetch(`${w.baseUrl}/metrics`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("weft_runs_active");
    } finally {
      await w.stop();
    }
  });

  it("--metrics off: /metrics is not served (404), health endpoints still are", async () => {
    const w = await start({ metrics: { enabled: false, auth: "auth", maxWorkflowLabels: 200 } });
    try {
      expect((await fetch(`${w.baseUrl}/metrics`)).status).toBe(404);
      expect((await fetch(`${w.baseUrl}/healthz`)).status).toBe(200);
    } finally {
      await w.stop();
    }
  });

  it("without keys, /metrics is open", async () => {
    const w = await start({});
    try {
      expect((await fetch(`${w.baseUrl}/metrics`)).status).toBe(200);
    } finally {
      await w.stop();
    }
  });
});

describe("start-up errors", () => {
  it("a configuration error is a JSON log line on stdout, and the human message on stderr", () => {
    const r = spawnSync(process.execPath, ["src/main.ts", "--port", "abc", "--data-dir", tmpdir()], { cwd: REPO_ROOT, encoding: "utf8", timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('weft: port: "abc" is not a whole number');
    const line = JSON.parse(r.stdout.split("\n")[0]!) as LogLine;
    expect(line).toMatchObject({ level: 60, service: "weft", msg: "invalid configuration", reason: "invalid_config", error: 'port: "abc" is not a whole number' });
  });

  it("a failure to start (port in use) is a JSON log line on stdout", async () => {
    const w = await start({});
    const dir = mkdtempSync(join(tmpdir(), "weft-metrics-"));
    try {
      const r = spawnSync(process.execPath, ["src/main.ts", "--port", String(w.server.port), "--data-dir", dir], {
        cwd: REPO_ROOT,
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain("weft: failed to start");
      const line = r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as LogLine).find((l) => l.msg === "failed to start");
      expect(line).toMatchObject({ level: 60, reason: "start_failed" });
      expect((line!.err as { code?: string }).code).toBe("EADDRINUSE");
    } finally {
      await w.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
