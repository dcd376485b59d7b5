// The run's timeline (Gantt) from its event log: one bar per attempt, retry wait and
// compensation call of each step, and the webhook delivery.
// Pure (no imports): its inputs are the parts of the view models (view-models.ts) it reads.

/** What the timeline reads of a run (RunDetail has it). */
export interface TimelineRun {
  steps: { id: string }[];
  createdAt?: number;
  completedAt?: number;
  webhook?: { state: string; attempts: number; deliveredAt?: number; giveUpAt?: number; lastError?: { message: string } };
}

/** What the timeline reads of an event (EventView has it). */
export interface TimelineEvent {
  sequence: number;
  time: number;
  stepId: string;
  kind: "run" | "step" | "compensation" | "other";
  from: string;
  to: string;
  attempt: number;
  error?: { message: string };
}

export type BarKind = "attempt" | "retry_wait" | "compensation" | "compensation_wait" | "webhook";

export interface TimelineBar {
  row: string;
  kind: BarKind;
  attempt: number;
  start: number;
  /** Unset: still open (drawn up to now). */
  end?: number;
  /** How it ended (a step, compensation or webhook state), or "running". */
  outcome: string;
  message?: string;
}

export interface Timeline {
  rows: string[];
  bars: TimelineBar[];
  start: number;
  end: number;
}

export const WEBHOOK_ROW = "webhook";

export function buildTimeline(run: TimelineRun, events: TimelineEvent[], now: number): Timeline {
  const bars: TimelineBar[] = [];
  const open = new Map<string, TimelineBar>();
  const key = (row: string, kind: BarKind) => `${kind}\u0000${row}`;
  const close = (row: string, kind: BarKind, at: number, outcome: string, message?: string) => {
    const bar = open.get(key(row, kind));
    if (!bar) return;
    bar.end = at;
    bar.outcome = outcome;
    if (message) bar.message = message;
    open.delete(key(row, kind));
  };
  const begin = (bar: TimelineBar) => {
    open.set(key(bar.row, bar.kind), bar);
    bars.push(bar);
  };
  const sorted = [...events].sort((a, b) => a.sequence - b.sequence);
  for (const e of sorted) {
    if (e.kind === "step") {
      if (e.from === "running") close(e.stepId, "attempt", e.time, e.to, e.error?.message);
      if (e.from === "retry_wait") close(e.stepId, "retry_wait", e.time, e.to);
      if (e.to === "running") begin({ row: e.stepId, kind: "attempt", attempt: e.attempt, start: e.time, outcome: "running" });
      if (e.to === "retry_wait") begin({ row: e.stepId, kind: "retry_wait", attempt: e.attempt, start: e.time, outcome: "retry_wait" });
    } else if (e.kind === "compensation") {
      if (e.from === "running") close(e.stepId, "compensation", e.time, e.to, e.error?.message);
      if (e.from === "retry_wait") close(e.stepId, "compensation_wait", e.time, e.to);
      if (e.to === "running") begin({ row: e.stepId, kind: "compensation", attempt: e.attempt, start: e.time, outcome: "running" });
      if (e.to === "retry_wait") begin({ row: e.stepId, kind: "compensation_wait", attempt: e.attempt, start: e.time, outcome: "retry_wait" });
    } else if (e.kind === "run" && (e.to === "completed" || e.to === "failed" || e.to === "cancelled")) {
      // Whatever is still open ended with the run.
      for (const bar of open.values()) {
        bar.end = e.time;
        bar.outcome = "cancelled";
      }
      open.clear();
    }
  }
  const webhook = run.webhook;
  if (webhook && run.completedAt !== undefined && webhook.state !== "none") {
    const end = webhook.deliveredAt ?? (webhook.state === "failed" ? (webhook.giveUpAt ?? now) : undefined);
    bars.push({ row: WEBHOOK_ROW, kind: "webhook", attempt: webhook.attempts, start: run.completedAt, end, outcome: webhook.state, message: webhook.lastError?.message });
  }
  const rows = run.steps.map((s) => s.id);
  if (bars.some((b) => b.kind === "webhook")) rows.push(WEBHOOK_ROW);
  const start = run.createdAt ?? (bars.length ? Math.min(...bars.map((b) => b.start)) : now);
  let end = run.completedAt ?? now;
  for (const b of bars) end = Math.max(end, b.end ?? now);
  return { rows, bars, start, end: Math.max(end, start + 1) };
}
