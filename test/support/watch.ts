// Helpers for the WatchWorkflow / WatchWorkflows / ListWorkflowEvents tests:
// gates for step handlers, stream collectors, paged history, event checks and
// a grpc-js client for the server-streaming methods.
import { fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import {
  CompensationState,
  StepState,
  type WatchWorkflowRequest,
  WatchWorkflowRequestSchema,
  type WatchWorkflowResponse,
  WatchWorkflowResponseSchema,
  type Workflow,
  type WorkflowEvent,
  type WorkflowService,
  WorkflowState,
} from "../../gen/ts/weft/v1/workflow_pb.js";
import type { HandlerServer } from "./handler-server.ts";

/** A promise a step handler can wait on until the test opens it. */
export class Gate {
  private release!: () => void;
  readonly opened: Promise<void> = new Promise((r) => (this.release = r));
  isOpen = false;
  open(): void {
    this.isOpen = true;
    this.release();
  }
}

/** Programs `path` to wait for the gate, then succeed with `result`. */
export function gated(handlers: HandlerServer, path: string, gate: Gate, result: unknown = { gated: true }): void {
  handlers.on(path, async () => {
    await gate.opened;
    return { json: { success: true, result } };
  });
}

/** The product's complex-pipeline DAG, its handlers under `prefix` (e.g. "/w1"). */
export function complexPipeline(handlers: HandlerServer, prefix: string) {
  const u = (name: string) => handlers.url(`${prefix}/${name}`);
  return [
    { id: "prepare", url: u("prepare") },
    { id: "process-a", url: u("process-a"), dependsOn: ["prepare"], parallel: true },
    { id: "process-b", url: u("process-b"), dependsOn: ["prepare"], parallel: true },
    { id: "process-c", url: u("process-c"), dependsOn: ["prepare"], parallel: true },
    { id: "validate", url: u("validate"), dependsOn: ["process-c"] },
    { id: "aggregate", url: u("aggregate"), dependsOn: ["process-a", "process-b", "process-c"] },
    { id: "notify", url: u("notify"), dependsOn: ["aggregate", "validate"] },
  ];
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Rejects with a readable message when `p` takes longer than `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls until pred() holds (it may ask a store). */
export async function until(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** What a WatchWorkflow stream delivered. */
export interface Watched {
  messages: WatchWorkflowResponse[];
  snapshot?: Workflow;
  events: WorkflowEvent[];
  heartbeats: number;
  /** The stream ended by itself (the server finished it without an error). */
  ended: boolean;
  /** The stream failed (or was aborted by `stopWhen`, then `stopped` is set). */
  error?: unknown;
  stopped: boolean;
}

export interface CollectOptions {
  /** Abort the call right after this message was recorded. */
  stopWhen?: (m: WatchWorkflowResponse, w: Watched) => boolean;
  /** Called after every message (e.g. to count snapshots received). */
  onMessage?: (m: WatchWorkflowResponse, w: Watched) => void;
  timeoutMs?: number;
}

/**
 * Reads a WatchWorkflow stream opened by `open(signal)` until it ends, fails,
 * or `stopWhen` holds. Never hangs: the call is aborted after `timeoutMs` and
 * the result says so through `error`.
 */
export async function collectWatch(
  open: (signal: AbortSignal) => AsyncIterable<WatchWorkflowResponse>,
  options: CollectOptions = {},
): Promise<Watched> {
  const abort = new AbortController();
  const w: Watched = { messages: [], events: [], heartbeats: 0, ended: false, stopped: false };
  const timer = setTimeout(() => abort.abort(new Error("collectWatch timed out")), options.timeoutMs ?? 120_000);
  try {
    for await (const m of open(abort.signal)) {
      w.messages.push(m);
      if (m.kind.case === "snapshot") w.snapshot = m.kind.value;
      else if (m.kind.case === "event") w.events.push(m.kind.value);
      else if (m.kind.case === "heartbeat") w.heartbeats++;
      options.onMessage?.(m, w);
      if (options.stopWhen?.(m, w)) {
        w.stopped = true;
        abort.abort();
        break;
      }
    }
    if (!w.stopped) w.ended = true;
  } catch (err) {
    w.error = err;
  } finally {
    clearTimeout(timer);
  }
  if (abort.signal.aborted && !w.stopped) w.error ??= abort.signal.reason;
  return w;
}

/** Every event of a run after `after`, read with ListWorkflowEvents pages of `pageSize`. */
export async function listEvents(
  client: Client<typeof WorkflowService>,
  id: string,
  pageSize: number,
  after = 0,
): Promise<{ events: WorkflowEvent[]; pages: number }> {
  const events: WorkflowEvent[] = [];
  let pageToken = "";
  let pages = 0;
  do {
    const res = await client.listWorkflowEvents({ id, pageSize, pageToken });
    pages++;
    if (res.events.length > pageSize) throw new Error(`page of ${res.events.length} > page_size ${pageSize}`);
    events.push(...res.events);
    pageToken = res.nextPageToken;
    if (pages > 10_000) throw new Error("ListWorkflowEvents does not stop paging");
  } while (pageToken);
  return { events: events.filter((e) => e.sequence > BigInt(after)), pages };
}

/** "7 process-a STEP PENDING→RUNNING" — for readable failure diffs. */
export function describeEvent(e: WorkflowEvent): string {
  const t = e.transition;
  if (t.case === "run") return `${e.sequence} run ${WorkflowState[t.value.fromState]}→${WorkflowState[t.value.toState]}`;
  if (t.case === "step") return `${e.sequence} ${e.stepId} ${StepState[t.value.fromState]}→${StepState[t.value.toState]}`;
  if (t.case === "compensation") {
    return `${e.sequence} ${e.stepId} compensation ${CompensationState[t.value.fromState]}→${CompensationState[t.value.toState]}`;
  }
  return `${e.sequence} ?`;
}

export const seqs = (events: WorkflowEvent[]) => events.map((e) => Number(e.sequence));

/** [after+1, after+2, …, after+n] */
export const range = (after: number, n: number) => Array.from({ length: n }, (_, i) => after + 1 + i);

export function isTerminalRunEvent(e: WorkflowEvent): boolean {
  return (
    e.transition.case === "run" &&
    [WorkflowState.COMPLETED, WorkflowState.FAILED, WorkflowState.CANCELLED].includes(e.transition.value.toState)
  );
}

/** Step transitions of one step, in order, as "FROM→TO". */
export function stepTrail(events: WorkflowEvent[], stepId: string): string[] {
  return events
    .filter((e) => e.transition.case === "step" && e.stepId === stepId)
    .map((e) => {
      const v = e.transition.value as { fromState: StepState; toState: StepState };
      return `${StepState[v.fromState]}→${StepState[v.toState]}`;
    });
}

export function runTrail(events: WorkflowEvent[]): string[] {
  return events
    .filter((e) => e.transition.case === "run")
    .map((e) => {
      const v = e.transition.value as { fromState: WorkflowState; toState: WorkflowState };
      return `${WorkflowState[v.fromState]}→${WorkflowState[v.toState]}`;
    });
}

/** Splits grpcurl's output (pretty JSON messages one after another) into objects. */
export function parseJsonStream(text: string): unknown[] {
  const out: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "{") {
      if (depth++ === 0) start = i;
    } else if (c === "}") {
      if (--depth === 0) out.push(JSON.parse(text.slice(start, i + 1)));
    }
  }
  if (depth !== 0) throw new Error(`unbalanced JSON stream:\n${text}`);
  return out;
}

// ---- grpc-js ----------------------------------------------------------------------

function serverStream<I extends DescMessage, O extends DescMessage>(path: string, input: I, output: O) {
  return {
    path,
    requestStream: false,
    responseStream: true,
    requestSerialize: (m: MessageShape<I>) => Buffer.from(toBinary(input, m)),
    requestDeserialize: (b: Buffer) => fromBinary(input, b),
    responseSerialize: (m: MessageShape<O>) => Buffer.from(toBinary(output, m)),
    responseDeserialize: (b: Buffer) => fromBinary(output, b),
  };
}

interface GrpcJsWatchClient extends grpc.Client {
  watchWorkflow(req: WatchWorkflowRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<WatchWorkflowResponse>;
}

/** A @grpc/grpc-js client for WatchWorkflow, using the protobuf-es (de)serializers. */
export function grpcJsWatchClient(port: number) {
  const definition = {
    watchWorkflow: serverStream("/weft.v1.WorkflowService/WatchWorkflow", WatchWorkflowRequestSchema, WatchWorkflowResponseSchema),
  };
  const Ctor = grpc.makeGenericClientConstructor(definition as unknown as grpc.ServiceDefinition, "WorkflowService");
  const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as GrpcJsWatchClient;
  return {
    client,
    /** The stream as an async iterable; aborting the signal cancels the call. */
    watch(req: WatchWorkflowRequest, signal: AbortSignal): AsyncIterable<WatchWorkflowResponse> {
      const call = client.watchWorkflow(req);
      signal.addEventListener("abort", () => call.cancel(), { once: true });
      return call as AsyncIterable<WatchWorkflowResponse>;
    },
    close: () => client.close(),
  };
}
