// `npm run bench:memory`: Weft's memory with many runs in flight, and after
// they drain. Starts Weft (embedded store, an API key on every call) and the
// benchmark handler, whose /hold path answers nothing until it is opened: every
// run is a chain whose first step calls /hold, so the runs stay in flight
// (BENCH_MEMORY_RUNS of them, default 100,000; at most --host-max-inflight calls
// are out at once, the rest wait in Weft's queue for that origin). Prints Weft's
// resident memory (VmRSS) idle, with every run in flight (per run above idle),
// and after the handler is opened and every run has completed, then one JSON
// line. Asserts nothing.
//
// BENCH_MEMORY_RUNS, BENCH_MEMORY_STEPS (chain length, default 3),
// BENCH_MEMORY_CREATES (CreateWorkflow calls in flight, default 100),
// BENCH_WEFT_ARGS (server flags, e.g. "--sqlite-synchronous normal").
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { WorkflowService } from "../gen/ts/weft/v1/workflow_pb.js";
import { benchTransportOptions, weftAuthEnv } from "./auth.ts";
import { type HandlerChild, spawnHandler, spawnWeft, type WeftChild } from "./children.ts";
import { chainSteps, createRequest, FINAL_STEP } from "./scenarios.ts";
import { sleep } from "./stats.ts";

const RUNS = Number(process.env.BENCH_MEMORY_RUNS ?? 100_000);
const STEPS = Number(process.env.BENCH_MEMORY_STEPS ?? 3);
const CREATES = Number(process.env.BENCH_MEMORY_CREATES ?? 100);
const LIMIT_MS = 60 * 60_000;
const MiB = 1024 * 1024;

const log = (m: string) => process.stderr.write(`[bench:memory] ${m}\n`);

/** VmRSS and VmHWM of a process, bytes (Linux). */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

let weft: WeftChild | undefined;
let handler: HandlerChild | undefined;
let dataDir: string | undefined;

async function main(): Promise<void> {
  if (!Number.isInteger(RUNS) || RUNS < 1 || !Number.isInteger(STEPS) || STEPS < 2) throw new Error("BENCH_MEMORY_RUNS ≥ 1 and BENCH_MEMORY_STEPS ≥ 2, integers");
  dataDir = mkdtempSync(join(tmpdir(), "weft-bench-memory-"));
  handler = await spawnHandler(FINAL_STEP);
  const weftArgs = (process.env.BENCH_WEFT_ARGS ?? "").split(" ").filter(Boolean);
  weft = await spawnWeft(dataDir, [], weftArgs, weftAuthEnv());
  const pid = weft.child.pid!;
  const client = createClient(WorkflowService, createGrpcTransport({ baseUrl: weft.baseUrl, ...benchTransportOptions() }));
  const request = createRequest("memory", chainSteps(STEPS), handler.baseUrl);
  request.steps![0].url = "/hold";

  let completed = 0;
  handler.onFinal(() => completed++);
  await sleep(2000);
  const idle = memoryOf(pid);
  log(`idle: RSS ${(idle.rss / MiB).toFixed(1)} MiB; creating ${RUNS} runs of ${STEPS} steps, the first held`);

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
  const inFlight = memoryOf(pid);
  held = Number(await handler.get("/held"));
  log(`${RUNS} runs in flight after ${createS.toFixed(1)} s (${held} calls held at the handler): RSS ${(inFlight.rss / MiB).toFixed(1)} MiB`);

  const t1 = performance.now();
  await handler.get("/open");
  const deadline = Date.now() + LIMIT_MS;
  while (completed < RUNS) {
    if (Date.now() > deadline) throw new Error(`only ${completed} of ${RUNS} runs reached their last step`);
    await sleep(500);
  }
  const drainS = (performance.now() - t1) / 1000;
  await sleep(5000);
  const drained = memoryOf(pid);
  log(`drained in ${drainS.toFixed(1)} s: RSS ${(drained.rss / MiB).toFixed(1)} MiB (peak ${(drained.peak / MiB).toFixed(1)} MiB)`);

  const perRunKiB = (inFlight.rss - idle.rss) / RUNS / 1024;
  const lines = [
    `Memory: ${RUNS.toLocaleString("en-US")} runs of ${STEPS} steps in flight (first step held by the handler)`,
    `  idle                 RSS ${(idle.rss / MiB).toFixed(1)} MiB`,
    `  all runs in flight   RSS ${(inFlight.rss / MiB).toFixed(1)} MiB (${perRunKiB.toFixed(1)} KiB per run above idle; created in ${createS.toFixed(1)} s)`,
    `  after the drain      RSS ${(drained.rss / MiB).toFixed(1)} MiB (peak ${(drained.peak / MiB).toFixed(1)} MiB; drained in ${drainS.toFixed(1)} s)`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  process.stdout.write(
    `${JSON.stringify({
      bench: "memory",
      runs: RUNS,
      steps: STEPS,
      idleRssMiB: idle.rss / MiB,
      inFlightRssMiB: inFlight.rss / MiB,
      perRunKiB,
      drainedRssMiB: drained.rss / MiB,
      peakRssMiB: drained.peak / MiB,
      createSeconds: createS,
      drainSeconds: drainS,
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
