// What the CLI shows of a run while it is watched: a view built from the watch stream's snapshot
// and events, rendered as the live terminal view, the final summary, and JSON lines. Pure.
import { toJson } from "@bufbuild/protobuf";
import { timestampDate, type Timestamp, ValueSchema } from "@bufbuild/protobuf/wkt";
import {
  CompensationState,
  type ErrorDetail,
  type ItemCounts,
  type StepStatus,
  StepState,
  type Workflow,
  type WorkflowEvent,
  WorkflowState,
} from "../../gen/ts/weft/v1/workflow_pb.js";

export interface StepView {
  id: string;
  state: StepState;
  attempts: number;
  startedAt?: Date;
  completedAt?: Date;
  nextAttemptAt?: Date;
  error?: string;
  /** "concurrency_key" while queued for a slot of its concurrency key. */
  waitingFor?: string;
  /** The error's reason (e.g. not_needed, join_failed). */
  reason?: string;
  /** A map step (for_each). */
  map?: boolean;
  /** A started map step's item counts, as of the last snapshot or poll. */
  items?: ItemTally;
}

/** How a map step's items stand. */
export interface ItemTally {
  total: number;
  pending: number;
  running: number;
  retryWait: number;
  completed: number;
  failed: number;
  cancelled: number;
}

export interface RunView {
  runId: string;
  workflowId: string;
  state: WorkflowState;
  createdAt?: Date;
  startedAt?: Date;
  completedAt?: Date;
  steps: StepView[];
  error?: string;
  lastSequence: number;
  /** "concurrency_key" while the run is queued for a slot of its concurrency key. */
  waitingFor?: string;
  /** While paused: the pause's reason and whether it holds the deadline (from a snapshot). */
  pause?: { reason: string; deadlineHeld: boolean };
}

export const TERMINAL_STATES: ReadonlySet<WorkflowState> = new Set([WorkflowState.COMPLETED, WorkflowState.FAILED, WorkflowState.CANCELLED]);

const date = (t: Timestamp | undefined) => (t ? timestampDate(t) : undefined);

/** "RETRY_WAIT" -> "retry_wait"; the names used in text and JSON output. */
export const workflowStateName = (s: WorkflowState) => (WorkflowState[s] ?? String(s)).toLowerCase();
export const stepStateName = (s: StepState) => (StepState[s] ?? String(s)).toLowerCase();
export const compensationStateName = (s: CompensationState) => (CompensationState[s] ?? String(s)).toLowerCase();

export function errorText(e: ErrorDetail | undefined): string | undefined {
  if (!e || (!e.message && !e.reason)) return undefined;
  const status = e.httpStatus ? ` (HTTP ${e.httpStatus})` : "";
  return `${e.reason || "error"}${status}: ${e.message}`;
}

export function viewFromSnapshot(w: Workflow): RunView {
  return {
    runId: w.id,
    workflowId: w.workflowId,
    state: w.state,
    createdAt: date(w.createdAt),
    startedAt: date(w.startedAt),
    completedAt: date(w.completedAt),
    error: errorText(w.error),
    lastSequence: Number(w.lastSequence),
    waitingFor: w.waitingFor || undefined,
    pause: w.state === WorkflowState.PAUSED ? { reason: w.pauseReason, deadlineHeld: w.deadlineHeld } : undefined,
    steps: w.steps.map((s) => ({
      id: s.id,
      state: s.state,
      attempts: s.attempts,
      startedAt: date(s.startedAt),
      completedAt: date(s.completedAt),
      nextAttemptAt: s.state === StepState.RETRY_WAIT ? date(s.nextAttemptAt) : undefined,
      error: errorText(s.error),
      reason: s.error?.reason || undefined,
      map: s.definition?.forEach ? true : s.items ? true : undefined,
      items: tally(s.items),
      waitingFor: s.waitingFor || undefined,
    })),
  };
}

export function tally(c: ItemCounts | undefined): ItemTally | undefined {
  return c && { total: c.total, pending: c.pending, running: c.running, retryWait: c.retryWait, completed: c.completed, failed: c.failed, cancelled: c.cancelled };
}

/**
 * Whether the view has a map step whose items may still move: the step has not
 * settled, or its last counts still have unsettled items. Item counts come from
 * GetWorkflow, not from the watch stream.
 */
export function hasLiveItems(view: RunView): boolean {
  return view.steps.some(
    (s) => s.map && (s.state === StepState.PENDING || s.state === StepState.RUNNING || (s.items !== undefined && s.items.pending + s.items.running + s.items.retryWait > 0)),
  );
}

/** Takes the map steps' item counts from a fresh GetWorkflow (the watch stream carries only failed item attempts). */
export function applyItemCounts(view: RunView, steps: readonly StepStatus[]): void {
  for (const st of steps) {
    const v = view.steps.find((s) => s.id === st.id);
    if (!v || !st.items) continue;
    v.map = true;
    v.items = tally(st.items);
  }
}

const count = (n: number) => n.toLocaleString("en-US");

/** "6,120/10,000 items, 200 running, 3 failed": items settled of all, then the states that have any. */
export function itemsText(c: ItemTally): string {
  const settled = c.completed + c.failed + c.cancelled;
  const parts = [`${count(settled)}/${count(c.total)} items`];
  if (c.running) parts.push(`${count(c.running)} running`);
  if (c.retryWait) parts.push(`${count(c.retryWait)} retrying`);
  if (c.failed) parts.push(`${count(c.failed)} failed`);
  if (c.cancelled) parts.push(`${count(c.cancelled)} cancelled`);
  return parts.join(", ");
}

/** Applies one event of the run (in sequence order) to the view. */
export function applyEvent(view: RunView, e: WorkflowEvent): void {
  view.lastSequence = Math.max(view.lastSequence, Number(e.sequence));
  const time = date(e.time);
  const t = e.transition;
  if (t.case === "run") {
    view.state = t.value.toState;
    view.waitingFor = e.waitingFor || undefined;
    // The event does not carry the pause's reason: a pause seen live shows as paused only.
    view.pause = t.value.toState === WorkflowState.PAUSED ? { reason: "", deadlineHeld: false } : undefined;
    if (t.value.toState === WorkflowState.RUNNING && !view.startedAt) view.startedAt = time;
    if (TERMINAL_STATES.has(t.value.toState)) view.completedAt = time;
    view.error = errorText(e.error) ?? view.error;
    return;
  }
  if (t.case !== "step") return;
  let step = view.steps.find((s) => s.id === e.stepId);
  if (!step) {
    step = { id: e.stepId, state: StepState.PENDING, attempts: 0 };
    view.steps.push(step);
  }
  step.state = t.value.toState;
  step.reason = e.error?.reason || (t.value.toState === StepState.COMPLETED ? undefined : step.reason);
  step.waitingFor = e.waitingFor || undefined;
  if (e.attempt) step.attempts = Math.max(step.attempts, e.attempt);
  if (t.value.toState === StepState.RUNNING && !step.startedAt) step.startedAt = time;
  if (t.value.toState !== StepState.RETRY_WAIT) step.nextAttemptAt = undefined;
  if ([StepState.COMPLETED, StepState.FAILED, StepState.CANCELLED].includes(t.value.toState)) step.completedAt = time;
  step.error = errorText(e.error) ?? (t.value.toState === StepState.COMPLETED ? undefined : step.error);
}

/** "1.2s", "340ms", "2m05s". */
export function formatDuration(ms: number): string {
  if (ms < 0) ms = 0;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  return m < 60 ? `${m}m${String(s).padStart(2, "0")}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

const MARK: Record<number, string> = {
  [StepState.PENDING]: "·",
  [StepState.RUNNING]: "▶",
  [StepState.RETRY_WAIT]: "↻",
  [StepState.COMPLETED]: "✔",
  [StepState.FAILED]: "✘",
  [StepState.CANCELLED]: "■",
  [StepState.SKIPPED]: "-",
};

/** What a join policy's outcome, or an item policy's, made of a step: said in words, its message on the next line. */
const OUTCOME: Record<string, string> = {
  not_needed: "not needed",
  join_failed: "join failed",
  items_failed: "items failed",
};

function stepLine(s: StepView, now: Date, width: number): string {
  let detail = "";
  if (s.state === StepState.RUNNING) detail = `running ${s.startedAt ? formatDuration(now.getTime() - s.startedAt.getTime()) : ""}`.trimEnd();
  else if (s.state === StepState.RETRY_WAIT)
    detail = `retrying: attempt ${s.attempts + 1} ${s.nextAttemptAt ? `in ${formatDuration(s.nextAttemptAt.getTime() - now.getTime())}` : "soon"}`;
  else if (s.startedAt && s.completedAt) detail = `${stepStateName(s.state)} in ${formatDuration(s.completedAt.getTime() - s.startedAt.getTime())}`;
  else if (s.waitingFor) detail = `queued (${s.waitingFor.replaceAll("_", " ")})`;
  else detail = stepStateName(s.state);
  // A map step's attempts are its items': its own count says nothing.
  if (s.attempts > 1 && s.state !== StepState.RETRY_WAIT && !s.map) detail += ` (${s.attempts} attempts)`;
  const outcome = s.reason && s.state !== StepState.COMPLETED ? OUTCOME[s.reason] : undefined;
  if (outcome) detail += `: ${outcome}`;
  if (s.items) detail += `  ${itemsText(s.items)}`;
  const line = `  ${MARK[s.state] ?? "?"} ${s.id.padEnd(width)}  ${detail}`;
  if (!s.error || s.state === StepState.COMPLETED) return line;
  // The reason is said above in words: the message alone below.
  const shown = outcome && s.error.startsWith(`${s.reason}: `) ? s.error.slice(s.reason!.length + 2) : s.error;
  return `${line}\n      ${shown.slice(0, 200)}`;
}

function counts(view: RunView) {
  const n = (st: StepState) => view.steps.filter((s) => s.state === st).length;
  return { done: n(StepState.COMPLETED), running: n(StepState.RUNNING), retrying: n(StepState.RETRY_WAIT), failed: n(StepState.FAILED), total: view.steps.length };
}

/** " (reason, deadline held)" after a paused run's state, or "". */
function pauseText(view: RunView): string {
  const parts = [view.pause?.reason, view.pause?.deadlineHeld ? "deadline held" : undefined].filter((x) => x);
  return parts.length > 0 ? ` (${parts.join(", ")})` : "";
}

/** The live view on a terminal, as of `now`. */
export function renderLive(view: RunView, now: Date): string {
  const c = counts(view);
  const since = view.startedAt ?? view.createdAt;
  const head =
    `${view.workflowId} ${view.runId}  ${workflowStateName(view.state)}${view.waitingFor ? ` (queued: ${view.waitingFor.replaceAll("_", " ")})` : ""}${pauseText(view)}` +
    (since ? ` ${formatDuration((view.completedAt ?? now).getTime() - since.getTime())}` : "");
  const tally = `${c.done}/${c.total} steps done, ${c.running} running, ${c.retrying} retrying, ${c.failed} failed`;
  const width = Math.min(40, Math.max(0, ...view.steps.map((s) => s.id.length)));
  return [head, tally, ...view.steps.map((s) => stepLine(s, now, width))].join("\n");
}

/** The final summary (text). */
export function renderSummary(view: RunView): string {
  const c = counts(view);
  const since = view.startedAt ?? view.createdAt;
  const took = since && view.completedAt ? ` in ${formatDuration(view.completedAt.getTime() - since.getTime())}` : "";
  const lines = [`Run ${view.runId} (${view.workflowId}) ${workflowStateName(view.state)}${took}: ${c.done}/${c.total} steps completed${c.failed ? `, ${c.failed} failed` : ""}`];
  for (const s of view.steps) if (s.items) lines.push(`  ${s.id}: ${itemsText(s.items)}`);
  for (const s of view.steps) {
    const outcome = s.reason && s.state !== StepState.COMPLETED ? OUTCOME[s.reason] : undefined;
    if (outcome && s.reason !== "items_failed") lines.push(`  ${s.id}: ${stepStateName(s.state)}, ${outcome}`);
  }
  if (view.error) lines.push(`  error: ${view.error.slice(0, 300)}`);
  return lines.join("\n");
}

const iso = (d: Date | undefined) => d?.toISOString();

/** One JSON line per event: {"type":"event",...}. */
export function eventRecord(e: WorkflowEvent, extra: { nextAttemptAt?: Date } = {}): Record<string, unknown> {
  const t = e.transition;
  const names =
    t.case === "run"
      ? { from: workflowStateName(t.value.fromState), to: workflowStateName(t.value.toState) }
      : t.case === "step" || t.case === "item"
        ? { from: stepStateName(t.value.fromState), to: stepStateName(t.value.toState) }
        : t.case === "compensation"
          ? { from: compensationStateName(t.value.fromState), to: compensationStateName(t.value.toState) }
          : {};
  const record: Record<string, unknown> = {
    type: "event",
    runId: e.runId,
    sequence: Number(e.sequence),
    time: iso(date(e.time)),
    kind: t.case ?? "unknown",
    ...(e.stepId ? { stepId: e.stepId } : {}),
    ...(t.case === "item" ? { item: e.itemIndex } : {}),
    ...names,
  };
  if (e.attempt) record.attempt = e.attempt;
  if (e.waitingFor) record.waitingFor = e.waitingFor;
  if (e.error && (e.error.message || e.error.reason)) {
    record.error = { reason: e.error.reason, message: e.error.message, ...(e.error.httpStatus ? { httpStatus: e.error.httpStatus } : {}), retryable: e.error.retryable };
  }
  if (extra.nextAttemptAt) record.nextAttemptAt = iso(extra.nextAttemptAt);
  if (e.result) record.result = toJson(ValueSchema, e.result);
  return record;
}

/** The final JSON line: {"type":"summary",...}. */
export function summaryRecord(view: RunView): Record<string, unknown> {
  const since = view.startedAt ?? view.createdAt;
  return {
    type: "summary",
    runId: view.runId,
    workflowId: view.workflowId,
    state: workflowStateName(view.state),
    ...(since && view.completedAt ? { durationMs: view.completedAt.getTime() - since.getTime() } : {}),
    ...(view.error ? { error: view.error } : {}),
    steps: view.steps.map((s) => ({
      id: s.id,
      state: stepStateName(s.state),
      attempts: s.attempts,
      ...(s.startedAt && s.completedAt ? { durationMs: s.completedAt.getTime() - s.startedAt.getTime() } : {}),
      ...(s.items ? { items: s.items } : {}),
      ...(s.reason && s.state !== StepState.COMPLETED ? { reason: s.reason } : {}),
      ...(s.error && s.state !== StepState.COMPLETED ? { error: s.error } : {}),
    })),
  };
}

/** How a run's end maps to the exit code: 0 completed, 1 failed, 3 cancelled. */
export function exitCodeFor(state: WorkflowState): number {
  if (state === WorkflowState.COMPLETED) return 0;
  if (state === WorkflowState.CANCELLED) return 3;
  return 1;
}
