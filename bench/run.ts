// `npm run bench`: throughput and orchestration overhead of Weft against a
// trivial handler process, plus a raw undici baseline against the same handler.
// Prints a table and, last, one JSON line with every number. Asserts nothing.
//
// Environment: BENCH_SCALE (default 1) scales run and request counts;
// BENCH_WEFT_NODE_ARGS (space-separated) adds Node flags for the Weft process,
// e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
// The store: embedded by default; MONGODB_URI=mongodb://… runs Weft on that
// MongoDB (a fresh database, dropped afterwards); BENCH_STORE=mongo-java-server
// runs it on the in-memory MongoDB-wire server the tests use (a check of the
// code path, not a MongoDB figure).
// Authentication: Weft runs with an API key and every call carries it, as in
// production; BENCH_API_KEY=off runs it without keys (to measure their cost).
// BENCH_ONLY=chain-10,fanout-100,fanout-100-list,chain-10@1,chain-10-10kb,chain-10-10kb-deps,chain-100-10kb,
// chain-100-10kb-deps,map-10000,map-10000-none,raw,watch runs only those parts. The -10kb scenarios answer
// every step with a 10 KB result (BENCH_BIG_RESULT_BYTES); -deps runs them with
// previous_steps = dependencies, the others with the default (all).
// BENCH_WEFT_ARGS (space-separated) adds server flags, e.g. "--metrics off".
// BENCH_TRACING=sink runs Weft with --tracing otlp (http/protobuf, the default
// protocol) exporting to an OTLP/HTTP endpoint in this process that discards
// what it receives (to measure what tracing costs Weft).
// `node bench/compare.ts` runs this benchmark in interleaved A/B pairs.
import { spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { MongoClient } from "mongodb";
import { startMongoJavaServer } from "../test/support/mongo-server.ts";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { benchAuthLabel, benchTransportOptions, weftAuthEnv } from "./auth.ts";
import { Agent, request } from "undici";
import { PreviousSteps, WorkflowService } from "../gen/ts/weft/v1/workflow_pb.js";
import { ConfigError, loadConfig } from "../src/config.ts";
import { type HandlerChild, spawnHandler, spawnWeft, type WeftChild, weftServerArgs } from "./children.ts";
import {
  analyse,
  chainSteps,
  confirmCompleted,
  createRequest,
  drive,
  FINAL_STEP,
  fanoutSteps,
  type Overhead,
  type StepDef,
  type WeftClient,
} from "./scenarios.ts";
import { runWatchFanout, type WatchFanoutResult } from "./watch-fanout.ts";
import { type Dist, dist, ms, num, round, table } from "./stats.ts";

const TARGETS = { stepsPerSec: 5000, overheadP50Ms: 1, overheadP99Ms: 10, loneRunP50Ms: 5 };

const SCALE = (() => {
  const raw = process.env.BENCH_SCALE ?? "1";
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0 || v > 100) throw new Error(`BENCH_SCALE must be a number in (0, 100], got "${raw}"`);
  return v;
})();
const scaled = (base: number, min = 1) => Math.max(min, Math.round(base * SCALE));
const PHASE_LIMIT_MS = 150_000 * Math.max(1, SCALE);
/** Watch fan-out: concurrent watchers on one run, and the run's length. */
const WATCHERS = 1000;
const WATCH_STEPS = 50;
const TOTAL_LIMIT_MS = 900_000 * Math.max(1, SCALE);

interface ScenarioConfig {
  name: string;
  steps: StepDef[];
  runs: number;
  concurrency: number;
  warmupRuns: number;
  /** One run at a time: measures unloaded overhead; no throughput target applies. */
  latencyProbe?: boolean;
  /** The handler path every step calls (default /step, a 37-byte answer; /big answers a 10 KB result). */
  path?: string;
  /** The workflow's previous_steps (default: unset, i.e. all). */
  previousSteps?: PreviousSteps;
  /** The first step's path instead (fanout-100-list: /list, the map scenario's 10,000-number list). */
  firstPath?: string;
}

// Warm-up runs are not measured. They are long enough for a steady state: with
// 200 chain runs of warm-up (2,000 steps) the JIT was still at work and the
// chain measured ~17% more CPU per step than after 1,500.
const SCENARIOS: ScenarioConfig[] = [
  { name: "chain-10", steps: chainSteps(10), runs: scaled(2000, 10), concurrency: 200, warmupRuns: scaled(1500, 10) },
  { name: "fanout-100", steps: fanoutSteps(100), runs: scaled(200, 2), concurrency: 20, warmupRuns: scaled(150, 2) },
  // The fan-out whose first step answers the map scenario's list (~50 KB): every branch's
  // call carries it in previousSteps, as every item of map-10000 does. Like for like with it.
  { name: "fanout-100-list", steps: fanoutSteps(100), runs: scaled(100, 2), concurrency: 20, warmupRuns: scaled(75, 2), firstPath: "/list" },
  // Not a throughput scenario: chain-10 with a single run in flight, so the
  // overhead figures show Weft's own latency rather than queueing at saturation.
  { name: "chain-10 @1", steps: chainSteps(10), runs: scaled(100, 10), concurrency: 1, warmupRuns: scaled(10, 2), latencyProbe: true },
  // Size: every step answers a 10 KB result. Under all (the default) each call
  // carries every earlier result, so a 100-step chain's calls grow to ~1 MB;
  // under dependencies each carries one. Compare weft CPU/step across the rows.
  { name: "chain-10-10kb", steps: chainSteps(10), runs: scaled(600, 10), concurrency: 100, warmupRuns: scaled(400, 10), path: "/big" },
  { name: "chain-10-10kb-deps", steps: chainSteps(10), runs: scaled(600, 10), concurrency: 100, warmupRuns: scaled(400, 10), path: "/big", previousSteps: PreviousSteps.DEPENDENCIES },
  { name: "chain-100-10kb", steps: chainSteps(100), runs: scaled(60, 2), concurrency: 20, warmupRuns: scaled(40, 2), path: "/big" },
  { name: "chain-100-10kb-deps", steps: chainSteps(100), runs: scaled(60, 2), concurrency: 20, warmupRuns: scaled(40, 2), path: "/big", previousSteps: PreviousSteps.DEPENDENCIES },
];
const ONLY = (process.env.BENCH_ONLY ?? "").split(",").map((s) => s.trim().replace(/ /g, "")).filter(Boolean);
const selected = (name: string) => ONLY.length === 0 || ONLY.includes(name.replace(/ /g, ""));
/** Map: start → a map step over MAP_ITEMS items (max_concurrency 200) → end, one run at a time. */
const MAP = { items: 10_000, maxConcurrency: 200, runs: scaled(3, 1), warmupRuns: 1 };
/**
 * The map scenarios: map-10000 under all (each item's call carries the list, like fanout-100-list's
 * branches), map-10000-none with the map step's previous_steps none (an item carries its item and
 * index, like fanout-100's small calls).
 */
const MAPS = [
  { name: "map-10000", previousSteps: undefined, compareWith: "fanout-100-list" },
  { name: "map-10000-none", previousSteps: PreviousSteps.NONE, compareWith: "fanout-100" },
] as const;
type MapScenario = (typeof MAPS)[number];
const RAW = { requests: scaled(20_000, 100), concurrency: 200, warmup: scaled(2000, 50) };

// ---- CPU accounting from /proc (Linux; NaN elsewhere) ------------------------------

const CLK_TCK = (() => {
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const v = Number(r.stdout?.trim());
  return Number.isFinite(v) && v > 0 ? v : 100;
})();

/** user+system CPU time of a process, ms. */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return NaN;
  }
}

interface CpuSample {
  weft: number;
  handler: number;
  bench: number;
}

function sampleCpu(weft: WeftChild, handler: HandlerChild): CpuSample {
  const u = process.cpuUsage();
  return { weft: cpuMs(weft.child.pid), handler: cpuMs(handler.child.pid), bench: (u.user + u.system) / 1000 };
}

/** CPU use over the interval, in % of one core. */
function cpuPercent(a: CpuSample, b: CpuSample, wallMs: number): CpuSample {
  const pct = (x: number, y: number) => (100 * (y - x)) / wallMs;
  return { weft: pct(a.weft, b.weft), handler: pct(a.handler, b.handler), bench: pct(a.bench, b.bench) };
}

// ---- scenarios ---------------------------------------------------------------------

interface ScenarioResult {
  name: string;
  latencyProbe: boolean;
  runs: number;
  stepsPerRun: number;
  concurrency: number;
  warmupRuns: number;
  wallMs: number;
  stepsPerSec: number;
  runsPerSec: number;
  createMs: Dist;
  overhead: Overhead;
  cpuPct: CpuSample;
  /** Weft's CPU time (all its threads) per step executed, µs: steadier than steps/s on a shared machine. */
  weftCpuUsPerStep: number;
  /** Latency probes: from calling CreateWorkflow to a WatchWorkflow stream seeing the run COMPLETED, ms. */
  endToEndMs?: Dist;
}

async function runScenario(client: WeftClient, weft: WeftChild, handler: HandlerChild, sc: ScenarioConfig): Promise<ScenarioResult> {
  const req = createRequest(sc.name, sc.steps, handler.baseUrl);
  if (sc.path) for (const st of req.steps!) st.url = sc.path;
  if (sc.firstPath) req.steps![0].url = sc.firstPath;
  if (sc.previousSteps !== undefined) req.previousSteps = sc.previousSteps;
  log(`${sc.name}: warm-up, ${sc.warmupRuns} runs`);
  const warm = await drive(client, handler, req, sc.warmupRuns, sc.concurrency, Date.now() + PHASE_LIMIT_MS);
  await confirmCompleted(client, warm.runIds, Date.now() + 60_000);
  await handler.get("/reset");

  log(`${sc.name}: ${sc.runs} runs × ${sc.steps.length} steps, ${Math.min(sc.concurrency, sc.runs)} in flight`);
  const cpu0 = sampleCpu(weft, handler);
  // A latency probe also watches each run: the lone run's time end to end, as a client waiting for it sees it.
  const phase = await drive(client, handler, req, sc.runs, sc.concurrency, Date.now() + PHASE_LIMIT_MS, { watchCompletion: sc.latencyProbe });
  const cpu1 = sampleCpu(weft, handler);
  const cpuWall = Date.now() - phase.startWall;
  const latestCompleted = await confirmCompleted(client, phase.runIds, Date.now() + 60_000);
  const wallMs = Math.max(latestCompleted, phase.lastFinalWall) - phase.startWall;
  const records = await handler.get("/records");
  const overhead = analyse(records, phase.runIds, sc.steps);
  await handler.get("/reset");
  const steps = sc.runs * sc.steps.length;
  return {
    name: sc.name,
    latencyProbe: sc.latencyProbe === true,
    runs: sc.runs,
    stepsPerRun: sc.steps.length,
    concurrency: Math.min(sc.concurrency, sc.runs),
    warmupRuns: sc.warmupRuns,
    wallMs,
    stepsPerSec: steps / (wallMs / 1000),
    runsPerSec: sc.runs / (wallMs / 1000),
    createMs: dist(phase.createMs),
    overhead,
    cpuPct: cpuPercent(cpu0, cpu1, cpuWall),
    weftCpuUsPerStep: ((cpu1.weft - cpu0.weft) * 1000) / steps,
    ...(sc.latencyProbe ? { endToEndMs: dist(phase.endToEndMs) } : {}),
  };
}

interface MapResult {
  name: MapScenario["name"];
  compareWith: MapScenario["compareWith"];
  runs: number;
  items: number;
  wallMs: number;
  itemsPerSec: number;
  cpuPct: CpuSample;
  /** Weft's CPU time per call of the run (items + start + end), µs: compare with fanout-100's per step. */
  weftCpuUsPerItem: number;
}

/** 1 → MAP.items → 1 as a map step, MAP.runs runs one after the other (each already has 200 calls in flight). */
async function runMap(client: WeftClient, weft: WeftChild, handler: HandlerChild, sc: MapScenario): Promise<MapResult> {
  const steps: StepDef[] = [
    { id: "start", dependsOn: [], parallel: false },
    { id: "map", dependsOn: ["start"], parallel: false },
    { id: FINAL_STEP, dependsOn: ["map"], parallel: false },
  ];
  const req = createRequest(sc.name, steps, handler.baseUrl);
  req.steps![0].url = "/list";
  req.steps![1].forEach = "/start/result/items";
  req.steps![1].maxConcurrency = MAP.maxConcurrency;
  if (sc.previousSteps !== undefined) req.steps![1].previousSteps = sc.previousSteps;
  log(`${sc.name}: warm-up, ${MAP.warmupRuns} run`);
  const warm = await drive(client, handler, req, MAP.warmupRuns, 1, Date.now() + PHASE_LIMIT_MS);
  await confirmCompleted(client, warm.runIds, Date.now() + 60_000);
  await handler.get("/reset");
  log(`${sc.name}: ${MAP.runs} runs × ${MAP.items} items, max_concurrency ${MAP.maxConcurrency}, one run at a time`);
  const cpu0 = sampleCpu(weft, handler);
  const phase = await drive(client, handler, req, MAP.runs, 1, Date.now() + PHASE_LIMIT_MS);
  const cpu1 = sampleCpu(weft, handler);
  const cpuWall = Date.now() - phase.startWall;
  const latest = await confirmCompleted(client, phase.runIds, Date.now() + 60_000);
  const wallMs = Math.max(latest, phase.lastFinalWall) - phase.startWall;
  await handler.get("/reset");
  const calls = MAP.runs * (MAP.items + 2);
  return {
    name: sc.name,
    compareWith: sc.compareWith,
    runs: MAP.runs,
    items: MAP.items,
    wallMs,
    itemsPerSec: (MAP.runs * MAP.items) / (wallMs / 1000),
    cpuPct: cpuPercent(cpu0, cpu1, cpuWall),
    weftCpuUsPerItem: ((cpu1.weft - cpu0.weft) * 1000) / calls,
  };
}

interface RawResult {
  requests: number;
  concurrency: number;
  wallMs: number;
  requestsPerSec: number;
  latencyMs: Dist;
  cpuPct: CpuSample;
}

async function rawPhase(agent: Agent, url: string, total: number, concurrency: number, deadlineMs: number, latencies?: number[]): Promise<number> {
  const completedAt = new Date().toISOString();
  let next = 0;
  const worker = async () => {
    while (next < total) {
      if (Date.now() > deadlineMs) throw new Error(`raw baseline deadline passed after ${next} requests`);
      const i = next++;
      const runId = `raw_${i}`;
      const body =
        `{"workflowId":"bench-raw","runId":"${runId}","workflow":"bench-raw","stepId":"s01","attempt":1,` +
        `"context":{"bench":"raw","tenant":"acme","amount":42},` +
        `"previousSteps":{"s00":{"result":{"ok":true},"completedAt":"${completedAt}","attempts":1}}}`;
      const t = performance.now();
      const res = await request(url, {
        method: "POST",
        headers: { "content-type": "application/json", "weft-run-id": runId, "weft-step-id": "s01" },
        body,
        dispatcher: agent,
      });
      const text = await res.body.text();
      latencies?.push(performance.now() - t);
      if (res.statusCode !== 200 || !(JSON.parse(text) as { success?: boolean }).success) {
        throw new Error(`raw baseline: HTTP ${res.statusCode} ${text}`);
      }
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return performance.now() - start;
}

async function runRaw(weft: WeftChild, handler: HandlerChild): Promise<RawResult> {
  const agent = new Agent({ connections: RAW.concurrency, keepAliveTimeout: 30_000 });
  try {
    const url = `${handler.baseUrl}/step`;
    log(`raw undici baseline: warm-up ${RAW.warmup} requests`);
    await rawPhase(agent, url, RAW.warmup, RAW.concurrency, Date.now() + PHASE_LIMIT_MS);
    await handler.get("/reset");
    log(`raw undici baseline: ${RAW.requests} requests, ${RAW.concurrency} in flight`);
    const latencies: number[] = [];
    const cpu0 = sampleCpu(weft, handler);
    const wallMs = await rawPhase(agent, url, RAW.requests, RAW.concurrency, Date.now() + PHASE_LIMIT_MS, latencies);
    const cpu1 = sampleCpu(weft, handler);
    await handler.get("/reset");
    return {
      requests: RAW.requests,
      concurrency: RAW.concurrency,
      wallMs,
      requestsPerSec: RAW.requests / (wallMs / 1000),
      latencyMs: dist(latencies),
      cpuPct: cpuPercent(cpu0, cpu1, wallMs),
    };
  } finally {
    await agent.close();
  }
}

// ---- output ------------------------------------------------------------------------

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

const mark = (ok: boolean) => (ok ? "met" : "NOT met");
const pct = (x: number) => (Number.isFinite(x) ? `${Math.round(x)}%` : "n/a");

function roundDist(d: Dist): Record<string, number> {
  return { n: d.n, p50: round(d.p50, 4), p90: round(d.p90, 4), p99: round(d.p99, 4), max: round(d.max, 4), mean: round(d.mean, 4) };
}

function report(
  machine: Record<string, unknown>,
  results: ScenarioResult[],
  raw: RawResult | undefined,
  watch: WatchFanoutResult | undefined,
  maps: MapResult[],
  totalMs: number,
): void {
  const out: string[] = [];
  out.push("");
  out.push(`Weft benchmark  (BENCH_SCALE=${SCALE})`);
  out.push(`node ${machine.node}  |  ${machine.cpuModel} × ${machine.cpuCount}  |  ${machine.memGiB} GiB  |  ${machine.platform}`);
  out.push(`store: ${storeLabel}; Weft --log-level warn; ${benchAuthLabel}; handler: separate process`);
  out.push("");
  out.push("Throughput (closed loop; wall = first create → last run completed)");
  out.push(
    table([
      ["scenario", "runs", "steps/run", "in flight", "wall", "steps/s", "runs/s", "create p50", "create p99", "CPU weft/handler/bench", "weft CPU/step"],
      ...results.map((r) => [
        r.name,
        num(r.runs),
        String(r.stepsPerRun),
        String(r.concurrency),
        `${(r.wallMs / 1000).toFixed(2)} s`,
        num(r.stepsPerSec),
        num(r.runsPerSec, 1),
        ms(r.createMs.p50),
        ms(r.createMs.p99),
        `${pct(r.cpuPct.weft)} / ${pct(r.cpuPct.handler)} / ${pct(r.cpuPct.bench)}`,
        Number.isFinite(r.weftCpuUsPerStep) ? `${Math.round(r.weftCpuUsPerStep)} µs` : "n/a",
      ]),
      ...(raw ? [
        [
          "raw undici → handler",
          "-",
          "-",
          String(raw.concurrency),
          `${(raw.wallMs / 1000).toFixed(2)} s`,
          `${num(raw.requestsPerSec)} req/s`,
          "-",
          `${ms(raw.latencyMs.p50)} (rtt)`,
          `${ms(raw.latencyMs.p99)} (rtt)`,
          `${pct(raw.cpuPct.weft)} / ${pct(raw.cpuPct.handler)} / ${pct(raw.cpuPct.bench)}`,
          "-",
        ],
      ] : []),
    ]),
  );
  const cpuOf = (name: string) => results.find((r) => r.name === name)?.weftCpuUsPerStep;
  const sizeRows = [["chain-100-10kb-deps", "chain-10-10kb-deps"], ["chain-100-10kb", "chain-10-10kb"], ["chain-10-10kb", "chain-10"]]
    .map(([a, b]) => [a, b, cpuOf(a), cpuOf(b)] as const)
    .filter(([, , x, y]) => x !== undefined && y !== undefined);
  if (sizeRows.length > 0) {
    out.push("");
    out.push("Size: weft CPU per step, ratios between scenarios (previous_steps dependencies: chain-100-10kb-deps / chain-10-10kb-deps ≤ 1.5× is the aim)");
    for (const [a, b, x, y] of sizeRows) out.push(`  ${a} / ${b}: ${Math.round(x!)} / ${Math.round(y!)} µs = ${(x! / y!).toFixed(2)}×`);
  }
  out.push("");
  out.push("Orchestration overhead per dependent step: handler received it − latest dependency response written (handler clock)");
  out.push(
    table([
      ["scenario", "samples", "p50", "p90", "p99", "max", "mean", "requests/expected", "dup", "missing"],
      ...results.map((r) => {
        const o = r.overhead;
        return [
          r.name,
          num(o.overheadMs.n),
          ms(o.overheadMs.p50),
          ms(o.overheadMs.p90),
          ms(o.overheadMs.p99),
          ms(o.overheadMs.max),
          ms(o.overheadMs.mean),
          `${num(o.requests)}/${num(o.expected)}`,
          String(o.duplicates),
          String(o.missing),
        ];
      }),
    ]),
  );
  out.push("(chain-10 @1: one run in flight, i.e. Weft's latency without queueing; the other rows are closed loops at saturation)");
  out.push("");
  out.push("Design targets");
  const rows: string[][] = [["target", ...results.map((r) => r.name)]];
  rows.push([
    `step executions/s ≥ ${num(TARGETS.stepsPerSec)}`,
    ...results.map((r) =>
      r.latencyProbe ? "n/a (1 run in flight)" : `${num(r.stepsPerSec)} (${mark(r.stepsPerSec >= TARGETS.stepsPerSec)})`,
    ),
  ]);
  rows.push([
    `overhead p50 ≤ ${TARGETS.overheadP50Ms} ms`,
    ...results.map((r) => `${ms(r.overhead.overheadMs.p50)} (${mark(r.overhead.overheadMs.p50 <= TARGETS.overheadP50Ms)})`),
  ]);
  rows.push([
    `overhead p99 ≤ ${TARGETS.overheadP99Ms} ms`,
    ...results.map((r) => `${ms(r.overhead.overheadMs.p99)} (${mark(r.overhead.overheadMs.p99 <= TARGETS.overheadP99Ms)})`),
  ]);
  rows.push([
    `lone run, create → watcher sees COMPLETED, p50 ≤ ${TARGETS.loneRunP50Ms} ms`,
    ...results.map((r) => (r.endToEndMs ? `${ms(r.endToEndMs.p50)} (${mark(r.endToEndMs.p50 <= TARGETS.loneRunP50Ms)})` : "n/a")),
  ]);
  out.push(table(rows));
  for (const r of results.filter((x) => x.endToEndMs)) {
    const e = r.endToEndMs!;
    out.push(`${r.name}: create → watcher sees COMPLETED p50 ${ms(e.p50)}, p90 ${ms(e.p90)}, p99 ${ms(e.p99)}, max ${ms(e.max)} (${num(r.runs)} runs)`);
  }
  out.push("");
  if (watch) {
    out.push("Watch fan-out: WatchWorkflow streams on one run; latency = watcher received − event timestamp (taken just before commit)");
    out.push(
      table([
        ["watchers", "connections", "transitions", "delivered/expected", "p50", "p90", "p99", "max", "connect all", "wall"],
        [
          num(watch.watchers),
          String(watch.connections),
          String(watch.transitions),
          `${num(watch.delivered)}/${num(watch.expected)}`,
          ms(watch.latencyMs.p50),
          ms(watch.latencyMs.p90),
          ms(watch.latencyMs.p99),
          ms(watch.latencyMs.max),
          ms(watch.connectMs),
          ms(watch.wallMs),
        ],
      ]),
    );
    out.push("");
  }
  if (maps.length > 0) {
    out.push(`Map steps: start → ${num(MAP.items)} items (max_concurrency ${MAP.maxConcurrency}) → end, one run at a time; weft CPU per item beside the fan-out whose calls carry as much`);
    out.push(
      table([
        ["scenario", "runs", "wall", "items/s", "CPU weft/handler/bench", "weft CPU/item", "compared with", "its weft CPU/step", "ratio"],
        ...maps.map((map) => {
          const fan = results.find((r) => r.name === map.compareWith);
          return [
            map.name,
            String(map.runs),
            ms(map.wallMs),
            num(Math.round(map.itemsPerSec)),
            `${pct(map.cpuPct.weft)} / ${pct(map.cpuPct.handler)} / ${pct(map.cpuPct.bench)}`,
            `${Math.round(map.weftCpuUsPerItem)} µs`,
            map.compareWith,
            fan ? `${Math.round(fan.weftCpuUsPerStep)} µs` : "not run",
            fan ? `${(map.weftCpuUsPerItem / fan.weftCpuUsPerStep).toFixed(2)}×` : "",
          ];
        }),
      ]),
    );
    out.push("");
  }
  out.push(`total benchmark time: ${(totalMs / 1000).toFixed(1)} s`);
  process.stdout.write(out.join("\n") + "\n");

  const json = {
    bench: "weft",
    scale: SCALE,
    machine,
    targets: TARGETS,
    scenarios: Object.fromEntries(
      results.map((r) => [
        r.name,
        {
          runs: r.runs,
          stepsPerRun: r.stepsPerRun,
          stepExecutions: r.runs * r.stepsPerRun,
          concurrency: r.concurrency,
          warmupRuns: r.warmupRuns,
          wallMs: round(r.wallMs, 1),
          stepsPerSec: round(r.stepsPerSec, 1),
          runsPerSec: round(r.runsPerSec, 2),
          createMs: roundDist(r.createMs),
          overheadMs: roundDist(r.overhead.overheadMs),
          handlerRequests: r.overhead.requests,
          expectedRequests: r.overhead.expected,
          duplicateRequests: r.overhead.duplicates,
          missingRecords: r.overhead.missing,
          handlerSpanMs: round(r.overhead.handlerSpanMs, 1),
          cpuPercentOfOneCore: { weft: round(r.cpuPct.weft, 1), handler: round(r.cpuPct.handler, 1), bench: round(r.cpuPct.bench, 1) },
          weftCpuMicrosPerStep: round(r.weftCpuUsPerStep, 1),
          latencyProbe: r.latencyProbe,
          endToEndMs: r.endToEndMs && roundDist(r.endToEndMs),
          targetsMet: {
            stepsPerSec: r.latencyProbe ? null : r.stepsPerSec >= TARGETS.stepsPerSec,
            overheadP50: r.overhead.overheadMs.p50 <= TARGETS.overheadP50Ms,
            overheadP99: r.overhead.overheadMs.p99 <= TARGETS.overheadP99Ms,
            loneRunP50: r.endToEndMs ? r.endToEndMs.p50 <= TARGETS.loneRunP50Ms : null,
          },
        },
      ]),
    ),
    rawUndici: raw && {
      requests: raw.requests,
      concurrency: raw.concurrency,
      wallMs: round(raw.wallMs, 1),
      requestsPerSec: round(raw.requestsPerSec, 1),
      latencyMs: roundDist(raw.latencyMs),
      cpuPercentOfOneCore: { weft: round(raw.cpuPct.weft, 1), handler: round(raw.cpuPct.handler, 1), bench: round(raw.cpuPct.bench, 1) },
    },
    watchFanout: watch && {
      watchers: watch.watchers,
      connections: watch.connections,
      transitions: watch.transitions,
      delivered: watch.delivered,
      expected: watch.expected,
      latencyMs: roundDist(watch.latencyMs),
      connectMs: round(watch.connectMs, 1),
      wallMs: round(watch.wallMs, 1),
    },
    maps: Object.fromEntries(
      maps.map((map) => [
        map.name,
        {
          runs: map.runs,
          items: map.items,
          maxConcurrency: MAP.maxConcurrency,
          wallMs: round(map.wallMs, 1),
          itemsPerSec: round(map.itemsPerSec, 1),
          cpuPercentOfOneCore: { weft: round(map.cpuPct.weft, 1), handler: round(map.cpuPct.handler, 1), bench: round(map.cpuPct.bench, 1) },
          weftCpuMicrosPerItem: round(map.weftCpuUsPerItem, 1),
          comparedWith: map.compareWith,
        },
      ]),
    ),
    totalMs: Math.round(totalMs),
  };
  process.stdout.write(JSON.stringify(json) + "\n");
}

// ---- main --------------------------------------------------------------------------

let weft: WeftChild | undefined;
let handler: HandlerChild | undefined;
let dataDir: string | undefined;
let storeLabel = "embedded, fresh temp dir";
let stopStore = async () => {};

/** Weft's store arguments for this run (see the header comment). */
async function storeArgs(): Promise<string[]> {
  let uri = process.env.MONGODB_URI ?? "";
  let kind = "MongoDB at MONGODB_URI";
  if (!uri && process.env.BENCH_STORE === "mongo-java-server") {
    const server = await startMongoJavaServer();
    uri = `${server.uri}`;
    kind = "mongo-java-server (in-memory MongoDB-wire server; not a MongoDB figure)";
    stopStore = () => server.stop();
  } else if (!uri) {
    return [];
  }
  const database = `weft_bench_${randomBytes(4).toString("hex")}`;
  storeLabel = `${kind}, fresh database ${database}`;
  const previous = stopStore;
  stopStore = async () => {
    const client = new MongoClient(uri);
    await client.db(database).dropDatabase().catch(() => {});
    await client.close();
    await previous();
  };
  return ["--mongodb-uri", uri, "--mongodb-database", database];
}

/**
 * The embedded store's synchronous setting Weft runs with, read the way Weft
 * reads it: its own configuration parser, given the flags and environment the
 * process is started with (--sqlite-synchronous / WEFT_SQLITE_SYNCHRONOUS, else the default).
 */
function synchronousInForce(args: string[], env: Record<string, string>): string {
  try {
    return loadConfig(args, { ...process.env, ...env })?.sqliteSynchronous ?? "unknown";
  } catch (err) {
    if (err instanceof ConfigError) return `unknown (${err.message})`;
    throw err;
  }
}

/** An OTLP/HTTP endpoint that reads and discards every export (BENCH_TRACING=sink). */
async function startTraceSink(): Promise<{ env: Record<string, string>; close: () => Promise<void> }> {
  let exports = 0;
  let bytes = 0;
  const server: Server = createServer((req, res) => {
    req.on("data", (c: Buffer) => (bytes += c.length));
    req.on("end", () => {
      exports++;
      // An empty ExportTraceServiceResponse: everything accepted.
      res.writeHead(200, { "content-type": "application/x-protobuf" });
      res.end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const port = (server.address() as AddressInfo).port;
  return {
    env: { WEFT_TRACING: "otlp", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${port}/v1/traces`, OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" },
    close: async () => {
      log(`trace sink: ${exports} exports, ${Math.round(bytes / 1024)} KiB received`);
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

function killEverything(): void {
  weft?.kill();
  handler?.kill();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const cpuList = cpus();
  const machine = {
    node: process.version,
    cpuModel: cpuList[0]?.model.trim() ?? "unknown",
    cpuCount: cpuList.length,
    memGiB: round(totalmem() / 2 ** 30, 1),
    platform: `${process.platform} ${process.arch}`,
  };
  log(`node ${machine.node}, ${machine.cpuModel} × ${machine.cpuCount}, BENCH_SCALE=${SCALE}`);

  dataDir = mkdtempSync(join(tmpdir(), "weft-bench-"));
  handler = await spawnHandler(FINAL_STEP);
  const nodeArgs = (process.env.BENCH_WEFT_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const weftArgs = (process.env.BENCH_WEFT_ARGS ?? "").split(" ").filter(Boolean);
  const sink = process.env.BENCH_TRACING === "sink" ? await startTraceSink() : undefined;
  const serverArgs = [...(await storeArgs()), ...weftArgs];
  const serverEnv = { ...weftAuthEnv(), ...sink?.env };
  if (storeLabel.startsWith("embedded")) storeLabel += `, synchronous=${synchronousInForce(weftServerArgs(0, dataDir, serverArgs), serverEnv)}`;
  if (sink) storeLabel += "; tracing on (OTLP to a discarding sink)";
  weft = await spawnWeft(dataDir, nodeArgs, serverArgs, serverEnv);
  log(`weft on ${weft.baseUrl} (data ${dataDir}), handler on ${handler.baseUrl}`);
  const weftDied = weft.exited.then((code) => {
    throw new Error(`weft exited unexpectedly (${code}):\n${weft?.logs()}`);
  });
  weftDied.catch(() => {});
  const client = createClient(WorkflowService, createGrpcTransport({ baseUrl: weft.baseUrl, ...benchTransportOptions() }));

  const work = (async () => {
    const results: ScenarioResult[] = [];
    for (const sc of SCENARIOS) if (selected(sc.name)) results.push(await runScenario(client, weft!, handler!, sc));
    const maps: MapResult[] = [];
    for (const sc of MAPS) if (selected(sc.name)) maps.push(await runMap(client, weft!, handler!, sc));
    const raw = selected("raw") ? await runRaw(weft!, handler!) : undefined;
    let watch: WatchFanoutResult | undefined;
    if (selected("watch")) {
      log(`watch fan-out: ${WATCHERS} watchers on one run of ${WATCH_STEPS} steps`);
      watch = await runWatchFanout(weft!.baseUrl, handler!, WATCHERS, WATCH_STEPS, Date.now() + PHASE_LIMIT_MS);
    }
    return { results, raw, watch, maps };
  })();
  const { results, raw, watch, maps } = await Promise.race([work, weftDied]);

  log("stopping weft (SIGTERM) and the handler");
  const w = weft;
  weft = undefined;
  void weftDied.catch(() => {});
  await w.stop(10_000);
  const warnings = w.logs();
  await handler.stop();
  handler = undefined;
  await sink?.close();
  rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
  await stopStore();
  if (warnings) log(`weft wrote (warn and above):\n${warnings}`);
  report(machine, results, raw, watch, maps, performance.now() - t0);
}

const watchdog = setTimeout(() => {
  process.stderr.write(`[bench] gave up after ${TOTAL_LIMIT_MS / 1000} s\n`);
  killEverything();
  process.exit(1);
}, TOTAL_LIMIT_MS);
watchdog.unref();

process.on("SIGINT", () => {
  killEverything();
  process.exit(130);
});

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`[bench] failed: ${(err as Error)?.stack ?? err}\n`);
    if (weft) process.stderr.write(`[bench] weft output:\n${weft.logs()}\n`);
    killEverything();
    process.exit(1);
  },
);
