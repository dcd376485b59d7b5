// The Weft TypeScript client: the `platform` object of the product document.
//
//   import { platform } from "@weftflow/client";
//   const run = await platform.workflows.create({ id: "order-processing", steps: [...] });
//   const status = await platform.workflows.getStatus(run.id);
//
// `platform` is configured from the environment, read on first use:
//   WEFT_URL              the Weft server (default http://localhost:8080)
//   WEFT_API_KEY          API key sent as `authorization: Bearer <key>` on every call
//   WEFT_TRANSPORT        "connect" (default: the Connect protocol over fetch()) or
//                         "grpc" (HTTP/2; needs @connectrpc/connect-node installed)
//   WEFT_SIGNING_SECRETS  secrets that verify job requests (comma/space separated)
//   WEFT_JOBS_BASE_URL    base for step URLs given as paths ('/api/jobs/x') when
//                         create() gets no `baseUrl`
// `configurePlatform({...})` overrides any of these in code (also after first
// use); `createPlatform({ baseUrl, ... })` makes an independent instance.
import { type Client, Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  TERMINAL_STATES,
  toCreateRequest,
  toWatchEvent,
  toWorkflowStatus,
  workflowStatesToProto,
} from "./convert.ts";
import { processEnv } from "./env.ts";
import { WeftError } from "./errors.ts";
import { BulkAction, WorkflowService, WorkflowView } from "./gen/weft/v1/workflow_pb.js";
import { parseSecretList } from "./secrets.ts";
import type {
  BulkActionName,
  BulkActionOptions,
  BulkActionResult,
  CreatedWorkflow,
  CreateWorkflowInput,
  ListWorkflowsOptions,
  RerunOptions,
  WatchMessage,
  WatchOptions,
  WorkflowPage,
  WorkflowStatus,
} from "./types.ts";
import { verifyRequest as verifyFetchRequest, verifyRequestDetailed, type VerifyResult } from "./verify.ts";

const BULK_ACTIONS: Record<BulkActionName, BulkAction> = {
  cancel: BulkAction.CANCEL,
  redrive: BulkAction.REDRIVE,
  pause: BulkAction.PAUSE,
  resume: BulkAction.RESUME,
};

export interface PlatformOptions {
  /** The Weft server, e.g. "http://localhost:8080". */
  baseUrl: string;
  /**
   * Secrets that verify job requests in `jobs.verifyRequest` (`whsec_…` or raw;
   * a string may list several, comma/space separated). Unset: the
   * WEFT_SIGNING_SECRETS environment variable at verification time.
   */
  signingSecrets?: string | readonly string[] | undefined;
  /**
   * API key, sent as `authorization: Bearer <key>` on every call (watch
   * streams too). Unset: the WEFT_API_KEY environment variable, read on first use.
   */
  apiKey?: string | undefined;
  /**
   * "connect" (default: the Connect protocol, binary, over fetch(); runs on
   * Node >= 20, Bun, Deno, edge runtimes and browsers) or "grpc" (gRPC over
   * HTTP/2, Node only: needs the optional peer dependency @connectrpc/connect-node).
   */
  transport?: "grpc" | "connect" | undefined;
  /**
   * Send Connect-protocol requests with this fetch() (an instrumented fetch,
   * tests) instead of the global one. Only with transport "connect".
   */
  fetch?: typeof globalThis.fetch | undefined;
  /** Base for step URLs given as paths when create() gets no `baseUrl`. */
  jobsBaseUrl?: string | undefined;
  /**
   * Maps every URL create() sends (steps, compensations, onComplete, onError,
   * base URL) before it is sent, e.g. to point production URLs at a local
   * server in development or tests: `(u) => u.replace("https://myapp.com", "http://localhost:3000")`.
   */
  rewriteUrl?: ((url: string) => string) | undefined;
  /** Connect interceptors applied to every call (logging, auth headers, …). */
  interceptors?: Interceptor[] | undefined;
  /** Timeout of each unary call in ms (not watch streams). Default 30000; 0 means none. */
  timeoutMs?: number | undefined;
}

export interface VerifyOptions {
  /** Accepted clock skew either way, in seconds. Default 300. */
  toleranceSeconds?: number | undefined;
}

export interface WorkflowsApi {
  /** Validates and starts a run of the workflow; returns the run (its `id` is what getStatus takes). */
  create(input: CreateWorkflowInput): Promise<CreatedWorkflow>;
  /** The status of a run, by run id ('wf_…'). */
  getStatus(id: string): Promise<WorkflowStatus>;
  /** Cancels a run that has not finished (in-flight calls are aborted); returns the cancelled run. */
  cancel(id: string, reason?: string): Promise<WorkflowStatus>;
  /** One page of runs, newest first. */
  list(options?: ListWorkflowsOptions): Promise<WorkflowPage>;
  /** Deletes a finished run with its events (a run that has not finished is refused: 'failed_precondition'). */
  delete(id: string): Promise<void>;
  /**
   * Continues a failed (or timed out) or cancelled run in place: completed
   * steps keep their results, the others run again. The deadline moves by
   * `deadlineExtensionMs` (default: the run's timeout). Returns the run, running again.
   */
  redrive(id: string, options?: { deadlineExtensionMs?: number | undefined }): Promise<WorkflowStatus>;
  /**
   * Starts a NEW run of a finished run's workflow (its `rerunOf` is `id`) that
   * runs `fromSteps` and every step downstream of them again; the other steps
   * that completed are copied with their results (`copiedFrom`), not called.
   * Returns the new run.
   */
  rerun(id: string, options: RerunOptions): Promise<CreatedWorkflow>;
  /** Delivers a finished run's on_complete / on_error webhook again (one that failed, or was delivered). */
  redeliverWebhook(id: string): Promise<WorkflowStatus>;
  /**
   * Pauses a pending or running run: nothing new starts until resume (calls in
   * flight finish). `holdDeadline` stops the deadline clock while paused.
   */
  pause(id: string, options?: { reason?: string | undefined; holdDeadline?: boolean | undefined }): Promise<WorkflowStatus>;
  /** Resumes a paused run where it stopped. */
  resume(id: string): Promise<WorkflowStatus>;
  /**
   * Cancels, redrives, pauses or resumes every run matching the filter (or
   * counts them with dryRun), calling again while the server says more.
   */
  bulkAction(action: BulkActionName, options: BulkActionOptions): Promise<BulkActionResult>;
  /**
   * Streams a run: a snapshot, then every transition in order; ends after the
   * run's terminal transition. Leaving the loop early cancels the stream.
   */
  watch(id: string, options?: WatchOptions): AsyncGenerator<WatchMessage, void, undefined>;
}

export interface JobsApi {
  /**
   * True if a job request (a Fetch `Request`, e.g. a Next.js route handler's)
   * carries a valid Weft signature. The body stays readable.
   */
  verifyRequest(req: Request, options?: VerifyOptions): Promise<boolean>;
  /** Like verifyRequest, with the reason on failure. */
  verifyRequestDetailed(req: Request, options?: VerifyOptions): Promise<VerifyResult>;
}

export interface Platform {
  readonly workflows: WorkflowsApi;
  readonly jobs: JobsApi;
}

export const DEFAULT_WEFT_URL = "http://localhost:8080";
const DEFAULT_TIMEOUT_MS = 30_000;

function checkOptions(o: PlatformOptions): void {
  if (typeof o.baseUrl !== "string" || !/^https?:\/\//.test(o.baseUrl)) {
    throw new TypeError(`Weft platform: baseUrl must be an http(s) URL, got ${JSON.stringify(o.baseUrl)}`);
  }
  const transport = o.transport ?? "connect";
  if (transport !== "connect" && transport !== "grpc") {
    throw new TypeError(`Weft platform: transport must be "connect" or "grpc", got ${JSON.stringify(o.transport)}`);
  }
  if (o.apiKey !== undefined && (typeof o.apiKey !== "string" || !/^[\x21-\x7e]{1,256}$/.test(o.apiKey))) {
    // Never quote the key.
    throw new TypeError("Weft platform: apiKey must be 1 to 256 printable ASCII characters without whitespace");
  }
  if (o.fetch && transport !== "connect") {
    throw new TypeError('Weft platform: a custom fetch needs transport "connect" (gRPC needs HTTP/2 trailers)');
  }
}

/** Sets `authorization: Bearer <key>` on every request, unary and streaming. */
function bearer(apiKey: string): Interceptor {
  const value = `Bearer ${apiKey}`;
  return (next) => (req) => {
    req.header.set("authorization", value);
    return next(req);
  };
}

function makeTransport(o: PlatformOptions): Transport {
  const baseUrl = o.baseUrl.replace(/\/+$/, "");
  const interceptors = [...(o.apiKey ? [bearer(o.apiKey)] : []), ...(o.interceptors ?? [])];
  if ((o.transport ?? "connect") === "grpc") return grpcTransport(baseUrl, interceptors);
  return createConnectTransport({ baseUrl, useBinaryFormat: true, interceptors, fetch: networkErrorsUnavailable(o.fetch) });
}

/**
 * fetch() rejects with a TypeError when the server cannot be reached (refused,
 * reset, DNS); Connect would report that as "unknown". It is "unavailable", as
 * over gRPC: worth retrying.
 */
function networkErrorsUnavailable(custom: typeof globalThis.fetch | undefined): typeof globalThis.fetch {
  return async (input, init) => {
    try {
      return await (custom ?? globalThis.fetch)(input, init);
    } catch (err) {
      if (!(err instanceof TypeError) || init?.signal?.aborted) throw err;
      throw new ConnectError(`cannot reach the Weft server: ${err.message}`, Code.Unavailable, undefined, undefined, err);
    }
  };
}

interface ConnectNode {
  createGrpcTransport(options: { baseUrl: string; interceptors: Interceptor[] }): Transport;
}

// A variable, so that bundlers leave the optional dependency alone.
const CONNECT_NODE = "@connectrpc/connect-node";

/** gRPC over HTTP/2 from @connectrpc/connect-node, loaded on the first call. */
function grpcTransport(baseUrl: string, interceptors: Interceptor[]): Transport {
  let loaded: Promise<Transport> | undefined;
  const get = (): Promise<Transport> =>
    (loaded ??= import(/* webpackIgnore: true */ /* @vite-ignore */ CONNECT_NODE).then(
      (m: ConnectNode) => m.createGrpcTransport({ baseUrl, interceptors }),
      (err: unknown) => {
        loaded = undefined;
        throw new WeftError(
          "unimplemented",
          'Weft platform: transport "grpc" needs the package @connectrpc/connect-node (npm install @connectrpc/connect-node), or use transport "connect"',
          { cause: err },
        );
      },
    ));
  return {
    async unary(method, signal, timeoutMs, header, input, contextValues) {
      return (await get()).unary(method, signal, timeoutMs, header, input, contextValues);
    },
    async stream(method, signal, timeoutMs, header, input, contextValues) {
      return (await get()).stream(method, signal, timeoutMs, header, input, contextValues);
    },
  };
}

function secretsOf(o: PlatformOptions): string[] | undefined {
  const s = o.signingSecrets;
  if (s === undefined) return undefined;
  const list = typeof s === "string" ? parseSecretList(s) : [...s];
  return list.length > 0 ? list : undefined;
}

/** Wraps a Connect call: any failure becomes a WeftError. */
async function call<T>(p: () => Promise<T>): Promise<T> {
  try {
    return await p();
  } catch (err) {
    throw WeftError.from(err);
  }
}

interface Resolved {
  options: PlatformOptions;
  client: Client<typeof WorkflowService>;
}

/** A platform whose options are produced (and checked) on first use; `reset` forgets them. */
function lazyPlatform(getOptions: () => PlatformOptions): { platform: Platform; reset(): void } {
  let resolved: Resolved | undefined;
  const state = (): Resolved => {
    if (!resolved) {
      const options = getOptions();
      checkOptions(options);
      resolved = { options, client: createClient(WorkflowService, makeTransport(options)) };
    }
    return resolved;
  };
  const unary = () => {
    const { options, client } = state();
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return { options, client, callOptions: timeoutMs > 0 ? { timeoutMs } : {} };
  };

  const workflows: WorkflowsApi = {
    async create(input) {
      const { options, client, callOptions } = unary();
      const req = toCreateRequest(input, { jobsBaseUrl: options.jobsBaseUrl, rewriteUrl: options.rewriteUrl });
      const res = await call(() => client.createWorkflow(req, callOptions));
      return { ...toWorkflowStatus(res.workflow!), deduplicated: res.deduplicated };
    },
    async getStatus(id) {
      const { client, callOptions } = unary();
      const res = await call(() => client.getWorkflow({ id }, callOptions));
      return toWorkflowStatus(res.workflow!);
    },
    async cancel(id, reason) {
      const { client, callOptions } = unary();
      const res = await call(() => client.cancelWorkflow({ id, reason: reason ?? "" }, callOptions));
      return toWorkflowStatus(res.workflow!);
    },
    async redrive(id, opts = {}) {
      const { client, callOptions } = unary();
      const ms = opts.deadlineExtensionMs;
      const deadlineExtension = ms === undefined ? undefined : { seconds: BigInt(Math.floor(ms / 1000)), nanos: Math.round((ms % 1000) * 1e6) };
      const res = await call(() => client.redriveWorkflow({ id, deadlineExtension }, callOptions));
      return toWorkflowStatus(res.workflow!);
    },
    async rerun(id, opts) {
      const { client, callOptions } = unary();
      const res = await call(() =>
        client.rerunWorkflow(
          {
            id,
            fromSteps: [...opts.fromSteps],
            context: opts.context,
            labels: opts.labels && { labels: opts.labels },
            requestId: opts.requestId ?? "",
          },
          callOptions,
        ),
      );
      return { ...toWorkflowStatus(res.workflow!), deduplicated: res.deduplicated };
    },
    async pause(id, opts = {}) {
      const { client, callOptions } = unary();
      const res = await call(() => client.pauseWorkflow({ id, reason: opts.reason ?? "", holdDeadline: opts.holdDeadline ?? false }, callOptions));
      return toWorkflowStatus(res.workflow!);
    },
    async resume(id) {
      const { client, callOptions } = unary();
      const res = await call(() => client.resumeWorkflow({ id }, callOptions));
      return toWorkflowStatus(res.workflow!);
    },
    async bulkAction(action, opts) {
      const { client, callOptions } = unary();
      const total = { matched: 0, affected: 0, skipped: 0 };
      let pageToken = "";
      do {
        const res = await call(() =>
          client.bulkWorkflowAction(
            {
              action: BULK_ACTIONS[action],
              states: workflowStatesToProto(opts.state),
              workflowId: opts.workflowId ?? "",
              labels: opts.labels ?? {},
              createdAfter: opts.createdAfter ? timestampFromDate(opts.createdAfter) : undefined,
              createdBefore: opts.createdBefore ? timestampFromDate(opts.createdBefore) : undefined,
              all: opts.all ?? false,
              dryRun: opts.dryRun ?? false,
              reason: opts.reason ?? "",
              pageToken,
            },
            callOptions,
          ),
        );
        total.matched += Number(res.matched);
        total.affected += Number(res.affected);
        total.skipped += Number(res.skipped);
        pageToken = res.more ? res.nextPageToken : "";
      } while (pageToken);
      return total;
    },
    async redeliverWebhook(id) {
      const { client, callOptions } = unary();
      const res = await call(() => client.redeliverWebhook({ id }, callOptions));
      return toWorkflowStatus(res.workflow!);
    },
    async list(opts = {}) {
      const { client, callOptions } = unary();
      const res = await call(() =>
        client.listWorkflows(
          {
            states: workflowStatesToProto(opts.state),
            workflowId: opts.workflowId ?? "",
            labels: opts.labels ?? {},
            createdAfter: opts.createdAfter && timestampFromDate(opts.createdAfter),
            createdBefore: opts.createdBefore && timestampFromDate(opts.createdBefore),
            pageSize: opts.pageSize ?? 0,
            pageToken: opts.pageToken ?? "",
            view: opts.view === "full" ? WorkflowView.FULL : WorkflowView.BASIC,
          },
          callOptions,
        ),
      );
      return { workflows: res.workflows.map(toWorkflowStatus), nextPageToken: res.nextPageToken || undefined };
    },
    async delete(id) {
      const { client, callOptions } = unary();
      await call(() => client.deleteWorkflow({ id }, callOptions));
    },
    watch(id, opts = {}) {
      return watchRun(state().client, workflows, id, opts);
    },
  };

  const jobs: JobsApi = {
    verifyRequest(req, opts = {}) {
      return verifyFetchRequest(req, { secrets: secretsOf(state().options), toleranceSeconds: opts.toleranceSeconds });
    },
    verifyRequestDetailed(req, opts = {}) {
      return verifyRequestDetailed(req, { secrets: secretsOf(state().options), toleranceSeconds: opts.toleranceSeconds });
    },
  };

  return {
    platform: { workflows, jobs },
    reset() {
      resolved = undefined;
    },
  };
}

async function* watchRun(
  client: Client<typeof WorkflowService>,
  workflows: WorkflowsApi,
  id: string,
  opts: WatchOptions,
): AsyncGenerator<WatchMessage, void, undefined> {
  const after = opts.afterSequence ?? 0;
  if (!Number.isSafeInteger(after) || after < 0) {
    throw new WeftError("invalid_argument", "after_sequence: must be a non-negative integer", {
      fieldViolations: [{ field: "after_sequence", description: "must be a non-negative integer" }],
    });
  }
  // The Connect client's stream iterator has no return(): aborting this
  // controller is what cancels the call when the caller leaves the loop early.
  const abort = new AbortController();
  const external = opts.signal;
  const onAbort = () => abort.abort(external?.reason);
  if (external?.aborted) onAbort();
  else external?.addEventListener("abort", onAbort, { once: true });
  let lastSeen = after;
  try {
    const stream = client.watchWorkflow({ id, afterSequence: BigInt(after) }, { signal: abort.signal });
    for await (const m of stream) {
      if (m.kind.case === "snapshot") {
        const status = toWorkflowStatus(m.kind.value);
        lastSeen = Math.max(lastSeen, status.lastSequence);
        yield { type: "snapshot", status };
        if (TERMINAL_STATES.has(status.state)) return;
      } else if (m.kind.case === "event") {
        const event = toWatchEvent(m.kind.value);
        if (!event) continue;
        lastSeen = Math.max(lastSeen, event.sequence);
        yield event;
        // The server ends the stream after the run's terminal transition; one that a
        // redrive followed (a watch resumed from before it) is not the end.
      }
      // Heartbeats only keep the connection open.
    }
    // The stream ended without the terminal event: fine if it had already been
    // delivered before `afterSequence`, otherwise (e.g. the server shut down)
    // the caller can resume.
    const status = await workflows.getStatus(id);
    if (TERMINAL_STATES.has(status.state) && status.lastSequence <= lastSeen) return;
    throw new WeftError(
      "unavailable",
      `the watch of ${id} ended before the run finished; resume with { afterSequence: ${lastSeen} }`,
    );
  } catch (err) {
    throw WeftError.from(err);
  } finally {
    external?.removeEventListener("abort", onAbort);
    abort.abort();
  }
}

/** An independent platform for the given server. */
export function createPlatform(options: PlatformOptions): Platform {
  checkOptions(options);
  const fixed = { ...options };
  return lazyPlatform(() => (fixed.apiKey !== undefined ? fixed : { ...fixed, apiKey: processEnv().WEFT_API_KEY || undefined })).platform;
}

/** Options read from the environment (see the top of this file). */
export function optionsFromEnv(env: Record<string, string | undefined> = processEnv()): PlatformOptions {
  const transport = env.WEFT_TRANSPORT || undefined;
  return {
    baseUrl: env.WEFT_URL || DEFAULT_WEFT_URL,
    apiKey: env.WEFT_API_KEY || undefined,
    signingSecrets: env.WEFT_SIGNING_SECRETS || undefined,
    transport: transport as PlatformOptions["transport"],
    jobsBaseUrl: env.WEFT_JOBS_BASE_URL || undefined,
  };
}

let overrides: Partial<PlatformOptions> = {};
const defaultPlatform = lazyPlatform(() => {
  const merged: PlatformOptions = { ...optionsFromEnv() };
  for (const [k, v] of Object.entries(overrides)) {
    if (v !== undefined) (merged as unknown as Record<string, unknown>)[k] = v;
  }
  return merged;
});

/**
 * The default platform: configured from the environment on first use (WEFT_URL,
 * WEFT_API_KEY, WEFT_TRANSPORT, WEFT_SIGNING_SECRETS, WEFT_JOBS_BASE_URL), plus anything set
 * with configurePlatform().
 */
export const platform: Platform = defaultPlatform.platform;

/**
 * Sets options of the default `platform` in code; they win over the
 * environment. Takes effect at the next call (the connection is rebuilt), and
 * merges with earlier calls; `configurePlatform(null)` clears them all.
 */
export function configurePlatform(options: Partial<PlatformOptions> | null): void {
  overrides = options === null ? {} : { ...overrides, ...options };
  defaultPlatform.reset();
}

export { WeftError } from "./errors.ts";
export type { FieldViolation, WeftErrorCode } from "./errors.ts";
export type * from "./types.ts";
export type { VerifyResult } from "./verify.ts";
