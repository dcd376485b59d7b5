// The engine: drives active runs through the RunMachine and performs its effects
// (commits through the store port, HTTP attempts through the dispatcher port,
// timers through the clock port).
//
// Ordering guarantees:
// - every reaction's patch is queued to the store in the order it was made;
// - an attempt is sent only after the patch that started it has committed, so a
//   dependent never sees a dependency result that could still be lost;
// - an outcome is applied only if it belongs to the step's current attempt, so a
//   result is never applied twice.
import type { Logger } from "pino";
import type { AttemptOutcome } from "../domain/attempt-outcome.ts";
import { type Effects, RunMachine } from "../domain/run-machine.ts";
import { createdEvent, isTerminal, newRunRecord, type RunRecord } from "../domain/run-record.ts";
import type { WorkflowSpec } from "../domain/workflow-spec.ts";
import { RunIdGenerator } from "../domain/run-id.ts";
import type { Clock } from "../ports/clock.ts";
import type { StepDispatcher } from "../ports/step-dispatcher.ts";
import type { ListRunsQuery, WorkflowStore } from "../ports/workflow-store.ts";

export class RunNotFoundError extends Error {
  constructor(runId: string) {
    super(`workflow run "${runId}" not found`);
    this.name = "RunNotFoundError";
  }
}

export class RunFinishedError extends Error {
  readonly state: string;
  constructor(runId: string, state: string) {
    super(`workflow run "${runId}" already finished (${state})`);
    this.name = "RunFinishedError";
    this.state = state;
  }
}

export interface EngineOptions {
  store: WorkflowStore;
  dispatcher: StepDispatcher;
  clock: Clock;
  logger: Logger;
  random?: () => number;
  /** Delay before a run whose commit failed is reloaded from the store. */
  reloadDelayMs?: number;
}

interface ActiveRun {
  machine: RunMachine;
  log: Logger;
  inflight: Map<number, AbortController>;
  retryTimers: Map<number, () => void>;
  cancelDeadline?: () => void;
  /** Serialized context, built once. */
  contextJson: string;
  /** previousSteps entries of completed steps, built once per step. */
  fragments: Map<number, string>;
  /** Set when the engine stops driving this run (finished, evicted, shutting down). */
  detached: boolean;
  /** Set when a commit failed and the run was handed back to the store. */
  evicted: boolean;
}

export class Engine {
  private readonly store: WorkflowStore;
  private readonly dispatcher: StepDispatcher;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly reloadDelayMs: number;
  private readonly ids = new RunIdGenerator();
  private readonly active = new Map<string, ActiveRun>();
  private readonly pendingCommits = new Set<Promise<unknown>>();
  private stopping = false;

  constructor(options: EngineOptions) {
    this.store = options.store;
    this.dispatcher = options.dispatcher;
    this.clock = options.clock;
    this.log = options.logger;
    this.random = options.random ?? Math.random;
    this.reloadDelayMs = options.reloadDelayMs ?? 1000;
  }

  /** Resumes every run that was active when the process last stopped. */
  async start(): Promise<void> {
    const runs = await this.store.listActiveRuns();
    for (const run of runs) this.activate(run, (m) => m.recover(this.clock.now()));
    if (runs.length > 0) this.log.info({ runs: runs.length }, "resumed active runs");
  }

  get activeRuns(): number {
    return this.active.size;
  }

  /** Durably creates a run (or returns the one with the same request id) and starts it. */
  async create(spec: WorkflowSpec): Promise<{ run: RunRecord; created: boolean }> {
    const now = this.clock.now();
    const run = newRunRecord(this.ids.next(now), spec, now);
    const result = await this.store.createRun(run, [createdEvent(run)]);
    if (!result.created) return result;
    const snapshot = structuredClone(run);
    if (!this.stopping) this.activate(run, (m) => m.start(this.clock.now()));
    return { run: snapshot, created: true };
  }

  get(runId: string): Promise<RunRecord | undefined> {
    return this.store.getRun(runId);
  }

  list(query: ListRunsQuery): Promise<RunRecord[]> {
    return this.store.listRuns(query);
  }

  async cancel(runId: string, reason: string): Promise<RunRecord> {
    const active = this.active.get(runId);
    if (active && !isTerminal(active.machine.run.state)) {
      const message = reason ? `cancelled: ${reason}` : "cancelled by request";
      await this.react(active, active.machine.cancel(this.clock.now(), message));
      if (active.evicted) throw new Error(`workflow run "${runId}": the cancellation could not be recorded; retry`);
      return structuredClone(active.machine.run);
    }
    const stored = await this.store.getRun(runId);
    if (!stored) throw new RunNotFoundError(runId);
    if (isTerminal(stored.state)) throw new RunFinishedError(runId, stored.state);
    // Active in the store but not driven here (e.g. being reloaded): try again shortly.
    throw new Error(`workflow run "${runId}" is not being driven by this server right now; retry`);
  }

  /**
   * Stops driving runs: no new attempts start, in-flight attempts get graceMs to
   * finish and be recorded, the rest are abandoned (they are sent again, with the
   * same idempotency key, when the server starts next).
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const a of this.active.values()) this.clearTimers(a);
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && [...this.active.values()].some((a) => a.inflight.size > 0)) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const a of this.active.values()) {
      a.detached = true;
      for (const c of a.inflight.values()) c.abort();
    }
    this.active.clear();
    await Promise.allSettled([...this.pendingCommits]);
  }

  // ---- driving runs ---------------------------------------------------------------

  private activate(run: RunRecord, first: (m: RunMachine) => Effects): void {
    const machine = new RunMachine(run, this.random);
    const active: ActiveRun = {
      machine,
      log: this.log.child({ runId: run.runId }),
      inflight: new Map(),
      retryTimers: new Map(),
      contextJson: JSON.stringify(run.spec.context),
      fragments: new Map(),
      detached: false,
      evicted: false,
    };
    this.active.set(run.runId, active);
    const now = this.clock.now();
    active.cancelDeadline = this.clock.setTimer(() => {
      if (!active.detached) void this.react(active, active.machine.deadlineReached(this.clock.now()));
    }, run.deadlineAt - now);
    void this.react(active, first(machine));
  }

  /** Commits what the machine changed, then performs the effects. */
  private react(active: ActiveRun, fx: Effects): Promise<void> {
    const patch = active.machine.takePatch();
    for (const index of fx.abort) active.inflight.get(index)?.abort();
    if (fx.terminal) this.finish(active);
    if (!patch) {
      this.perform(active, fx);
      return Promise.resolve();
    }
    const committed = this.store.commit(patch).then(
      () => this.perform(active, fx),
      (err: unknown) => this.onCommitFailure(active, err),
    );
    this.pendingCommits.add(committed);
    void committed.finally(() => this.pendingCommits.delete(committed));
    return committed;
  }

  private perform(active: ActiveRun, fx: Effects): void {
    if (fx.terminal) {
      const run = active.machine.run;
      active.log.info({ state: run.state, error: run.error }, "workflow finished");
      return;
    }
    if (active.detached || this.stopping) return;
    for (const t of fx.timers) {
      active.retryTimers.get(t.index)?.();
      const cancel = this.clock.setTimer(() => {
        active.retryTimers.delete(t.index);
        if (!active.detached) void this.react(active, active.machine.retryDue(t.index, this.clock.now()));
      }, t.at - this.clock.now());
      active.retryTimers.set(t.index, cancel);
    }
    for (const order of fx.dispatch) this.send(active, order.index, order.attempt);
  }

  private send(active: ActiveRun, index: number, attempt: number): void {
    const run = active.machine.run;
    const step = run.spec.steps[index];
    const record = run.steps[index];
    if (record.state !== "running" || record.attempts !== attempt) return;
    const controller = new AbortController();
    active.inflight.set(index, controller);
    const idempotencyKey = `${run.runId}:${step.id}`;
    void this.dispatcher
      .dispatch(
        {
          runId: run.runId,
          stepId: step.id,
          attempt,
          url: step.url,
          body: this.requestBody(active, index, attempt),
          timeoutMs: step.timeoutMs,
          idempotencyKey,
        },
        controller.signal,
      )
      .catch((err: unknown): AttemptOutcome => ({
        ok: false,
        retryable: true,
        error: { reason: "internal", message: String(err) },
      }))
      .then((outcome) => {
        if (active.inflight.get(index) === controller) active.inflight.delete(index);
        if (active.detached) return;
        const now = this.clock.now();
        if (outcome.ok) {
          void this.react(active, active.machine.attemptSucceeded(index, attempt, outcome.result, now));
        } else {
          active.log.debug({ stepId: step.id, attempt, error: outcome.error }, "attempt failed");
          void this.react(active, active.machine.attemptFailed(index, attempt, outcome, now));
        }
      });
  }

  /** `{workflowId, runId, workflow, stepId, attempt, context, previousSteps}` */
  private requestBody(active: ActiveRun, index: number, attempt: number): string {
    const run = active.machine.run;
    const parts: string[] = [];
    run.steps.forEach((st, i) => {
      if (st.state !== "completed") return;
      let f = active.fragments.get(i);
      if (f === undefined) {
        f = `${JSON.stringify(st.id)}:${JSON.stringify({
          result: st.result ?? null,
          completedAt: new Date(st.completedAt ?? 0).toISOString(),
          attempts: st.attempts,
        })}`;
        active.fragments.set(i, f);
      }
      parts.push(f);
    });
    const name = JSON.stringify(run.spec.workflowId);
    return (
      `{"workflowId":${name},"runId":${JSON.stringify(run.runId)},"workflow":${name},` +
      `"stepId":${JSON.stringify(run.steps[index].id)},"attempt":${attempt},` +
      `"context":${active.contextJson},"previousSteps":{${parts.join(",")}}}`
    );
  }

  private finish(active: ActiveRun): void {
    active.detached = true;
    this.clearTimers(active);
    this.active.delete(active.machine.run.runId);
  }

  private clearTimers(active: ActiveRun): void {
    active.cancelDeadline?.();
    for (const cancel of active.retryTimers.values()) cancel();
    active.retryTimers.clear();
  }

  /**
   * A commit failed (storage error or a version conflict): this process's view
   * of the run can no longer be trusted. Stop driving it, abandon its attempts,
   * and reload it from the store.
   */
  private onCommitFailure(active: ActiveRun, err: unknown): void {
    const runId = active.machine.run.runId;
    if (active.evicted) return;
    active.evicted = true;
    active.log.error({ err }, "commit failed; reloading run from the store");
    this.finish(active);
    for (const c of active.inflight.values()) c.abort();
    const cancel = this.clock.setTimer(() => {
      cancel();
      if (this.stopping || this.active.has(runId)) return;
      this.store.getRun(runId).then(
        (run) => {
          if (run && !isTerminal(run.state) && !this.active.has(runId) && !this.stopping) {
            this.activate(run, (m) => m.recover(this.clock.now()));
          }
        },
        (e: unknown) => this.log.error({ err: e, runId }, "reload failed"),
      );
    }, this.reloadDelayMs);
  }
}
