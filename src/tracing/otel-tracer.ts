// The OpenTelemetry adapter of the Tracer port: spans exported over OTLP/HTTP
// (protobuf or JSON) in batches. Loaded only with --tracing otlp (server.ts
// imports this module dynamically), so with tracing off none of the SDK is loaded.
//
// A run outlives the process that created it (kill -9, another MongoDB replica
// takes it over), so the run span cannot be a live SDK span object held from
// creation to finish. Instead its ids are chosen when the run is created and
// stored with the run (RunRecord.trace); every attempt span, on any replica,
// is a child of that stored span context; and when the run needs no more
// driving, whichever replica finished it makes the run span itself: a span
// started at the run's creation time and ended now, whose trace and span ids
// are the stored ones. The SDK's Tracer takes its ids from the IdGenerator, so
// a StoredIdGenerator hands it the stored ids for that one synchronous
// startSpan call (and random ids otherwise). This keeps the span a regular
// SDK span (resource, limits, sampler, batch processor and exporter apply as
// for any other) rather than a ReadableSpan assembled by hand.
import { diag, DiagLogLevel, ROOT_CONTEXT, type Context, type Span, SpanKind, SpanStatusCode, trace, TraceFlags } from "@opentelemetry/api";
import { TraceState, W3CTraceContextPropagator } from "@opentelemetry/core";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, type IdGenerator, RandomIdGenerator, type SpanExporter, TracerProvider } from "@opentelemetry/sdk-trace";
import { ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import type { RunRecord, RunTrace } from "../domain/run-record.ts";
import type { CallKind } from "../ports/metrics.ts";
import type { AttemptEnd, AttemptSpan, IncomingTraceHeaders, RpcSpan, Tracer } from "../ports/tracing.ts";

export type OtlpProtocol = "http/protobuf" | "http/json";

/** Where the SDK's own warnings go (failed exports, spans dropped from a full queue). */
export interface TracingLog {
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

export interface OtelTracerOptions {
  protocol: OtlpProtocol;
  log?: TracingLog;
  /** Default service.name (OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override it). */
  serviceName?: string;
  serviceVersion?: string;
  /** The longest a finished span waits before its batch is exported (default 5 s). */
  scheduleDelayMs?: number;
  /** Tests: where spans go instead of the OTLP exporter. */
  exporter?: SpanExporter;
}

/** Error messages on spans are cut here: a handler's answer can be long. */
const MAX_MESSAGE = 256;

/** Random ids, except for the one span being made with ids chosen beforehand. */
class StoredIdGenerator implements IdGenerator {
  private readonly random = new RandomIdGenerator();
  private traceId: string | undefined;
  private spanId: string | undefined;

  /** The next span gets these ids (the trace id is used only when the span has no parent). */
  use(traceId: string, spanId: string): void {
    this.traceId = traceId;
    this.spanId = spanId;
  }

  clear(): void {
    this.traceId = this.spanId = undefined;
  }

  generateTraceId(): string {
    return this.traceId ?? this.random.generateTraceId();
  }

  generateSpanId(): string {
    return this.spanId ?? this.random.generateSpanId();
  }
}

interface OtelRpcSpan extends RpcSpan {
  readonly span: Span;
}

export async function createOtelTracer(options: OtelTracerOptions): Promise<OtelTracer> {
  const log = options.log;
  if (log) {
    // Without a diag logger the SDK says nothing when an export fails or spans are dropped.
    const say = (level: "warn" | "error") => (message: string, ...args: unknown[]) => log[level]({ component: "opentelemetry", details: args.map(String).join(" ").slice(0, 500) || undefined }, message);
    diag.setLogger(
      { error: say("error"), warn: say("warn"), info: () => {}, debug: () => {}, verbose: () => {} },
      { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
    );
  }
  let exporter = options.exporter;
  if (!exporter) {
    // Each exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT, _COMPRESSION and the TLS files itself.
    const mod =
      options.protocol === "http/json"
        ? await import("@opentelemetry/exporter-trace-otlp-http")
        : await import("@opentelemetry/exporter-trace-otlp-proto");
    exporter = new mod.OTLPTraceExporter();
  }
  return new OtelTracer(exporter, options);
}

export class OtelTracer implements Tracer {
  private readonly provider: TracerProvider;
  private readonly ids = new StoredIdGenerator();
  private readonly tracer;
  private readonly propagator = new W3CTraceContextPropagator();

  constructor(exporter: SpanExporter, options: OtelTracerOptions) {
    // Weft's defaults first; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (envDetector) win over them.
    const resource = defaultResource()
      .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName ?? "weft", "service.version": options.serviceVersion ?? "" }))
      .merge(detectResources({ detectors: [envDetector] }));
    this.provider = new TracerProvider({
      resource,
      idGenerator: this.ids,
      spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: options.scheduleDelayMs })],
    });
    this.tracer = this.provider.getTracer("weft", options.serviceVersion);
  }

  startRpc(method: string, incoming: IncomingTraceHeaders): RpcSpan | undefined {
    if (!incoming.traceparent) return undefined;
    const carrier: Record<string, string> = { traceparent: incoming.traceparent };
    if (incoming.tracestate) carrier.tracestate = incoming.tracestate;
    const parent = this.propagator.extract(ROOT_CONTEXT, carrier, {
      get: (c, k) => c[k],
      keys: (c) => Object.keys(c),
    });
    // An invalid traceparent is ignored, as the W3C spec says: the run starts a trace of its own.
    if (!trace.getSpanContext(parent)) return undefined;
    const [service, name] = splitMethod(method);
    const span = this.tracer.startSpan(
      method,
      { kind: SpanKind.SERVER, attributes: { "rpc.system": "connect_rpc", "rpc.service": service, "rpc.method": name } },
      parent,
    );
    const rpc: OtelRpcSpan = {
      span,
      end({ runId, error }) {
        if (runId !== undefined) span.setAttribute("weft.run_id", runId);
        if (error !== undefined) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: String((error as Error).message ?? error).slice(0, MAX_MESSAGE) });
        }
        span.end();
      },
    };
    return rpc;
  }

  newRun(_runId: string, _workflowId: string, parent: RpcSpan | undefined): RunTrace | undefined {
    const p = (parent as OtelRpcSpan | undefined)?.span.spanContext();
    const traceId = p?.traceId ?? this.ids.generateTraceId();
    const spanId = this.ids.generateSpanId();
    // The sampling decision is the one the run span gets when it is made (the default
    // sampler is parent-based, always on for a new trace): a caller that did not sample
    // its trace gets no Weft spans either, but its traceparent still reaches the handlers.
    const sampled = p ? (p.traceFlags & TraceFlags.SAMPLED) !== 0 : true;
    const t: RunTrace = { traceId, spanId, sampled };
    if (p) t.parentSpanId = p.spanId;
    const state = p?.traceState?.serialize();
    if (state) t.traceState = state;
    return t;
  }

  startAttempt(run: RunRecord, kind: CallKind, index: number, attempt: number, item?: number): AttemptSpan | undefined {
    const stored = run.trace;
    const parent = stored ? contextOf(stored, stored.spanId) : ROOT_CONTEXT;
    const stepId = kind === "webhook" ? undefined : run.spec.steps[index]?.id;
    const name = kind === "webhook" ? `webhook ${run.webhook?.eventType ?? ""}` : item === undefined ? `${kind} ${stepId}` : `${kind} ${stepId}[${item}]`;
    const span = this.tracer.startSpan(
      name,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          "weft.run_id": run.runId,
          "weft.workflow_id": run.spec.workflowId,
          "weft.call": kind,
          "weft.attempt": attempt,
          [ATTR_HTTP_REQUEST_METHOD]: "POST",
          ...(stepId === undefined ? {} : { "weft.step_id": stepId }),
          ...(item === undefined ? {} : { "weft.item_index": item }),
        },
      },
      parent,
    );
    const headers: Record<string, string> = {};
    this.propagator.inject(trace.setSpan(parent, span), headers, { set: (c, k, v) => (c[k] = v) });
    return { headers, end: (result) => endAttempt(span, result) };
  }

  runEnded(run: RunRecord): void {
    const stored = run.trace;
    if (!stored || !stored.sampled) return;
    const parent = stored.parentSpanId ? contextOf(stored, stored.parentSpanId) : ROOT_CONTEXT;
    this.ids.use(stored.traceId, stored.spanId);
    let span: Span;
    try {
      span = this.tracer.startSpan(`workflow ${run.spec.workflowId}`, { kind: SpanKind.INTERNAL, startTime: run.createdAt, root: !stored.parentSpanId }, parent);
    } finally {
      this.ids.clear();
    }
    span.setAttributes({
      "weft.run_id": run.runId,
      "weft.workflow_id": run.spec.workflowId,
      "weft.run.state": run.state,
      "weft.steps": run.steps.length,
    });
    if (run.compensation) span.setAttribute("weft.compensation.failed", run.compensation.failed);
    if (run.webhook) span.setAttribute("weft.webhook.state", run.webhook.state);
    if (run.error) {
      span.setAttribute(ATTR_ERROR_TYPE, run.error.reason);
      if (run.error.stepId !== undefined) span.setAttribute("weft.step_id", run.error.stepId);
    }
    if (run.state !== "completed") {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (run.error?.message ?? run.state).slice(0, MAX_MESSAGE) });
    }
    span.end();
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}

function endAttempt(span: Span, r: AttemptEnd): void {
  if (r.httpStatus !== undefined && r.httpStatus > 0) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, r.httpStatus);
  if (r.abandoned) {
    span.setAttribute("weft.abandoned", true);
  } else if (!r.ok) {
    span.setAttribute(ATTR_ERROR_TYPE, r.reason ?? "error");
    span.setStatus({ code: SpanStatusCode.ERROR, message: (r.message ?? "").slice(0, MAX_MESSAGE) });
    if (r.retryAt !== undefined) {
      // The wait before the next attempt (whose span is a sibling of this one).
      span.addEvent("retry_scheduled", { "weft.retry_at": new Date(r.retryAt).toISOString(), "weft.retry_in_ms": Math.max(0, r.retryAt - Date.now()) });
    }
  }
  span.end();
}

/** A context whose (remote) parent span is span `spanId` of the stored run trace. */
function contextOf(t: RunTrace, spanId: string): Context {
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: t.traceId,
    spanId,
    traceFlags: t.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
    ...(t.traceState ? { traceState: new TraceState(t.traceState) } : {}),
  });
}

function splitMethod(method: string): [string, string] {
  const i = method.lastIndexOf("/");
  return i < 0 ? ["", method] : [method.slice(0, i), method.slice(i + 1)];
}
