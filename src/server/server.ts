// Composition root: wires the store, dispatcher, engine and the Connect routes
// onto one port that speaks gRPC, gRPC-Web and Connect.
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import { file_google_rpc_error_details } from "../../gen/ts/google/rpc/error_details_pb.js";
import { file_google_rpc_status } from "../../gen/ts/google/rpc/status_pb.js";
import { file_health_v1_health, Health, HealthCheckResponse_ServingStatus } from "../../gen/ts/health/v1/health_pb.js";
import { toJson } from "@bufbuild/protobuf";
import { file_weft_v1_workflow, WorkflowSchema, WorkflowService } from "../../gen/ts/weft/v1/workflow_pb.js";
import { maxWorkflowAnswerBytes } from "../domain/field-limits.ts";
import type { RunRecord } from "../domain/run-record.ts";
import { LocalEventFeed } from "../engine/local-event-feed.ts";
import type { EventFeed } from "../ports/event-feed.ts";
import type { NoticeSource, RunOwnership } from "../ports/run-ownership.ts";
import { noopTracer, type Tracer } from "../ports/tracing.ts";
import type { WorkflowStore } from "../ports/workflow-store.ts";
import type { ConcurrencySlots } from "../ports/concurrency-slots.ts";
import { MongoChangeFeed } from "../store/mongo/mongo-change-feed.ts";
import { MongoWorkflowStore } from "../store/mongo/mongo-store.ts";
import { workflowToProto } from "../transport/mappers.ts";
import type { Config } from "../config.ts";
import { HttpStepDispatcher, type Resolve } from "../dispatch/http-step-dispatcher.ts";
import { Engine } from "../engine/engine.ts";
import { systemClock } from "../ports/clock.ts";
import { DrainGc } from "./drain-gc.ts";
import { RETENTION_BATCH, RetentionSweeper, retentionSweepInterval } from "../engine/retention-sweeper.ts";
import { Signer } from "../signing/sign.ts";
import { SqliteWorkflowStore } from "../store/sqlite-store.ts";
import { WorkflowServiceHandler } from "../transport/workflow-service.ts";
import { isLoopbackHost } from "../domain/api-keys.ts";
import { ApiKeyRing } from "./api-key-auth.ts";
import { withApiKeyGate } from "./api-key-gate.ts";
import { HealthStatusRegistry, healthServiceImpl } from "./health-service.ts";
import { withSpecGrpcMessage } from "./grpc-message-encoding.ts";
import { internalErrorInterceptor } from "./internal-errors.ts";
import { withRequestDecodeErrors } from "./request-decode-errors.ts";
import { unknownEnumInterceptor } from "./unknown-enum-interceptor.ts";
import { strictJsonOptions } from "../transport/strict-json-decoder.ts";
import { listen } from "./listener.ts";
import { withHttpEndpoints } from "./http-endpoints.ts";
import { consoleAssets } from "./console-assets.ts";
import { PrometheusMetrics } from "../metrics/prometheus-metrics.ts";
import { unknownRoute } from "./unknown-route.ts";
import { registerReflection } from "./reflection-service.ts";
import { generateSigningSecret, resolveSigningSecrets } from "./signing-secrets.ts";

/** Largest request of every RPC but CreateWorkflow and RerunWorkflow (which have --max-request-bytes). */
export const MAX_SMALL_REQUEST_BYTES = 64 * 1024;

/** /readyz answers 503 if the store does not answer a read within this time. */
const READY_STORE_TIMEOUT_MS = 2000;

/** The on_complete / on_error body: the run's final status, as GetWorkflow returns it. */
function renderWebhook(run: RunRecord): string {
  return JSON.stringify({
    eventId: run.webhook?.eventId,
    type: run.webhook?.eventType,
    workflow: toJson(WorkflowSchema, workflowToProto(run)),
  });
}

export interface RunningServer {
  readonly port: number;
  readonly engine: Engine;
  readonly feed: EventFeed & { readonly listenerCount: number };
  /** "embedded" or "mongodb". */
  readonly storeKind: "embedded" | "mongodb";
  /** Prometheus metrics (undefined with --metrics off). */
  readonly metrics: PrometheusMetrics | undefined;
  /** The MongoDB store's replica id (empty with the embedded store). */
  readonly replicaId: () => string;
  /** Graceful: streams and in-flight attempts get graceMs, then everything is closed. */
  close(graceMs: number): Promise<void>;
}

interface StoreParts {
  store: WorkflowStore;
  /** The slots of concurrency keys (the store itself). */
  slots: ConcurrencySlots;
  feed: EventFeed & { readonly listenerCount: number };
  secrets: string[];
  ownership?: RunOwnership;
  notices?: NoticeSource;
  /** Stops what the store runs besides itself (the change feed). */
  stopFeed(): Promise<void>;
}

async function openStore(config: Config, logger: Logger): Promise<StoreParts> {
  const m = config.mongodb;
  if (!m.uri) {
    const store = new SqliteWorkflowStore({
      dataDir: config.dataDir,
      synchronous: config.sqliteSynchronous,
      warn: (message) => logger.warn({ dataDir: config.dataDir }, message),
    });
    const secrets = resolveSigningSecrets(config.signingSecrets, config.dataDir, logger);
    return { store, slots: store, feed: new LocalEventFeed(), secrets, stopFeed: async () => {} };
  }
  const log = logger.child({ store: "mongodb" });
  const store = await MongoWorkflowStore.open({
    uri: m.uri,
    database: m.database,
    leaseTtlMs: m.leaseTtlMs,
    onCopyError: (err) => log.warn({ err }, "copying events to the events collection failed; retrying"),
  });
  try {
    const feed = new MongoChangeFeed({
      client: store.client,
      events: store.events,
      logger: log,
      pollIntervalMs: m.pollIntervalMs,
      mode: m.feed,
    });
    await feed.start();
    // Every replica signs with the same secret: a configured one, or one generated once and kept in the database.
    let secrets = config.signingSecrets;
    if (secrets.length === 0) {
      secrets = [await store.sharedSetting("signing-secret", generateSigningSecret)];
      log.warn("WEFT_SIGNING_SECRETS is not set: using the signing secret kept in the database (settings collection); give it to your step handlers");
    }
    log.info({ database: m.database, feed: feed.source, replicaId: store.replicaId }, "using the MongoDB store");
    return { store, slots: store, feed, secrets, ownership: store, notices: feed, stopFeed: () => feed.close() };
  } catch (err) {
    await store.close();
    throw err;
  }
}

export interface ServerOptions {
  /** How step, compensation and webhook host names are resolved (default dns.lookup); tests inject names. */
  resolve?: Resolve;
}

export async function startServer(config: Config, logger: Logger, options: ServerOptions = {}): Promise<RunningServer> {
  const { store, slots, feed, secrets, ownership, notices, stopFeed } = await openStore(config, logger);
  const dispatcher = new HttpStepDispatcher({
    signer: new Signer(secrets),
    maxResultBytes: config.limits.maxResultBytes,
    outbound: config.limits.outbound,
    hostLimits: config.hostLimits,
    clock: systemClock,
    resolve: options.resolve,
  });
  const metrics = config.metrics.enabled ? new PrometheusMetrics({ maxWorkflowLabels: config.metrics.maxWorkflowLabels }) : undefined;
  const tracer = await openTracer(config, logger);
  const engine = new Engine({
    metrics,
    tracer,
    store,
    dispatcher,
    clock: systemClock,
    feed,
    logger,
    renderWebhook,
    machine: {
      webhook: config.webhook,
      maxRunResultBytes: config.limits.maxRunResultBytes,
    },
    webhookTimeoutMs: config.webhook.timeoutMs,
    ownership,
    notices,
    sweepIntervalMs: config.mongodb.sweepIntervalMs,
    slots,
  });
  await engine.start();
  const retention = new RetentionSweeper({
    store,
    clock: systemClock,
    logger,
    retentionMs: config.retentionMs,
    intervalMs: retentionSweepInterval(config.retentionMs),
    batchSize: RETENTION_BATCH,
  });
  retention.start();
  const drainGc = config.drainGc ? new DrainGc({ runsInMemory: () => engine.activeRuns, peakRunsInMemory: () => engine.takeActivePeak(), logger }) : undefined;
  drainGc?.start();
  metrics?.setGaugeSources({
    runsActive: () => engine.activeRuns,
    retriesWaiting: () => engine.retriesWaiting,
    webhookBacklog: () => engine.webhookBacklog,
    watchers: () => feed.listenerCount,
    hostsWaiting: () => dispatcher.waitingByOrigin(),
  });
  const service = new WorkflowServiceHandler({ engine, feed, limits: config.limits, heartbeatMs: config.watchHeartbeatMs, tracer, bulkRate: config.bulkRate });

  const health = new HealthStatusRegistry();
  // Headroom over the configured request limit so that an oversized
  // CreateWorkflow gets a field-level INVALID_ARGUMENT, not a transport error.
  const createReadMaxBytes = config.limits.maxRequestBytes * 2 + 65_536;
  const keys = new ApiKeyRing(config.auth.keys);
  const routes = (router: ConnectRouter) => {
    // Method by method, so each gets its request size limit and a JSON reader
    // that names the field a malformed request got wrong.
    for (const method of WorkflowService.methods) {
      const impl = (service as unknown as Record<string, (...args: never[]) => unknown>)[method.localName];
      router.rpc(method, impl as never, {
        // RerunWorkflow may carry a new context: the same limit as a create.
        readMaxBytes: method === WorkflowService.method.createWorkflow || method === WorkflowService.method.rerunWorkflow ? createReadMaxBytes : MAX_SMALL_REQUEST_BYTES,
        jsonOptions: strictJsonOptions(method.input),
      });
    }
    router.service(Health, healthServiceImpl(health));
    // google.rpc files are listed so that grpcurl can decode error details.
    if (config.auth.reflection !== "off") registerReflection(
      router,
      [file_weft_v1_workflow, file_health_v1_health, file_google_rpc_error_details, file_google_rpc_status],
      [WorkflowService.typeName, Health.typeName],
    );
    router.handlers.forEach((h, i) => {
      const decoded = withRequestDecodeErrors(h);
      // The key is checked before the request body is read.
      router.handlers[i] = keys.size > 0 ? withApiKeyGate(decoded, keys, config.auth.reflection) : decoded;
    });
  };
  if (keys.size > 0) {
    logger.info({ apiKeys: keys.counts(), reflection: config.auth.reflection }, "authentication on: every call needs an API key (health checks excepted)");
    if (config.auth.keysOnCommandLine) {
      logger.warn("API keys given with --api-keys are visible to every local user in the process list: use WEFT_API_KEYS or --api-keys-file");
    }
  } else if (isLoopbackHost(config.host)) {
    logger.info({ host: config.host }, "authentication off: no API keys are configured; listening on a loopback address only");
  } else {
    logger.warn(
      { host: config.host },
      "authentication off on a non-loopback address (--allow-unauthenticated): anyone who reaches the port can read, list and cancel runs",
    );
  }
  let ready = false;
  const connectHandler = withSpecGrpcMessage(connectNodeAdapter({
    routes,
    fallback: unknownRoute,
    // Every RPC but CreateWorkflow and RerunWorkflow (above) takes small requests.
    readMaxBytes: MAX_SMALL_REQUEST_BYTES,
    // The largest answer the limits allow (README "Limits") always fits.
    writeMaxBytes: Math.max(64 * 1024 * 1024, maxWorkflowAnswerBytes(config.limits) + 65_536),
    // gzip only what is worth it: small responses cost more CPU to compress than they save.
    compressMinBytes: 64 * 1024,
    // Reject misspelled fields and unknown enum names in JSON instead of
    // silently ignoring them (e.g. "backoff": "linear" must not become the default);
    // refuse invalid UTF-8.
    jsonOptions: strictJsonOptions(),
    interceptors: [
      internalErrorInterceptor(logger),
      unknownEnumInterceptor,
    ],
  }));
  const handler = withHttpEndpoints(connectHandler, {
    ready: () => (ready ? storeAnswers(store) : Promise.resolve(false)),
    metrics: metrics && { registry: metrics.registry, keys, auth: config.metrics.auth },
    console: config.console.enabled ? consoleAssets(config.console.assetsDir) : undefined,
  });
  const listener = await listen(handler, {
    host: config.host,
    port: config.port,
    tls: config.tls,
    maxConnections: config.connections.max,
    headerTimeoutMs: config.connections.headerTimeoutMs,
    requestTimeoutMs: config.connections.requestTimeoutMs,
    idleTimeoutMs: config.connections.idleTimeoutMs,
    onConnectionsDropped: (total, max) =>
      logger.warn({ droppedConnections: total, maxConnections: max }, "connection limit reached: new connections are closed (see --max-connections)"),
  });
  health.set("", HealthCheckResponse_ServingStatus.SERVING);
  health.set(WorkflowService.typeName, HealthCheckResponse_ServingStatus.SERVING);
  ready = true;
  logger.info(
    {
      port: listener.port,
      host: config.host,
      store: ownership ? "mongodb" : config.dataDir,
      tls: config.tls ? (config.tls.clientCa ? "mtls" : "tls") : "off",
      metrics: metrics ? config.metrics.auth : "off",
      console: config.console.enabled ? "/ui/" : "off",
      tracing: config.tracing.mode === "off" ? "off" : `otlp ${config.tracing.protocol}`,
    },
    "weft listening",
  );

  let closing: Promise<void> | undefined;
  return {
    port: listener.port,
    engine,
    feed,
    metrics,
    storeKind: ownership ? "mongodb" : "embedded",
    replicaId: () => ownership?.replicaId ?? "",
    close(graceMs: number) {
      closing ??= (async () => {
        ready = false;
        health.set("", HealthCheckResponse_ServingStatus.NOT_SERVING);
        health.set(WorkflowService.typeName, HealthCheckResponse_ServingStatus.NOT_SERVING);
        service.closeStreams();
        drainGc?.stop();
        await Promise.all([listener.close(graceMs), engine.stop(graceMs), retention.stop()]);
        await dispatcher.close();
        // The spans of the runs and calls that ended are flushed to the collector.
        await tracer.shutdown().catch((err: unknown) => logger.warn({ err }, "could not export the last spans"));
        await stopFeed();
        await store.close();
        logger.info("weft stopped");
      })();
      return closing;
    },
  };
}

/** With --tracing otlp, the OpenTelemetry SDK is loaded here, and only here: off, none of it is. */
async function openTracer(config: Config, logger: Logger): Promise<Tracer> {
  if (config.tracing.mode === "off") return noopTracer;
  const { createOtelTracer } = await import("../tracing/otel-tracer.ts");
  return createOtelTracer({ protocol: config.tracing.protocol, scheduleDelayMs: config.tracing.scheduleDelayMs, log: logger });
}

/** Whether the store answers a read (of a run that does not exist) in time. */
async function storeAnswers(store: WorkflowStore): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), READY_STORE_TIMEOUT_MS)));
  try {
    return await Promise.race([store.getRun("wf_readyz").then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
