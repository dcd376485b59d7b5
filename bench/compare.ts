// `node bench/compare.ts`: what one setting costs, as Weft CPU per step, from
// `npm run bench` (bench/run.ts) run in interleaved pairs A B A B … so that a
// shared, noisy machine moves both sides alike. Prints, per scenario, the
// median of each side, B/A, and the spread (min–max) of each side, for Weft's
// CPU per step, steps/s and (latency probes) the lone run's time from create to
// a watcher seeing it complete, then one JSON line. Asserts nothing.
//
// BENCH_COMPARE picks the comparison:
//   metrics  A = --metrics off,  B = --metrics on (the default)
//   tracing  A = tracing off,    B = --tracing otlp to a discarding sink (BENCH_TRACING=sink)
//   synchronous  A = --sqlite-synchronous normal,  B = --sqlite-synchronous full
// BENCH_PAIRS (default 5) pairs; BENCH_ONLY (default chain-10,fanout-100) and
// BENCH_SCALE are passed on to each run, as is the rest of the environment.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

interface Side {
  label: string;
  env: Record<string, string>;
}

const COMPARISONS: Record<string, [Side, Side]> = {
  metrics: [
    { label: "metrics off", env: { BENCH_WEFT_ARGS: "--metrics off" } },
    { label: "metrics on", env: { BENCH_WEFT_ARGS: "--metrics on" } },
  ],
  tracing: [
    { label: "tracing off", env: { BENCH_TRACING: "" } },
    { label: "tracing on (sink)", env: { BENCH_TRACING: "sink" } },
  ],
  synchronous: [
    { label: "synchronous=normal", env: { BENCH_WEFT_ARGS: "--sqlite-synchronous normal" } },
    { label: "synchronous=full", env: { BENCH_WEFT_ARGS: "--sqlite-synchronous full" } },
  ],
};

const which = process.env.BENCH_COMPARE ?? "metrics";
const sides = COMPARISONS[which];
if (!sides) throw new Error(`BENCH_COMPARE must be one of ${Object.keys(COMPARISONS).join(", ")}, got "${which}"`);
const pairs = Number(process.env.BENCH_PAIRS ?? "5");
if (!Number.isInteger(pairs) || pairs < 1 || pairs > 50) throw new Error(`BENCH_PAIRS must be an integer in [1, 50]`);
const only = process.env.BENCH_ONLY ?? "chain-10,fanout-100";

type Figures = Record<string, { cpuUs: number; stepsPerSec: number; loneRunP50Ms?: number }>;

function runOnce(side: Side): Figures {
  const r = spawnSync(process.execPath, ["bench/run.ts"], {
    cwd: ROOT,
    env: { ...process.env, BENCH_ONLY: only, ...side.env },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    timeout: 20 * 60_000,
  });
  if (r.status !== 0) throw new Error(`bench run (${side.label}) failed (${r.status}):\n${r.stderr.slice(-4000)}`);
  const last = r.stdout.trim().split("\n").at(-1)!;
  const json = JSON.parse(last) as {
    scenarios: Record<string, { weftCpuMicrosPerStep: number; stepsPerSec: number; endToEndMs?: { p50: number } }>;
  };
  return Object.fromEntries(
    Object.entries(json.scenarios).map(([k, v]) => [k, { cpuUs: v.weftCpuMicrosPerStep, stepsPerSec: v.stepsPerSec, loneRunP50Ms: v.endToEndMs?.p50 }]),
  );
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const results: [Figures[], Figures[]] = [[], []];
for (let i = 0; i < pairs; i++) {
  // Alternate which side goes first, so neither always runs on the warmer (or busier) half of a pair.
  const order = i % 2 === 0 ? [0, 1] : [1, 0];
  for (const s of order) {
    const f = runOnce(sides[s]);
    results[s].push(f);
    process.stderr.write(`[compare] pair ${i + 1}/${pairs} ${sides[s].label}: ${Object.entries(f).map(([k, v]) => `${k} ${v.cpuUs} µs/step`).join(", ")}\n`);
  }
}

const out: Record<string, unknown> = {};
const lines: string[] = [`${which}: ${pairs} interleaved pairs, median [min–max] of each side, B/A of medians, median of pair ratios [min–max]`];
const fmt = (xs: number[]) => `${median(xs).toFixed(1)} [${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}]`;
/** One figure of one scenario on both sides: the row printed and the JSON kept. */
function compareFigure(scenario: string, figure: string, pick: (f: Figures[string]) => number | undefined): Record<string, unknown> | undefined {
  const a = results[0].map((f) => pick(f[scenario]));
  const b = results[1].map((f) => pick(f[scenario]));
  if (a.some((x) => x === undefined || !Number.isFinite(x)) || b.some((x) => x === undefined || !Number.isFinite(x))) return undefined;
  const [xa, xb] = [a as number[], b as number[]];
  // The ratio of each pair, and its median: pairs ran back to back, so they shared the machine's mood.
  const ratios = xa.map((x, i) => xb[i] / x);
  const row = {
    [sides[0].label]: { median: median(xa), min: Math.min(...xa), max: Math.max(...xa), values: xa },
    [sides[1].label]: { median: median(xb), min: Math.min(...xb), max: Math.max(...xb), values: xb },
    ratioOfMedians: median(xb) / median(xa),
    medianPairRatio: median(ratios),
    pairRatios: ratios.map((r) => Math.round(r * 1000) / 1000),
  };
  lines.push(
    `  ${scenario}, ${figure}: ${sides[0].label} ${fmt(xa)}  |  ${sides[1].label} ${fmt(xb)}  |  B/A ${row.ratioOfMedians.toFixed(3)}, pairs ${row.medianPairRatio.toFixed(3)} [${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}]`,
  );
  return row;
}
for (const scenario of Object.keys(results[0][0])) {
  out[scenario] = {
    cpuMicrosPerStep: compareFigure(scenario, "Weft CPU µs/step", (f) => f.cpuUs),
    stepsPerSec: compareFigure(scenario, "steps/s", (f) => f.stepsPerSec),
    loneRunP50Ms: compareFigure(scenario, "lone run p50 ms (create → watcher sees COMPLETED)", (f) => f.loneRunP50Ms),
  };
}
process.stdout.write(lines.join("\n") + "\n" + JSON.stringify({ compare: which, pairs, only, results: out }) + "\n");
