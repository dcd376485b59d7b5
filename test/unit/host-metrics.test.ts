// The per-host metrics of the Prometheus adapter: calls waiting by origin, with a
// bounded number of origin label values, and the wait histogram.
import { expect, test } from "vitest";
import { MAX_ORIGIN_LABELS, PrometheusMetrics } from "../../src/metrics/prometheus-metrics.ts";

function sources(waiting: () => [string, number][]) {
  return { runsActive: () => 0, retriesWaiting: () => 0, webhookBacklog: () => 0, watchers: () => 0, hostsWaiting: waiting };
}

const waitingLines = (text: string) => text.split("\n").filter((l) => l.startsWith("weft_host_calls_waiting{"));

test("weft_host_calls_waiting: one value per origin, 0 once an origin has none waiting; origins past the cap count as other", async () => {
  const m = new PrometheusMetrics({ maxWorkflowLabels: 10, defaultMetrics: false });
  let now: [string, number][] = [
    ["https://a.example", 3],
    ["http://127.0.0.1:8080", 1],
  ];
  m.setGaugeSources(sources(() => now));
  expect(waitingLines(await m.registry.metrics())).toEqual([
    'weft_host_calls_waiting{origin="https://a.example"} 3',
    'weft_host_calls_waiting{origin="http://127.0.0.1:8080"} 1',
  ]);
  now = [["https://a.example", 1]];
  expect(waitingLines(await m.registry.metrics())).toEqual([
    'weft_host_calls_waiting{origin="https://a.example"} 1',
    'weft_host_calls_waiting{origin="http://127.0.0.1:8080"} 0',
  ]);
  // Many origins: the first MAX_ORIGIN_LABELS keep their value, the rest are summed as "other".
  now = Array.from({ length: MAX_ORIGIN_LABELS + 50 }, (_, i): [string, number] => [`https://h${i}.example`, 2]);
  const lines = waitingLines(await m.registry.metrics());
  expect(lines.length).toBeLessThanOrEqual(MAX_ORIGIN_LABELS + 1);
  const other = lines.find((l) => l.includes('origin="other"'));
  // Two labels were taken already, so 102 of the 150 spill into "other".
  expect(other).toBe(`weft_host_calls_waiting{origin="other"} ${(MAX_ORIGIN_LABELS + 50 - (MAX_ORIGIN_LABELS - 2)) * 2}`);
});

test("weft_host_wait_seconds counts the calls that waited", async () => {
  const m = new PrometheusMetrics({ maxWorkflowLabels: 10, defaultMetrics: false });
  m.hostWait(0.2);
  m.hostWait(3);
  const text = await m.registry.metrics();
  expect(text).toContain("weft_host_wait_seconds_count 2");
  expect(text).toContain('weft_host_wait_seconds_bucket{le="0.5"} 1');
  // Without a source the gauge has no series.
  expect(waitingLines(text)).toEqual([]);
});
