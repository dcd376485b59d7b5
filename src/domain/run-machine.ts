// The run state machine: commands in, effects and a patch out. No I/O.
//
// Rules (README "Execution semantics"):
// - a step becomes ready when its join policy says so (src/domain/join-policy.ts;
//   the default, all: when all its dependencies have completed);
// - ready steps start in definition order; `parallel` steps start at once,
//   at most one non-parallel step is in flight (running or waiting for a retry);
// - a failed attempt is retried per the step's policy when retryable;
// - a step that fails for good fails the run unless it is tolerated: it has
//   dependents and none of those still waiting decides to fail because of it
//   (a dependent whose join policy can no longer be met is skipped with reason
//   join_failed; under the default policy, all, the run's error names the failed
//   step as it always did). A run that fails: nothing new starts, attempts in
//   flight finish and are recorded, waiting retries are cancelled, then steps
//   that never started become skipped;
// - when a join decides (any ran, or a join failed) its unfinished dependencies
//   that no other waiting step needs are cancelled (reason not_needed: calls in
//   flight aborted, waiting retries and pending steps cancelled), and so on up
//   the graph; the default policy never cancels;
// - the run completes when every step is settled (completed, failed, cancelled,
//   skipped) and no failure failed it: tolerated failures stay failed;
// - cancel and the run deadline abort attempts in flight;
// - saga mode: a run that fails (or is cancelled, or times out) first calls the
//   compensation of every completed step that has one, one at a time, in
//   reverse order of completion (so a step is compensated only after the steps
//   that depended on it), each retried per the step's policy (at least 3 attempts);
// - once the run has ended, its on_complete / on_error webhook is delivered,
//   retried with exponential backoff until the retry period runs out (a
//   destination the outbound policy denies fails it at once).
import { isPermanentFailure } from "./attempt-outcome.ts";
import { decideJoin, describeJoin, type JoinDecision, type JoinPolicy } from "./join-policy.ts";
import { runGraph } from "./run-graph.ts";
import { jsonText } from "./json-text.ts";
import { truncateText } from "./field-limits.ts";
import { forEachItems, INVALID_FOR_EACH, ITEMS_FAILED, mapResult, mapResultText, parseForEach, resolvePath, DEFAULT_MAX_CONCURRENCY } from "./map-step.ts";
import { nextAttemptDelayMs } from "./retry-policy.ts";
import { redeliveryRefusal } from "./webhook-redelivery.ts";
import { REDRIVEN_STEP_STATES, redriveRefusal, redrivenDeadline, webhookEventId } from "./redrive.ts";
import { withNeededSteps } from "./rerun.ts";
import { WAITING_FOR_CONCURRENCY_KEY } from "./concurrency-key.ts";
import { deadlineRuns, type PauseRecord, pauseRefusal, resumedDeadline, resumeRefusal } from "./pause.ts";
import {
  type CompensationRecord,
  type CompensationState,
  type ErrorInfo,
  type ItemRecord,
  type ItemState,
  type RunEvent,
  runHeader,
  type RunPatch,
  type RunRecord,
  type RunState,
  type StepRecord,
  type StepState,
} from "./run-record.ts";
import type { JsonValue, RetryPolicy } from "./workflow-spec.ts";

export type WorkKind = "step" | "compensation" | "webhook" | "item";

/** An HTTP call to make once the patch is committed (index -1 for the webhook; item calls: index is the map step's). */
export interface Work {
  kind: WorkKind;
  index: number;
  attempt: number;
  /** Item calls: the item's index. */
  item?: number;
}

/** A retry to schedule once the patch is committed. */
export interface Timer {
  kind: WorkKind;
  index: number;
  at: number;
  item?: number;
}

export interface Effects {
  dispatch: Work[];
  timers: Timer[];
  /** Steps whose in-flight attempt must be aborted now. */
  abort: number[];
  /** Items (of map steps) whose in-flight attempt must be aborted now. */
  abortItems: { index: number; item: number }[];
  /**
   * Slots of concurrency keys to ask for (step indexes; -1 for the run's own
   * key): the run or step is queued (waitingFor) until admitted() is called.
   */
  acquire: number[];
  /** Slots the run or its steps hold already (after a restart): to be kept, even past the limit. */
  hold: number[];
  /** Waits for slots to withdraw (step indexes; -1 for the run): the run was paused while they were queued. */
  unqueue: number[];
  /** The run's deadline changed or stopped or started running (pause with hold_deadline, resume): arm its timer again. */
  deadline: boolean;
  /** The run reached a terminal state with this command. */
  terminal: boolean;
  /** Nothing is left to do for this run (terminal, webhook settled). */
  done: boolean;
}

export interface AttemptFailure {
  error: ErrorInfo;
  retryable: boolean;
  retryAfterMs?: number;
}

export interface WebhookPolicy {
  /** How long after the run ended deliveries are retried. */
  retryPeriodMs: number;
  initialIntervalMs: number;
  maxIntervalMs: number;
}

export const DEFAULT_WEBHOOK_POLICY: WebhookPolicy = {
  retryPeriodMs: 86_400_000,
  initialIntervalMs: 1_000,
  maxIntervalMs: 3_600_000,
};

export interface MachineOptions {
  random?: () => number;
  webhook?: WebhookPolicy;
  /** All step results of a run together, as JSON text; a result that would pass it fails its step (not retried). */
  maxRunResultBytes?: number;
}

/** Compensations get at least this many attempts. */
export const MIN_COMPENSATION_ATTEMPTS = 3;

function effects(): Effects {
  return { dispatch: [], timers: [], abort: [], abortItems: [], acquire: [], hold: [], unqueue: [], deadline: false, terminal: false, done: false };
}

/** A copy without undefined fields (cleared fields vanish from the stored JSON; no `delete`, which slows objects down). */
function withoutUndefined<T extends object>(o: T): T {
  const out = {} as T;
  for (const k in o) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** A failure's error as stored: the attempt recorded, the message bounded (handler texts can be long). */
function storedError(failure: AttemptFailure, attempt: number): ErrorInfo {
  return { ...failure.error, message: truncateText(failure.error.message), attempt, retryable: failure.retryable };
}

/** What in-flight steps record when the run is cancelled: the reason is kept once, in the run's error. */
export const STEP_CANCELLED_MESSAGE = "run cancelled";

function jsonLength(value: JsonValue): number {
  return jsonText(value).length;
}

/** The same length, for results loaded with a run: their text is not kept (most are never serialized again). */
function loadedJsonLength(value: JsonValue): number {
  return JSON.stringify(value).length;
}

function isInFlight(state: StepState): boolean {
  return state === "running" || state === "retry_wait";
}

/** Ready, but waiting for a slot of its concurrency key. */
function isQueued(st: StepRecord): boolean {
  return st.state === "pending" && st.waitingFor !== undefined;
}

/** An item's stored error message is cut to this many characters. */
export const MAX_ITEM_ERROR_LENGTH = 128;

/** Completed, failed, cancelled or skipped: the step will not change again. */
export function isSettled(state: StepState): boolean {
  return state === "completed" || state === "failed" || state === "cancelled" || state === "skipped";
}

/** The reason of steps cancelled because the steps waiting for them went on without them. */
export const NOT_NEEDED = "not_needed";
/** The reason of steps skipped because their join policy can no longer be met. */
export const JOIN_FAILED = "join_failed";

/** Live counts of a started map step's items. */
interface MapCounts {
  /** Items before this index have started (pending items are the ones from here on). */
  next: number;
  running: number;
  retryWait: number;
  completed: number;
  /** Failed or cancelled. */
  failed: number;
}

export class RunMachine {
  readonly run: RunRecord;
  private readonly random: () => number;
  private readonly webhookPolicy: WebhookPolicy;
  private readonly parallel: readonly boolean[];
  private readonly dependencies: readonly (readonly number[])[];
  private readonly dependents: readonly (readonly number[])[];
  private readonly joins: readonly JoinPolicy[];
  private readonly itemJoins: readonly JoinPolicy[];
  private readonly indexOf: ReadonlyMap<string, number>;
  /** Started map steps' item counts, by step index. */
  private readonly maps: (MapCounts | undefined)[];
  /** Map steps whose whole item list the next commit writes; made on first use (most runs have no map step). */
  private dirtyItemLists: Set<number> | undefined;
  /** Items the next commit writes, by map step; made on first use. */
  private dirtyItems: Map<number, Set<number>> | undefined;
  /** Per step: its dependencies that completed, and that failed (or were cancelled or skipped). */
  private readonly depCompleted: number[];
  private readonly depFailed: number[];
  /** Pending steps whose join decided to run; undefined when there are none (a waiting run holds no empty set). */
  private ready: Set<number> | undefined;
  private running = 0;
  private serialInFlight = 0;
  /** Steps not settled yet. */
  private unsettled = 0;
  private dirtyRun = false;
  /** Steps the next commit writes; made on first use, let go by takePatch. */
  private dirtySteps: Set<number> | undefined;
  private events: RunEvent[] = [];
  private readonly maxRunResultBytes: number;
  /** JSON length of the results recorded so far. */
  private resultBytes = 0;

  constructor(run: RunRecord, options: MachineOptions = {}) {
    this.run = run;
    this.random = options.random ?? Math.random;
    this.webhookPolicy = options.webhook ?? DEFAULT_WEBHOOK_POLICY;
    this.maxRunResultBytes = options.maxRunResultBytes ?? Number.POSITIVE_INFINITY;
    const steps = run.spec.steps;
    const graph = runGraph(steps);
    this.parallel = graph.parallel;
    this.joins = graph.joins;
    this.itemJoins = graph.itemJoins;
    this.indexOf = graph.indexOf;
    this.dependencies = graph.dependencies;
    this.dependents = graph.dependents;
    this.maps = steps.map((_, i) => {
      const items = run.items?.[i];
      if (!items) return undefined;
      const m: MapCounts = { next: items.length, running: 0, retryWait: 0, completed: 0, failed: 0 };
      items.forEach((it, k) => {
        if (it.state === "pending") m.next = Math.min(m.next, k);
        else if (it.state === "running") m.running++;
        else if (it.state === "retry_wait") m.retryWait++;
        else if (it.state === "completed") m.completed++;
        else m.failed++;
        if (it.result !== undefined) this.resultBytes += loadedJsonLength(it.result);
      });
      return m;
    });
    this.depCompleted = steps.map(() => 0);
    this.depFailed = steps.map(() => 0);
    steps.forEach((_, i) => {
      for (const d of this.dependencies[i]) {
        const state = run.steps[d].state;
        if (state === "completed") this.depCompleted[i]++;
        else if (isSettled(state)) this.depFailed[i]++;
      }
    });
    run.steps.forEach((st, i) => {
      if (!isSettled(st.state)) this.unsettled++;
      if (st.result !== undefined) this.resultBytes += loadedJsonLength(st.result);
      if (st.state === "running") this.running++;
      // A queued non-parallel step keeps the run's serial slot while it waits for its key.
      if ((isInFlight(st.state) || isQueued(st)) && !this.parallel[i]) this.serialInFlight++;
      // The same decisions as when the run was driven: the join sees the same states.
      if (st.state === "pending" && this.join(i).decision === "run") this.markReady(i);
    });
  }

  private markReady(i: number): void {
    (this.ready ??= new Set()).add(i);
  }

  private unmarkReady(i: number): void {
    const ready = this.ready;
    if (ready !== undefined && ready.delete(i) && ready.size === 0) this.ready = undefined;
  }

  /** The join decision of step i now. */
  private join(i: number): JoinDecision {
    const n = this.dependencies[i].length;
    return decideJoin(this.joins[i], {
      completed: this.depCompleted[i],
      failed: this.depFailed[i],
      unfinished: n - this.depCompleted[i] - this.depFailed[i],
    });
  }

  /** Pending and its join has not decided yet: it still waits for its dependencies. */
  private waiting(i: number): boolean {
    return this.run.steps[i].state === "pending" && !this.ready?.has(i);
  }

  /** True once a step failed for good: the run is winding down. */
  get failing(): boolean {
    return (this.run.state === "running" || this.run.state === "paused") && this.run.error !== undefined;
  }

  // ---- run commands ------------------------------------------------------------

  /** pending → running, and the first ready steps start. */
  start(now: number): Effects {
    const fx = effects();
    if (this.run.state !== "pending") return fx;
    if (this.run.spec.concurrency) {
      // Queued for the run's concurrency key: admitted(-1) starts it.
      if (this.run.waitingFor === undefined) {
        this.run.waitingFor = WAITING_FOR_CONCURRENCY_KEY;
        this.run.queuedAt = now;
        this.dirtyRun = true;
        this.events.push({ runId: this.run.runId, seq: ++this.run.lastSeq, at: now, kind: "run", from: "pending", to: "pending", waitingFor: WAITING_FOR_CONCURRENCY_KEY });
      }
      fx.acquire.push(-1);
      return fx;
    }
    this.setRun("running", now, { startedAt: now });
    this.releaseDecided(now, fx);
    this.plan(now, fx);
    return fx;
  }

  /**
   * A run's first start: a step whose join has already decided (a rerun's,
   * whose copied dependencies decided it, e.g. an `any` with a copied
   * completed one) releases its unfinished dependencies, as the join would
   * have when it decided: those no other waiting step needs are cancelled
   * (not_needed) before they are called.
   */
  private releaseDecided(now: number, fx: Effects): void {
    if (this.ready === undefined) return;
    for (const i of [...this.ready].sort((a, b) => a - b)) {
      const j = this.join(i);
      if (j.decision === "run" && j.cancelUnfinished) this.release(i, `step "${this.run.steps[i].id}" went on without it`, now, fx);
    }
  }

  /**
   * A slot of a concurrency key was granted: the queued run (index -1) or step
   * starts. Nothing happens when it no longer waits (cancelled, run ended): the
   * caller releases the slot once the step or run has settled.
   */
  admitted(index: number, now: number): Effects {
    const fx = effects();
    if (index === -1) {
      if (this.run.state !== "pending" || this.run.waitingFor === undefined) return fx;
      // A redriven run keeps when it first started.
      const first = this.run.startedAt === undefined;
      this.setRun("running", now, { startedAt: this.run.startedAt ?? now });
      if (first) this.releaseDecided(now, fx);
      this.plan(now, fx);
      return fx;
    }
    const st = this.run.steps[index];
    if (st === undefined || !isQueued(st) || this.run.state !== "running" || this.failing) return fx;
    if (this.run.spec.steps[index].forEach !== undefined) {
      if (this.startMap(index, now, fx)) this.proceed(now, fx);
    } else {
      fx.dispatch.push({ kind: "step", index, attempt: this.startAttempt(index, now) });
    }
    return fx;
  }

  /**
   * Resumes a run loaded from the store after a restart: calls that were in
   * flight are sent again (same attempt number, same idempotency key), retries
   * are re-armed, an expired deadline fires, and anything ready starts.
   */
  recover(now: number): Effects {
    const fx = effects();
    const run = this.run;
    switch (run.state) {
      case "pending":
        if (now >= run.deadlineAt) return this.deadlineReached(now);
        return this.start(now);
      case "running":
        if (now >= run.deadlineAt) return this.deadlineReached(now);
        run.steps.forEach((st, i) => {
          const items = run.items?.[i];
          if (st.state === "running" && items) {
            // A map step: only its items in flight are sent again.
            items.forEach((it, k) => {
              if (it.state === "running") fx.dispatch.push({ kind: "item", index: i, item: k, attempt: it.attempts });
              else if (it.state === "retry_wait") fx.timers.push({ kind: "item", index: i, item: k, at: it.nextAttemptAt ?? now });
            });
            this.planItems(i, now, fx);
          } else if (st.state === "running") fx.dispatch.push({ kind: "step", index: i, attempt: st.attempts });
          else if (st.state === "retry_wait") fx.timers.push({ kind: "step", index: i, at: st.nextAttemptAt ?? now });
          // Concurrency keys: slots held stay held; queued steps ask again.
          if (run.spec.steps[i].concurrency) {
            if (isInFlight(st.state)) fx.hold.push(i);
            else if (isQueued(st)) fx.acquire.push(i);
          }
        });
        if (run.spec.concurrency) fx.hold.push(-1);
        this.proceed(now, fx);
        return fx;
      case "paused":
        return this.recoverPaused(now);
      case "compensating":
        run.steps.forEach((st, i) => {
          const c = st.compensation;
          if (c?.state === "running") fx.dispatch.push({ kind: "compensation", index: i, attempt: c.attempts });
          else if (c?.state === "retry_wait") fx.timers.push({ kind: "compensation", index: i, at: c.nextAttemptAt ?? now });
        });
        this.advanceCompensation(now, fx);
        return fx;
      default: {
        const w = run.webhook;
        if (w?.state === "pending") fx.dispatch.push(this.startWebhook());
        else if (w?.state === "delivering") fx.dispatch.push({ kind: "webhook", index: -1, attempt: w.attempts });
        else if (w?.state === "retry_wait") fx.timers.push({ kind: "webhook", index: -1, at: w.nextAttemptAt ?? now });
        else fx.done = true;
        return fx;
      }
    }
  }

  /**
   * Cancels the run: `message` (which may carry the caller's reason) becomes the
   * run's error; in-flight steps record STEP_CANCELLED_MESSAGE instead, so the
   * reason is stored once, not once per step.
   */
  cancel(now: number, message: string): Effects {
    return this.abortRun(now, "cancelled", { reason: "cancelled", message: truncateText(message) }, STEP_CANCELLED_MESSAGE);
  }

  /**
   * Continues a failed or cancelled run in place (RedriveWorkflow): the run
   * goes back to running with a `redriven` transition and a later deadline
   * (redrive.ts); failed, cancelled and skipped steps become pending again
   * (attempt numbers go on), and so do the failed and cancelled items of such
   * a map step; completed steps keep their results and are not called again.
   * The webhook of the previous outcome is dropped: the new outcome gets its
   * own. Does nothing for a run redriveRefusal refuses.
   */
  redrive(now: number, extensionMs?: number): Effects {
    const fx = effects();
    const run = this.run;
    if (redriveRefusal(run) !== undefined) return fx;
    const redrives = (run.redrives ?? 0) + 1;
    // A run with a concurrency key queues for a slot again, as a new run does (admitted(-1) goes on).
    const queued = run.spec.concurrency !== undefined;
    this.setRun(queued ? "pending" : "running", now, {
      deadlineAt: redrivenDeadline(run, now, extensionMs),
      completedAt: undefined,
      error: undefined,
      compensation: undefined,
      webhook: undefined,
      redrives,
      ...(queued ? { waitingFor: WAITING_FOR_CONCURRENCY_KEY, queuedAt: now } : {}),
    });
    const transition = this.events[this.events.length - 1];
    transition.redriven = true;
    if (queued) transition.waitingFor = WAITING_FOR_CONCURRENCY_KEY;
    // A step that did not complete runs again when a step that runs again (or nothing) depends on it:
    // an `any` join's loser whose join completed stays cancelled (not_needed).
    const needed = withNeededSteps(run, run.steps.map(() => false));
    run.steps.forEach((st, i) => {
      if (REDRIVEN_STEP_STATES.has(st.state) && needed[i]) this.reopenStep(i, now);
    });
    run.steps.forEach((st, i) => {
      if (st.state === "pending" && this.join(i).decision === "run") this.markReady(i);
    });
    if (queued) {
      fx.acquire.push(-1);
      return fx;
    }
    this.proceed(now, fx);
    return fx;
  }

  /**
   * Pauses the run (PauseWorkflow): RUNNING or PENDING → PAUSED. Nothing new
   * starts while paused (steps, retries, map items); attempts in flight finish
   * and are recorded, and a failure schedules its retry, which starts on
   * resume. A run queued for its concurrency key (or steps queued for theirs)
   * leaves the queue until resume. With holdDeadline the deadline stops.
   * Does nothing when pauseRefusal refuses.
   */
  pause(now: number, reason: string | undefined, holdDeadline: boolean): Effects {
    const fx = effects();
    const run = this.run;
    if (pauseRefusal(run) !== undefined) return fx;
    const pause: PauseRecord = { at: now, holdDeadline, from: run.state === "pending" ? "pending" : "running" };
    if (reason) pause.reason = truncateText(reason);
    if (run.state === "pending" && run.waitingFor !== undefined) {
      if (run.queuedAt !== undefined) pause.queuedAt = run.queuedAt;
      fx.unqueue.push(-1);
    }
    run.steps.forEach((st, i) => {
      if (isQueued(st)) fx.unqueue.push(i);
    });
    this.setRun("paused", now, { pause });
    fx.deadline = holdDeadline;
    return fx;
  }

  /**
   * Resumes a paused run (ResumeWorkflow): PAUSED → RUNNING (→ PENDING for a
   * run paused while queued for its concurrency key: it queues again, in its
   * old place). Retries that came due meanwhile start at once, later ones are
   * timed again; queued steps ask for their slots again; ready steps start.
   * A held deadline moves later by the time spent paused.
   */
  resume(now: number): Effects {
    const fx = effects();
    const run = this.run;
    if (resumeRefusal(run) !== undefined) return fx;
    const pause = run.pause ?? { at: now, holdDeadline: false, from: "running" as const };
    const deadlineAt = resumedDeadline(run.deadlineAt, pause, now);
    fx.deadline = deadlineAt !== run.deadlineAt || pause.holdDeadline;
    if (pause.from === "pending") {
      if (run.spec.concurrency) {
        const queuedAt = pause.queuedAt ?? now;
        this.setRun("pending", now, { deadlineAt, waitingFor: WAITING_FOR_CONCURRENCY_KEY, queuedAt });
        this.events[this.events.length - 1].waitingFor = WAITING_FOR_CONCURRENCY_KEY;
        fx.acquire.push(-1);
        return fx;
      }
      this.setRun("running", now, { deadlineAt, startedAt: run.startedAt ?? now });
      this.plan(now, fx);
      return fx;
    }
    this.setRun("running", now, { deadlineAt });
    run.steps.forEach((st, i) => {
      if (st.state === "retry_wait") {
        const at = st.nextAttemptAt ?? now;
        if (at <= now) fx.dispatch.push({ kind: "step", index: i, attempt: this.startAttempt(i, now) });
        else fx.timers.push({ kind: "step", index: i, at });
      } else if (isQueued(st)) {
        fx.acquire.push(i);
      } else if (st.state === "running" && this.maps[i]) {
        run.items![i].forEach((it, k) => {
          if (it.state !== "retry_wait") return;
          const at = it.nextAttemptAt ?? now;
          if (at <= now) fx.dispatch.push({ kind: "item", index: i, item: k, attempt: this.startItem(i, k, now) });
          else fx.timers.push({ kind: "item", index: i, item: k, at });
        });
        this.planItems(i, now, fx);
      }
    });
    this.proceed(now, fx);
    return fx;
  }

  /**
   * recover() of a paused run: calls in flight are sent again (they started
   * before the pause), slots held stay held; nothing else starts. A deadline
   * that passed fires unless the pause holds it.
   */
  private recoverPaused(now: number): Effects {
    const run = this.run;
    if (now >= run.deadlineAt && deadlineRuns(run)) return this.deadlineReached(now);
    const fx = effects();
    run.steps.forEach((st, i) => {
      const items = run.items?.[i];
      if (st.state === "running" && items) {
        items.forEach((it, k) => {
          if (it.state === "running") fx.dispatch.push({ kind: "item", index: i, item: k, attempt: it.attempts });
        });
      } else if (st.state === "running") fx.dispatch.push({ kind: "step", index: i, attempt: st.attempts });
      if (run.spec.steps[i].concurrency && isInFlight(st.state)) fx.hold.push(i);
    });
    if (run.spec.concurrency && run.pause?.from === "running") fx.hold.push(-1);
    // Everything may have settled just before the process stopped.
    this.proceed(now, fx);
    return fx;
  }

  /** A settled step that did not complete becomes pending again (redrive), with its failed and cancelled items. */
  private reopenStep(index: number, now: number): void {
    const st = this.run.steps[index];
    this.unsettled++;
    for (const d of this.dependents[index]) this.depFailed[d]--;
    const items = this.run.items?.[index];
    const m = this.maps[index];
    if (items && m) {
      items.forEach((it, k) => {
        if (it.state !== "failed" && it.state !== "cancelled") return;
        items[k] = withoutUndefined({ ...it, state: "pending", error: undefined, completedAt: undefined, nextAttemptAt: undefined });
        m.failed--;
        m.next = Math.min(m.next, k);
        this.markItem(index, k);
      });
    }
    const { error: _e, completedAt: _c, completedSeq: _s, nextAttemptAt: _n, ...kept } = st;
    this.run.steps[index] = { ...kept, state: "pending" };
    this.record(index, "step", st.state, "pending", now, {});
  }

  deadlineReached(now: number): Effects {
    // A pause that holds the deadline stops its clock.
    if (!deadlineRuns(this.run)) return effects();
    const seconds = this.run.spec.timeoutMs / 1000;
    const message = `workflow timed out after ${seconds}s`;
    return this.abortRun(now, "failed", { reason: "timed_out", message }, message);
  }

  // ---- step commands ---------------------------------------------------------------

  attemptSucceeded(index: number, attempt: number, result: JsonValue, now: number): Effects {
    const fx = effects();
    const st = this.run.steps[index];
    if (!this.isCurrentAttempt(st, attempt)) return fx;
    const bytes = jsonLength(result);
    if (this.resultBytes + bytes > this.maxRunResultBytes) {
      const message = `the run's step results would exceed the limit of ${this.maxRunResultBytes} bytes (this result: ${bytes})`;
      return this.attemptFailed(index, attempt, { retryable: false, error: { reason: "result_too_large", message } }, now);
    }
    this.resultBytes += bytes;
    // completedSeq is the sequence number of this very event: completion order, exactly.
    const completedSeq = this.run.lastSeq + 1;
    this.setStep(index, "completed", now, { completedAt: now, completedSeq, result, error: undefined }, { attempt, result });
    if (!this.failing) this.decideDependents(index, now, fx);
    this.proceed(now, fx);
    return fx;
  }

  attemptFailed(index: number, attempt: number, failure: AttemptFailure, now: number): Effects {
    const fx = effects();
    const st = this.run.steps[index];
    if (!this.isCurrentAttempt(st, attempt)) return fx;
    const error = storedError(failure, attempt);
    const delay = this.retryDelay(index, attempt, failure);
    if (delay !== undefined) {
      const at = now + delay;
      this.setStep(index, "retry_wait", now, { error, nextAttemptAt: at }, { attempt, error });
      fx.timers.push({ kind: "step", index, at });
      return fx;
    }
    this.failStep(index, attempt, error, now, fx);
    this.proceed(now, fx);
    return fx;
  }

  /** How long until the step's (or its item's) next attempt, or undefined when the failure is final. */
  private retryDelay(index: number, attempt: number, failure: AttemptFailure): number | undefined {
    return failure.retryable && !this.failing
      ? nextAttemptDelayMs(this.run.spec.steps[index].retry, attempt, failure.retryAfterMs, this.random)
      : undefined;
  }

  /** Step `index` failed for good: its dependents decide, and the run fails unless it is tolerated. */
  private failStep(index: number, attempt: number, error: ErrorInfo, now: number, fx: Effects): void {
    const st = this.run.steps[index];
    this.setStep(index, "failed", now, { error, completedAt: now, nextAttemptAt: undefined }, { attempt, error });
    if (this.failing) return;
    // Tolerated only by dependents: a step nothing waits for fails the run.
    const tolerated = this.dependents[index].length > 0 && this.decideDependents(index, now, fx);
    if (!tolerated && !this.failing) {
      this.failRun(
        now,
        {
          reason: "step_failed",
          message: `step "${st.id}" failed: ${error.message}`,
          stepId: st.id,
          httpStatus: error.httpStatus,
          attempt,
        },
        fx,
      );
    }
  }

  // ---- map steps ---------------------------------------------------------------------

  /**
   * The items map step `index` runs over, or why it cannot run: the same
   * whenever asked, since the context and the results it reads never change
   * once the step could start.
   */
  forEachValues(index: number): JsonValue[] | string {
    const pointer = this.run.spec.steps[index].forEach ?? "";
    const parsed = parseForEach(pointer);
    if (typeof parsed === "string") return `for_each: ${parsed}`;
    let root: JsonValue | undefined;
    if (parsed.source.kind === "context") {
      root = this.run.spec.context;
    } else {
      const d = this.indexOf.get(parsed.source.stepId);
      const dep = d === undefined ? undefined : this.run.steps[d];
      if (d === undefined || dep?.state !== "completed") root = undefined;
      else root = this.resultOf(d);
    }
    const r = forEachItems(resolvePath(root, parsed.path), pointer);
    return "items" in r ? r.items : r.message;
  }

  /** Step `index`'s result as later steps see it: a map step's is its items' (mapResult), another's its own. */
  resultOf(index: number): JsonValue | undefined {
    const items = this.run.items?.[index];
    return items ? mapResult(items) : this.run.steps[index].result;
  }

  /** resultOf(index) as JSON text (`null` for none); a map step's made from its items' kept texts. */
  resultText(index: number): string {
    const items = this.run.items?.[index];
    return items ? mapResultText(items) : jsonText(this.run.steps[index].result);
  }

  /** The items of a started map step, as stored. */
  items(index: number): readonly ItemRecord[] | undefined {
    return this.run.items?.[index];
  }

  /** A ready map step starts: its items are created, the first ones start. Returns true when the step settled at once. */
  private startMap(index: number, now: number, fx: Effects): boolean {
    const attempt = this.startAttempt(index, now);
    // Redriven: the items are there, those that completed keep their results.
    if (this.run.items?.[index] && this.maps[index]) return this.settleMap(index, now, fx);
    const values = this.forEachValues(index);
    if (typeof values === "string") {
      this.failStep(index, attempt, { reason: INVALID_FOR_EACH, message: values, attempt, retryable: false }, now, fx);
      return true;
    }
    (this.run.items ??= {})[index] = values.map((): ItemRecord => ({ state: "pending", attempts: 0 }));
    this.maps[index] = { next: 0, running: 0, retryWait: 0, completed: 0, failed: 0 };
    (this.dirtyItemLists ??= new Set()).add(index);
    return this.settleMap(index, now, fx);
  }

  /** Starts pending items while fewer than max_concurrency are in flight. */
  private planItems(index: number, now: number, fx: Effects): void {
    const m = this.maps[index];
    const items = this.run.items?.[index];
    if (!m || !items || this.run.state !== "running" || this.failing || this.run.steps[index].state !== "running") return;
    const limit = this.run.spec.steps[index].maxConcurrency ?? DEFAULT_MAX_CONCURRENCY;
    while (m.next < items.length && m.running + m.retryWait < limit) {
      const k = m.next++;
      if (items[k].state !== "pending") continue;
      fx.dispatch.push({ kind: "item", index, item: k, attempt: this.startItem(index, k, now) });
    }
  }

  private startItem(index: number, item: number, now: number): number {
    const it = this.run.items![index][item];
    const attempt = it.attempts + 1;
    this.setItem(index, item, "running", now, { attempts: attempt, startedAt: it.startedAt ?? now, nextAttemptAt: undefined });
    return attempt;
  }

  /**
   * A map step's items changed: its item_failures policy decides. Returns true
   * when the step settled (completed or failed); otherwise more items start.
   */
  private settleMap(index: number, now: number, fx: Effects): boolean {
    const m = this.maps[index]!;
    const st = this.run.steps[index];
    if (st.state !== "running") return false;
    const total = this.run.items![index].length;
    const j = decideJoin(this.itemJoins[index], { completed: m.completed, failed: m.failed, unfinished: total - m.completed - m.failed });
    if (j.decision === "wait") {
      this.planItems(index, now, fx);
      return false;
    }
    if (j.decision === "run") {
      if (j.cancelUnfinished) this.cancelItems(index, { reason: NOT_NEEDED, message: `not needed: step "${st.id}" completed without it` }, now, fx);
      const completedSeq = this.run.lastSeq + 1;
      this.setStep(index, "completed", now, { completedAt: now, completedSeq, error: undefined }, { attempt: st.attempts });
      if (!this.failing) this.decideDependents(index, now, fx);
      return true;
    }
    this.cancelItems(index, { reason: NOT_NEEDED, message: `not needed: step "${st.id}" failed` }, now, fx);
    const message = `items (item_failures ${describeJoin(this.itemJoins[index])}): ${j.message}`;
    this.failStep(index, st.attempts, { reason: ITEMS_FAILED, message, attempt: st.attempts, retryable: false }, now, fx);
    return true;
  }

  /** Cancels a map step's unfinished items (aborting calls in flight). */
  private cancelItems(index: number, error: ErrorInfo, now: number, fx: Effects, which: "unfinished" | "waiting" = "unfinished"): void {
    const items = this.run.items?.[index];
    const m = this.maps[index];
    if (!items || !m) return;
    // Items before m.next have started; the pending ones are all from m.next on.
    for (let k = 0; k < m.next; k++) {
      const it = items[k];
      if (it.state === "running" && which === "unfinished") fx.abortItems.push({ index, item: k });
      else if (it.state !== "retry_wait") continue;
      this.setItem(index, k, "cancelled", now, { completedAt: now, nextAttemptAt: undefined, error: it.attempts > 0 ? { ...error, attempt: it.attempts } : error });
    }
    for (let k = m.next; k < items.length; k++) {
      if (items[k].state === "pending") this.setItem(index, k, "cancelled", now, { completedAt: now, error });
    }
    m.next = items.length;
  }

  itemSucceeded(index: number, item: number, attempt: number, result: JsonValue, now: number): Effects {
    const fx = effects();
    if (!this.isCurrentItem(index, item, attempt)) return fx;
    const bytes = jsonLength(result);
    if (this.resultBytes + bytes > this.maxRunResultBytes) {
      const message = `the run's step results would exceed the limit of ${this.maxRunResultBytes} bytes (this result: ${bytes})`;
      return this.itemFailed(index, item, attempt, { retryable: false, error: { reason: "result_too_large", message } }, now);
    }
    this.resultBytes += bytes;
    this.setItem(index, item, "completed", now, { completedAt: now, result, error: undefined, nextAttemptAt: undefined });
    if (this.settleMap(index, now, fx)) this.proceed(now, fx);
    return fx;
  }

  itemFailed(index: number, item: number, attempt: number, failure: AttemptFailure, now: number): Effects {
    const fx = effects();
    if (!this.isCurrentItem(index, item, attempt)) return fx;
    // Shorter than a step's: 10,000 failed items must stay well inside a store document (MongoDB: 16 MiB).
    const error = { ...storedError(failure, attempt), message: truncateText(failure.error.message, MAX_ITEM_ERROR_LENGTH) };
    const delay = this.retryDelay(index, attempt, failure);
    if (delay !== undefined) {
      const at = now + delay;
      this.setItem(index, item, "retry_wait", now, { error, nextAttemptAt: at }, { attempt, error });
      fx.timers.push({ kind: "item", index, item, at });
      return fx;
    }
    this.setItem(index, item, "failed", now, { error, completedAt: now, nextAttemptAt: undefined }, { attempt, error });
    if (this.settleMap(index, now, fx)) this.proceed(now, fx);
    return fx;
  }

  /** An item's retry timer fired (its slot stayed taken while it waited). */
  itemRetryDue(index: number, item: number, now: number): Effects {
    const fx = effects();
    const it = this.run.items?.[index]?.[item];
    if (it?.state !== "retry_wait" || this.run.state !== "running" || this.failing || this.run.steps[index].state !== "running") return fx;
    fx.dispatch.push({ kind: "item", index, item, attempt: this.startItem(index, item, now) });
    return fx;
  }

  private isCurrentItem(index: number, item: number, attempt: number): boolean {
    const it = this.run.items?.[index]?.[item];
    return (this.run.state === "running" || this.run.state === "paused") && this.run.steps[index].state === "running" && it?.state === "running" && it.attempts === attempt;
  }

  /** The item is written by the next commit (only the items that changed: a redrive of a 10,000-item step rewrites its failed ones). */
  private markItem(index: number, item: number): void {
    if (this.dirtyItemLists?.has(index)) return;
    this.dirtyItems ??= new Map();
    let set = this.dirtyItems.get(index);
    if (!set) this.dirtyItems.set(index, (set = new Set()));
    set.add(item);
  }

  /**
   * Records an item's new state. Only failed attempts become events (with the
   * item's index): a 10,000-item step does not flood the run's event log.
   */
  private setItem(index: number, item: number, to: ItemState, now: number, fields: Partial<ItemRecord>, event?: { attempt: number; error: ErrorInfo }): void {
    const items = this.run.items![index];
    const m = this.maps[index]!;
    const it = items[item];
    const from = it.state;
    if (from === "running") m.running--;
    else if (from === "retry_wait") m.retryWait--;
    if (to === "running") m.running++;
    else if (to === "retry_wait") m.retryWait++;
    else if (to === "completed") m.completed++;
    else if (to === "failed" || to === "cancelled") m.failed++;
    items[item] = withoutUndefined({ ...it, ...fields, state: to });
    this.markItem(index, item);
    if (event) {
      this.events.push({
        runId: this.run.runId,
        seq: ++this.run.lastSeq,
        at: now,
        kind: "item",
        stepId: this.run.steps[index].id,
        item,
        from,
        to,
        attempt: event.attempt,
        error: event.error,
      });
    }
  }

  /**
   * Step `index` settled: its waiting dependents decide. Returns false when one
   * of them cannot run because of it under the default policy (the caller fails
   * the run with the step's own error); a failed join of another policy skips
   * that step and fails the run here.
   */
  private decideDependents(index: number, now: number, fx: Effects): boolean {
    let tolerated = true;
    for (const d of this.dependents[index]) {
      if (!this.waiting(d)) continue;
      const j = this.join(d);
      if (j.decision === "run") {
        this.markReady(d);
        if (j.cancelUnfinished) this.release(d, `step "${this.run.steps[d].id}" went on without it`, now, fx);
      } else if (j.decision === "fail") {
        if (this.joins[d].kind === "all") {
          tolerated = false;
          continue;
        }
        const id = this.run.steps[d].id;
        const message = `step "${id}" cannot run (join ${describeJoin(this.joins[d])}): ${j.message}`;
        const error: ErrorInfo = { reason: JOIN_FAILED, message };
        this.setStep(d, "skipped", now, { error }, { error });
        if (!this.failing) this.failRun(now, { reason: JOIN_FAILED, message, stepId: id }, fx);
        if (j.cancelUnfinished) this.release(d, `step "${id}" can no longer run`, now, fx);
      }
    }
    return tolerated;
  }

  /**
   * Step `index` no longer waits for its unfinished dependencies: cancel those
   * no other waiting step needs (aborting calls in flight), then theirs.
   */
  private release(index: number, why: string, now: number, fx: Effects): void {
    for (const p of this.dependencies[index]) {
      const st = this.run.steps[p];
      if (isSettled(st.state) || this.dependents[p].some((q) => this.waiting(q))) continue;
      if (st.state === "running") fx.abort.push(p);
      this.cancelItems(p, { reason: NOT_NEEDED, message: `not needed: ${why}` }, now, fx);
      this.unmarkReady(p);
      const error: ErrorInfo = { reason: NOT_NEEDED, message: `not needed: ${why}` };
      if (st.attempts > 0) error.attempt = st.attempts;
      this.setStep(p, "cancelled", now, { completedAt: now, nextAttemptAt: undefined, error }, { attempt: error.attempt, error });
      this.release(p, why, now, fx);
    }
  }

  /** After a step settled: end the run if nothing is left (or it failed and nothing is in flight), else start what is ready. */
  private proceed(now: number, fx: Effects): void {
    if (this.failing) {
      if (this.running === 0) this.end("failed", now, fx);
    } else if (this.unsettled === 0) {
      this.end("completed", now, fx);
    } else {
      this.plan(now, fx);
    }
  }

  /** A step's retry timer fired. */
  retryDue(index: number, now: number): Effects {
    const fx = effects();
    const st = this.run.steps[index];
    if (st.state !== "retry_wait" || this.run.state !== "running" || this.failing) return fx;
    fx.dispatch.push({ kind: "step", index, attempt: this.startAttempt(index, now) });
    return fx;
  }

  // ---- compensation commands -----------------------------------------------------------

  compensationSucceeded(index: number, attempt: number, now: number): Effects {
    const fx = effects();
    if (!this.isCurrentCompensation(index, attempt)) return fx;
    this.setCompensation(index, "succeeded", now, { completedAt: now, error: undefined, nextAttemptAt: undefined }, { attempt });
    this.advanceCompensation(now, fx);
    return fx;
  }

  compensationFailed(index: number, attempt: number, failure: AttemptFailure, now: number): Effects {
    const fx = effects();
    if (!this.isCurrentCompensation(index, attempt)) return fx;
    const error = storedError(failure, attempt);
    const delay = failure.retryable
      ? nextAttemptDelayMs(this.compensationPolicy(index), attempt, failure.retryAfterMs, this.random)
      : undefined;
    if (delay !== undefined) {
      const at = now + delay;
      this.setCompensation(index, "retry_wait", now, { error, nextAttemptAt: at }, { attempt, error });
      fx.timers.push({ kind: "compensation", index, at });
      return fx;
    }
    this.setCompensation(index, "failed", now, { error, completedAt: now, nextAttemptAt: undefined }, { attempt, error });
    this.run.compensation!.failed = true;
    this.dirtyRun = true;
    this.advanceCompensation(now, fx);
    return fx;
  }

  compensationRetryDue(index: number, now: number): Effects {
    const fx = effects();
    if (this.run.state !== "compensating" || this.run.steps[index].compensation?.state !== "retry_wait") return fx;
    fx.dispatch.push({ kind: "compensation", index, attempt: this.startCompensation(index, now) });
    return fx;
  }

  // ---- webhook commands -----------------------------------------------------------------

  webhookSucceeded(attempt: number, now: number): Effects {
    const fx = effects();
    const w = this.run.webhook;
    if (w?.state !== "delivering" || w.attempts !== attempt) return fx;
    w.state = "delivered";
    w.deliveredAt = now;
    delete w.nextAttemptAt;
    this.dirtyRun = true;
    fx.done = true;
    return fx;
  }

  webhookFailed(attempt: number, failure: AttemptFailure, now: number): Effects {
    const fx = effects();
    const w = this.run.webhook;
    if (w?.state !== "delivering" || w.attempts !== attempt) return fx;
    if (isPermanentFailure(failure.error)) {
      // Denied by the outbound policy: no retry can be delivered either.
      w.lastError = { ...storedError(failure, attempt), retryable: false };
      w.state = "failed";
      delete w.nextAttemptAt;
      this.dirtyRun = true;
      fx.done = true;
      return fx;
    }
    w.lastError = { ...storedError(failure, attempt), retryable: true };
    const p = this.webhookPolicy;
    const backoff = Math.min(p.initialIntervalMs * 2 ** (attempt - 1), p.maxIntervalMs);
    const delay = Math.max(backoff * (0.8 + 0.4 * this.random()), failure.retryAfterMs ?? 0);
    const at = Math.round(now + delay);
    this.dirtyRun = true;
    if (at > w.giveUpAt) {
      w.state = "failed";
      delete w.nextAttemptAt;
      fx.done = true;
      return fx;
    }
    w.state = "retry_wait";
    w.nextAttemptAt = at;
    fx.timers.push({ kind: "webhook", index: -1, at });
    return fx;
  }

  /**
   * Delivers a finished run's webhook again (RedeliverWebhook): a failed or
   * delivered one goes back to pending with a new retry period; attempts go
   * on counting, the event id stays. Does nothing when redeliveryRefusal refuses.
   */
  redeliverWebhook(now: number): Effects {
    const fx = effects();
    const w = this.run.webhook;
    if (w === undefined || redeliveryRefusal(this.run) !== undefined) return fx;
    w.state = "pending";
    w.giveUpAt = now + this.webhookPolicy.retryPeriodMs;
    delete w.nextAttemptAt;
    delete w.deliveredAt;
    fx.dispatch.push(this.startWebhook());
    return fx;
  }

  webhookRetryDue(): Effects {
    const fx = effects();
    if (this.run.webhook?.state !== "retry_wait") return fx;
    fx.dispatch.push(this.startWebhook());
    return fx;
  }

  // ---- patch ----------------------------------------------------------------------------

  /** Everything changed since the last call, as one compare-and-set patch; undefined when nothing changed. */
  takePatch(): RunPatch | undefined {
    if (!this.dirtyRun && this.dirtySteps === undefined && this.events.length === 0 && !this.dirtyItemLists?.size && !this.dirtyItems?.size) {
      return undefined;
    }
    const run = this.run;
    const patch: RunPatch = {
      runId: run.runId,
      workflowId: run.spec.workflowId,
      expectedVersion: run.version,
      version: run.version + 1,
      run: this.dirtyRun ? runHeader(run) : undefined,
      steps: this.dirtySteps === undefined ? [] : [...this.dirtySteps].map((index) => {
        const record = { ...run.steps[index] };
        if (record.compensation) record.compensation = { ...record.compensation };
        return { index, record };
      }),
      events: this.events,
      lastSeq: run.lastSeq,
    };
    if (this.dirtyItemLists?.size) {
      patch.itemLists = [...this.dirtyItemLists].map((step) => ({ step, records: [...run.items![step]] }));
    }
    if (this.dirtyItems?.size) {
      // Item records are replaced, never changed in place: sharing them is safe.
      patch.items = [];
      for (const [step, set] of this.dirtyItems) for (const index of set) patch.items.push({ step, index, record: run.items![step][index] });
    }
    this.dirtyItemLists?.clear();
    this.dirtyItems?.clear();
    run.version++;
    this.dirtyRun = false;
    this.dirtySteps = undefined;
    this.events = [];
    return patch;
  }

  // ---- internals: steps --------------------------------------------------------------------

  private isCurrentAttempt(st: StepRecord, attempt: number): boolean {
    // A paused run records the outcomes of attempts that were in flight.
    return (this.run.state === "running" || this.run.state === "paused") && st.state === "running" && st.attempts === attempt;
  }

  private plan(now: number, fx: Effects): void {
    if (this.run.state !== "running" || this.failing || this.ready === undefined) return;
    const order = [...this.ready].sort((a, b) => a - b);
    let settled = false;
    for (const i of order) {
      if (!this.ready?.has(i) || this.failing) continue;
      if (isQueued(this.run.steps[i])) continue;
      if (!this.parallel[i] && this.serialInFlight > 0) continue;
      if (this.run.spec.steps[i].concurrency) {
        // Waits for a slot of its key; admitted() starts it.
        this.setStep(i, "pending", now, { waitingFor: WAITING_FOR_CONCURRENCY_KEY, queuedAt: now }, { waitingFor: WAITING_FOR_CONCURRENCY_KEY });
        fx.acquire.push(i);
        continue;
      }
      if (this.run.spec.steps[i].forEach !== undefined) settled = this.startMap(i, now, fx) || settled;
      else fx.dispatch.push({ kind: "step", index: i, attempt: this.startAttempt(i, now) });
    }
    // A map step over an empty list (or an unusable for_each) settled at once: its dependents may be ready.
    if (settled) this.proceed(now, fx);
  }

  private startAttempt(index: number, now: number): number {
    const st = this.run.steps[index];
    const attempt = st.attempts + 1;
    this.unmarkReady(index);
    this.setStep(index, "running", now, { attempts: attempt, startedAt: st.startedAt ?? now, nextAttemptAt: undefined }, { attempt });
    return attempt;
  }

  private failRun(now: number, error: ErrorInfo, fx: Effects): void {
    this.run.error = error;
    this.dirtyRun = true;
    // Waiting retries are new attempts: they do not happen once the run fails.
    this.run.steps.forEach((st, i) => {
      if (st.state === "retry_wait") this.setStep(i, "cancelled", now, { completedAt: now, nextAttemptAt: undefined }, {});
    });
    // Map steps: items not started or waiting for a retry are cancelled; items in flight finish.
    this.run.steps.forEach((st, i) => {
      if (st.state !== "running" || !this.maps[i]) return;
      this.cancelItems(i, { reason: "cancelled", message: "run failing" }, now, fx, "waiting");
      if (this.maps[i]!.running === 0) this.settleMap(i, now, fx);
    });
  }

  private abortRun(now: number, outcome: "failed" | "cancelled", error: ErrorInfo, stepMessage: string): Effects {
    const fx = effects();
    if (this.run.state !== "running" && this.run.state !== "pending" && this.run.state !== "paused") return fx;
    this.run.steps.forEach((st, i) => {
      if (st.state === "running") fx.abort.push(i);
      if (st.state === "running") this.cancelItems(i, { reason: error.reason, message: stepMessage }, now, fx);
      if (isInFlight(st.state)) {
        const stepError: ErrorInfo = { reason: error.reason, message: stepMessage, attempt: st.attempts };
        this.setStep(i, "cancelled", now, { completedAt: now, nextAttemptAt: undefined, error: stepError }, { attempt: st.attempts, error: stepError });
      }
    });
    // A run that is already failing keeps the step failure as its cause.
    if (!(this.failing && outcome === "failed")) this.run.error = error;
    this.dirtyRun = true;
    this.end(outcome, now, fx);
    return fx;
  }

  /** The steps are over: compensate (saga) or end the run. */
  private end(outcome: "completed" | "failed" | "cancelled", now: number, fx: Effects): void {
    this.run.steps.forEach((st, i) => {
      if (st.state === "pending") this.setStep(i, "skipped", now, {}, {});
    });
    this.ready = undefined;
    if (outcome !== "completed" && this.run.spec.saga) {
      const order = this.compensable();
      if (order.length > 0) {
        this.run.compensation = { outcome, failed: false };
        this.setRun("compensating", now, {});
        for (const i of order) this.setCompensation(i, "pending", now, { attempts: 0 }, {});
        this.advanceCompensation(now, fx);
        return;
      }
    }
    this.terminate(outcome, now, fx);
  }

  private terminate(outcome: "completed" | "failed" | "cancelled", now: number, fx: Effects): void {
    this.setRun(outcome, now, { completedAt: now });
    fx.terminal = true;
    const spec = this.run.spec;
    const url = outcome === "completed" ? spec.onComplete : spec.onError;
    if (!url) {
      fx.done = true;
      return;
    }
    this.run.webhook = {
      url,
      eventId: webhookEventId(this.run.runId, this.run.redrives),
      eventType: `workflow.${outcome}`,
      state: "pending",
      attempts: 0,
      giveUpAt: now + this.webhookPolicy.retryPeriodMs,
    };
    fx.dispatch.push(this.startWebhook());
  }

  // ---- internals: compensation ----------------------------------------------------------------

  /**
   * Completed steps with a compensation URL, most recently completed first.
   * Steps a rerun copied (copiedFrom) completed in the original run, not in
   * this one: they are not compensated here (README "Recovering runs").
   */
  private compensable(): number[] {
    const out: number[] = [];
    this.run.steps.forEach((st, i) => {
      if (st.state === "completed" && st.copiedFrom === undefined && this.run.spec.steps[i].compensation) out.push(i);
    });
    return out.sort((a, b) => this.completionOrder(b) - this.completionOrder(a));
  }

  private completionOrder(index: number): number {
    const st = this.run.steps[index];
    return st.completedSeq ?? 0;
  }

  /** Starts the next pending compensation, or ends the run when none is left. */
  private advanceCompensation(now: number, fx: Effects): void {
    const steps = this.run.steps;
    if (steps.some((st) => st.compensation?.state === "running" || st.compensation?.state === "retry_wait")) return;
    let next: number | undefined;
    steps.forEach((st, i) => {
      if (st.compensation?.state === "pending" && (next === undefined || this.completionOrder(i) > this.completionOrder(next))) next = i;
    });
    if (next === undefined) {
      this.terminate(this.run.compensation!.outcome, now, fx);
      return;
    }
    fx.dispatch.push({ kind: "compensation", index: next, attempt: this.startCompensation(next, now) });
  }

  private startCompensation(index: number, now: number): number {
    const c = this.run.steps[index].compensation!;
    const attempt = c.attempts + 1;
    this.setCompensation(index, "running", now, { attempts: attempt, startedAt: c.startedAt ?? now, nextAttemptAt: undefined }, { attempt });
    return attempt;
  }

  private isCurrentCompensation(index: number, attempt: number): boolean {
    const c = this.run.steps[index].compensation;
    return this.run.state === "compensating" && c?.state === "running" && c.attempts === attempt;
  }

  private compensationPolicy(index: number): RetryPolicy {
    const p = this.run.spec.steps[index].retry;
    return { ...p, maxAttempts: Math.max(MIN_COMPENSATION_ATTEMPTS, p.maxAttempts) };
  }

  // ---- internals: webhook ----------------------------------------------------------------------

  private startWebhook(): Work {
    const w = this.run.webhook!;
    w.state = "delivering";
    w.attempts++;
    delete w.nextAttemptAt;
    this.dirtyRun = true;
    return { kind: "webhook", index: -1, attempt: w.attempts };
  }

  // ---- internals: recording ---------------------------------------------------------------------

  private setRun(to: RunState, now: number, fields: Partial<RunRecord>): void {
    const from = this.run.state;
    // Leaving PAUSED (resume, or the run ended) ends the pause.
    if (from === "paused" && to !== "paused") this.run.pause = undefined;
    Object.assign(this.run, fields);
    if (to !== "pending") {
      this.run.waitingFor = undefined;
      this.run.queuedAt = undefined;
    }
    this.run.state = to;
    this.dirtyRun = true;
    const event: RunEvent = { runId: this.run.runId, seq: ++this.run.lastSeq, at: now, kind: "run", from, to };
    if (to !== "completed" && this.run.error) event.error = this.run.error;
    this.events.push(event);
  }

  private setStep(
    index: number,
    to: StepState,
    now: number,
    fields: Partial<StepRecord>,
    extra: { attempt?: number; error?: ErrorInfo; result?: JsonValue; waitingFor?: string },
  ): void {
    const st = this.run.steps[index];
    const from = st.state;
    // Leaving pending ends any wait for a concurrency key.
    if (to !== "pending") fields = { ...fields, waitingFor: undefined, queuedAt: undefined };
    const next = withoutUndefined({ ...st, ...fields, state: to });
    if (from === "running") this.running--;
    if (to === "running") this.running++;
    if (!this.parallel[index]) {
      if (isInFlight(from) || isQueued(st)) this.serialInFlight--;
      if (isInFlight(to) || isQueued(next)) this.serialInFlight++;
    }
    if (!isSettled(from) && isSettled(to)) {
      this.unsettled--;
      for (const d of this.dependents[index]) {
        if (to === "completed") this.depCompleted[d]++;
        else this.depFailed[d]++;
      }
    }
    this.run.steps[index] = next;
    this.record(index, "step", from, to, now, extra);
  }

  private setCompensation(
    index: number,
    to: CompensationState,
    now: number,
    fields: Partial<CompensationRecord>,
    extra: { attempt?: number; error?: ErrorInfo },
  ): void {
    const st = this.run.steps[index];
    const from = st.compensation?.state ?? "";
    const next = withoutUndefined<CompensationRecord>({ attempts: 0, ...st.compensation, ...fields, state: to });
    this.run.steps[index] = { ...st, compensation: next };
    this.record(index, "compensation", from, to, now, extra);
  }

  private record(
    index: number,
    kind: "step" | "compensation",
    from: string,
    to: string,
    now: number,
    extra: { attempt?: number; error?: ErrorInfo; result?: JsonValue; waitingFor?: string },
  ): void {
    (this.dirtySteps ??= new Set()).add(index);
    const event: RunEvent = {
      runId: this.run.runId,
      seq: ++this.run.lastSeq,
      at: now,
      kind,
      stepId: this.run.steps[index].id,
      from,
      to,
    };
    if (extra.attempt !== undefined) event.attempt = extra.attempt;
    if (extra.error !== undefined) event.error = extra.error;
    if (extra.result !== undefined) event.result = extra.result;
    if (extra.waitingFor !== undefined) event.waitingFor = extra.waitingFor;
    this.events.push(event);
  }
}
