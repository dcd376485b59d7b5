// Configuration from flags and environment variables, parsed once at start-up.
// A flag wins over its environment variable, which wins over the default.
import { MONGODB_INLINE_ITEM_BYTES } from "./domain/map-step.ts";
import { X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { parseArgs } from "node:util";
import { OUTBOUND_PRESETS, OutboundPolicy, OutboundPolicyError, type OutboundPreset } from "./domain/outbound-policy.ts";
import { ApiKeyConfigError, type ApiKeyDigest, type ApiKeyEntry, digestApiKeys, isLoopbackHost, parseApiKeyFile, parseApiKeyList } from "./domain/api-keys.ts";
import { DEFAULT_LIMITS, type Limits } from "./domain/workflow-spec.ts";
import { DEFAULT_HOST_MAX_INFLIGHT, HostLimitError, type HostLimits, parseBurst, parseHostLimits, parseInflight, parseRate } from "./domain/host-limits.ts";
import { parseSecretList } from "./signing/secrets.ts";
import { parseDurationText } from "./domain/duration-text.ts";

export interface Config {
  host: string;
  port: number;
  /** Set: the port speaks TLS only (ALPN h2 and http/1.1); unset: cleartext (h2c and HTTP/1.1). */
  tls: TlsConfig | undefined;
  /** Connection cap and timeouts of the listener. */
  connections: { max: number; headerTimeoutMs: number; requestTimeoutMs: number; idleTimeoutMs: number };
  dataDir: string;
  sqliteSynchronous: "normal" | "full";
  /** Empty: a secret is generated once and kept in the data directory. */
  signingSecrets: string[];
  logLevel: string;
  shutdownGraceMs: number;
  /** limits.outbound: the outbound policy built from --outbound-policy, --outbound-allow and --outbound-deny. */
  limits: Limits;
  webhook: { retryPeriodMs: number; initialIntervalMs: number; maxIntervalMs: number; timeoutMs: number };
  /** Per handler origin: calls in flight and calls per second (this replica's). */
  hostLimits: HostLimits;
  watchHeartbeatMs: number;
  /** Finished runs are deleted this long after they finished; 0 keeps them. */
  retentionMs: number;
  /** BulkWorkflowAction: runs acted on per second at most. */
  bulkRate: number;
  /** A full garbage collection once the runs in memory drained (drain-gc.ts). */
  drainGc: boolean;
  /** Set: the MongoDB store (several replicas may share it); empty: the embedded store in dataDir. */
  mongodb: {
    uri: string;
    database: string;
    leaseTtlMs: number;
    sweepIntervalMs: number;
    pollIntervalMs: number;
    feed: "auto" | "poll";
  };
  auth: {
    /** Empty: no authentication (allowed only on a loopback host, or with allowUnauthenticated). */
    keys: ApiKeyDigest[];
    /** auth: reflection needs a read key (when keys are configured); open: no key; off: not served. */
    reflection: "auth" | "open" | "off";
    allowUnauthenticated: boolean;
    /** Keys were given with --api-keys, where every local user can read them in the process list. */
    keysOnCommandLine?: boolean;
  };
  /** GET /metrics (Prometheus). */
  metrics: {
    enabled: boolean;
    /** auth: needs a read key when keys are configured; open: no key. */
    auth: "auth" | "open";
    /** Distinct workflow ids with a label value of their own; later ones are "other". */
    maxWorkflowLabels: number;
  };
  /** The web console at /ui/. */
  console: {
    enabled: boolean;
    /** Directory of the built console (default: console/dist of the installation); tests point it elsewhere. */
    assetsDir?: string;
  };
  /** Distributed traces: off, or OpenTelemetry spans exported over OTLP/HTTP. */
  tracing: {
    mode: "off" | "otlp";
    /** OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL (the exporter reads the endpoint, headers, timeout itself). */
    protocol: "http/protobuf" | "http/json";
    /** OTEL_BSP_SCHEDULE_DELAY: the longest a finished span waits before its batch is exported. */
    scheduleDelayMs: number;
  };
}

export interface TlsConfig {
  certFile: string;
  keyFile: string;
  /** Set: mutual TLS, clients must present a certificate signed by one of these CAs. */
  clientCaFile: string | undefined;
  cert: Buffer;
  key: Buffer;
  clientCa: Buffer | undefined;
}

interface Option {
  flag: string;
  env: string;
  help: string;
  default: string;
  /** What --help shows as the default, when it is not `default` itself. */
  shownDefault?: string;
  /** A flag without a value (`--x`); its variable takes true or false. */
  boolean?: true;
  /** A flag that may be repeated; its values are joined with ";". */
  multiple?: true;
}

export const OPTIONS: Option[] = [
  { flag: "host", env: "WEFT_HOST", default: "", shownDefault: "127.0.0.1 | 0.0.0.0", help: "address to listen on; default 127.0.0.1 without API keys, 0.0.0.0 with" },
  { flag: "port", env: "WEFT_PORT", default: "8080", help: "port for gRPC, gRPC-Web and Connect (0 = any free port)" },
  { flag: "tls-cert", env: "WEFT_TLS_CERT", default: "", help: "PEM file of the server certificate (chain): the port then speaks TLS only; needs --tls-key" },
  { flag: "tls-key", env: "WEFT_TLS_KEY", default: "", help: "PEM file of the private key of --tls-cert" },
  { flag: "tls-client-ca", env: "WEFT_TLS_CLIENT_CA", default: "", help: "PEM file of the CA certificate(s) for client certificates: set, every client must present one (mutual TLS); needs --tls-cert" },
  { flag: "max-connections", env: "WEFT_MAX_CONNECTIONS", default: "1024", help: "most open client connections; further ones are closed at once" },
  { flag: "idle-timeout-ms", env: "WEFT_IDLE_TIMEOUT_MS", default: "65000", help: "an idle connection (HTTP/1.1 keep-alive, or HTTP/2 with no open stream) is closed after this time" },
  { flag: "header-timeout-ms", env: "WEFT_HEADER_TIMEOUT_MS", default: "10000", help: "a new connection must complete its TLS handshake and its first request's headers within this time, and every later HTTP/1.1 request its headers" },
  { flag: "request-timeout-ms", env: "WEFT_REQUEST_TIMEOUT_MS", default: "30000", help: "a request must be received in full (headers and body) within this time; responses, streams included, are not limited" },
  { flag: "data-dir", env: "WEFT_DATA_DIR", default: "./data", help: "directory of the embedded store" },
  { flag: "sqlite-synchronous", env: "WEFT_SQLITE_SYNCHRONOUS", default: "normal", help: "normal (survives process crashes, not power loss) or full (fsyncs every commit group: also survives power loss)" },
  { flag: "signing-secrets", env: "WEFT_SIGNING_SECRETS", default: "", help: "comma-separated secrets (whsec_<base64> or raw) used to sign step requests; all are used, for rotation. Empty: one is generated in <data-dir>/signing-secret" },
  { flag: "log-level", env: "WEFT_LOG_LEVEL", default: "info", help: "trace, debug, info, warn, error, fatal or silent" },
  { flag: "shutdown-grace-ms", env: "WEFT_SHUTDOWN_GRACE_MS", default: "10000", help: "on SIGTERM, how long in-flight attempts and streams get to finish" },
  { flag: "max-steps", env: "WEFT_MAX_STEPS", default: String(DEFAULT_LIMITS.maxSteps), help: "most steps per workflow" },
  { flag: "max-request-bytes", env: "WEFT_MAX_REQUEST_BYTES", default: String(DEFAULT_LIMITS.maxRequestBytes), help: "largest CreateWorkflow or RerunWorkflow request, and largest CreateWorkflow request a rerun with a new context, labels or request id would need" },
  { flag: "max-context-bytes", env: "WEFT_MAX_CONTEXT_BYTES", default: String(DEFAULT_LIMITS.maxContextBytes), help: "largest context (as JSON)" },
  { flag: "max-result-bytes", env: "WEFT_MAX_RESULT_BYTES", default: String(DEFAULT_LIMITS.maxResultBytes), help: "largest step handler response; larger fails the step" },
  { flag: "max-run-results-bytes", env: "WEFT_MAX_RUN_RESULTS_BYTES", default: String(DEFAULT_LIMITS.maxRunResultBytes), help: "all step results of one run together (as JSON); the result that would pass it fails its step" },
  { flag: "outbound-policy", env: "WEFT_OUTBOUND_POLICY", default: "default", help: "destinations step, compensation and webhook URLs may reach: default (denies link-local, cloud metadata, unspecified, multicast, broadcast) or public-only (also loopback, private and every other non-global range; for production)" },
  { flag: "outbound-allow", env: "WEFT_OUTBOUND_ALLOW", default: "", help: "comma-separated CIDRs, addresses, host names or *.suffix names always allowed (beat every deny entry)" },
  { flag: "outbound-deny", env: "WEFT_OUTBOUND_DENY", default: "", help: "comma-separated CIDRs, addresses, host names or *.suffix names denied besides the preset's" },
  { flag: "host-max-inflight", env: "WEFT_HOST_MAX_INFLIGHT", default: String(DEFAULT_HOST_MAX_INFLIGHT), help: "most calls (steps, compensations, webhooks) in flight to one handler origin (scheme://host:port); more wait in a queue" },
  { flag: "host-max-rate", env: "WEFT_HOST_MAX_RATE", default: "", shownDefault: "unlimited", help: "most calls started per second to one handler origin (a token bucket; e.g. 50 or 0.5); more wait in a queue" },
  { flag: "host-rate-burst", env: "WEFT_HOST_RATE_BURST", default: "", shownDefault: "rate/10, at least 1", help: "calls to one origin that may start back to back after it was idle (the token bucket's size)" },
  { flag: "host-limit", env: "WEFT_HOST_LIMITS", default: "", multiple: true, help: "limits of one origin, e.g. https://api.example.com=inflight:20,rate:50[,burst:5]; repeat the flag, or separate origins with ';' in the variable" },
  { flag: "webhook-retry-period-ms", env: "WEFT_WEBHOOK_RETRY_PERIOD_MS", default: "86400000", help: "how long after a run ends its on_complete/on_error delivery is retried" },
  { flag: "webhook-initial-backoff-ms", env: "WEFT_WEBHOOK_INITIAL_BACKOFF_MS", default: "1000", help: "delay before the second webhook delivery attempt (doubles each time)" },
  { flag: "webhook-max-backoff-ms", env: "WEFT_WEBHOOK_MAX_BACKOFF_MS", default: "3600000", help: "longest delay between webhook delivery attempts" },
  { flag: "webhook-timeout-ms", env: "WEFT_WEBHOOK_TIMEOUT_MS", default: "30000", help: "timeout of one webhook delivery attempt" },
  { flag: "mongodb-uri", env: "MONGODB_URI", default: "", help: "MongoDB connection string: selects the MongoDB store instead of the embedded one (a replica set for change streams; several Weft replicas may share it)" },
  { flag: "mongodb-database", env: "WEFT_MONGODB_DATABASE", default: "weft", help: "database of the MongoDB store" },
  { flag: "lease-ttl-ms", env: "WEFT_LEASE_TTL_MS", default: "15000", help: "MongoDB store: a replica that has not renewed its lease for this long is taken for dead and its runs are taken over" },
  { flag: "sweep-interval-ms", env: "WEFT_SWEEP_INTERVAL_MS", default: "2000", help: "MongoDB store: how often a replica looks for runs to take over and for missed cancel requests" },
  { flag: "poll-interval-ms", env: "WEFT_POLL_INTERVAL_MS", default: "500", help: "MongoDB store without change streams (standalone server): how often the events collection is polled" },
  { flag: "mongodb-feed", env: "WEFT_MONGODB_FEED", default: "auto", help: "auto (change streams where the deployment has them, else polling) or poll" },
  { flag: "api-keys", env: "WEFT_API_KEYS", default: "", help: "comma-separated <scope>:<key> API keys (scope read or write), e.g. write:k1,read:k2; clients send 'authorization: Bearer <key>'" },
  { flag: "api-keys-file", env: "WEFT_API_KEYS_FILE", default: "", help: "file of API keys, one '<scope> <key> [name]' per line (# comments); others may not read it, its group may (e.g. mode 0440)" },
  { flag: "reflection", env: "WEFT_REFLECTION", default: "auth", help: "server reflection: auth (needs a read key when keys are configured), open, or off" },
  { flag: "allow-unauthenticated", env: "WEFT_ALLOW_UNAUTHENTICATED", default: "false", boolean: true, help: "allow listening on a non-loopback host without API keys (anyone who reaches the port can read and cancel runs)" },
  { flag: "metrics", env: "WEFT_METRICS", default: "on", help: "GET /metrics (Prometheus) on the API port: on or off" },
  { flag: "metrics-auth", env: "WEFT_METRICS_AUTH", default: "auth", help: "/metrics: auth (needs a read key when keys are configured) or open" },
  { flag: "metrics-max-workflow-ids", env: "WEFT_METRICS_MAX_WORKFLOW_IDS", default: "200", help: "distinct workflow ids that get their own metric label value; later ones are counted as \"other\"" },
  { flag: "console", env: "WEFT_CONSOLE", default: "on", help: "the web console at /ui/ on the API port: on or off (its API calls need a key like any client's)" },
  { flag: "tracing", env: "WEFT_TRACING", default: "off", help: "distributed traces: off, or otlp (OpenTelemetry spans of runs and calls, exported to OTEL_EXPORTER_OTLP_ENDPOINT; traceparent sent to handlers)" },
  { flag: "watch-heartbeat-ms", env: "WEFT_WATCH_HEARTBEAT_MS", default: "15000", help: "idle WatchWorkflow/WatchWorkflows streams get a heartbeat this often" },
  { flag: "retention", env: "WEFT_RETENTION", default: "30d", help: "finished runs are deleted with their events this long after they finished (e.g. 30d, 12h, 90m); 0 keeps them forever" },
  { flag: "drain-gc", env: "WEFT_DRAIN_GC", default: "on", help: "when the runs held in memory fall to a quarter of a peak of at least 2,000, one full garbage collection hands their memory back to the OS: on or off" },
  { flag: "bulk-rate", env: "WEFT_BULK_RATE", default: "200", help: "BulkWorkflowAction acts on at most this many runs per second (1..100000), so other calls stay answered meanwhile" },
];

export function helpText(): string {
  const lines = ["Usage: weft server [options]   (in a clone of the repository: npm start -- [options])", "", "Options (flag, environment variable, default):"];
  for (const o of OPTIONS) {
    const shown = o.shownDefault ?? (o.default === "" ? "(none)" : o.default);
    lines.push(`  --${o.flag.padEnd(20)} ${o.env.padEnd(26)} ${shown}`);
    lines.push(`      ${o.help}`);
  }
  lines.push("  --help                 print this and exit");
  return lines.join("\n");
}

export class ConfigError extends Error {}

function readPem(name: string, file: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${name}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!data.includes("-----BEGIN ")) throw new ConfigError(`${name}: ${file} is not a PEM file (no "-----BEGIN" line)`);
  return data;
}

/** Reads and checks the TLS files: both cert and key or neither; a client CA only with them. */
function loadTls(certFile: string, keyFile: string, clientCaFile: string): TlsConfig | undefined {
  if (!certFile && !keyFile) {
    if (clientCaFile) throw new ConfigError("tls-client-ca: needs --tls-cert and --tls-key (mutual TLS is TLS)");
    return undefined;
  }
  if (!certFile) throw new ConfigError("tls-key: needs --tls-cert too");
  if (!keyFile) throw new ConfigError("tls-cert: needs --tls-key too");
  const cert = readPem("tls-cert", certFile);
  const key = readPem("tls-key", keyFile);
  const clientCa = clientCaFile ? readPem("tls-client-ca", clientCaFile) : undefined;
  try {
    createSecureContext({ cert });
  } catch (err) {
    throw new ConfigError(`tls-cert: ${certFile} holds no valid certificate (${(err as Error).message})`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new ConfigError(`tls-key: ${keyFile} is not a valid private key for ${certFile} (${(err as Error).message})`);
  }
  if (clientCa) {
    let isCa = false;
    try {
      // The first certificate in the file; Node skips what it cannot use as a CA, so check here.
      isCa = new X509Certificate(clientCa).ca;
      createSecureContext({ ca: clientCa });
    } catch (err) {
      throw new ConfigError(`tls-client-ca: ${clientCaFile} holds no valid CA certificate (${(err as Error).message})`);
    }
    if (!isCa) throw new ConfigError(`tls-client-ca: ${clientCaFile} holds no valid CA certificate (its first certificate is not a CA)`);
  }
  return { certFile, keyFile, clientCaFile: clientCaFile || undefined, cert, key, clientCa };
}

function int(name: string, raw: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name}: "${raw}" is not a whole number`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(`${name}: ${n} is out of range [${min}, ${max}]`);
  return n;
}

function list(raw: string): string[] {
  return raw.split(",").map((x) => x.trim()).filter((x) => x !== "");
}

/** Returns undefined when --help was asked for. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): Config | undefined {
  const parsed = parseArgs({
    args: argv,
    options: {
      help: { type: "boolean" },
      ...Object.fromEntries(OPTIONS.map((o) => [o.flag, { type: o.boolean ? ("boolean" as const) : ("string" as const), multiple: o.multiple === true }])),
    },
    strict: true,
    allowPositionals: false,
  });
  if (parsed.values.help) return undefined;
  const get = (flag: string): string => {
    const o = OPTIONS.find((x) => x.flag === flag)!;
    const v = (parsed.values as Record<string, string | boolean | string[] | undefined>)[flag];
    if (Array.isArray(v)) return v.join(";");
    if (typeof v === "string") return v;
    if (typeof v === "boolean") return String(v);
    return env[o.env] ?? o.default;
  };
  const bool = (flag: string): boolean => {
    const raw = get(flag).trim().toLowerCase();
    if (raw === "true" || raw === "1") return true;
    if (raw === "false" || raw === "0" || raw === "") return false;
    throw new ConfigError(`${flag}: "${raw.slice(0, 20)}" must be true or false`);
  };
  const auth = loadAuth(get, bool);
  const keysFlag = (parsed.values as Record<string, string | boolean | undefined>)["api-keys"];
  if (typeof keysFlag === "string" && keysFlag.trim() !== "") auth.keysOnCommandLine = true;
  const host = get("host").trim() || (auth.keys.length > 0 ? "0.0.0.0" : "127.0.0.1");
  if (auth.keys.length === 0 && !isLoopbackHost(host) && !auth.allowUnauthenticated) {
    throw new ConfigError(
      `refusing to listen on ${host.slice(0, 64)} without authentication: anyone who reaches it could read, list and cancel every run. ` +
        `Configure API keys (--api-keys / WEFT_API_KEYS or --api-keys-file / WEFT_API_KEYS_FILE), listen on a loopback address (--host 127.0.0.1), ` +
        `or pass --allow-unauthenticated (WEFT_ALLOW_UNAUTHENTICATED=true) if something in front of Weft authenticates clients`,
    );
  }
  const feed = get("mongodb-feed");
  if (feed !== "auto" && feed !== "poll") throw new ConfigError(`mongodb-feed: "${feed}" must be auto or poll`);
  const mongoUri = get("mongodb-uri").trim();
  if (mongoUri && !/^mongodb(\+srv)?:\/\//.test(mongoUri)) throw new ConfigError(`mongodb-uri: must start with mongodb:// or mongodb+srv://`);
  const mongoDatabase = get("mongodb-database");
  if (!/^[^/\\. "$*<>:|?]{1,63}$/.test(mongoDatabase)) throw new ConfigError(`mongodb-database: "${mongoDatabase}" is not a valid database name`);
  const sync = get("sqlite-synchronous");
  if (sync !== "normal" && sync !== "full") throw new ConfigError(`sqlite-synchronous: "${sync}" must be normal or full`);
  const preset = get("outbound-policy");
  if (!OUTBOUND_PRESETS.includes(preset as OutboundPreset)) throw new ConfigError(`outbound-policy: "${preset}" must be default or public-only`);
  const allow = list(get("outbound-allow"));
  const deny = list(get("outbound-deny"));
  for (const [flag, entries] of [["outbound-allow", allow], ["outbound-deny", deny]] as const) {
    try {
      new OutboundPolicy({ allow: entries });
    } catch (err) {
      if (err instanceof OutboundPolicyError) throw new ConfigError(`${flag}: ${err.message}`);
      throw err;
    }
  }
  const outbound = new OutboundPolicy({ preset: preset as OutboundPreset, allow, deny });
  const limits: Limits = {
    outbound,
    maxSteps: int("max-steps", get("max-steps"), 1),
    maxRequestBytes: int("max-request-bytes", get("max-request-bytes"), 1024),
    maxContextBytes: int("max-context-bytes", get("max-context-bytes"), 2),
    maxResultBytes: int("max-result-bytes", get("max-result-bytes"), 1),
    maxRunResultBytes: int("max-run-results-bytes", get("max-run-results-bytes"), 1),
  };
  if (mongoUri) {
    // A run is one MongoDB document (16 MiB at most): its spec (as JSON, up to ~1.5× the request),
    // its results, the latest commit's events (at most one result) and the latest commit's item
    // changes when small (larger ones are staged apart; items live in their own collection) must
    // fit with room to spare.
    const worst = 1.5 * limits.maxRequestBytes + limits.maxRunResultBytes + limits.maxResultBytes + MONGODB_INLINE_ITEM_BYTES;
    const MAX_RUN_DOCUMENT = 14 * 1024 * 1024;
    if (worst > MAX_RUN_DOCUMENT) {
      throw new ConfigError(
        `with the MongoDB store, 1.5 × max-request-bytes + max-run-results-bytes + max-result-bytes + ${MONGODB_INLINE_ITEM_BYTES} bytes ` +
          `(a commit's map item changes) must stay within 14 MiB (a run is one document, 16 MiB at most); it is ${Math.round(worst)} bytes`,
      );
    }
  }
  const headerTimeoutMs = int("header-timeout-ms", get("header-timeout-ms"), 100);
  const requestTimeoutMs = int("request-timeout-ms", get("request-timeout-ms"), 100);
  if (requestTimeoutMs < headerTimeoutMs) {
    throw new ConfigError(`request-timeout-ms: ${requestTimeoutMs} must not be less than header-timeout-ms (${headerTimeoutMs})`);
  }
  return {
    host,
    port: int("port", get("port"), 0, 65535),
    tls: loadTls(get("tls-cert").trim(), get("tls-key").trim(), get("tls-client-ca").trim()),
    connections: {
      max: int("max-connections", get("max-connections"), 1),
      headerTimeoutMs,
      requestTimeoutMs,
      idleTimeoutMs: int("idle-timeout-ms", get("idle-timeout-ms"), 100),
    },
    dataDir: get("data-dir"),
    sqliteSynchronous: sync,
    signingSecrets: parseSecretList(get("signing-secrets")),
    logLevel: get("log-level"),
    shutdownGraceMs: int("shutdown-grace-ms", get("shutdown-grace-ms"), 0),
    limits,
    webhook: {
      retryPeriodMs: int("webhook-retry-period-ms", get("webhook-retry-period-ms"), 0),
      initialIntervalMs: int("webhook-initial-backoff-ms", get("webhook-initial-backoff-ms"), 1),
      maxIntervalMs: int("webhook-max-backoff-ms", get("webhook-max-backoff-ms"), 1),
      timeoutMs: int("webhook-timeout-ms", get("webhook-timeout-ms"), 1),
    },
    hostLimits: loadHostLimits(get),
    watchHeartbeatMs: int("watch-heartbeat-ms", get("watch-heartbeat-ms"), 10),
    retentionMs: retention(get("retention")),
    bulkRate: int("bulk-rate", get("bulk-rate"), 1, 100_000),
    drainGc: onOff("drain-gc", get("drain-gc")),
    mongodb: {
      uri: mongoUri,
      database: mongoDatabase,
      leaseTtlMs: int("lease-ttl-ms", get("lease-ttl-ms"), 300),
      sweepIntervalMs: int("sweep-interval-ms", get("sweep-interval-ms"), 10),
      pollIntervalMs: int("poll-interval-ms", get("poll-interval-ms"), 1),
      feed,
    },
    auth,
    metrics: loadMetrics(get, int),
    console: { enabled: onOff("console", get("console")) },
    tracing: loadTracing(get("tracing"), env),
  };
}

function retention(value: string): number {
  const ms = parseDurationText(value);
  if (ms === undefined) throw new ConfigError(`retention: "${value.trim().slice(0, 20)}" must be a duration such as 30d, 12h, 90m or 45s, or 0 to keep runs forever`);
  return ms;
}

function onOff(name: string, value: string): boolean {
  const v = value.trim();
  if (v !== "on" && v !== "off") throw new ConfigError(`${name}: "${v.slice(0, 20)}" must be on or off`);
  return v === "on";
}

/** --tracing, and the OTLP protocol from the standard OpenTelemetry variables (default http/protobuf, as the OTLP spec says). */
function loadTracing(value: string, env: NodeJS.ProcessEnv | Record<string, string | undefined>): Config["tracing"] {
  const mode = value.trim();
  if (mode !== "off" && mode !== "otlp") throw new ConfigError(`tracing: "${mode.slice(0, 20)}" must be off or otlp`);
  const raw = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || "http/protobuf").trim();
  if (mode === "otlp" && raw !== "http/protobuf" && raw !== "http/json") {
    throw new ConfigError(`OTEL_EXPORTER_OTLP_PROTOCOL: "${raw.slice(0, 20)}" is not supported: use http/protobuf or http/json`);
  }
  const delay = (env.OTEL_BSP_SCHEDULE_DELAY ?? "").trim();
  const scheduleDelayMs = delay === "" ? 5000 : Number(delay);
  if (mode === "otlp" && (!Number.isInteger(scheduleDelayMs) || scheduleDelayMs < 0)) throw new ConfigError(`OTEL_BSP_SCHEDULE_DELAY: "${delay.slice(0, 20)}" must be a number of milliseconds`);
  // With tracing off the OpenTelemetry variables are not Weft's concern.
  if (mode === "off") return { mode, protocol: "http/protobuf", scheduleDelayMs: 5000 };
  return { mode, protocol: raw === "http/json" ? "http/json" : "http/protobuf", scheduleDelayMs };
}

function loadHostLimits(get: (flag: string) => string): HostLimits {
  try {
    const burst = get("host-rate-burst").trim();
    return parseHostLimits([get("host-limit")], {
      maxInflight: parseInflight(get("host-max-inflight"), "host-max-inflight"),
      ratePerSecond: parseRate(get("host-max-rate"), "host-max-rate"),
      burst: burst === "" ? undefined : parseBurst(burst, "host-rate-burst"),
    });
  } catch (err) {
    if (err instanceof HostLimitError) throw new ConfigError(err.message);
    throw err;
  }
}

function loadMetrics(get: (flag: string) => string, int: (name: string, value: string, min: number, max?: number) => number): Config["metrics"] {
  const enabled = get("metrics").trim();
  if (enabled !== "on" && enabled !== "off") throw new ConfigError(`metrics: "${enabled.slice(0, 20)}" must be on or off`);
  const auth = get("metrics-auth").trim();
  if (auth !== "auth" && auth !== "open") throw new ConfigError(`metrics-auth: "${auth.slice(0, 20)}" must be auth or open`);
  return { enabled: enabled === "on", auth, maxWorkflowLabels: int("metrics-max-workflow-ids", get("metrics-max-workflow-ids"), 0, 100_000) };
}

/** Reads a key file, refusing one that group or others may read or write. */
/**
 * Why a key file's permission bits are unsafe, or undefined if they are fine. Others may not
 * access it at all, and its group may not write it; the group may read it, as with secret mounts
 * that give a service group read access (Kubernetes fsGroup, mode 0440 or 0640).
 */
export function keyFileModeProblem(mode: number): string | undefined {
  if ((mode & 0o007) !== 0) return "accessible to others";
  if ((mode & 0o020) !== 0) return "writable by its group";
  return undefined;
}

function readKeyFile(path: string): ApiKeyEntry[] {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (err) {
    throw new ConfigError(`api-keys-file: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const problem = process.platform === "win32" ? undefined : keyFileModeProblem(mode);
  if (problem) {
    throw new ConfigError(
      `api-keys-file: ${path} is ${problem} (mode ${(mode & 0o777).toString(8).padStart(4, "0")}); ` +
        `it holds secrets: chmod 600 ${path} (or 640/440 for a group that runs Weft)`,
    );
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`api-keys-file: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseApiKeyFile(text);
}

function loadAuth(get: (flag: string) => string, bool: (flag: string) => boolean): Config["auth"] {
  const reflection = get("reflection").trim();
  if (reflection !== "auth" && reflection !== "open" && reflection !== "off") {
    throw new ConfigError(`reflection: "${reflection.slice(0, 20)}" must be auth, open or off`);
  }
  try {
    const entries = parseApiKeyList(get("api-keys"));
    const file = get("api-keys-file").trim();
    if (file) entries.push(...readKeyFile(file));
    return { keys: digestApiKeys(entries), reflection, allowUnauthenticated: bool("allow-unauthenticated") };
  } catch (err) {
    if (err instanceof ApiKeyConfigError) throw new ConfigError(err.message);
    throw err;
  }
}
