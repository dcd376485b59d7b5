// Counters and histograms whose recording is a plain add on numbers bound
// once per label set, exposed to a prom-client Registry as metrics it formats
// at scrape time.
//
// Why not prom-client's own Counter and Histogram: a prom-client child from
// .labels() is not pre-bound: each inc() or observe() builds a label/value
// object, validates the labels and makes the label-set's hash string before it
// adds. That is allocation and string work on every step of every run; here a
// step costs a few array writes, and the work of formatting (cumulative
// buckets, label objects) moves to the scrape, which happens every few seconds.
// What /metrics shows is the same text prom-client prints for its own metrics.
import type { Registry } from "prom-client";

/** One labelled time series of a counter: `inc()` is an add. */
export class CounterCell {
  value = 0;
  readonly labels: Readonly<Record<string, string>>;
  constructor(labels: Record<string, string>) {
    this.labels = labels;
  }
  inc(): void {
    this.value++;
  }
}

/** What prom-client's Registry asks a metric for (the shape of its own metrics' get()). */
interface MetricData {
  name: string;
  help: string;
  type: "counter" | "histogram";
  values: { labels: Record<string, string | number>; sharedLabels?: Readonly<Record<string, string>>; value: number; metricName?: string }[];
  aggregator: "sum";
}

abstract class RegisteredMetric {
  readonly name: string;
  readonly help: string;
  abstract readonly type: "counter" | "histogram";
  readonly aggregator = "sum" as const;

  constructor(name: string, help: string, registry: Registry) {
    this.name = name;
    this.help = help;
    // The registry keeps any object with a name and get(); its text formatting reads get()'s values.
    registry.registerMetric(this as never);
  }

  abstract get(): Promise<MetricData>;
}

export class PreboundCounter extends RegisteredMetric {
  readonly type = "counter" as const;
  private readonly cells = new Map<string, CounterCell>();

  /** The cell of one label set (made on first use, kept): callers keep it and call inc(). */
  cell(key: string, labels: () => Record<string, string>): CounterCell {
    let c = this.cells.get(key);
    if (c === undefined) {
      c = new CounterCell(labels());
      this.cells.set(key, c);
    }
    return c;
  }

  get(): Promise<MetricData> {
    const values = [...this.cells.values()].map((c) => ({ labels: { ...c.labels }, value: c.value }));
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }
}

/** One labelled series of a histogram: `observe()` finds the bucket and adds. */
export class HistogramCell {
  /** Per-bucket (not cumulative) counts; the last slot is above every bound (+Inf). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  private readonly bounds: readonly number[];
  readonly labels: Readonly<Record<string, string>>;

  constructor(bounds: readonly number[], labels: Record<string, string>) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
    this.labels = labels;
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }
}

export class PreboundHistogram extends RegisteredMetric {
  readonly type = "histogram" as const;
  private readonly bounds: readonly number[];
  private readonly cells: HistogramCell[] = [];

  constructor(name: string, help: string, buckets: readonly number[], registry: Registry) {
    super(name, help, registry);
    this.bounds = [...buckets].sort((a, b) => a - b);
  }

  /** A series with these labels ({} for an unlabelled histogram); call once per label set and keep it. */
  cell(labels: Record<string, string> = {}): HistogramCell {
    const c = new HistogramCell(this.bounds, labels);
    this.cells.push(c);
    return c;
  }

  get(): Promise<MetricData> {
    const values: MetricData["values"] = [];
    const bucket = `${this.name}_bucket`;
    for (const c of this.cells) {
      // As prom-client prints its histograms: `le` first, then the series' own labels.
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += c.counts[i];
        values.push({ labels: { le }, sharedLabels: c.labels, value: acc, metricName: bucket });
      });
      values.push({ labels: { le: "+Inf" }, sharedLabels: c.labels, value: c.count, metricName: bucket });
      values.push({ labels: {}, sharedLabels: c.labels, value: c.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: c.labels, value: c.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }
}
