// The Prometheus adapter of the EngineMetrics port (prom-client), with one
// registry per server: the engine's counters and histograms, gauges read at
// scrape time, and prom-client's default process metrics.
// Label children are bound once and kept, so recording is a map lookup and an add.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { LabelCap } from "../domain/label-cap.ts";
import type { RunState } from "../domain/run-record.ts";
import type { CallKind, EngineMetrics } from "../ports/metrics.ts";

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

interface Inc {
  inc(): void;
}
interface Observe {
  observe(v: number): void;
}

export class PrometheusMetrics implements EngineMetrics {
  readonly registry = new Registry();
  readonly #workflows: LabelCap;
  readonly #reasons = new LabelCap(MAX_REASON_LABELS);
  readonly #created: Counter<"workflow">;
  readonly #finished: Counter<"workflow" | "state">;
  readonly #attempts: Counter<"kind" | "outcome" | "reason">;
  readonly #attemptSeconds: Histogram<"kind">;
  readonly #overhead: Observe;
  readonly #commit: Observe;
  readonly #hostWait: Observe;
  readonly #origins = new LabelCap(MAX_ORIGIN_LABELS);
  readonly #createdBy = new Map<string, Inc>();
  readonly #finishedBy = new Map<string, Inc>();
  readonly #attemptsBy = new Map<string, Inc>();
  readonly #attemptSecondsBy: Record<CallKind, Observe>;
  #sources: GaugeSources | undefined;

  constructor(options: PrometheusMetricsOptions) {
    const registers = [this.registry];
    this.#workflows = new LabelCap(options.maxWorkflowLabels);
    this.#created = new Counter({ name: "weft_runs_created_total", help: "Runs created, by workflow id", labelNames: ["workflow"], registers });
    this.#finished = new Counter({
      name: "weft_runs_finished_total",
      help: "Runs that reached a terminal state, by workflow id and state (completed, failed, cancelled)",
      labelNames: ["workflow", "state"],
      registers,
    });
    this.#attempts = new Counter({
      name: "weft_attempts_total",
      help: "Finished HTTP calls, by kind (step, compensation, webhook), outcome (ok, failed) and failure reason",
      labelNames: ["kind", "outcome", "reason"],
      registers,
    });
    this.#attemptSeconds = new Histogram({
      name: "weft_attempt_duration_seconds",
      help: "Duration of one HTTP call (step, compensation or webhook attempt)",
      labelNames: ["kind"],
      buckets: ATTEMPT_BUCKETS,
      registers,
    });
    this.#attemptSecondsBy = {
      step: this.#attemptSeconds.labels("step"),
      compensation: this.#attemptSeconds.labels("compensation"),
      webhook: this.#attemptSeconds.labels("webhook"),
    };
    this.#overhead = new Histogram({
      name: "weft_orchestration_overhead_seconds",
      help: "From what made a call ready (a dependency's result, the run's start, a retry timer firing) to the call being sent, store commit included",
      buckets: FAST_BUCKETS,
      registers,
    });
    this.#commit = new Histogram({
      name: "weft_store_commit_duration_seconds",
      help: "Duration of one store commit of a run's changes",
      buckets: FAST_BUCKETS,
      registers,
    });
    this.#hostWait = new Histogram({
      name: "weft_host_wait_seconds",
      help: "How long a call that had to wait for its host's limits (in-flight calls or calls per second) waited before it was sent",
      buckets: WAIT_BUCKETS,
      registers,
    });
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
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Where the gauges read from (set once the engine exists). */
  setGaugeSources(sources: GaugeSources): void {
    this.#sources = sources;
  }

  runCreated(workflowId: string): void {
    const w = this.#workflows.label(workflowId);
    let c = this.#createdBy.get(w);
    if (!c) this.#createdBy.set(w, (c = this.#created.labels(w)));
    c.inc();
  }

  runFinished(workflowId: string, state: RunState): void {
    const w = this.#workflows.label(workflowId);
    const k = `${w}\n${state}`;
    let c = this.#finishedBy.get(k);
    if (!c) this.#finishedBy.set(k, (c = this.#finished.labels(w, state)));
    c.inc();
  }

  attempt(kind: CallKind, ok: boolean, reason: string, seconds: number): void {
    this.#attemptSecondsBy[kind].observe(seconds);
    const k = ok ? kind : `${kind}\n${reason}`;
    let c = this.#attemptsBy.get(k);
    if (!c) this.#attemptsBy.set(k, (c = ok ? this.#attempts.labels(kind, "ok", "") : this.#attempts.labels(kind, "failed", this.#reasons.label(reason))));
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
