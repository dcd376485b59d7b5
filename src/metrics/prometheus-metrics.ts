// The Prometheus adapter of the EngineMetrics port (prom-client), with one
// registry per server: the engine's counters and histograms, gauges read at
// scrape time, and prom-client's default process metrics.
// The engine's counters and histograms are pre-bound (prebound-metrics.ts): a
// series is looked up once per label set and kept, so recording a step is a
// map lookup at most and a few adds, with no allocation.
import { Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { LabelCap } from "../domain/label-cap.ts";
import type { RunState } from "../domain/run-record.ts";
import type { CallKind, EngineMetrics } from "../ports/metrics.ts";
import { type CounterCell, type HistogramCell, PreboundCounter, PreboundHistogram } from "./prebound-metrics.ts";

/** Values read when Prometheus scrapes. */
export interface GaugeSources {
  runsActive(): number;
  retriesWaiting(): number;
  webhookBacklog(): number;
  watchers(): number;
  /** Calls waiting for their host's limits, by origin (origins with none may be left out). */
  hostsWaiting?(): Iterable<[string, number]>;
}

export interface PrometheusMetricsOptions {
  /** Distinct workflow ids with a label value of their own; later ones are "other". */
  maxWorkflowLabels: number;
  /** prom-client's default process metrics (CPU, memory, event loop lag, GC...). Default true. */
  defaultMetrics?: boolean;
}

/** Failure reasons come from Weft's code (a fixed set); the cap only guards against a mistake. */
const MAX_REASON_LABELS = 64;
/** Handler origins are users' data: the first ones seen get their own label value, later ones are "other". */
export const MAX_ORIGIN_LABELS = 100;

// Seconds: handler calls are milliseconds to minutes; overhead and commits are sub-millisecond to seconds.
const ATTEMPT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
// A wait for a host's limits: a fraction of a handler call to as long as a large fan-out takes.
const WAIT_BUCKETS = [0.001, 0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];
const FAST_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class PrometheusMetrics implements EngineMetrics {
  readonly registry = new Registry();
  readonly #workflows: LabelCap;
  readonly #reasons = new LabelCap(MAX_REASON_LABELS);
  readonly #created: PreboundCounter;
  readonly #finished: PreboundCounter;
  readonly #attempts: PreboundCounter;
  readonly #overhead: HistogramCell;
  readonly #commit: HistogramCell;
  readonly #hostWait: HistogramCell;
  readonly #origins = new LabelCap(MAX_ORIGIN_LABELS);
  /** Per workflow label value: its created counter, and its finished counters by state. */
  readonly #byWorkflow = new Map<string, { created: CounterCell; finished: Map<string, CounterCell> }>();
  /** Successful calls by kind; failed calls by kind, then by (capped) reason. */
  readonly #attemptsOk: Record<CallKind, CounterCell>;
  readonly #attemptsFailed: Record<CallKind, Map<string, CounterCell>> = { step: new Map(), compensation: new Map(), webhook: new Map() };
  readonly #attemptSeconds: Record<CallKind, HistogramCell>;
  #sources: GaugeSources | undefined;

  constructor(options: PrometheusMetricsOptions) {
    const registry = this.registry;
    const registers = [registry];
    this.#workflows = new LabelCap(options.maxWorkflowLabels);
    this.#created = new PreboundCounter("weft_runs_created_total", "Runs created, by workflow id", registry);
    this.#finished = new PreboundCounter(
      "weft_runs_finished_total",
      "Runs that reached a terminal state, by workflow id and state (completed, failed, cancelled)",
      registry,
    );
    this.#attempts = new PreboundCounter(
      "weft_attempts_total",
      "Finished HTTP calls, by kind (step, compensation, webhook), outcome (ok, failed) and failure reason",
      registry,
    );
    const ok = (kind: CallKind) => this.#attempts.cell(`${kind}\nok`, () => ({ kind, outcome: "ok", reason: "" }));
    this.#attemptsOk = { step: ok("step"), compensation: ok("compensation"), webhook: ok("webhook") };
    const attemptSeconds = new PreboundHistogram("weft_attempt_duration_seconds", "Duration of one HTTP call (step, compensation or webhook attempt)", ATTEMPT_BUCKETS, registry);
    this.#attemptSeconds = {
      step: attemptSeconds.cell({ kind: "step" }),
      compensation: attemptSeconds.cell({ kind: "compensation" }),
      webhook: attemptSeconds.cell({ kind: "webhook" }),
    };
    this.#overhead = new PreboundHistogram(
      "weft_orchestration_overhead_seconds",
      "From what made a call ready (a dependency's result, the run's start, a retry timer firing) to the call being sent, store commit included",
      FAST_BUCKETS,
      registry,
    ).cell();
    this.#commit = new PreboundHistogram("weft_store_commit_duration_seconds", "Duration of one store commit of a run's changes", FAST_BUCKETS, registry).cell();
    this.#hostWait = new PreboundHistogram(
      "weft_host_wait_seconds",
      "How long a call that had to wait for its host's limits (in-flight calls or calls per second) waited before it was sent",
      WAIT_BUCKETS,
      registry,
    ).cell();
    const gauge = (name: string, help: string, read: (s: GaugeSources) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(self.#sources ? read(self.#sources) : 0);
        },
      });
    const self = this;
    gauge("weft_runs_active", "Runs this server is driving (unfinished, or with a webhook to deliver)", (s) => s.runsActive());
    gauge("weft_retries_waiting", "Step and compensation attempts waiting for their retry delay", (s) => s.retriesWaiting());
    gauge("weft_webhook_backlog", "Finished runs whose on_complete/on_error webhook is not delivered yet", (s) => s.webhookBacklog());
    gauge("weft_watchers", "Open WatchWorkflow/WatchWorkflows subscriptions", (s) => s.watchers());
    const origins = this.#origins;
    const reported = new Set<string>();
    new Gauge({
      name: "weft_host_calls_waiting",
      help: `Calls waiting for their host's limits, by handler origin (the first ${MAX_ORIGIN_LABELS} origins get their own value, later ones count as "other")`,
      labelNames: ["origin"],
      registers,
      collect() {
        const totals = new Map<string, number>();
        const read = self.#sources?.hostsWaiting;
        if (read) {
          for (const [origin, n] of read.call(self.#sources)) {
            const l = origins.label(origin);
            totals.set(l, (totals.get(l) ?? 0) + n);
          }
        }
        // An origin that no longer has calls waiting reads 0 rather than vanishing.
        for (const l of reported) if (!totals.has(l)) this.set({ origin: l }, 0);
        for (const [l, n] of totals) {
          this.set({ origin: l }, n);
          reported.add(l);
        }
      },
    });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  }

  /** Where the gauges read from (set once the engine exists). */
  setGaugeSources(sources: GaugeSources): void {
    this.#sources = sources;
  }

  #workflow(workflowId: string) {
    const w = this.#workflows.label(workflowId);
    let entry = this.#byWorkflow.get(w);
    if (entry === undefined) {
      entry = { created: this.#created.cell(w, () => ({ workflow: w })), finished: new Map() };
      this.#byWorkflow.set(w, entry);
    }
    return entry;
  }

  runCreated(workflowId: string): void {
    this.#workflow(workflowId).created.inc();
  }

  runFinished(workflowId: string, state: RunState): void {
    const entry = this.#workflow(workflowId);
    let c = entry.finished.get(state);
    if (c === undefined) {
      const w = this.#workflows.label(workflowId);
      c = this.#finished.cell(`${w}\n${state}`, () => ({ workflow: w, state }));
      entry.finished.set(state, c);
    }
    c.inc();
  }

  attempt(kind: CallKind, ok: boolean, reason: string, seconds: number): void {
    this.#attemptSeconds[kind].observe(seconds);
    if (ok) {
      this.#attemptsOk[kind].inc();
      return;
    }
    const byReason = this.#attemptsFailed[kind];
    const r = this.#reasons.label(reason);
    let c = byReason.get(r);
    if (c === undefined) {
      c = this.#attempts.cell(`${kind}\nfailed\n${r}`, () => ({ kind, outcome: "failed", reason: r }));
      byReason.set(r, c);
    }
    c.inc();
  }

  overhead(seconds: number): void {
    this.#overhead.observe(seconds);
  }

  storeCommit(seconds: number): void {
    this.#commit.observe(seconds);
  }

  hostWait(seconds: number): void {
    this.#hostWait.observe(seconds);
  }
}
