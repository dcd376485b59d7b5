// What the engine reports for distributed traces (OpenTelemetry when
// --tracing otlp). The engine and the service talk to this port only: with
// tracing off the no-op below is used and no tracing library is even loaded.
import type { RunRecord, RunTrace } from "../domain/run-record.ts";
import type { CallKind } from "./metrics.ts";

/** The W3C trace context headers a request came with. */
export interface IncomingTraceHeaders {
  traceparent?: string;
  tracestate?: string;
}

/** An RPC span (CreateWorkflow joining the caller's trace). */
export interface RpcSpan {
  /** Ends the span: with the run it created (or found), or with the error it failed with. */
  end(result: { runId?: string; error?: unknown }): void;
}

/** How one finished call went, for its span. */
export interface AttemptEnd {
  ok: boolean;
  httpStatus?: number;
  reason?: string;
  message?: string;
  /** Set when the failed call is retried: when (ms since the epoch). */
  retryAt?: number;
  /** The engine stopped waiting for the answer (shutdown, lease lost, commit failure). */
  abandoned?: boolean;
}

/** The span of one HTTP call (step attempt, compensation attempt, webhook delivery). */
export interface AttemptSpan {
  /** traceparent (and tracestate) to send with the call, so the handler's spans join the run's trace. */
  readonly headers: Readonly<Record<string, string>>;
  end(result: AttemptEnd): void;
}

export interface Tracer {
  /** A CreateWorkflow span, only when the caller sent a valid traceparent; undefined otherwise. */
  startRpc(method: string, incoming: IncomingTraceHeaders): RpcSpan | undefined;
  /**
   * The new ids of a run's span (a child of `parent` when given), stored with
   * the run so that every replica parents attempts to the same run span.
   */
  newRun(runId: string, workflowId: string, parent: RpcSpan | undefined): RunTrace | undefined;
  /** Starts the span of one call of a run (its parent: the run's stored span). */
  startAttempt(run: RunRecord, kind: CallKind, index: number, attempt: number, item?: number): AttemptSpan | undefined;
  /** The run needs no more driving (finished, compensations and webhook done): its span is exported. */
  runEnded(run: RunRecord): void;
  /** Flushes the spans not exported yet. */
  shutdown(): Promise<void>;
}

/** Traces nothing: --tracing off (the default). */
export const noopTracer: Tracer = {
  startRpc: () => undefined,
  newRun: () => undefined,
  startAttempt: () => undefined,
  runEnded() {},
  shutdown: () => Promise.resolve(),
};
