// `node bench/metrics-micro.ts`: what recording a step's metrics costs, in
// nanoseconds, alone: the calls the engine makes per step of a chain (one
// attempt, one orchestration overhead, one store commit; a run created and
// finished every 10 steps) on the Prometheus adapter, beside the same
// recordings made on prom-client's own Counter and Histogram children (the
// adapter before its series were pre-bound). A step costs Weft ~200–400 µs of
// CPU (`npm run bench`), so this bounds the metrics' share far more tightly
// than end-to-end runs on a noisy machine can. Asserts nothing.
import { Counter, Histogram, Registry } from "prom-client";
import { PrometheusMetrics } from "../src/metrics/prometheus-metrics.ts";

const STEPS = 2_000_000;
const ROUNDS = 5;

function promClientStep(): (i: number) => void {
  const registers = [new Registry()];
  const created = new Counter({ name: "c", help: "h", labelNames: ["workflow"], registers });
  const finished = new Counter({ name: "f", help: "h", labelNames: ["workflow", "state"], registers });
  const attempts = new Counter({ name: "a", help: "h", labelNames: ["kind", "outcome", "reason"], registers });
  const seconds = new Histogram({ name: "s", help: "h", labelNames: ["kind"], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300], registers });
  const fast = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
  const overhead = new Histogram({ name: "o", help: "h", buckets: fast, registers });
  const commit = new Histogram({ name: "m", help: "h", buckets: fast, registers });
  // Bound once, as the adapter did.
  const c = created.labels("bench");
  const f = finished.labels("bench", "completed");
  const ok = attempts.labels("step", "ok", "");
  const s = seconds.labels("step");
  return (i) => {
    if (i % 10 === 0) c.inc();
    s.observe(0.002 + (i % 7) * 0.001);
    ok.inc();
    overhead.observe(0.0003);
    commit.observe(0.0002);
    if (i % 10 === 9) f.inc();
  };
}

function adapterStep(): (i: number) => void {
  const m = new PrometheusMetrics({ maxWorkflowLabels: 200, defaultMetrics: false });
  return (i) => {
    if (i % 10 === 0) m.runCreated("bench");
    m.attempt("step", true, "", 0.002 + (i % 7) * 0.001);
    m.overhead(0.0003);
    m.storeCommit(0.0002);
    if (i % 10 === 9) m.runFinished("bench", "completed");
  };
}

function measure(step: (i: number) => void): number {
  for (let i = 0; i < 200_000; i++) step(i); // warm-up
  const t = process.cpuUsage();
  for (let i = 0; i < STEPS; i++) step(i);
  const d = process.cpuUsage(t);
  return ((d.user + d.system) * 1000) / STEPS;
}

const results: Record<string, number[]> = { "prom-client children": [], "Weft adapter (pre-bound)": [] };
for (let r = 0; r < ROUNDS; r++) {
  results["prom-client children"].push(measure(promClientStep()));
  results["Weft adapter (pre-bound)"].push(measure(adapterStep()));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const [k, v] of Object.entries(results)) {
  process.stdout.write(`${k}: ${median(v).toFixed(0)} ns CPU per step (median of ${ROUNDS}; ${v.map((x) => x.toFixed(0)).join(", ")})\n`);
}
process.stdout.write(JSON.stringify({ bench: "metrics-micro", nsPerStep: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)])) }) + "\n");
