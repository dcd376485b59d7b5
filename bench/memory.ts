// `npm run bench:memory`: Weft's memory with many runs in flight, and after
// they drain. Starts Weft (embedded store, an API key on every call) and the
// benchmark handler, whose /hold path answers nothing until it is opened: every
// run is a chain whose first step calls /hold, so the runs stay in flight
// (BENCH_MEMORY_RUNS of them, default 100,000; at most --host-max-inflight calls
// are out at once, the rest wait in Weft's queue for that origin). Prints Weft's
// memory idle, with every run in flight (per run above idle), and 5, 15 and 30 s
// after every run has completed, each as its resident set (RSS) and its parts:
// anonymous memory, of it V8's heap (committed and in use, from Weft's
// /metrics), and mapped files (the database); then one JSON line. Asserts
// nothing.
//
// BENCH_MEMORY_RUNS, BENCH_MEMORY_STEPS (chain length, default 3),
// BENCH_MEMORY_CREATES (CreateWorkflow calls in flight, default 100),
// BENCH_WEFT_ARGS (server flags, e.g. "--drain-gc off"),
// BENCH_MEMORY_SNAPSHOT (a directory: Weft writes a V8 heap snapshot there with
// every run in flight, before the drain; its nodes' sizes are what is live).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { WorkflowService } from "../gen/ts/weft/v1/workflow_pb.js";
import { benchAuthHeaders, benchTransportOptions, weftAuthEnv } from "./auth.ts";
import { type HandlerChild, spawnHandler, spawnWeft, type WeftChild } from "./children.ts";
import { chainSteps, createRequest, FINAL_STEP } from "./scenarios.ts";
import { sleep } from "./stats.ts";

const RUNS = Number(process.env.BENCH_MEMORY_RUNS ?? 100_000);
const STEPS = Number(process.env.BENCH_MEMORY_STEPS ?? 3);
const CREATES = Number(process.env.BENCH_MEMORY_CREATES ?? 100);
const SNAPSHOT_DIR = process.env.BENCH_MEMORY_SNAPSHOT;
const LIMIT_MS = 60 * 60_000;
const MiB = 1024 * 1024;
/** When memory is read after the last run completed, seconds. */
const AFTER_DRAIN_S = [5, 15, 30];

const log = (m: string) => process.stderr.write(`[bench:memory] ${m}\n`);

interface Memory {
  /** VmRSS, VmHWM, RssAnon and RssFile of the process, bytes (Linux). */
  rss: number;
  peak: number;
  anon: number;
  file: number;
  /** V8's heap, committed and in use, bytes (Weft's /metrics). */
  heapTotal: number;
  heapUsed: number;
}

async function memoryOf(w: WeftChild): Promise<Memory> {
  const status = readFileSync(`/proc/${w.child.pid}/status`, "utf8");
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  const metrics = await (await fetch(`${w.baseUrl}/metrics`, { headers: benchAuthHeaders() })).text();
  const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)`, "m").exec(metrics)?.[1] ?? NaN);
  return {
    rss: kb("VmRSS"),
    peak: kb("VmHWM"),
    anon: kb("RssAnon"),
    file: kb("RssFile"),
    heapTotal: gauge("nodejs_heap_size_total_bytes"),
    heapUsed: gauge("nodejs_heap_size_used_bytes"),
  };
}

/** Runs that ended otherwise than completed (Weft's /metrics). */
async function runsFailed(w: WeftChild): Promise<number> {
  const metrics = await (await fetch(`${w.baseUrl}/metrics`, { headers: benchAuthHeaders() })).text();
  let n = 0;
  for (const m of metrics.matchAll(/^weft_runs_finished_total\{[^}]*state="(failed|cancelled)"[^}]*\} (\d+)/gm)) n += Number(m[2]);
  return n;
}

const mib = (bytes: number) => (bytes / MiB).toFixed(1);
const describe = (m: Memory) => `RSS ${mib(m.rss)} MiB (anonymous ${mib(m.anon)}, of it V8 heap ${mib(m.heapTotal)} with ${mib(m.heapUsed)} in use; files ${mib(m.file)})`;
const round = (n: number) => Math.round(n * 10) / 10;
const inMiB = (m: Memory) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, round(v / MiB)]));

let weft: WeftChild | undefined;
let handler: HandlerChild | undefined;
let dataDir: string | undefined;

async function main(): Promise<void> {
  if (!Number.isInteger(RUNS) || RUNS < 1 || !Number.isInteger(STEPS) || STEPS < 2) throw new Error("BENCH_MEMORY_RUNS ≥ 1 and BENCH_MEMORY_STEPS ≥ 2, integers");
  dataDir = mkdtempSync(join(tmpdir(), "weft-bench-memory-"));
  handler = await spawnHandler(FINAL_STEP);
  const weftArgs = (process.env.BENCH_WEFT_ARGS ?? "").split(" ").filter(Boolean);
  if (SNAPSHOT_DIR) mkdirSync(SNAPSHOT_DIR, { recursive: true });
  const nodeArgs = SNAPSHOT_DIR ? ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${SNAPSHOT_DIR}`] : [];
  weft = await spawnWeft(dataDir, nodeArgs, weftArgs, weftAuthEnv());
  const client = createClient(WorkflowService, createGrpcTransport({ baseUrl: weft.baseUrl, ...benchTransportOptions() }));
  const request = createRequest("memory", chainSteps(STEPS), handler.baseUrl);
  request.steps![0].url = "/hold";
  // Held for as long as creating every run takes (minutes on a loaded machine): no attempt may time out meanwhile.
  request.steps![0].timeout = { seconds: BigInt(LIMIT_MS / 1000) };

  let completed = 0;
  handler.onFinal(() => completed++);
  await sleep(2000);
  const idle = await memoryOf(weft);
  log(`idle: ${describe(idle)}; creating ${RUNS} runs of ${STEPS} steps, the first held`);

  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CREATES, RUNS) }, async () => {
      while (next < RUNS) {
        next++;
        await client.createWorkflow(request);
      }
    }),
  );
  const createS = (performance.now() - t0) / 1000;
  // Let the last creates' first steps be dispatched or queued, and the heap settle.
  let held = Number(await handler.get("/held"));
  for (let i = 0; i < 20 && held === 0; i++) {
    await sleep(250);
    held = Number(await handler.get("/held"));
  }
  await sleep(3000);
  const inFlight = await memoryOf(weft);
  held = Number(await handler.get("/held"));
  log(`${RUNS} runs in flight after ${createS.toFixed(1)} s (${held} calls held at the handler): ${describe(inFlight)}`);
  if (SNAPSHOT_DIR) {
    const before = new Set(readdirSync(SNAPSHOT_DIR));
    weft.child.kill("SIGUSR2");
    // The snapshot is written on Weft's main thread: it answers again once the file is complete.
    while (!readdirSync(SNAPSHOT_DIR).some((f) => !before.has(f) && f.endsWith(".heapsnapshot"))) await sleep(100);
    await runsFailed(weft);
    log(`heap snapshot written to ${SNAPSHOT_DIR}`);
  }

  const t1 = performance.now();
  await handler.get("/open");
  const deadline = Date.now() + LIMIT_MS;
  while (completed < RUNS) {
    if (Date.now() > deadline) throw new Error(`only ${completed} of ${RUNS} runs reached their last step`);
    const failed = await runsFailed(weft);
    if (failed > 0) throw new Error(`${failed} runs failed (see Weft's log); ${completed} of ${RUNS} reached their last step`);
    await sleep(500);
  }
  const drainS = (performance.now() - t1) / 1000;
  const drained: Memory[] = [];
  let waited = 0;
  for (const at of AFTER_DRAIN_S) {
    await sleep((at - waited) * 1000);
    waited = at;
    const m = await memoryOf(weft);
    drained.push(m);
    log(`${at} s after the drain (${drainS.toFixed(1)} s): ${describe(m)}`);
  }

  const perRunKiB = (inFlight.rss - idle.rss) / RUNS / 1024;
  const lines = [
    `Memory: ${RUNS.toLocaleString("en-US")} runs of ${STEPS} steps in flight (first step held by the handler)${weftArgs.length ? `, ${weftArgs.join(" ")}` : ""}`,
    `  idle                 ${describe(idle)}`,
    `  all runs in flight   ${describe(inFlight)}`,
    `                       ${perRunKiB.toFixed(1)} KiB per run above idle; created in ${createS.toFixed(1)} s`,
    ...AFTER_DRAIN_S.map((at, i) => `  ${`${at} s after drain`.padEnd(20)} ${describe(drained[i])}`),
    `  peak RSS ${mib(drained.at(-1)!.peak)} MiB; drained in ${drainS.toFixed(1)} s`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  process.stdout.write(
    `${JSON.stringify({
      bench: "memory",
      runs: RUNS,
      steps: STEPS,
      weftArgs,
      idleMiB: inMiB(idle),
      inFlightMiB: inMiB(inFlight),
      perRunKiB: round(perRunKiB),
      afterDrainMiB: Object.fromEntries(AFTER_DRAIN_S.map((at, i) => [`${at}s`, inMiB(drained[i])])),
      createSeconds: round(createS),
      drainSeconds: round(drainS),
    })}\n`,
  );
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`[bench:memory] failed: ${err instanceof Error ? err.stack : String(err)}\n${weft?.logs() ?? ""}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await weft?.stop();
    await handler?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });
