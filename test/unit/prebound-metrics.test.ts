// The pre-bound counters and histograms print exactly what prom-client's own
// Counter and Histogram print for the same recordings.
import { Counter, Histogram, Registry } from "prom-client";
import { expect, test } from "vitest";
import { PreboundCounter, PreboundHistogram } from "../../src/metrics/prebound-metrics.ts";

const BUCKETS = [0.001, 0.01, 0.1, 1];
const VALUES = [0.0005, 0.001, 0.002, 0.05, 0.5, 1, 3, 0.0099];

test("a labelled histogram prints as prom-client's", async () => {
  const theirs = new Registry();
  const h = new Histogram({ name: "x_seconds", help: "help", labelNames: ["kind"], buckets: BUCKETS, registers: [theirs] });
  const ours = new Registry();
  const p = new PreboundHistogram("x_seconds", "help", BUCKETS, ours);
  const a = p.cell({ kind: "a" });
  const b = p.cell({ kind: "b" });
  for (const v of VALUES) {
    h.labels("a").observe(v);
    a.observe(v);
  }
  h.labels("b").observe(0.3);
  b.observe(0.3);
  expect(await ours.metrics()).toBe(await theirs.metrics());
});

test("an unlabelled histogram prints as prom-client's", async () => {
  const theirs = new Registry();
  const h = new Histogram({ name: "y_seconds", help: "help", buckets: BUCKETS, registers: [theirs] });
  const ours = new Registry();
  const c = new PreboundHistogram("y_seconds", "help", BUCKETS, ours).cell();
  for (const v of VALUES) {
    h.observe(v);
    c.observe(v);
  }
  expect(await ours.metrics()).toBe(await theirs.metrics());
});

test("a counter prints as prom-client's, one series per label set, each kept once bound", async () => {
  const theirs = new Registry();
  const c = new Counter({ name: "z_total", help: "help", labelNames: ["workflow", "state"], registers: [theirs] });
  const ours = new Registry();
  const p = new PreboundCounter("z_total", "help", ours);
  const done = p.cell("w1\ncompleted", () => ({ workflow: "w1", state: "completed" }));
  expect(p.cell("w1\ncompleted", () => ({ workflow: "other", state: "x" }))).toBe(done);
  for (let i = 0; i < 3; i++) {
    c.labels("w1", "completed").inc();
    done.inc();
  }
  c.labels('we"ird', "failed").inc();
  p.cell("weird", () => ({ workflow: 'we"ird', state: "failed" })).inc();
  expect(await ours.metrics()).toBe(await theirs.metrics());
});
