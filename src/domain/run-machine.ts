// The run state machine: commands in, effects and a patch out. No I/O.
//
// Rules (README "Execution semantics"):
// - a step becomes ready when all its dependencies have completed;
// - ready steps start in definition order; `parallel` steps start at once,
//   at most one non-parallel step is in flight (running or waiting for a retry);
// - a failed attempt is retried per the step's policy when retryable;
// - a step that fails for good fails the run: nothing new starts, attempts in
//   flight finish and are recorded, waiting retries are cancelled, then the
//   run becomes failed and steps that never started become skipped;
// - cancel and the run deadline abort attempts in flight.
import { nextAttemptDelayMs } from "./retry-policy.ts";
import type {
  ErrorInfo,
  RunEvent,
  RunPatch,
  RunRecord,
  RunState,
  StepRecord,
  StepState,
} from "./run-record.ts";
import type { JsonValue } from "./workflow-spec.ts";

export interface DispatchOrder {
  index: number;
  attempt: number;
}

export interface RetryTimer {
  index: number;
  at: number;
}

export interface Effects {
  /** Attempts to send once the patch is committed. */
  dispatch: DispatchOrder[];
  /** Retries to schedule once the patch is committed. */
  timers: RetryTimer[];
  /** Steps whose in-flight attempt must be aborted now. */
  abort: number[];
  /** The run reached a terminal state with this command. */
  terminal: boolean;
}

export interface AttemptFailure {
  error: ErrorInfo;
  retryable: boolean;
  retryAfterMs?: number;
}

const NONE: Effects = Object.freeze({ dispatch: [], timers: [], abort: [], terminal: false }) as Effects;

function effects(): Effects {
  return { dispatch: [], timers: [], abort: [], terminal: false };
}

function isInFlight(state: StepState): boolean {
  return state === "running" || state === "retry_wait";
}

export class RunMachine {
  readonly run: RunRecord;
  private readonly random: () => number;
  private readonly parallel: boolean[];
  private readonly dependents: number[][];
  /** Per step: dependencies not completed yet. */
  private readonly remaining: number[];
  /** Pending steps whose dependencies have all completed. */
  private readonly ready = new Set<number>();
  private running = 0;
  private serialInFlight = 0;
  private completed = 0;
  private dirtyRun = false;
  private readonly dirtySteps = new Set<number>();
  private events: RunEvent[] = [];

  constructor(run: RunRecord, random: () => number = Math.random) {
    this.run = run;
    this.random = random;
    const steps = run.spec.steps;
    const index = new Map(steps.map((s, i) => [s.id, i]));
    this.parallel = steps.map((s) => s.parallel);
    this.dependents = steps.map(() => []);
    this.remaining = steps.map(() => 0);
    steps.forEach((s, i) => {
      for (const dep of s.dependsOn) {
        const d = index.get(dep);
        if (d === undefined) throw new Error(`step ${s.id}: unknown dependency ${dep}`);
        this.dependents[d].push(i);
        if (run.steps[d].state !== "completed") this.remaining[i]++;
      }
    });
    run.steps.forEach((st, i) => {
      if (st.state === "completed") this.completed++;
      if (st.state === "running") this.running++;
      if (isInFlight(st.state) && !this.parallel[i]) this.serialInFlight++;
      if (st.state === "pending" && this.remaining[i] === 0) this.ready.add(i);
    });
  }

  /** True once a step failed for good: the run is winding down. */
  get failing(): boolean {
    return this.run.state === "running" && this.run.error !== undefined;
  }

  stepIndex(stepId: string): number {
    return this.run.steps.findIndex((s) => s.id === stepId);
  }

  // ---- commands -------------------------------------------------------------

  /** pending → running, and the first ready steps start. */
  start(now: number): Effects {
    if (this.run.state !== "pending") return NONE;
    this.setRun("running", now, { startedAt: now });
    if (this.run.steps.length === 0) return this.finish("completed", now);
    const fx = effects();
    this.plan(now, fx);
    return fx;
  }

  /**
   * Resumes a run loaded from the store after a restart: attempts that were in
   * flight are sent again (same attempt number, same idempotency key), retries
   * are rescheduled, and anything ready starts.
   */
  recover(now: number): Effects {
    if (this.run.state === "pending") return this.start(now);
    if (this.run.state !== "running") return NONE;
    if (now >= this.run.deadlineAt) return this.deadlineReached(now);
    const fx = effects();
    this.run.steps.forEach((st, i) => {
      if (st.state === "running") fx.dispatch.push({ index: i, attempt: st.attempts });
      else if (st.state === "retry_wait") fx.timers.push({ index: i, at: st.nextAttemptAt ?? now });
    });
    if (this.failing) {
      if (this.running === 0) return this.finish("failed", now);
      return fx;
    }
    this.plan(now, fx);
    return fx;
  }

  attemptSucceeded(index: number, attempt: number, result: JsonValue, now: number): Effects {
    const st = this.run.steps[index];
    if (!this.isCurrentAttempt(st, attempt)) return NONE;
    this.setStep(index, "completed", now, { completedAt: now, result, error: undefined }, { attempt, result });
    for (const d of this.dependents[index]) {
      if (--this.remaining[d] === 0 && this.run.steps[d].state === "pending") this.ready.add(d);
    }
    if (this.failing) return this.running === 0 ? this.finish("failed", now) : NONE;
    if (this.completed === this.run.steps.length) return this.finish("completed", now);
    const fx = effects();
    this.plan(now, fx);
    return fx;
  }

  attemptFailed(index: number, attempt: number, failure: AttemptFailure, now: number): Effects {
    const st = this.run.steps[index];
    if (!this.isCurrentAttempt(st, attempt)) return NONE;
    const error: ErrorInfo = { ...failure.error, attempt, retryable: failure.retryable };
    const policy = this.run.spec.steps[index].retry;
    const delay =
      failure.retryable && !this.failing
        ? nextAttemptDelayMs(policy, attempt, failure.retryAfterMs, this.random)
        : undefined;
    if (delay !== undefined) {
      const at = now + delay;
      this.setStep(index, "retry_wait", now, { error, nextAttemptAt: at }, { attempt, error });
      return { ...effects(), timers: [{ index, at }] };
    }
    this.setStep(index, "failed", now, { error, completedAt: now, nextAttemptAt: undefined }, { attempt, error });
    if (!this.failing) {
      this.failRun(now, {
        reason: "step_failed",
        message: `step "${st.id}" failed: ${error.message}`,
        stepId: st.id,
        httpStatus: error.httpStatus,
        attempt,
      });
    }
    return this.running === 0 ? this.finish("failed", now) : NONE;
  }

  /** A retry timer fired. */
  retryDue(index: number, now: number): Effects {
    const st = this.run.steps[index];
    if (st.state !== "retry_wait" || this.run.state !== "running" || this.failing) return NONE;
    const fx = effects();
    fx.dispatch.push({ index, attempt: this.startAttempt(index, now) });
    return fx;
  }

  cancel(now: number, message: string): Effects {
    return this.abortRun(now, "cancelled", { reason: "cancelled", message });
  }

  deadlineReached(now: number): Effects {
    const seconds = this.run.spec.timeoutMs / 1000;
    return this.abortRun(now, "failed", {
      reason: "timed_out",
      message: `workflow timed out after ${seconds}s`,
    });
  }

  // ---- patch ------------------------------------------------------------------

  /** Everything changed since the last call, as one compare-and-set patch; undefined when nothing changed. */
  takePatch(): RunPatch | undefined {
    if (!this.dirtyRun && this.dirtySteps.size === 0 && this.events.length === 0) return undefined;
    const run = this.run;
    const patch: RunPatch = {
      runId: run.runId,
      expectedVersion: run.version,
      version: run.version + 1,
      run: this.dirtyRun
        ? { state: run.state, startedAt: run.startedAt, completedAt: run.completedAt, error: run.error }
        : {},
      steps: [...this.dirtySteps].map((index) => ({ index, record: { ...run.steps[index] } })),
      events: this.events,
      lastSeq: run.lastSeq,
    };
    run.version++;
    this.dirtyRun = false;
    this.dirtySteps.clear();
    this.events = [];
    return patch;
  }

  // ---- internals ----------------------------------------------------------------

  private isCurrentAttempt(st: StepRecord, attempt: number): boolean {
    return this.run.state === "running" && st.state === "running" && st.attempts === attempt;
  }

  private plan(now: number, fx: Effects): void {
    if (this.run.state !== "running" || this.failing || this.ready.size === 0) return;
    const order = [...this.ready].sort((a, b) => a - b);
    for (const i of order) {
      if (!this.parallel[i] && this.serialInFlight > 0) continue;
      fx.dispatch.push({ index: i, attempt: this.startAttempt(i, now) });
    }
  }

  private startAttempt(index: number, now: number): number {
    const st = this.run.steps[index];
    const attempt = st.attempts + 1;
    this.ready.delete(index);
    this.setStep(
      index,
      "running",
      now,
      { attempts: attempt, startedAt: st.startedAt ?? now, nextAttemptAt: undefined },
      { attempt },
    );
    return attempt;
  }

  private failRun(now: number, error: ErrorInfo): void {
    this.run.error = error;
    this.dirtyRun = true;
    // Waiting retries are new attempts: they do not happen once the run fails.
    this.run.steps.forEach((st, i) => {
      if (st.state === "retry_wait") {
        this.setStep(i, "cancelled", now, { completedAt: now, nextAttemptAt: undefined }, {});
      }
    });
  }

  private abortRun(now: number, to: RunState, error: ErrorInfo): Effects {
    if (this.run.state !== "running" && this.run.state !== "pending") return NONE;
    const fx = effects();
    this.run.steps.forEach((st, i) => {
      if (st.state === "running") fx.abort.push(i);
      if (isInFlight(st.state)) {
        const stepError: ErrorInfo = { reason: error.reason, message: error.message, attempt: st.attempts };
        this.setStep(i, "cancelled", now, { completedAt: now, nextAttemptAt: undefined, error: stepError }, { attempt: st.attempts, error: stepError });
      }
    });
    this.run.error = error;
    const done = this.finish(to, now);
    return { ...done, abort: fx.abort };
  }

  private finish(to: RunState, now: number): Effects {
    this.run.steps.forEach((st, i) => {
      if (st.state === "pending") this.setStep(i, "skipped", now, {}, {});
    });
    this.setRun(to, now, { completedAt: now });
    this.ready.clear();
    return { ...effects(), terminal: true };
  }

  private setRun(to: RunState, now: number, fields: Partial<RunRecord>): void {
    const from = this.run.state;
    Object.assign(this.run, fields);
    this.run.state = to;
    this.dirtyRun = true;
    const event: RunEvent = { runId: this.run.runId, seq: ++this.run.lastSeq, at: now, from, to };
    if (to !== "completed" && this.run.error) event.error = this.run.error;
    this.events.push(event);
  }

  private setStep(
    index: number,
    to: StepState,
    now: number,
    fields: Partial<StepRecord>,
    extra: { attempt?: number; error?: ErrorInfo; result?: JsonValue },
  ): void {
    const st = this.run.steps[index];
    const from = st.state;
    if (from === "running") this.running--;
    if (to === "running") this.running++;
    if (!this.parallel[index]) {
      if (isInFlight(from)) this.serialInFlight--;
      if (isInFlight(to)) this.serialInFlight++;
    }
    if (to === "completed") this.completed++;
    const next: StepRecord = { ...st, ...fields, state: to };
    for (const k of Object.keys(next) as (keyof StepRecord)[]) {
      if (next[k] === undefined) delete next[k];
    }
    this.run.steps[index] = next;
    this.dirtySteps.add(index);
    const event: RunEvent = { runId: this.run.runId, seq: ++this.run.lastSeq, at: now, stepId: st.id, from, to };
    if (extra.attempt !== undefined) event.attempt = extra.attempt;
    if (extra.error !== undefined) event.error = extra.error;
    if (extra.result !== undefined) event.result = extra.result;
    this.events.push(event);
  }
}
