// weft.v1.WorkflowService over Connect, gRPC and gRPC-Web.
import { toBinary, toJson } from "@bufbuild/protobuf";
import { durationMs, type Timestamp, timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import {
  BulkAction,
  type BulkWorkflowActionRequest,
  type BulkWorkflowActionResponse,
  type PauseWorkflowRequest,
  type PauseWorkflowResponse,
  type ResumeWorkflowRequest,
  type ResumeWorkflowResponse,
  type CancelWorkflowRequest,
  type CancelWorkflowResponse,
  type CreateWorkflowRequest,
  CreateWorkflowRequestSchema,
  type CreateWorkflowResponse,
  type DeleteWorkflowRequest,
  type DeleteWorkflowResponse,
  type GetWorkflowRequest,
  type GetWorkflowResponse,
  ItemStatusSchema,
  type ListStepItemsRequest,
  type ListStepItemsResponse,
  type ListWorkflowEventsRequest,
  type ListWorkflowEventsResponse,
  type ListWorkflowsRequest,
  type ListWorkflowsResponse,
  type RedeliverWebhookRequest,
  type RedeliverWebhookResponse,
  type RedriveWorkflowRequest,
  type RedriveWorkflowResponse,
  type RerunWorkflowRequest,
  RerunWorkflowRequestSchema,
  type RerunWorkflowResponse,
  type WatchWorkflowRequest,
  type WatchWorkflowResponse,
  type WatchWorkflowsRequest,
  type WatchWorkflowsResponse,
  type Workflow,
  WorkflowEventSchema,
  WorkflowSchema,
  WorkflowService,
  WorkflowView,
} from "../../gen/ts/weft/v1/workflow_pb.js";
import { compileWorkflow, formatViolations } from "../domain/compile-workflow.ts";
import { FIELD_LIMITS, isRunId, PAGE_BYTE_BUDGET, quoteInput, tooLong } from "../domain/field-limits.ts";
import { isTerminal as isTerminalState, type RunEvent, type RunRecord, type RunState } from "../domain/run-record.ts";
import { SeenEvents } from "../domain/seen-events.ts";
import { runIdTime } from "../domain/run-id.ts";
import { checkLabels, labelPairs, matchesFilter, type RunFilter } from "../domain/run-labels.ts";
import { RunLabelCache } from "./run-label-cache.ts";
import type { FieldViolation, Limits } from "../domain/workflow-spec.ts";
import { type Engine, IdempotencyKeyReusedError, RerunInvalidError, RunFinishedError, RunNotFoundError, RunNotReopenableError, RunNotSteerableError } from "../engine/engine.ts";
import { checkRerunInput } from "../domain/rerun.ts";
import { runBulkAction } from "../engine/bulk-runner.ts";
import { type BulkActionKind, isEmptyFilter } from "../domain/bulk-action.ts";
import { MAX_DEADLINE_EXTENSION_MS } from "../domain/redrive.ts";
import { requestFingerprint } from "../domain/request-fingerprint.ts";
import type { EventFeed } from "../ports/event-feed.ts";
import { noopTracer, type Tracer } from "../ports/tracing.ts";
import { type ListRunsQuery, StoreUnavailableError, VersionConflictError } from "../ports/workflow-store.ts";
import { EventQueue, TIMEOUT } from "./event-queue.ts";
import {
  basicWorkflowToProto,
  eventToProto,
  isTerminalRunEvent,
  itemToProto,
  rerunInput,
  rerunSizeViolations,
  RUN_STATE_FROM_PROTO,
  workflowInput,
  workflowToProto,
} from "./mappers.ts";

export const ERROR_DOMAIN = "weft.v1";
const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 100;
const DEFAULT_EVENT_PAGE_SIZE = 100;
const MAX_EVENT_PAGE_SIZE = 1000;
/** Events read from the store per round while a watcher catches up. */
const CATCH_UP_BATCH = 500;
/** Events a watcher may have queued before it falls back to reading the store. */
const WATCH_QUEUE_LIMIT = 10_000;
/** Runs whose events a WatchWorkflows stream remembers, to send each (run, sequence) at most once. */
const WATCH_REMEMBERED_RUNS = 10_000;

export interface WorkflowServiceOptions {
  engine: Engine;
  feed: EventFeed;
  limits: Limits;
  /** Idle streams get a heartbeat this often. */
  heartbeatMs: number;
  /** CreateWorkflow joins the caller's trace (W3C traceparent) when tracing is on. */
  tracer?: Tracer;
  /** BulkWorkflowAction: runs acted on per second at most (--bulk-rate; default 200). */
  bulkRate?: number;
  /** BulkWorkflowAction: runs per call at most (default MAX_BULK_RUNS; tests lower it). */
  bulkCap?: number;
}

const BULK_ACTIONS: Record<number, BulkActionKind | undefined> = {
  [BulkAction.CANCEL]: "cancel",
  [BulkAction.REDRIVE]: "redrive",
  [BulkAction.PAUSE]: "pause",
  [BulkAction.RESUME]: "resume",
};

/**
 * INVALID_ARGUMENT with a google.rpc.BadRequest: at most FIELD_LIMITS.maxFieldViolations
 * violations are listed (ErrorInfo metadata `violations` gives the total), so a
 * request with thousands of problems does not get an answer many times its size.
 */
export function invalidArgument(violations: FieldViolation[]): ConnectError {
  const listed = violations.slice(0, FIELD_LIMITS.maxFieldViolations);
  return new ConnectError(formatViolations(violations), Code.InvalidArgument, undefined, [
    {
      desc: BadRequestSchema,
      value: { fieldViolations: listed.map((v) => ({ field: v.field, description: v.description })) },
    },
    {
      desc: ErrorInfoSchema,
      value: { reason: "INVALID_ARGUMENT", domain: ERROR_DOMAIN, metadata: { violations: String(violations.length) } },
    },
  ]);
}

function withInfo(message: string, code: Code, reason: string, metadata: Record<string, string>): ConnectError {
  return new ConnectError(message, code, undefined, [
    { desc: ErrorInfoSchema, value: { reason, domain: ERROR_DOMAIN, metadata } },
  ]);
}

function encodePageToken(lastRunId: string): string {
  return Buffer.from(JSON.stringify({ before: lastRunId })).toString("base64url");
}

function decodePageToken(token: string): string {
  if (token.length > FIELD_LIMITS.maxPageTokenLength) {
    throw invalidArgument([{ field: "page_token", description: "invalid page token" }]);
  }
  try {
    const v = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { before?: unknown };
    if (typeof v.before === "string" && isRunId(v.before)) return v.before;
  } catch {
    // fall through
  }
  throw invalidArgument([{ field: "page_token", description: "invalid page token" }]);
}

/** A run id field: required, and of the form the server assigns (checked before the store is asked). */
function checkRunId(id: string, violations: FieldViolation[]): void {
  if (!id) violations.push({ field: "id", description: "required" });
  else if (!isRunId(id)) violations.push({ field: "id", description: "not a run id" });
}

function requireRunId(id: string): void {
  const violations: FieldViolation[] = [];
  checkRunId(id, violations);
  if (violations.length > 0) throw invalidArgument(violations);
}

/** A string field that must not pass `max` characters. */
function checkLength(field: string, value: string, max: number, violations: FieldViolation[]): void {
  const problem = tooLong(value, max);
  if (problem !== undefined) violations.push({ field, description: problem });
}

const STATE_COUNT = Object.keys(RUN_STATE_FROM_PROTO).length;

/**
 * The `states` filter of a request, as distinct domain states; unknown values
 * become violations. More entries than there are states are refused outright.
 */
function parseStates(states: readonly number[], violations: FieldViolation[]): RunState[] {
  if (states.length > STATE_COUNT) {
    violations.push({ field: "states", description: `at most ${STATE_COUNT} entries (got ${states.length})` });
    return [];
  }
  const out = new Set<RunState>();
  states.forEach((s, i) => {
    const state = RUN_STATE_FROM_PROTO[s];
    if (state === undefined) violations.push({ field: `states[${i}]`, description: `unknown state ${s}` });
    else out.add(state);
  });
  return [...out];
}

/** Created-time filters (ms since the epoch), or violations. */
function parseCreatedRange(
  after: Timestamp | undefined,
  before: Timestamp | undefined,
  violations: FieldViolation[],
): { createdAfter?: number; createdBefore?: number } {
  const out: { createdAfter?: number; createdBefore?: number } = {};
  const ms = (field: string, t: Timestamp): number | undefined => {
    if (t.seconds < 0n || t.seconds > 253402300799n || t.nanos < 0 || t.nanos > 999_999_999) {
      violations.push({ field, description: "must be a time between 1970-01-01 and 9999-12-31" });
      return undefined;
    }
    return timestampMs(t);
  };
  if (after) out.createdAfter = ms("created_after", after);
  if (before) out.createdBefore = ms("created_before", before);
  if (out.createdAfter === undefined) delete out.createdAfter;
  if (out.createdBefore === undefined) delete out.createdBefore;
  return out;
}

/** The labels filter of a request, as sorted pairs, or violations. */
function parseLabelFilter(labels: Record<string, string>, violations: FieldViolation[]): [string, string][] {
  checkLabels(labels, "labels", violations);
  return labelPairs(labels);
}

/** Runs read (and encoded) at a time for a full-view ListWorkflows page. */
const FULL_VIEW_BATCH = 4;

/**
 * Keeps items while the page's encoded size stays within PAGE_BYTE_BUDGET;
 * the first item is always kept. Returns how many were kept.
 */
function fitPage<T>(items: readonly T[], size: (item: T) => number): number {
  let bytes = 0;
  for (let i = 0; i < items.length; i++) {
    bytes += size(items[i]) + 8; // field tag and length prefix
    if (bytes > PAGE_BYTE_BUDGET && i > 0) return i;
  }
  return items.length;
}

/** Storage that could not be reached is UNAVAILABLE (retry), not INTERNAL. */
function storeError(err: unknown): unknown {
  if (err instanceof StoreUnavailableError) return withInfo(`${err.message}; retry`, Code.Unavailable, "STORE_UNAVAILABLE", {});
  return err;
}

function unary<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (err) {
      throw storeError(err);
    }
  };
}

function streaming<A extends unknown[], R>(fn: (...args: A) => AsyncGenerator<R>): (...args: A) => AsyncGenerator<R> {
  return async function* (...args) {
    try {
      yield* fn(...args);
    } catch (err) {
      throw storeError(err);
    }
  };
}

function runNotFound(id: string): ConnectError {
  return withInfo(`workflow run ${quoteInput(id)} not found`, Code.NotFound, "RUN_NOT_FOUND", { id: id.slice(0, FIELD_LIMITS.maxQuotedInputLength) });
}

function heartbeat() {
  return { case: "heartbeat" as const, value: { $typeName: "weft.v1.Heartbeat" as const, time: timestampFromMs(Date.now()) } };
}

export class WorkflowServiceHandler implements ServiceImpl<typeof WorkflowService> {
  private readonly engine: Engine;
  private readonly feed: EventFeed;
  private readonly limits: Limits;
  private readonly heartbeatMs: number;
  private readonly tracer: Tracer;
  private readonly bulkRate: number;
  private readonly bulkCap: number | undefined;
  /** Aborted at shutdown: every stream ends cleanly. */
  private readonly closing = new AbortController();

  constructor(options: WorkflowServiceOptions) {
    this.engine = options.engine;
    this.feed = options.feed;
    this.limits = options.limits;
    this.heartbeatMs = options.heartbeatMs;
    this.tracer = options.tracer ?? noopTracer;
    this.bulkRate = options.bulkRate ?? 200;
    this.bulkCap = options.bulkCap;
    this.pauseWorkflow = unary(this.pauseWorkflow.bind(this));
    this.resumeWorkflow = unary(this.resumeWorkflow.bind(this));
    this.bulkWorkflowAction = unary(this.bulkWorkflowAction.bind(this));
    this.createWorkflow = unary(this.createWorkflow.bind(this));
    this.getWorkflow = unary(this.getWorkflow.bind(this));
    this.listWorkflows = unary(this.listWorkflows.bind(this));
    this.cancelWorkflow = unary(this.cancelWorkflow.bind(this));
    this.watchWorkflow = streaming(this.watchWorkflow.bind(this));
    this.watchWorkflows = streaming(this.watchWorkflows.bind(this));
    this.listWorkflowEvents = unary(this.listWorkflowEvents.bind(this));
    this.listStepItems = unary(this.listStepItems.bind(this));
    this.redriveWorkflow = unary(this.redriveWorkflow.bind(this));
    this.redeliverWebhook = unary(this.redeliverWebhook.bind(this));
    this.deleteWorkflow = unary(this.deleteWorkflow.bind(this));
    this.rerunWorkflow = unary(this.rerunWorkflow.bind(this));
  }

  /** Ends every open stream (server shutdown). */
  closeStreams(): void {
    this.closing.abort();
  }

  private refuseWhileClosing(): void {
    if (this.closing.signal.aborted) throw new ConnectError("server is shutting down; reconnect to another server or retry", Code.Unavailable);
  }

  async createWorkflow(req: CreateWorkflowRequest, ctx: HandlerContext): Promise<CreateWorkflowResponse> {
    const h = ctx.requestHeader;
    const rpc = this.tracer.startRpc(`${WorkflowService.typeName}/CreateWorkflow`, {
      traceparent: h.get("traceparent") ?? undefined,
      tracestate: h.get("tracestate") ?? undefined,
    });
    try {
      const bytes = toBinary(CreateWorkflowRequestSchema, req).byteLength;
      const compiled = compileWorkflow(workflowInput(req), this.limits, bytes);
      if (!compiled.ok) throw invalidArgument(compiled.violations);
      const spec = compiled.spec;
      if (spec.requestId !== undefined) spec.requestFingerprint = requestFingerprint(toJson(CreateWorkflowRequestSchema, req));
      let result: Awaited<ReturnType<Engine["create"]>>;
      try {
        result = await this.engine.create(spec, rpc);
      } catch (err) {
        if (err instanceof IdempotencyKeyReusedError) {
          throw withInfo(err.message, Code.AlreadyExists, "IDEMPOTENCY_KEY_REUSED", { run_id: err.runId });
        }
        throw err;
      }
      const { run, created } = result;
      rpc?.end({ runId: run.runId });
      return { $typeName: "weft.v1.CreateWorkflowResponse", workflow: workflowToProto(run), deduplicated: !created };
    } catch (err) {
      rpc?.end({ error: err });
      throw err;
    }
  }

  async getWorkflow(req: GetWorkflowRequest): Promise<GetWorkflowResponse> {
    requireRunId(req.id);
    const run = await this.engine.get(req.id);
    if (!run) throw runNotFound(req.id);
    return { $typeName: "weft.v1.GetWorkflowResponse", workflow: workflowToProto(run) };
  }

  async listWorkflows(req: ListWorkflowsRequest): Promise<ListWorkflowsResponse> {
    const violations: FieldViolation[] = [];
    if (req.pageSize < 0) violations.push({ field: "page_size", description: "must not be negative" });
    const states = parseStates(req.states, violations);
    checkLength("workflow_id", req.workflowId, FIELD_LIMITS.maxIdLength, violations);
    if (req.view !== WorkflowView.UNSPECIFIED && req.view !== WorkflowView.BASIC && req.view !== WorkflowView.FULL) {
      violations.push({ field: "view", description: `unknown view ${req.view}` });
    }
    const labels = parseLabelFilter(req.labels, violations);
    const range = parseCreatedRange(req.createdAfter, req.createdBefore, violations);
    if (violations.length > 0) throw invalidArgument(violations);
    const pageSize = Math.min(req.pageSize || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
    const beforeRunId = req.pageToken ? decodePageToken(req.pageToken) : undefined;
    const query: ListRunsQuery = { states, workflowId: req.workflowId || undefined, beforeRunId, limit: pageSize + 1, ...range };
    if (labels.length > 0) query.labels = labels;
    if (req.view === WorkflowView.FULL) return this.listFull(query, pageSize);
    // The basic view is read without what grows with a run (context, step definitions, results).
    const runs = await this.engine.listSummaries(query);
    const found = runs.length;
    const workflows = runs.slice(0, pageSize).map(basicWorkflowToProto);
    const kept = fitPage(workflows, (w) => toBinary(WorkflowSchema, w).byteLength);
    return {
      $typeName: "weft.v1.ListWorkflowsResponse",
      workflows: workflows.slice(0, kept),
      nextPageToken: found > kept ? encodePageToken(workflows[kept - 1].id) : "",
    };
  }

  /**
   * The full view, read and encoded a few runs at a time: the page stops as
   * soon as it passes PAGE_BYTE_BUDGET (or holds pageSize runs), so the work is
   * bounded by the page, not by pageSize times the size of a run.
   */
  private async listFull(query: ListRunsQuery, pageSize: number): Promise<ListWorkflowsResponse> {
    const workflows: Workflow[] = [];
    let bytes = 0;
    let more = false;
    let cursor = query.beforeRunId;
    page: while (workflows.length < pageSize) {
      const take = Math.min(FULL_VIEW_BATCH, pageSize - workflows.length);
      // One more than taken tells whether anything follows.
      const runs = await this.engine.list({ ...query, beforeRunId: cursor, limit: take + 1 });
      for (const run of runs.slice(0, take)) {
        const w = workflowToProto(run);
        const size = toBinary(WorkflowSchema, w).byteLength + 8; // field tag and length prefix
        if (workflows.length > 0 && bytes + size > PAGE_BYTE_BUDGET) {
          more = true;
          break page;
        }
        bytes += size;
        workflows.push(w);
      }
      more = runs.length > take;
      if (!more) break;
      cursor = runs[take - 1].runId;
    }
    return {
      $typeName: "weft.v1.ListWorkflowsResponse",
      workflows,
      nextPageToken: more ? encodePageToken(workflows[workflows.length - 1].id) : "",
    };
  }

  async cancelWorkflow(req: CancelWorkflowRequest): Promise<CancelWorkflowResponse> {
    const violations: FieldViolation[] = [];
    checkRunId(req.id, violations);
    checkLength("reason", req.reason, FIELD_LIMITS.maxCancelReasonLength, violations);
    if (violations.length > 0) throw invalidArgument(violations);
    try {
      const run = await this.engine.cancel(req.id, req.reason);
      return { $typeName: "weft.v1.CancelWorkflowResponse", workflow: workflowToProto(run) };
    } catch (err) {
      if (err instanceof RunNotFoundError) {
        throw withInfo(err.message, Code.NotFound, "RUN_NOT_FOUND", { id: req.id });
      }
      if (err instanceof RunFinishedError) {
        throw withInfo(err.message, Code.FailedPrecondition, "RUN_FINISHED", { id: req.id, state: err.state });
      }
      throw new ConnectError(String((err as Error).message ?? err), Code.Unavailable);
    }
  }

  // ---- recovering runs ----------------------------------------------------------

  async redriveWorkflow(req: RedriveWorkflowRequest): Promise<RedriveWorkflowResponse> {
    const violations: FieldViolation[] = [];
    checkRunId(req.id, violations);
    let extensionMs: number | undefined;
    if (req.deadlineExtension !== undefined) {
      const ms = durationMs(req.deadlineExtension);
      if (!(Number.isFinite(ms) && ms >= 1000 && ms <= MAX_DEADLINE_EXTENSION_MS)) {
        violations.push({ field: "deadline_extension", description: `must be between 1s and ${MAX_DEADLINE_EXTENSION_MS / 1000}s` });
      } else extensionMs = ms;
    }
    if (violations.length > 0) throw invalidArgument(violations);
    const run = await this.reopening(req.id, () => this.engine.redrive(req.id, extensionMs));
    return { $typeName: "weft.v1.RedriveWorkflowResponse", workflow: workflowToProto(run) };
  }

  /**
   * A new run from a finished one (src/domain/rerun.ts): checked as far as
   * possible before the original is read, then against it.
   */
  async rerunWorkflow(req: RerunWorkflowRequest, ctx: HandlerContext): Promise<RerunWorkflowResponse> {
    const violations: FieldViolation[] = [];
    checkRunId(req.id, violations);
    const bytes = toBinary(RerunWorkflowRequestSchema, req).byteLength;
    if (bytes > this.limits.maxRequestBytes) {
      violations.push({ field: "request", description: `request is ${bytes} bytes, over the limit of ${this.limits.maxRequestBytes}` });
    }
    const input = rerunInput(req);
    checkRerunInput(input, this.limits.maxSteps, violations);
    if (violations.length > 0) throw invalidArgument(violations);
    const h = ctx.requestHeader;
    const rpc = this.tracer.startRpc(`${WorkflowService.typeName}/RerunWorkflow`, {
      traceparent: h.get("traceparent") ?? undefined,
      tracestate: h.get("tracestate") ?? undefined,
    });
    try {
      // Kept apart from CreateWorkflow's: a rerun and a create never share a fingerprint.
      const fingerprint = req.requestId ? requestFingerprint({ rerunWorkflow: toJson(RerunWorkflowRequestSchema, req) }) : undefined;
      let result: Awaited<ReturnType<Engine["rerun"]>>;
      try {
        result = await this.engine.rerun(req.id, input, this.limits, fingerprint, rpc, (spec, original) =>
          // The original fit a create; with a new context, labels or request id the run must still fit one.
          rerunSizeViolations(spec, original, input, this.limits.maxRequestBytes),
        );
      } catch (err) {
        if (err instanceof RunNotFoundError) throw runNotFound(req.id);
        if (err instanceof RunNotReopenableError) throw withInfo(err.message, Code.FailedPrecondition, err.reason, { id: req.id, state: err.state });
        if (err instanceof RerunInvalidError) throw invalidArgument(err.violations);
        if (err instanceof IdempotencyKeyReusedError) throw withInfo(err.message, Code.AlreadyExists, "IDEMPOTENCY_KEY_REUSED", { run_id: err.runId });
        throw err;
      }
      const { run, created } = result;
      rpc?.end({ runId: run.runId });
      return { $typeName: "weft.v1.RerunWorkflowResponse", workflow: workflowToProto(run), deduplicated: !created };
    } catch (err) {
      rpc?.end({ error: err });
      throw err;
    }
  }

  async redeliverWebhook(req: RedeliverWebhookRequest): Promise<RedeliverWebhookResponse> {
    requireRunId(req.id);
    const run = await this.reopening(req.id, () => this.engine.redeliverWebhook(req.id));
    return { $typeName: "weft.v1.RedeliverWebhookResponse", workflow: workflowToProto(run) };
  }

  // ---- pausing runs ----------------------------------------------------------------

  async pauseWorkflow(req: PauseWorkflowRequest): Promise<PauseWorkflowResponse> {
    const violations: FieldViolation[] = [];
    checkRunId(req.id, violations);
    checkLength("reason", req.reason, FIELD_LIMITS.maxCancelReasonLength, violations);
    if (violations.length > 0) throw invalidArgument(violations);
    const run = await this.steering(req.id, () => this.engine.pauseRun(req.id, req.reason || undefined, req.holdDeadline));
    return { $typeName: "weft.v1.PauseWorkflowResponse", workflow: workflowToProto(run) };
  }

  async resumeWorkflow(req: ResumeWorkflowRequest): Promise<ResumeWorkflowResponse> {
    requireRunId(req.id);
    const run = await this.steering(req.id, () => this.engine.resumeRun(req.id));
    return { $typeName: "weft.v1.ResumeWorkflowResponse", workflow: workflowToProto(run) };
  }

  /** A pause or resume, its refusals as NOT_FOUND / FAILED_PRECONDITION with an ErrorInfo reason. */
  private async steering(id: string, fn: () => Promise<RunRecord>): Promise<RunRecord> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof RunNotSteerableError) throw withInfo(err.message, Code.FailedPrecondition, err.reason, { id, state: err.state });
      return this.reopening(id, () => Promise.reject(err));
    }
  }

  async bulkWorkflowAction(req: BulkWorkflowActionRequest, ctx: HandlerContext): Promise<BulkWorkflowActionResponse> {
    const violations: FieldViolation[] = [];
    const action = BULK_ACTIONS[req.action];
    if (action === undefined) violations.push({ field: "action", description: "required: CANCEL, REDRIVE, PAUSE or RESUME" });
    const states = parseStates(req.states, violations);
    checkLength("workflow_id", req.workflowId, FIELD_LIMITS.maxIdLength, violations);
    const labels = parseLabelFilter(req.labels, violations);
    const range = parseCreatedRange(req.createdAfter, req.createdBefore, violations);
    checkLength("reason", req.reason, FIELD_LIMITS.maxCancelReasonLength, violations);
    const shape = { states: req.states.length, workflowId: req.workflowId !== "", labels: labels.length, createdAfter: req.createdAfter !== undefined, createdBefore: req.createdBefore !== undefined };
    if (isEmptyFilter(shape) && !req.all) {
      violations.push({ field: "all", description: "no filter given: set all to act on every run" });
    }
    if (violations.length > 0) throw invalidArgument(violations);
    const beforeRunId = req.pageToken ? decodePageToken(req.pageToken) : undefined;
    const query: Omit<ListRunsQuery, "limit"> = { states, workflowId: req.workflowId || undefined, beforeRunId, ...range };
    if (labels.length > 0) query.labels = labels;
    const signal = AbortSignal.any([ctx.signal, this.closing.signal]);
    const result = await runBulkAction(
      this.engine,
      { query, action: action!, dryRun: req.dryRun, reason: req.reason, ratePerSec: this.bulkRate, cap: this.bulkCap },
      signal,
    );
    return {
      $typeName: "weft.v1.BulkWorkflowActionResponse",
      matched: BigInt(result.matched),
      affected: BigInt(result.affected),
      skipped: BigInt(result.skipped),
      more: result.after !== undefined,
      nextPageToken: result.after !== undefined ? encodePageToken(result.after) : "",
    };
  }

  /** A redrive or redelivery, its refusals as NOT_FOUND / FAILED_PRECONDITION with an ErrorInfo reason. */
  private async reopening(id: string, fn: () => Promise<RunRecord>): Promise<RunRecord> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof RunNotFoundError) throw runNotFound(id);
      if (err instanceof RunNotReopenableError) throw withInfo(err.message, Code.FailedPrecondition, err.reason, { id, state: err.state });
      if (err instanceof VersionConflictError) {
        throw withInfo(`workflow run ${quoteInput(id)} kept changing while this was applied; retry`, Code.Aborted, "RUN_CHANGED", { id });
      }
      throw err;
    }
  }

  // ---- streams and history ----------------------------------------------------

  async *watchWorkflow(req: WatchWorkflowRequest, ctx: HandlerContext): AsyncGenerator<WatchWorkflowResponse> {
    requireRunId(req.id);
    if (req.afterSequence < 0n) throw invalidArgument([{ field: "after_sequence", description: "must not be negative" }]);
    this.refuseWhileClosing();
    const signal = AbortSignal.any([ctx.signal, this.closing.signal]);
    const queue = new EventQueue<RunEvent>(WATCH_QUEUE_LIMIT);
    // Subscribe before reading anything, so no commit can fall between the read and the feed.
    const unsubscribe = this.feed.subscribe(req.id, (_, e) => queue.push(e));
    try {
      const run = await this.engine.get(req.id);
      if (!run) throw runNotFound(req.id);
      const workflowId = run.spec.workflowId;
      let cursor: number;
      if (req.afterSequence === 0n) {
        yield { $typeName: "weft.v1.WatchWorkflowResponse", kind: { case: "snapshot", value: workflowToProto(run) } };
        cursor = run.lastSeq;
      } else {
        cursor = Number(req.afterSequence);
      }
      const event = (e: RunEvent): WatchWorkflowResponse => ({
        $typeName: "weft.v1.WatchWorkflowResponse",
        kind: { case: "event", value: eventToProto(e, workflowId) },
      });
      let finished = isTerminalState(run.state) && cursor >= run.lastSeq;
      // Catch up from the store: everything after the cursor that is already committed.
      const catchUp = async function* (engine: Engine, upTo: number) {
        for (;;) {
          const batch = await engine.events(req.id, cursor, Math.min(CATCH_UP_BATCH, upTo - cursor));
          for (const e of batch) {
            cursor = e.seq;
            yield e;
          }
          if (batch.length === 0 || cursor >= upTo) return;
        }
      };
      if (!finished) {
        for await (const e of catchUp(this.engine, Number.MAX_SAFE_INTEGER)) {
          yield event(e);
          // A terminal transition that a redrive followed (the run read above went on) does not end the watch.
          if (isTerminalRunEvent(e) && e.seq >= run.lastSeq) {
            finished = true;
            break;
          }
        }
      }
      while (!finished && !signal.aborted) {
        if (queue.overflowed) {
          queue.reset();
          for await (const e of catchUp(this.engine, Number.MAX_SAFE_INTEGER)) {
            yield event(e);
            if (isTerminalRunEvent(e)) finished = true;
            if (finished) break;
          }
          continue;
        }
        const next = await queue.take(this.heartbeatMs, signal);
        if (next === TIMEOUT) {
          if (signal.aborted) break;
          // Idle: the store is the truth, so a missed notification never stalls a watcher.
          for await (const e of catchUp(this.engine, Number.MAX_SAFE_INTEGER)) {
            yield event(e);
            if (isTerminalRunEvent(e)) finished = true;
            if (finished) break;
          }
          if (!finished) yield { $typeName: "weft.v1.WatchWorkflowResponse", kind: heartbeat() };
          continue;
        }
        if (next.seq <= cursor) continue;
        if (next.seq > cursor + 1) {
          // Published out of reach (e.g. by another server): fill the gap from the store.
          for await (const e of catchUp(this.engine, next.seq - 1)) yield event(e);
        }
        cursor = next.seq;
        yield event(next);
        finished = isTerminalRunEvent(next);
      }
    } finally {
      unsubscribe();
    }
  }

  async *watchWorkflows(req: WatchWorkflowsRequest, ctx: HandlerContext): AsyncGenerator<WatchWorkflowsResponse> {
    const violations: FieldViolation[] = [];
    const states = new Set(parseStates(req.states, violations));
    checkLength("workflow_id", req.workflowId, FIELD_LIMITS.maxIdLength, violations);
    const filter: RunFilter = { labels: parseLabelFilter(req.labels, violations), ...parseCreatedRange(req.createdAfter, req.createdBefore, violations) };
    if (violations.length > 0) throw invalidArgument(violations);
    // Labels are the run's (read once per run and remembered); the creation time is in the run id.
    const labelsOf = new RunLabelCache(WATCH_REMEMBERED_RUNS, async (runId) => (await this.engine.get(runId))?.spec.labels);
    const needsLabels = (filter.labels?.length ?? 0) > 0;
    this.refuseWhileClosing();
    const signal = AbortSignal.any([ctx.signal, this.closing.signal]);
    const queue = new EventQueue<{ workflowId: string; event: RunEvent }>(WATCH_QUEUE_LIMIT);
    // The feed delivers each event once; this holds the promise on the stream whatever the feed does.
    const sent = new SeenEvents({ maxRuns: WATCH_REMEMBERED_RUNS });
    const unsubscribe = this.feed.subscribe(undefined, (workflowId, event) => {
      if (event.kind !== "run") return;
      if (states.size > 0 && !states.has(event.to as RunState)) return;
      if (req.workflowId && req.workflowId !== workflowId) return;
      queue.push({ workflowId, event });
    });
    try {
      while (!signal.aborted) {
        if (queue.overflowed) {
          queue.reset();
          throw new ConnectError("watcher fell too far behind; reconnect", Code.ResourceExhausted);
        }
        const next = await queue.take(this.heartbeatMs, signal);
        if (next === TIMEOUT) {
          if (!signal.aborted) yield { $typeName: "weft.v1.WatchWorkflowsResponse", kind: heartbeat() };
          continue;
        }
        const runId = next.event.runId;
        const labels = needsLabels ? await labelsOf.get(runId) : undefined;
        if (!matchesFilter(filter, labels, runIdTime(runId))) continue;
        if (!sent.firstTime(runId, next.event.seq)) continue;
        yield {
          $typeName: "weft.v1.WatchWorkflowsResponse",
          kind: { case: "event", value: eventToProto(next.event, next.workflowId) },
        };
      }
    } finally {
      unsubscribe();
    }
  }

  async deleteWorkflow(req: DeleteWorkflowRequest): Promise<DeleteWorkflowResponse> {
    requireRunId(req.id);
    const result = await this.engine.deleteRun(req.id);
    if (result.deleted) return { $typeName: "weft.v1.DeleteWorkflowResponse" };
    if (!result.found) throw runNotFound(req.id);
    const why = result.webhookPending
      ? `workflow run "${req.id}" has finished (${result.state}) but its webhook is still being delivered; retry once delivered or given up`
      : isTerminalState(result.state)
        ? `workflow run "${req.id}" has just finished (${result.state}) and is still being recorded; retry`
        : `workflow run "${req.id}" has not finished (${result.state}); cancel it first`;
    throw withInfo(why, Code.FailedPrecondition, "RUN_NOT_FINISHED", { id: req.id, state: result.state });
  }

  async listWorkflowEvents(req: ListWorkflowEventsRequest): Promise<ListWorkflowEventsResponse> {
    requireRunId(req.id);
    if (req.pageSize < 0) throw invalidArgument([{ field: "page_size", description: "must not be negative" }]);
    let after = 0;
    if (req.pageToken.length > FIELD_LIMITS.maxPageTokenLength) {
      throw invalidArgument([{ field: "page_token", description: "invalid page token" }]);
    }
    if (req.pageToken) {
      const text = Buffer.from(req.pageToken, "base64url").toString("utf8");
      after = /^\d{1,15}$/.test(text) ? Number(text) : -1;
      if (after < 0) {
        throw invalidArgument([{ field: "page_token", description: "invalid page token" }]);
      }
    }
    const run = await this.engine.get(req.id);
    if (!run) throw runNotFound(req.id);
    const size = Math.min(req.pageSize || DEFAULT_EVENT_PAGE_SIZE, MAX_EVENT_PAGE_SIZE);
    const events = (await this.engine.events(req.id, after, size)).map((e) => eventToProto(e, run.spec.workflowId));
    const page = events.slice(0, fitPage(events, (e) => toBinary(WorkflowEventSchema, e).byteLength));
    const last = page.at(-1);
    return {
      $typeName: "weft.v1.ListWorkflowEventsResponse",
      events: page,
      nextPageToken: last && last.sequence < BigInt(run.lastSeq) ? Buffer.from(String(last.sequence)).toString("base64url") : "",
    };
  }

  async listStepItems(req: ListStepItemsRequest): Promise<ListStepItemsResponse> {
    requireRunId(req.id);
    const violations: FieldViolation[] = [];
    if (req.stepId === "") violations.push({ field: "step_id", description: "required" });
    checkLength("step_id", req.stepId, FIELD_LIMITS.maxIdLength, violations);
    if (req.pageSize < 0) violations.push({ field: "page_size", description: "must not be negative" });
    let from = 0;
    if (req.pageToken) {
      const text = req.pageToken.length > FIELD_LIMITS.maxPageTokenLength ? "" : Buffer.from(req.pageToken, "base64url").toString("utf8");
      from = /^\d{1,9}$/.test(text) ? Number(text) : -1;
      if (from < 0) violations.push({ field: "page_token", description: "invalid page token" });
    }
    if (violations.length > 0) throw invalidArgument(violations);
    const run = await this.engine.get(req.id);
    if (!run) throw runNotFound(req.id);
    const index = run.steps.findIndex((st) => st.id === req.stepId);
    if (index < 0) throw invalidArgument([{ field: "step_id", description: `no step ${quoteInput(req.stepId)} in this run` }]);
    if (run.spec.steps[index].forEach === undefined) {
      throw invalidArgument([{ field: "step_id", description: `step ${quoteInput(req.stepId)} is not a map step (no for_each)` }]);
    }
    const all = run.items?.[index] ?? [];
    const size = Math.min(req.pageSize || DEFAULT_EVENT_PAGE_SIZE, MAX_EVENT_PAGE_SIZE);
    const items = all.slice(from, from + size).map((it, k) => itemToProto(it, from + k));
    const page = items.slice(0, fitPage(items, (it) => toBinary(ItemStatusSchema, it).byteLength));
    const next = from + page.length;
    return {
      $typeName: "weft.v1.ListStepItemsResponse",
      items: page,
      nextPageToken: page.length > 0 && next < all.length ? Buffer.from(String(next)).toString("base64url") : "",
    };
  }
}
