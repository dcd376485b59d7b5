// The operator commands of `weft` (bin/weft.js runs this module on Node 24 for every command but
// `server`): run, get, list, watch, cancel, redrive, rerun, redeliver, delete, events, items. A Connect client (HTTP/1.1, http or https)
// of the server at --url / WEFT_URL, sending --api-key / WEFT_API_KEY as `authorization: Bearer`.
// Exit codes: 0 ok (a watched run completed), 1 a watched run failed or another error,
// 2 usage or bad input, 3 a watched run was cancelled, 4 server not reachable or key refused.
import { toJson } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Command, CommanderError, Option } from "commander";
import { createLogUpdate } from "log-update";
import { BadRequestSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import {
  BulkAction,
  type ItemStatus,
  ItemStatusSchema,
  type Workflow,
  WorkflowSchema,
  WorkflowService,
  WorkflowState,
  WorkflowEventSchema,
  StepState,
  WebhookState,
} from "../../gen/ts/weft/v1/workflow_pb.js";
import { mergeContext, toCreateRequest } from "./create-request.ts";
import {
  applyEvent,
  applyItemCounts,
  errorText,
  eventRecord,
  hasLiveItems,
  exitCodeFor,
  renderLive,
  renderSummary,
  type RunView,
  summaryRecord,
  tally,
  TERMINAL_STATES,
  viewFromSnapshot,
  workflowStateName,
  stepStateName,
  formatDuration,
} from "./run-view.ts";
import { formatProblem, lineForField, parseWorkflowFile } from "./workflow-file.ts";
import { type Timestamp, timestampDate, timestampFromMs, ValueSchema } from "@bufbuild/protobuf/wkt";
import { parseDurationText } from "../domain/duration-text.ts";
import { parseLabelArg } from "../domain/run-labels.ts";
import { CliError, EXIT } from "./cli-error.ts";
import { contextFromFile, readText } from "./input-file.ts";
import { rerunCommand, type RerunOptions } from "./rerun-command.ts";
import { reportStartedRun } from "./started-run.ts";

export { CliError, EXIT };

interface Globals {
  url: string;
  apiKey?: string;
}

type Service = Client<typeof WorkflowService>;

function connect(g: Globals): Service {
  let url: URL;
  try {
    url = new URL(g.url);
  } catch {
    throw new CliError(`--url: not a URL: ${JSON.stringify(g.url.slice(0, 100))}`, EXIT.usage);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new CliError(`--url: must be http:// or https://, not ${url.protocol}`, EXIT.usage);
  const interceptors: Interceptor[] = [];
  const key = g.apiKey;
  if (key) {
    interceptors.push((next) => (req) => {
      req.header.set("authorization", `Bearer ${key}`);
      return next(req);
    });
  }
  return createClient(WorkflowService, createConnectTransport({ baseUrl: url.href.replace(/\/$/, ""), httpVersion: "1.1", interceptors }));
}

const out = (line: string) => process.stdout.write(line + "\n");
const jsonLine = (value: unknown) => out(JSON.stringify(value));

/** The state names the CLI takes: "failed", "FAILED" or "WORKFLOW_STATE_FAILED". */
function parseState(s: string): WorkflowState {
  const name = s.trim().toUpperCase().replace(/^WORKFLOW_STATE_/, "");
  const value = (WorkflowState as unknown as Record<string, number>)[name];
  if (value === undefined || value === WorkflowState.UNSPECIFIED) {
    throw new CliError(`--state: unknown state ${JSON.stringify(s.slice(0, 40))} (pending, running, completed, failed, cancelled, compensating, paused)`, EXIT.usage);
  }
  return value;
}

function positiveInt(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new CliError(`${name}: must be a whole number ≥ 1, not ${JSON.stringify(v.slice(0, 20))}`, EXIT.usage);
    return n;
  };
}

const collect = (v: string, prev: string[]) => [...prev, v];

// ---- run ----

interface RunOptions {
  watch?: boolean;
  context: string[];
  contextFile?: string;
  label: string[];
  output?: "text" | "json";
}

async function runCommand(g: Globals, file: string, o: RunOptions): Promise<number> {
  if (o.contextFile && o.context.length) throw new CliError("--context and --context-file exclude each other", EXIT.usage);
  if (file === "-" && o.contextFile === "-") throw new CliError("the workflow file and --context-file cannot both be stdin (-)", EXIT.usage);
  const text = readText(file, "workflow file");
  const name = file === "-" ? "stdin" : file;
  const parsed = parseWorkflowFile(text);
  if (!parsed.ok) throw new CliError(parsed.problems.map((p) => formatProblem(name, p)).join("\n"), EXIT.usage);
  let context = parsed.request.context;
  if (o.contextFile) {
    context = contextFromFile(o.contextFile);
  } else if (o.context.length) {
    try {
      context = mergeContext(context, o.context);
    } catch (err) {
      throw new CliError((err as Error).message, EXIT.usage);
    }
  }
  const client = connect(g);
  let created;
  try {
    created = await client.createWorkflow({ ...toCreateRequest(parsed.request, { context }), labels: parseLabels(o.label) });
  } catch (err) {
    throw serverError(err, { file: name, text });
  }
  return reportStartedRun(created.workflow!, {
    watch: o.watch,
    output: o.output,
    deduplicated: created.deduplicated,
    out,
    follow: (runId, output, from) => follow(client, runId, output, from),
  });
}

// ---- watch ----

/**
 * Follows a run to its end: live view on a terminal (text), JSON lines otherwise. Returns the exit
 * code. With `from` (the run as created), the events after it, else a snapshot and the events after it.
 */
async function follow(client: Service, runId: string, output: "text" | "json", from?: Workflow): Promise<number> {
  // A terminal that reports no width (e.g. a pseudo-terminal never sized) gets plain lines instead.
  const live = output === "text" && process.stdout.isTTY && (process.stdout.columns ?? 0) > 0;
  const log = live ? createLogUpdate(process.stdout) : undefined;
  let view: RunView | undefined = from && viewFromSnapshot(from);
  const draw = () => view && log?.(renderLive(view, new Date()));
  const timer = live ? setInterval(draw, 500) : undefined;
  // The watch stream carries a map step's failed item attempts only: its item counts are polled.
  let polling = false;
  const poll = live
    ? setInterval(() => {
        if (polling || !view || !hasLiveItems(view)) return;
        polling = true;
        void refreshItems(client, runId, view).finally(() => {
          polling = false;
          draw();
        });
      }, 1000)
    : undefined;
  const interrupt = () => {
    log?.done();
    process.stderr.write(`weft: stopped watching; run ${runId} goes on\n`);
    process.exit(130);
  };
  process.once("SIGINT", interrupt);
  try {
    let after = from?.lastSequence ?? 0n;
    if (from && output === "json") jsonLine(snapshotRecord(from));
    for (let reconnects = 0; ; ) {
      let progressed = false;
      try {
        for await (const msg of client.watchWorkflow({ id: runId, afterSequence: after })) {
          if (msg.kind.case === "snapshot") {
            view = viewFromSnapshot(msg.kind.value);
            after = msg.kind.value.lastSequence;
            if (output === "json") jsonLine(snapshotRecord(msg.kind.value));
          } else if (msg.kind.case === "event" && view) {
            const e = msg.kind.value;
            if (e.sequence <= after) continue;
            after = e.sequence;
            progressed = true;
            applyEvent(view, e);
            let nextAttemptAt: Date | undefined;
            if (e.transition.case === "step" && e.transition.value.toState === StepState.RETRY_WAIT) {
              nextAttemptAt = await nextAttempt(client, runId, e.stepId, e.attempt);
              const step = view.steps.find((s) => s.id === e.stepId);
              if (step && step.state === StepState.RETRY_WAIT) step.nextAttemptAt = nextAttemptAt;
            }
            if (output === "json") jsonLine(eventRecord(e, { nextAttemptAt }));
            else if (!live) out(eventText(e));
          }
          draw();
        }
      } catch (err) {
        const ce = ConnectError.from(err);
        // A dropped stream is resumed after the last event seen; anything else ends the command.
        if (!view || ![Code.Unavailable, Code.Unknown, Code.Internal].includes(ce.code) || reconnects >= 5) throw serverError(err);
        reconnects++;
        await new Promise((r) => setTimeout(r, 500 * reconnects));
        continue;
      }
      if (view && TERMINAL_STATES.has(view.state)) break;
      if (!view) throw new CliError(`run ${runId}: the server ended the watch without a snapshot`, EXIT.failed);
      if (progressed) reconnects = 0;
      if (++reconnects > 5) throw new CliError(`run ${runId}: the watch ended before the run did`, EXIT.failed);
    }
  } finally {
    if (timer) clearInterval(timer);
    if (poll) clearInterval(poll);
    process.off("SIGINT", interrupt);
  }
  const v = view!;
  if (v.steps.some((s) => s.map)) await refreshItems(client, runId, v);
  if (log) {
    log(renderLive(v, new Date()));
    log.done();
  }
  if (output === "json") jsonLine(summaryRecord(v));
  else out(renderSummary(v));
  return exitCodeFor(v.state);
}

/** Updates the map steps' item counts from GetWorkflow; a failure leaves them as they were. */
async function refreshItems(client: Service, runId: string, view: RunView): Promise<void> {
  try {
    const { workflow } = await client.getWorkflow({ id: runId });
    if (workflow) applyItemCounts(view, workflow.steps);
  } catch {
    // only for the counts
  }
}

/** When the attempt after `attempt` of a step waiting to retry is due; undefined once it has started. */
async function nextAttempt(client: Service, runId: string, stepId: string, attempt: number): Promise<Date | undefined> {
  try {
    const { workflow } = await client.getWorkflow({ id: runId });
    const step = workflow?.steps.find((s) => s.id === stepId);
    return step && step.state === StepState.RETRY_WAIT && step.attempts === attempt && step.nextAttemptAt ? timestampDate(step.nextAttemptAt) : undefined;
  } catch {
    return undefined; // only for the countdown
  }
}

function snapshotRecord(w: Workflow): Record<string, unknown> {
  return {
    type: "snapshot",
    runId: w.id,
    workflowId: w.workflowId,
    state: workflowStateName(w.state),
    sequence: Number(w.lastSequence),
    steps: w.steps.map((s) => ({
      id: s.id,
      state: stepStateName(s.state),
      attempts: s.attempts,
      ...(s.items ? { items: tally(s.items) } : {}),
    })),
  };
}

function eventText(e: Parameters<typeof eventRecord>[0]): string {
  const r = eventRecord(e);
  const who = e.stepId ? `${r.kind} ${e.stepId}${e.transition.case === "item" ? `[${e.itemIndex}]` : ""}` : "run";
  const err = r.error as { reason: string; message: string } | undefined;
  return [
    `#${r.sequence}`,
    String(r.time ?? ""),
    `${who}: ${r.from} -> ${r.to}`,
    e.attempt ? `attempt ${e.attempt}` : "",
    err ? `${err.reason}: ${err.message.slice(0, 200)}` : "",
  ]
    .filter(Boolean)
    .join("  ");
}

// ---- get, list, cancel, events ----

async function getCommand(g: Globals, runId: string, o: { output?: string }): Promise<number> {
  const client = connect(g);
  const { workflow } = await client.getWorkflow({ id: runId }).catch((err) => Promise.reject(serverError(err)));
  const w = workflow!;
  if (o.output === "json") {
    out(JSON.stringify(toJson(WorkflowSchema, w), null, 2));
    return EXIT.ok;
  }
  out(renderLive(viewFromSnapshot(w), new Date()));
  const fmt = (t: typeof w.createdAt) => (t ? timestampDate(t).toISOString() : "-");
  out(`created ${fmt(w.createdAt)}  started ${fmt(w.startedAt)}  completed ${fmt(w.completedAt)}`);
  if (w.error && (w.error.message || w.error.reason)) out(`error: ${w.error.reason}: ${w.error.message}`);
  if (w.rerunOf) {
    const copied = w.steps.filter((s) => s.copiedFrom).map((s) => s.id);
    out(`rerun of ${w.rerunOf}${copied.length ? `; copied from it: ${copied.join(", ")}` : ""}`);
  }
  return EXIT.ok;
}

/** `--label key=value` options as a map (a later pair for the same key wins). */
function parseLabels(pairs: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of pairs) {
    const kv = parseLabelArg(pair);
    if (!kv || kv[0] === "") throw new CliError(`--label: expected key=value, got ${JSON.stringify(pair.slice(0, 40))}`, EXIT.usage);
    labels[kv[0]] = kv[1];
  }
  return labels;
}

/** `--since` / `--before`: a duration back from now ("2h", "7d") or a date and time ("2026-01-31T12:00:00Z"). */
function parseTime(option: string, text: string, now: number): Timestamp {
  const ago = parseDurationText(text);
  if (ago !== undefined) return timestampFromMs(now - ago);
  const ms = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) {
    throw new CliError(`${option}: expected a duration (30m, 12h, 7d) or a date and time (2026-01-31T12:00:00Z), not ${JSON.stringify(text.slice(0, 40))}`, EXIT.usage);
  }
  return timestampFromMs(ms);
}

async function deleteCommand(g: Globals, runId: string): Promise<number> {
  const client = connect(g);
  await client.deleteWorkflow({ id: runId }).catch((err) => Promise.reject(serverError(err)));
  out(`${runId} deleted`);
  return EXIT.ok;
}

async function listCommand(
  g: Globals,
  o: { state: string[]; workflow?: string; label: string[]; since?: string; before?: string; limit?: number; all?: boolean; output?: string },
): Promise<number> {
  const states = o.state.flatMap((s) => s.split(",")).filter((s) => s.trim()).map(parseState);
  const labels = parseLabels(o.label);
  const now = Date.now();
  const createdAfter = o.since === undefined ? undefined : parseTime("--since", o.since, now);
  const createdBefore = o.before === undefined ? undefined : parseTime("--before", o.before, now);
  const limit = o.all ? Infinity : (o.limit ?? 20);
  const client = connect(g);
  const runs: Workflow[] = [];
  let pageToken = "";
  do {
    const page = await client
      .listWorkflows({ states, workflowId: o.workflow ?? "", labels, createdAfter, createdBefore, pageSize: Math.min(100, limit - runs.length), pageToken })
      .catch((err) => Promise.reject(serverError(err)));
    runs.push(...page.workflows);
    pageToken = page.nextPageToken;
  } while (pageToken && runs.length < limit);
  const shown = runs.slice(0, limit);
  if (o.output === "json") {
    for (const w of shown) out(JSON.stringify(toJson(WorkflowSchema, w)));
    return EXIT.ok;
  }
  const rows = [["RUN", "WORKFLOW", "STATE", "CREATED", "DURATION"]];
  for (const w of shown) {
    const start = w.startedAt ?? w.createdAt;
    const took = start && w.completedAt ? formatDuration(timestampDate(w.completedAt).getTime() - timestampDate(start).getTime()) : "";
    rows.push([w.id, w.workflowId, workflowStateName(w.state), w.createdAt ? timestampDate(w.createdAt).toISOString() : "", took]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) out(r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
  if (pageToken && !o.all) process.stderr.write(`(more runs: --limit or --all)\n`);
  return EXIT.ok;
}

async function cancelCommand(g: Globals, runId: string, o: { reason?: string; output?: string }): Promise<number> {
  const client = connect(g);
  const { workflow } = await client.cancelWorkflow({ id: runId, reason: o.reason ?? "" }).catch((err) => Promise.reject(serverError(err)));
  if (o.output === "json") out(JSON.stringify(toJson(WorkflowSchema, workflow!)));
  else out(`${workflow!.id} ${workflowStateName(workflow!.state)}`);
  return EXIT.ok;
}

async function pauseCommand(g: Globals, runId: string, o: { reason?: string; holdDeadline?: boolean; output?: string }): Promise<number> {
  const client = connect(g);
  const { workflow } = await client
    .pauseWorkflow({ id: runId, reason: o.reason ?? "", holdDeadline: o.holdDeadline ?? false })
    .catch((err) => Promise.reject(serverError(err)));
  if (o.output === "json") out(JSON.stringify(toJson(WorkflowSchema, workflow!)));
  else out(`${workflow!.id} ${workflowStateName(workflow!.state)}${workflow!.deadlineHeld ? " (deadline held)" : ""}`);
  return EXIT.ok;
}

async function resumeCommand(g: Globals, runId: string, o: { output?: string }): Promise<number> {
  const client = connect(g);
  const { workflow } = await client.resumeWorkflow({ id: runId }).catch((err) => Promise.reject(serverError(err)));
  if (o.output === "json") out(JSON.stringify(toJson(WorkflowSchema, workflow!)));
  else out(`${workflow!.id} ${workflowStateName(workflow!.state)}`);
  return EXIT.ok;
}

const BULK_ACTIONS: Record<string, BulkAction> = {
  cancel: BulkAction.CANCEL,
  redrive: BulkAction.REDRIVE,
  pause: BulkAction.PAUSE,
  resume: BulkAction.RESUME,
};

interface BulkOptions {
  state: string[];
  workflow?: string;
  label: string[];
  since?: string;
  before?: string;
  all?: boolean;
  dryRun?: boolean;
  yes?: boolean;
  reason?: string;
  output?: string;
}

/**
 * `weft bulk <action>`: the runs `weft list` would show with the same
 * filters; a real run needs --yes. Calls again while the server says more
 * (each call acts on at most 10,000 runs), and prints the totals.
 */
async function bulkCommand(g: Globals, actionName: string, o: BulkOptions): Promise<number> {
  const action = BULK_ACTIONS[actionName];
  if (action === undefined) throw new CliError(`unknown action ${JSON.stringify(actionName.slice(0, 40))} (cancel, redrive, pause, resume)`, EXIT.usage);
  const states = o.state.flatMap((s) => s.split(",")).filter((s) => s.trim()).map(parseState);
  const labels = parseLabels(o.label);
  const now = Date.now();
  const createdAfter = o.since === undefined ? undefined : parseTime("--since", o.since, now);
  const createdBefore = o.before === undefined ? undefined : parseTime("--before", o.before, now);
  if (!o.dryRun && !o.yes) throw new CliError(`bulk ${actionName} changes every matching run: add --yes (or --dry-run to count them first)`, EXIT.usage);
  const client = connect(g);
  const total = { matched: 0n, affected: 0n, skipped: 0n };
  let pageToken = "";
  do {
    const res = await client
      .bulkWorkflowAction({ action, states, workflowId: o.workflow ?? "", labels, createdAfter, createdBefore, all: o.all ?? false, dryRun: o.dryRun ?? false, reason: o.reason ?? "", pageToken })
      .catch((err) => Promise.reject(serverError(err)));
    total.matched += res.matched;
    total.affected += res.affected;
    total.skipped += res.skipped;
    pageToken = res.more ? res.nextPageToken : "";
  } while (pageToken);
  if (o.output === "json") {
    jsonLine({ action: actionName, dryRun: o.dryRun ?? false, matched: Number(total.matched), affected: Number(total.affected), skipped: Number(total.skipped) });
  } else {
    const verb = o.dryRun ? "would be affected" : "affected";
    out(`${actionName}: ${total.matched} matched, ${total.affected} ${verb}, ${total.skipped} skipped`);
  }
  return EXIT.ok;
}

/** Seconds as given to --deadline-extension: a positive number (fractions allowed). */
function parseSeconds(flag: string, text: string): number {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || !Number.isFinite(n) || n <= 0) {
    throw new CliError(`${flag}: must be a positive number of seconds (e.g. 3600), not ${JSON.stringify(text.slice(0, 40))}`, EXIT.usage);
  }
  return n;
}

async function redriveCommand(g: Globals, runId: string, o: { deadlineExtension?: string; output?: string }): Promise<number> {
  const seconds = o.deadlineExtension === undefined ? undefined : parseSeconds("--deadline-extension", o.deadlineExtension);
  const client = connect(g);
  const deadlineExtension =
    seconds === undefined ? undefined : { seconds: BigInt(Math.floor(seconds)), nanos: Math.round((seconds - Math.floor(seconds)) * 1e9) };
  const { workflow } = await client.redriveWorkflow({ id: runId, deadlineExtension }).catch((err) => Promise.reject(serverError(err)));
  if (o.output === "json") out(JSON.stringify(toJson(WorkflowSchema, workflow!)));
  else out(`${workflow!.id} ${workflowStateName(workflow!.state)}`);
  return EXIT.ok;
}

async function redeliverCommand(g: Globals, runId: string, o: { output?: string }): Promise<number> {
  const client = connect(g);
  const { workflow } = await client.redeliverWebhook({ id: runId }).catch((err) => Promise.reject(serverError(err)));
  if (o.output === "json") out(JSON.stringify(toJson(WorkflowSchema, workflow!)));
  else out(`${workflow!.id} webhook ${WebhookState[workflow!.webhook?.state ?? WebhookState.UNSPECIFIED].toLowerCase()}`);
  return EXIT.ok;
}

async function eventsCommand(g: Globals, runId: string, o: { output?: string }): Promise<number> {
  const client = connect(g);
  let pageToken = "";
  do {
    const page = await client.listWorkflowEvents({ id: runId, pageSize: 1000, pageToken }).catch((err) => Promise.reject(serverError(err)));
    for (const e of page.events) out(o.output === "json" ? JSON.stringify(toJson(WorkflowEventSchema, e)) : eventText(e));
    pageToken = page.nextPageToken;
  } while (pageToken);
  return EXIT.ok;
}

interface ItemsOptions {
  state: string[];
  limit?: number;
  all?: boolean;
  output?: string;
}

/** The item state names the CLI takes: "failed", "FAILED", "retry_wait" or "STEP_STATE_FAILED". */
const ITEM_STATES = [StepState.PENDING, StepState.RUNNING, StepState.RETRY_WAIT, StepState.COMPLETED, StepState.FAILED, StepState.CANCELLED];
function parseItemState(s: string): StepState {
  const name = s.trim().toUpperCase().replace(/^STEP_STATE_/, "");
  const value = (StepState as unknown as Record<string, number>)[name];
  if (value === undefined || !ITEM_STATES.includes(value)) {
    throw new CliError(`--state: unknown item state ${JSON.stringify(s.slice(0, 40))} (pending, running, retry_wait, completed, failed, cancelled)`, EXIT.usage);
  }
  return value;
}

/** A JSON value on one line, cut to `max` characters. */
function shortJson(value: unknown, max: number): string {
  const text = JSON.stringify(value) ?? "";
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

async function itemsCommand(g: Globals, runId: string, stepId: string, o: ItemsOptions): Promise<number> {
  const states = new Set(o.state.flatMap((s) => s.split(",")).filter((s) => s.trim()).map(parseItemState));
  const limit = o.all ? Infinity : (o.limit ?? 100);
  const client = connect(g);
  const items: ItemStatus[] = [];
  let pageToken = "";
  do {
    // The server pages by index, not by state: a filter reads whole pages.
    const page = await client
      .listStepItems({ id: runId, stepId, pageSize: states.size ? 1000 : Math.min(1000, limit - items.length), pageToken })
      .catch((err) => Promise.reject(serverError(err)));
    for (const it of page.items) if (!states.size || states.has(it.state)) items.push(it);
    pageToken = page.nextPageToken;
  } while (pageToken && items.length < limit);
  const shown = items.slice(0, limit);
  if (o.output === "json") {
    for (const it of shown) out(JSON.stringify(toJson(ItemStatusSchema, it)));
  } else {
    const rows = [["INDEX", "STATE", "ATTEMPTS", "DURATION", "RESULT / ERROR"]];
    for (const it of shown) {
      const took = it.startedAt && it.completedAt ? formatDuration(timestampDate(it.completedAt).getTime() - timestampDate(it.startedAt).getTime()) : "";
      const what = it.state === StepState.COMPLETED ? shortJson(it.result === undefined ? null : toJson(ValueSchema, it.result), 80) : (errorText(it.error)?.slice(0, 120) ?? "");
      rows.push([String(it.index), stepStateName(it.state), String(it.attempts), took, what]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) out(r.map((c, i) => (i === 4 ? c : c.padEnd(widths[i]))).join("  ").trimEnd());
  }
  if ((pageToken || items.length > shown.length) && !o.all) process.stderr.write(`(more items: --limit or --all)\n`);
  return EXIT.ok;
}

// ---- errors ----

/** A server's (or the connection's) error as a CliError: field violations one per line, the exit code by kind. */
export function serverError(err: unknown, file?: { file: string; text: string }): CliError {
  if (err instanceof CliError) return err;
  const ce = ConnectError.from(err);
  const code = Code[ce.code]?.replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase()) ?? String(ce.code);
  const violations = ce.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations);
  let message: string;
  if (violations.length) {
    const lines = violations.map((v) => {
      const line = file && v.field ? lineForField(file.text, v.field) : undefined;
      const where = file ? `${file.file}${line ? `:${line}` : ""}: ` : "";
      return `${where}${v.field ? `${v.field}: ` : ""}${v.description}`;
    });
    message = `the server refused the request (${code}):\n${lines.join("\n")}`;
  } else {
    const cause = (ce.cause as { code?: unknown; message?: unknown } | undefined) ?? undefined;
    const detail = typeof cause?.code === "string" ? ` (${cause.code})` : "";
    message = `${code}: ${ce.rawMessage}${detail}`;
  }
  const unreachable =
    [Code.Unavailable, Code.Unauthenticated, Code.PermissionDenied].includes(ce.code) || typeof (ce.cause as { code?: unknown } | undefined)?.code === "string";
  const exit = unreachable ? EXIT.unreachable : [Code.InvalidArgument, Code.NotFound].includes(ce.code) ? EXIT.usage : EXIT.failed;
  return new CliError(message, exit);
}

// ---- commands ----

function program(result: (p: Promise<number>) => void): Command {
  const p = new Command("weft")
    .description("Operate a Weft server")
    .addOption(new Option("--url <url>", "the server").env("WEFT_URL").default("http://127.0.0.1:8080"))
    .addOption(new Option("--api-key <key>", "API key, sent as authorization: Bearer").env("WEFT_API_KEY"))
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({ writeErr: (s) => process.stderr.write(s.replace(/^error: /, "weft: ")) });
  const output = () => new Option("--output <format>", "text or json").choices(["text", "json"]);
  const globals = (cmd: Command) => cmd.optsWithGlobals() as Globals;

  p.command("run")
    .description("start a run of the workflow in a YAML or JSON file; prints its id, or follows it with --watch")
    .argument("<file>", "workflow file (.yaml, .yml or .json; '-': stdin)")
    .option("--watch", "follow the run to its end; the exit code says how it ended")
    .option("--context <key=value>", "set a context field (repeatable; the value is JSON or else a string)", collect, [])
    .option("--context-file <file>", "the context, from a YAML or JSON file (replaces the file's; '-': stdin)")
    .option("--label <key=value>", "label the run (repeatable)", collect, [])
    .addOption(output())
    .action((file: string, o: RunOptions, cmd: Command) => result(runCommand(globals(cmd), file, o)));

  p.command("get")
    .description("a run's state and steps")
    .argument("<runId>")
    .addOption(output())
    .action((id: string, o: { output?: string }, cmd: Command) => result(getCommand(globals(cmd), id, o)));

  p.command("list")
    .description("runs, newest first")
    .option("--state <state>", "only runs in this state (repeatable, or comma-separated)", collect, [])
    .option("--workflow <id>", "only runs of this workflow id")
    .option("--label <key=value>", "only runs with this label (repeatable: every one must match)", collect, [])
    .option("--since <when>", "only runs created since: a duration back from now (30m, 12h, 7d) or a date and time")
    .option("--before <when>", "only runs created before: a duration back from now or a date and time")
    .option("--limit <n>", "at most n runs (default 20)", positiveInt("--limit"))
    .option("--all", "every run")
    .addOption(output())
    .action((o: Parameters<typeof listCommand>[1], cmd: Command) => result(listCommand(globals(cmd), o)));

  p.command("watch")
    .description("follow a run to its end; the exit code says how it ended")
    .argument("<runId>")
    .addOption(output())
    .action((id: string, o: { output?: "text" | "json" }, cmd: Command) =>
      result(follow(connect(globals(cmd)), id, o.output ?? (process.stdout.isTTY ? "text" : "json"))),
    );

  p.command("cancel")
    .description("cancel a run that has not finished")
    .argument("<runId>")
    .option("--reason <text>", "recorded in the run's error")
    .addOption(output())
    .action((id: string, o: { reason?: string; output?: string }, cmd: Command) => result(cancelCommand(globals(cmd), id, o)));

  p.command("redrive")
    .description("continue a failed or cancelled run in place: completed steps keep their results, the others run again")
    .argument("<runId>")
    .option("--deadline-extension <seconds>", "how much later the run's deadline becomes (default: the run's timeout)")
    .addOption(output())
    .action((id: string, o: { deadlineExtension?: string; output?: string }, cmd: Command) => result(redriveCommand(globals(cmd), id, o)));

  p.command("rerun")
    .description("start a new run of a finished run's workflow that runs the given steps and everything downstream of them again, copying the rest (see README: Recovering runs); prints its id, or follows it with --watch")
    .argument("<runId>", "the finished run")
    .option("--from <step>", "a step to run again, with every step downstream of it (repeatable; at least one)", collect, [])
    .option("--context <key=value>", "change a field of the original's context (repeatable; the value is JSON or else a string)", collect, [])
    .option("--context-file <file>", "the new run's context, from a YAML or JSON file ('-': stdin)")
    .option("--label <key=value>", "the new run's labels instead of the original's (repeatable)", collect, [])
    .option("--request-id <key>", "idempotency key: the same rerun again returns the run it made")
    .option("--watch", "follow the new run to its end; the exit code says how it ended")
    .addOption(output())
    .action((id: string, o: RerunOptions, cmd: Command) => {
      const deps = { client: connect(globals(cmd)), serverError: (err: unknown) => serverError(err), parseLabels, follow, out };
      result(rerunCommand(deps, id, o));
    });
  p.command("pause")
    .description("pause a pending or running run: nothing new starts until resume (calls in flight finish)")
    .argument("<runId>")
    .option("--reason <text>", "shown as the run's pause reason")
    .option("--hold-deadline", "stop the deadline clock while paused (resume extends the deadline)")
    .addOption(output())
    .action((id: string, o: { reason?: string; holdDeadline?: boolean; output?: string }, cmd: Command) => result(pauseCommand(globals(cmd), id, o)));

  p.command("resume")
    .description("resume a paused run where it stopped")
    .argument("<runId>")
    .addOption(output())
    .action((id: string, o: { output?: string }, cmd: Command) => result(resumeCommand(globals(cmd), id, o)));

  p.command("bulk")
    .description("cancel, redrive, pause or resume every run matching the filters (those of list); --dry-run counts them")
    .argument("<action>", "cancel, redrive, pause or resume")
    .option("--state <state>", "only runs in this state (repeatable, or comma-separated)", collect, [])
    .option("--workflow <id>", "only runs of this workflow id")
    .option("--label <key=value>", "only runs with this label (repeatable: every one must match)", collect, [])
    .option("--since <when>", "only runs created since: a duration back from now (30m, 12h, 7d) or a date and time")
    .option("--before <when>", "only runs created before: a duration back from now or a date and time")
    .option("--all", "every run (required when no filter is given)")
    .option("--dry-run", "count the runs that would be affected; change nothing")
    .option("--yes", "do it (required unless --dry-run)")
    .option("--reason <text>", "cancel and pause: the reason")
    .addOption(output())
    .action((action: string, o: BulkOptions, cmd: Command) => result(bulkCommand(globals(cmd), action, o)));

  p.command("redeliver")
    .description("deliver a finished run's on_complete / on_error webhook again")
    .argument("<runId>")
    .addOption(output())
    .action((id: string, o: { output?: string }, cmd: Command) => result(redeliverCommand(globals(cmd), id, o)));

  p.command("delete")
    .description("delete a finished run with its events")
    .argument("<runId>")
    .action((id: string, _o: unknown, cmd: Command) => result(deleteCommand(globals(cmd), id)));

  p.command("events")
    .description("a run's event log, oldest first")
    .argument("<runId>")
    .addOption(output())
    .action((id: string, o: { output?: string }, cmd: Command) => result(eventsCommand(globals(cmd), id, o)));

  p.command("items")
    .description("the items of a map step, in index order, with their results or errors")
    .argument("<runId>")
    .argument("<stepId>", "the map step")
    .option("--state <state>", "only items in this state (repeatable, or comma-separated)", collect, [])
    .option("--limit <n>", "at most n items (default 100)", positiveInt("--limit"))
    .option("--all", "every item")
    .addOption(output())
    .action((id: string, stepId: string, o: ItemsOptions, cmd: Command) => result(itemsCommand(globals(cmd), id, stepId, o)));
  return p;
}

/** Runs the command line `args` (without "weft") and exits with the command's code. */
export function cli(args: readonly string[]): void {
  let pending: Promise<number> | undefined;
  try {
    program((p) => (pending = p)).parse([...args], { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : EXIT.usage);
    if (err instanceof CliError) {
      process.stderr.write(`weft: ${err.message}\n`);
      process.exit(err.code);
    }
    throw err;
  }
  // Exits once stdout has taken everything written (open connections would keep the process up).
  const exit = (code: number) => process.stdout.write("", () => process.exit(code));
  (pending ?? Promise.resolve(EXIT.ok)).then(exit, (err: unknown) => {
    const e = err instanceof CliError ? err : serverError(err);
    process.stderr.write(`weft: ${e.message}\n`);
    exit(e.code);
  });
}

if (import.meta.main) cli(process.argv.slice(2));
