// The engine: drives runs through the RunMachine and performs its effects
// (commits through the store port, HTTP calls through the dispatcher port,
// timers through the clock port, committed events to the event feed).
//
// Ordering guarantees:
// - every reaction's patch is queued to the store in the order it was made;
// - a call is sent only after the patch that started it has committed, so a
//   dependent never sees a dependency result that could still be lost;
// - events are published only after they are committed, in commit order;
// - an outcome is applied only if it belongs to the current attempt, so a
//   result is never applied twice.
import type { Logger } from "pino";
import { type AttemptOutcome, attemptCancelled, NOT_SENT_SHUTTING_DOWN, RENDER_FAILED, terminalFailure } from "../domain/attempt-outcome.ts";
import { type Effects, type MachineOptions, RunMachine, type Work, type WorkKind } from "../domain/run-machine.ts";
import { createdEvent, isCancellable, isTerminal, needsDriving, newRunRecord, type RunEvent, type RunRecord, type RunSummary } from "../domain/run-record.ts";
import { RunIdGenerator, runIdTime } from "../domain/run-id.ts";
import { sameRequest } from "../domain/request-fingerprint.ts";
import { redriveRefusal } from "../domain/redrive.ts";
import { planRerun, type RerunInput, rerunRecord, rerunRefusal } from "../domain/rerun.ts";
import { redeliveryRefusal } from "../domain/webhook-redelivery.ts";
import { deadlineRuns, holdsRunSlot, pauseRefusal, resumeRefusal } from "../domain/pause.ts";
import { bodyHead, bodyMiddle, ItemBodies, stepBody } from "./step-body.ts";
import type { FieldViolation, Limits, StepSpec, WorkflowSpec } from "../domain/workflow-spec.ts";
import { forEachPreviousStep, type PreviousStepsMode, type StepVisibility, visibility } from "../domain/previous-steps.ts";
import { SharedSteps } from "./shared-steps.ts";
import type { Clock } from "../ports/clock.ts";
import type { EventFeed } from "../ports/event-feed.ts";
import { type EngineMetrics, noopMetrics } from "../ports/metrics.ts";
import {
  ATTEMPT_TIMEOUT,
  type DispatchProgress,
  type SlotReservation,
  type SlotWaiter,
  type StepCall,
  type StepDispatcher,
} from "../ports/step-dispatcher.ts";
import type { NoticeSource, OwnershipNotice, RunOwnership } from "../ports/run-ownership.ts";
import { type AttemptSpan, noopTracer, type RpcSpan, type Tracer } from "../ports/tracing.ts";
import { type DeleteRunResult, type ListRunsQuery, VersionConflictError, type WorkflowStore } from "../ports/workflow-store.ts";
import { type ConcurrencySlots, parseSlotHolder, slotHolder } from "../ports/concurrency-slots.ts";
import { ConcurrencyGate } from "./concurrency-gate.ts";
import { isSettled } from "../domain/run-machine.ts";

export class RunNotFoundError extends Error {
  constructor(runId: string) {
    super(`workflow run "${runId}" not found`);
    this.name = "RunNotFoundError";
  }
}

/** The run cannot be cancelled: it finished, or it is compensating. */
export class RunFinishedError extends Error {
  readonly state: string;
  constructor(runId: string, state: string) {
    super(
      state === "compensating"
        ? `workflow run "${runId}" is compensating and can no longer be cancelled`
        : `workflow run "${runId}" already finished (${state})`,
    );
    this.name = "RunFinishedError";
    this.state = state;
  }
}

/** A create's request_id names a run that was created from a different request. */
export class IdempotencyKeyReusedError extends Error {
  readonly runId: string;
  constructor(runId: string) {
    super(`request_id was already used for run ${runId}, created from a different request; use a new request_id for a new run`);
    this.name = "IdempotencyKeyReusedError";
    this.runId = runId;
  }
}

/** RedriveWorkflow or RedeliverWebhook refused: the run is not in a state it applies to. */
export class RunNotReopenableError extends Error {
  /** The ErrorInfo reason (redrive.ts, webhook-redelivery.ts). */
  readonly reason: string;
  readonly state: string;
  constructor(refusal: { reason: string; message: string }, state: string) {
    super(refusal.message);
    this.name = "RunNotReopenableError";
    this.reason = refusal.reason;
    this.state = state;
  }
}

/** A rerun request that the original run shows to be wrong (from_steps naming no step of it, a context its concurrency keys find nothing in). */
export class RerunInvalidError extends Error {
  readonly violations: FieldViolation[];
  constructor(violations: FieldViolation[]) {
    super(violations.map((v) => `${v.field}: ${v.description}`).join("; "));
    this.name = "RerunInvalidError";
    this.violations = violations;
  }
}

/** PauseWorkflow or ResumeWorkflow refused: the run is not in a state it applies to (src/domain/pause.ts). */
export class RunNotSteerableError extends Error {
  readonly reason: string;
  readonly state: string;
  constructor(refusal: { reason: string; message: string }, state: string) {
    super(refusal.message);
    this.name = "RunNotSteerableError";
    this.reason = refusal.reason;
    this.state = state;
  }
}

/** Compare-and-set attempts of a redrive or redelivery whose run changed meanwhile (e.g. a webhook delivery recorded). */
const REOPEN_TRIES = 5;

export interface EngineOptions {
  store: WorkflowStore;
  dispatcher: StepDispatcher;
  clock: Clock;
  feed: EventFeed;
  logger: Logger;
  /** The body of on_complete / on_error deliveries. */
  renderWebhook: (run: RunRecord) => string;
  machine?: MachineOptions;
  /** Timeout of one webhook delivery attempt. */
  webhookTimeoutMs?: number;
  /** Delay before a run whose commit failed is reloaded from the store. */
  reloadDelayMs?: number;
  /**
   * Several replicas on one store: which replica drives which run. Without it
   * this engine drives every run of the store.
   */
  ownership?: RunOwnership;
  /** Hints from other replicas (released runs, cancel requests). */
  notices?: NoticeSource;
  /** With ownership: how often orphaned runs and missed cancel requests are looked for. */
  sweepIntervalMs?: number;
  /** With ownership: how long CancelWorkflow waits for the replica driving the run to apply it. */
  cancelWaitMs?: number;
  /** Where runs, attempts and commits are counted and timed (default: nowhere). */
  metrics?: EngineMetrics;
  /** Where run and attempt spans go (default: nowhere). */
  tracer?: Tracer;
  /** The slots of concurrency keys (the store). Without it, keys are not enforced: queued work starts at once. */
  slots?: ConcurrencySlots;
  /** How often runs and steps blocked on a concurrency key look again (slots freed by other replicas). */
  concurrencyPollMs?: number;
}

/** A cancel asked for on one replica while another drives the run, not applied within cancelWaitMs. */
export class CancelPendingError extends Error {
  constructor(runId: string) {
    super(`workflow run "${runId}": cancellation requested; the replica driving the run has not applied it yet, retry to check`);
    this.name = "CancelPendingError";
  }
}

/** Runs claimed per store round trip while taking over orphans. */
const CLAIM_BATCH = 200;

interface ActiveRun {
  machine: RunMachine;
  /** The run's logger (a pino child with runId), made on first use. */
  log: Logger | undefined;
  /** In-flight calls by work key ("step:3", "compensation:1", "webhook:-1"), and calls waiting for their origin. */
  inflight: Map<string, { abort(): void }>;
  /** Retry and webhook timers by work key; made on first use (most waiting runs have none). */
  timers: Map<string, () => void> | undefined;
  cancelDeadline?: () => void;
  /** Serialized context, built once. */
  contextJson: string;
  /** previousSteps entries of settled steps, built once per step (made on first use, as the maps below). */
  fragments: Map<number, string> | undefined;
  /** The steps each step's previousSteps may list (the workflow's previous_steps); undefined: every step (all). */
  visible: StepVisibility | undefined;
  /** Map steps: the items' values as JSON text, by step index, built once. */
  itemValues: Map<number, string[]> | undefined;
  /** Map steps: the fixed parts of their item bodies, by step index, rebuilt when previousSteps changes. */
  itemBodies: Map<number, ItemBodies> | undefined;
  /** Set when the engine stops driving this run (done, evicted, shutting down). */
  detached: boolean;
  /** Set when a commit failed and the run was handed back to the store. */
  evicted: boolean;
  /** Concurrency keys: the run (-1) and steps that asked for or hold a slot, given back once they settle. */
  slotted: Set<number> | undefined;
}

const key = (kind: WorkKind, index: number, item?: number) => (item === undefined ? `${kind}:${index}` : `${kind}:${index}:${item}`);

/** Seconds since `start` (a performance.now() reading). */
const since = (start: number) => (performance.now() - start) / 1000;

function runLog(parent: Logger, active: ActiveRun): Logger {
  return (active.log ??= parent.child({ runId: active.machine.run.runId }));
}

/**
 * A call waiting for a slot of its origin (Engine.send): the run, the work and the
 * URL, nothing of its request. Aborting it (a cancel, the run's deadline, a
 * stop) takes it out of the queue and answers the attempt as cancelled.
 */
class WaitingCall implements SlotWaiter {
  readonly #engine: Engine;
  readonly active: ActiveRun;
  readonly work: Work;
  readonly url: string;
  /** Its work key in the run's inflight map, set once it is queued. */
  key = "";
  readonly queuedAt = performance.now();
  place: SlotReservation | undefined;
  /**
   * The previousSteps entries as they were when the work was due (strings the run
   * keeps anyway): the call lists what had settled when its step started, as one
   * sent at once does, not what settled while it waited.
   */
  previous: string[] | undefined;

  constructor(engine: Engine, active: ActiveRun, work: Work, url: string) {
    this.#engine = engine;
    this.active = active;
    this.work = work;
    this.url = url;
  }

  granted(): void {
    this.#engine.slotGranted(this);
  }

  dropped(): void {
    this.#engine.slotLost(this, NOT_SENT_SHUTTING_DOWN);
  }

  abort(): void {
    this.place?.cancel();
    this.#engine.slotLost(this, attemptCancelled());
  }
}

export class Engine {
  private readonly store: WorkflowStore;
  private readonly dispatcher: StepDispatcher;
  private readonly clock: Clock;
  private readonly feed: EventFeed;
  private readonly log: Logger;
  private readonly renderWebhook: (run: RunRecord) => string;
  private readonly machineOptions: MachineOptions;
  private readonly webhookTimeoutMs: number;
  private readonly reloadDelayMs: number;
  private readonly ids = new RunIdGenerator();
  private readonly active = new Map<string, ActiveRun>();
  /** The most runs held in `active` at once since takeActivePeak last looked. */
  private activePeak = 0;
  private readonly sharedSteps = new SharedSteps();
  private readonly visibilities = new WeakMap<readonly StepSpec[], Map<PreviousStepsMode | undefined, StepVisibility | undefined>>();
  private readonly pendingCommits = new Set<Promise<unknown>>();
  private stopping = false;
  private readonly ownership: RunOwnership | undefined;
  private readonly notices: NoticeSource | undefined;
  private readonly sweepIntervalMs: number;
  private readonly cancelWaitMs: number;
  /** With ownership: the periodic sweep, lease renewal and notice subscription, undone at stop. */
  private readonly background: (() => void)[] = [];
  private sweeping: Promise<void> | undefined;
  private sweepAgain = false;
  private leaseValidUntil = 0;
  private readonly metrics: EngineMetrics;
  private readonly tracer: Tracer;
  private readonly gate: ConcurrencyGate | undefined;

  constructor(options: EngineOptions) {
    this.store = options.store;
    this.dispatcher = options.dispatcher;
    this.clock = options.clock;
    this.feed = options.feed;
    this.log = options.logger;
    this.renderWebhook = options.renderWebhook;
    this.machineOptions = options.machine ?? {};
    this.webhookTimeoutMs = options.webhookTimeoutMs ?? 30_000;
    this.reloadDelayMs = options.reloadDelayMs ?? 1000;
    this.ownership = options.ownership;
    this.notices = options.notices;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 2000;
    this.cancelWaitMs = options.cancelWaitMs ?? 10_000;
    this.metrics = options.metrics ?? noopMetrics;
    this.tracer = options.tracer ?? noopTracer;
    if (options.slots) {
      this.gate = new ConcurrencyGate({
        slots: options.slots,
        clock: this.clock,
        log: this.log,
        stillHolds: (holder) => this.stillHolds(holder),
        pollMs: options.concurrencyPollMs,
      });
    }
  }

  /** Runs and steps of this process queued for a slot of their concurrency key (for metrics and tests). */
  get concurrencyWaiting(): number {
    return this.gate?.waiting ?? 0;
  }

  /**
   * Resumes every run that has work left from before the process last stopped;
   * with ownership, takes over the runs no live replica drives, and keeps doing so.
   */
  async start(): Promise<void> {
    const ownership = this.ownership;
    if (!ownership) {
      const runs = await this.store.listActiveRuns();
      for (const run of runs) this.resume(run);
      if (runs.length > 0) this.log.info({ runs: runs.length }, "resumed runs");
      return;
    }
    await ownership.renewLease();
    this.leaseValidUntil = this.clock.now() + ownership.leaseTtlMs;
    if (this.notices) this.background.push(this.notices.subscribeNotices((n) => this.onNotice(n)));
    await this.sweep();
    this.every(Math.max(50, Math.floor(ownership.leaseTtlMs / 3)), () => this.renewLease());
    this.every(this.sweepIntervalMs, () => this.sweep());
  }

  get activeRuns(): number {
    return this.active.size;
  }

  /** The most runs held in memory at once since the last call (a peak between two looks counts); starts a new count. */
  takeActivePeak(): number {
    const peak = Math.max(this.activePeak, this.active.size);
    this.activePeak = this.active.size;
    return peak;
  }

  /** Step and compensation attempts waiting for their retry delay (for metrics; walks the active runs). */
  get retriesWaiting(): number {
    let n = 0;
    for (const a of this.active.values()) {
      if (a.timers) for (const k of a.timers.keys()) if (!k.startsWith("webhook")) n++;
    }
    return n;
  }

  /** Finished runs driven here whose webhook is not delivered yet (for metrics). */
  get webhookBacklog(): number {
    let n = 0;
    for (const a of this.active.values()) {
      const w = a.machine.run.webhook?.state;
      if (w === "pending" || w === "delivering" || w === "retry_wait") n++;
    }
    return n;
  }

  /**
   * Durably creates a run (or returns the one with the same request id) and starts it.
   * `rpc`: the CreateWorkflow span of the caller's trace, which the run's span joins.
   * `build`: makes the run's first record (default: newRunRecord; RerunWorkflow's copies steps).
   */
  async create(
    spec: WorkflowSpec,
    rpc?: RpcSpan,
    build: (runId: string, createdAt: number) => RunRecord = (runId, createdAt) => newRunRecord(runId, spec, createdAt),
  ): Promise<{ run: RunRecord; created: boolean }> {
    const runId = this.ids.next(this.clock.now());
    // The creation time is the one the id carries (the same, unless the clock went back): filters by creation time are id ranges.
    const run = build(runId, runIdTime(runId));
    const trace = this.tracer.newRun(run.runId, spec.workflowId, rpc);
    if (trace) run.trace = trace;
    const first = createdEvent(run);
    let result: { run: RunRecord; created: boolean };
    try {
      result = await this.store.createRun(run, [first]);
    } catch (err) {
      // With a shared store the insert may have been applied even though its answer was lost:
      // look again later, and drive the run if it is there.
      if (this.ownership && !this.stopping) this.reload(run.runId);
      throw err;
    }
    if (!result.created) {
      if (!sameRequest(result.run.spec.requestFingerprint, spec.requestFingerprint)) throw new IdempotencyKeyReusedError(result.run.runId);
      return result;
    }
    this.feed.publish(spec.workflowId, [first]);
    this.metrics.runCreated(spec.workflowId);
    this.log.info({ runId: run.runId, workflowId: spec.workflowId, steps: spec.steps.length }, "workflow created");
    // The machine replaces step records rather than changing them: copying the array is enough.
    const snapshot: RunRecord = { ...run, steps: [...run.steps] };
    if (!this.stopping) this.activate(run, (m) => m.start(this.clock.now()));
    return { run: snapshot, created: true };
  }

  get(runId: string): Promise<RunRecord | undefined> {
    return this.store.getRun(runId);
  }

  list(query: ListRunsQuery): Promise<RunRecord[]> {
    return this.store.listRuns(query);
  }

  listSummaries(query: ListRunsQuery): Promise<RunSummary[]> {
    return this.store.listRunSummaries(query);
  }

  /** Deletes a finished run (see WorkflowStore.deleteRun). */
  deleteRun(runId: string): Promise<DeleteRunResult> {
    return this.store.deleteRun(runId);
  }

  events(runId: string, afterSeq: number, limit: number): Promise<RunEvent[]> {
    return this.store.listEvents(runId, afterSeq, limit);
  }

  async cancel(runId: string, reason: string): Promise<RunRecord> {
    const active = this.active.get(runId);
    if (active && isCancellable(active.machine.run.state)) {
      const message = reason ? `cancelled: ${reason}` : "cancelled by request";
      await this.react(active, active.machine.cancel(this.clock.now(), message));
      if (active.evicted) throw new Error(`workflow run "${runId}": the cancellation could not be recorded; retry`);
      return structuredClone(active.machine.run);
    }
    const stored = await this.store.getRun(runId);
    if (!stored) throw new RunNotFoundError(runId);
    if (!isCancellable(stored.state)) throw new RunFinishedError(runId, stored.state);
    // Redriven here while the store was read: cancel it as driven now.
    const redriven = this.active.get(runId);
    if (redriven && redriven !== active && isCancellable(redriven.machine.run.state)) return this.cancel(runId, reason);
    if (!this.ownership) {
      // Unfinished in the store but not driven here (being reloaded): the caller may retry.
      throw new Error(`workflow run "${runId}" is not being driven by this server right now; retry`);
    }
    // Another replica drives the run (or will, once it claims it): ask, then wait for it.
    if (!(await this.ownership.requestCancel(runId, reason))) {
      const now = await this.store.getRun(runId);
      throw new RunFinishedError(runId, now?.state ?? stored.state);
    }
    return this.awaitCancelled(runId);
  }

  /**
   * Continues a failed or cancelled run in place (RunMachine.redrive), by
   * compare-and-set on the stored run: of two redrives at once (on any
   * replicas) one wins, the other is refused as the run is no longer finished.
   */
  redrive(runId: string, extensionMs?: number): Promise<RunRecord> {
    return this.reopen(runId, redriveRefusal, (m, now) => m.redrive(now, extensionMs));
  }

  /**
   * A new run of a finished run's definition that runs `plan.fromIndexes` and
   * their dependents again and copies the rest (src/domain/rerun.ts); created
   * (or found by request id) as create() does. The original is not changed.
   */
  async rerun(
    runId: string,
    input: RerunInput,
    limits: Pick<Limits, "maxContextBytes">,
    fingerprint?: string,
    rpc?: RpcSpan,
    /**
     * Checks of the new run's spec the domain cannot make (the size of the
     * request that would create it), made when a new context, labels or
     * request id could make it larger than the original's; `original`: the
     * original's spec.
     */
    checkSpec?: (spec: WorkflowSpec, original: WorkflowSpec) => FieldViolation[],
  ): Promise<{ run: RunRecord; created: boolean }> {
    // A repeated request is answered with the run it made, whatever became of the original since.
    if (input.requestId !== "") {
      const made = await this.store.getRunByRequestId(input.requestId);
      if (made) {
        if (!sameRequest(made.spec.requestFingerprint, fingerprint)) throw new IdempotencyKeyReusedError(made.runId);
        return { run: made, created: false };
      }
    }
    const original = await this.store.getRun(runId);
    if (!original) throw new RunNotFoundError(runId);
    const refused = rerunRefusal(original);
    if (refused) throw new RunNotReopenableError(refused, original.state);
    const planned = planRerun(original, input, limits);
    if (!planned.ok) throw new RerunInvalidError(planned.violations);
    const { plan } = planned;
    const changed = input.context !== undefined || input.labels !== undefined || input.requestId !== "";
    const problems = changed ? (checkSpec?.(plan.spec, original.spec) ?? []) : [];
    if (problems.length > 0) throw new RerunInvalidError(problems);
    if (plan.spec.requestId !== undefined && fingerprint !== undefined) plan.spec.requestFingerprint = fingerprint;
    return this.create(plan.spec, rpc, (id, createdAt) => rerunRecord(original, plan, id, createdAt));
  }

  /** Delivers a finished run's webhook again (RunMachine.redeliverWebhook). */
  redeliverWebhook(runId: string): Promise<RunRecord> {
    return this.reopen(runId, redeliveryRefusal, (m, now) => m.redeliverWebhook(now));
  }

  /**
   * Makes a finished run need driving again: the command runs on the run as
   * stored, its patch is written with store.reopen (compare-and-set; with
   * several replicas this one takes the run over), then this engine drives it.
   */
  private async reopen(
    runId: string,
    refusal: (run: RunRecord) => { reason: string; message: string } | undefined,
    command: (m: RunMachine, now: number) => Effects,
  ): Promise<RunRecord> {
    for (let tries = 1; ; tries++) {
      const local = this.active.get(runId);
      if (local && !isTerminal(local.machine.run.state)) {
        const refused = refusal(local.machine.run);
        if (refused) throw new RunNotReopenableError(refused, local.machine.run.state);
      }
      const run = await this.store.getRun(runId);
      if (!run) throw new RunNotFoundError(runId);
      const refused = refusal(run);
      if (refused) throw new RunNotReopenableError(refused, run.state);
      const machine = this.machineFor(run);
      const fx = command(machine, this.clock.now());
      const patch = machine.takePatch();
      if (!patch) throw new Error(`workflow run "${runId}": nothing to do`);
      try {
        await this.store.reopen(patch);
      } catch (err) {
        if (err instanceof VersionConflictError && tries < REOPEN_TRIES) continue;
        throw err;
      }
      // What this engine still did for the run's previous outcome (its webhook) is superseded.
      const old = this.active.get(runId);
      if (old) {
        this.finish(old);
        for (const c of old.inflight.values()) c.abort();
      }
      this.feed.publish(run.spec.workflowId, patch.events);
      const snapshot = structuredClone(machine.run);
      // Stopping: the run is stored as needing driving; the next start (or another replica) resumes it.
      if (!this.stopping) this.attach(machine, fx);
      return snapshot;
    }
  }

  /** Pauses a pending or running run (RunMachine.pause). */
  pauseRun(runId: string, reason: string | undefined, holdDeadline: boolean): Promise<RunRecord> {
    return this.steer(runId, pauseRefusal, (m, now) => m.pause(now, reason, holdDeadline));
  }

  /** Resumes a paused run (RunMachine.resume). */
  resumeRun(runId: string): Promise<RunRecord> {
    return this.steer(runId, resumeRefusal, (m, now) => m.resume(now));
  }

  /**
   * Applies a pause or resume. A run driven here goes through its machine
   * (calls in flight go on). Otherwise the command runs on the run as stored
   * and is written by compare-and-set (store.reopen): with several replicas
   * this replica takes the run over in the same write, so the replica that
   * drove it can commit nothing more (no step starts there once the answer is
   * sent); its calls in flight are sent again from here, as after a takeover.
   */
  private async steer(
    runId: string,
    refusal: (run: RunRecord) => { reason: string; message: string } | undefined,
    command: (m: RunMachine, now: number) => Effects,
  ): Promise<RunRecord> {
    for (let tries = 1; ; tries++) {
      const active = this.active.get(runId);
      if (active && !active.evicted && !active.detached && !this.stopping) {
        const refused = refusal(active.machine.run);
        if (refused) throw new RunNotSteerableError(refused, active.machine.run.state);
        await this.react(active, command(active.machine, this.clock.now()));
        if (active.evicted) {
          if (tries < REOPEN_TRIES) continue;
          throw new Error(`workflow run "${runId}": the change could not be recorded; retry`);
        }
        return structuredClone(active.machine.run);
      }
      const run = await this.store.getRun(runId);
      if (!run) throw new RunNotFoundError(runId);
      const refused = refusal(run);
      if (refused) throw new RunNotSteerableError(refused, run.state);
      if (this.active.has(runId) && tries < REOPEN_TRIES) continue;
      const machine = this.machineFor(run);
      command(machine, this.clock.now());
      const patch = machine.takePatch();
      if (!patch) throw new Error(`workflow run "${runId}": nothing to do`);
      try {
        await this.store.reopen(patch);
      } catch (err) {
        if (err instanceof VersionConflictError && tries < REOPEN_TRIES) continue;
        throw err;
      }
      const old = this.active.get(runId);
      if (old) {
        this.finish(old);
        for (const c of old.inflight.values()) c.abort();
      }
      this.feed.publish(run.spec.workflowId, patch.events);
      const snapshot = structuredClone(machine.run);
      // Driven from here on as after a takeover: calls in flight are sent again, retries and slots re-armed.
      if (!this.stopping) {
        const request = run.cancelRequest;
        const next = this.activate(machine.run, (m) => m.recover(this.clock.now()));
        if (request) this.applyCancelRequest(next.machine.run.runId, request.reason);
      }
      return snapshot;
    }
  }

  /** Waits until a requested cancel shows in the store (the owner applied it). */
  private async awaitCancelled(runId: string): Promise<RunRecord> {
    const deadline = this.clock.now() + this.cancelWaitMs;
    let wake: (() => void) | undefined;
    const unsubscribe = this.feed.subscribe(runId, (_, e) => {
      if (e.kind === "run") wake?.();
    });
    try {
      for (;;) {
        const run = await this.store.getRun(runId);
        if (run && !isCancellable(run.state)) return run;
        const left = deadline - this.clock.now();
        if (left <= 0) throw new CancelPendingError(runId);
        await new Promise<void>((resolve) => {
          const cancel = this.clock.setTimer(() => resolve(), Math.min(left, 250));
          wake = () => {
            cancel();
            resolve();
          };
        });
        wake = undefined;
      }
    } finally {
      unsubscribe();
    }
  }

  /**
   * Stops driving runs: nothing new is sent, in-flight calls get graceMs to
   * finish and be recorded, the rest are abandoned (they are sent again, with
   * the same idempotency key, when the server starts next).
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.gate?.stop();
    for (const undo of this.background.splice(0)) undo();
    for (const a of this.active.values()) this.clearTimers(a);
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && [...this.active.values()].some((a) => a.inflight.size > 0)) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const a of this.active.values()) {
      a.detached = true;
      for (const c of a.inflight.values()) c.abort();
    }
    const held = [...this.active.keys()];
    this.active.clear();
    await Promise.allSettled([...this.pendingCommits]);
    await this.sweeping;
    if (this.ownership) {
      // Hand the runs back so that another replica takes them over now, not after the lease expires.
      try {
        await this.ownership.release(held);
        if (held.length > 0) this.log.info({ runs: held.length }, "released runs to other replicas");
      } catch (err) {
        this.log.warn({ err }, "could not release runs; other replicas take them over when the lease expires");
      }
    }
  }

  // ---- several replicas -----------------------------------------------------------

  /** Runs fn every ms until stop(); fn's failures are its own to log. */
  private every(ms: number, fn: () => Promise<void> | void): void {
    let cancel: () => void;
    const tick = () => {
      cancel = this.clock.setTimer(() => {
        if (this.stopping) return;
        void Promise.resolve(fn()).finally(() => {
          if (!this.stopping) tick();
        });
      }, ms);
    };
    tick();
    this.background.push(() => cancel());
  }

  private async renewLease(): Promise<void> {
    const ownership = this.ownership!;
    const before = this.clock.now();
    try {
      await ownership.renewLease();
      this.leaseValidUntil = before + ownership.leaseTtlMs;
      return;
    } catch (err) {
      this.log.warn({ err }, "lease renewal failed");
    }
    if (this.clock.now() < this.leaseValidUntil) return;
    // The lease expired: other replicas may be taking these runs over. Stop
    // driving them and come back under a new identity.
    const runs = [...this.active.values()];
    this.log.error({ runs: runs.length, replicaId: ownership.replicaId }, "lease lost; abandoning runs to other replicas");
    for (const a of runs) {
      this.finish(a);
      for (const c of a.inflight.values()) c.abort();
    }
    ownership.rejoin();
    this.leaseValidUntil = 0;
  }

  /**
   * Takes over runs that no live replica drives, and applies cancel requests
   * whose notice may have been missed. One sweep at a time; a request during a
   * sweep runs another right after it.
   */
  private sweep(): Promise<void> {
    if (this.sweeping) {
      this.sweepAgain = true;
      return this.sweeping;
    }
    this.sweeping = (async () => {
      do {
        this.sweepAgain = false;
        try {
          await this.sweepOnce();
        } catch (err) {
          this.log.warn({ err }, "sweep failed");
        }
      } while (this.sweepAgain && !this.stopping);
    })().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    const ownership = this.ownership!;
    if (this.stopping || this.clock.now() >= this.leaseValidUntil) return;
    let claimed = 0;
    for (;;) {
      const runs = await ownership.claimOrphans(CLAIM_BATCH);
      for (const run of runs) {
        if (this.stopping || this.active.has(run.runId)) continue;
        this.resume(run);
        claimed++;
      }
      if (runs.length < CLAIM_BATCH || this.stopping) break;
    }
    if (claimed > 0) this.log.info({ runs: claimed, replicaId: ownership.replicaId }, "took over runs");
    for (const request of await ownership.cancelRequests()) this.applyCancelRequest(request.runId, request.reason);
  }

  private onNotice(notice: OwnershipNotice): void {
    if (this.stopping) return;
    if (notice.type === "cancel") this.applyCancelRequest(notice.runId, notice.reason);
    else void this.sweep();
  }

  private applyCancelRequest(runId: string, reason: string): void {
    const active = this.active.get(runId);
    if (!active || !isCancellable(active.machine.run.state)) return;
    void this.react(active, active.machine.cancel(this.clock.now(), reason ? `cancelled: ${reason}` : "cancelled by request"));
  }

  /** Drives a run loaded from the store: in-flight calls are sent again, and a recorded cancel request applies. */
  private resume(run: RunRecord): void {
    try {
      const request = run.cancelRequest;
      const active = this.activate(run, (m) => m.recover(this.clock.now()));
      if (request) this.applyCancelRequest(active.machine.run.runId, request.reason);
    } catch (err) {
      // A run whose stored data cannot be driven (e.g. written by an older
      // version without today's limits) must not stop the others or start-up.
      const active = this.active.get(run.runId);
      if (active) {
        active.detached = true;
        active.cancelDeadline?.();
        this.active.delete(run.runId);
      }
      this.log.error({ err, runId: run.runId }, "could not resume run; left as stored");
    }
  }

  // ---- driving runs -------------------------------------------------------------

  /** Which steps each step's previousSteps lists: the same for every run holding these steps under one previous_steps. */
  private visibility(spec: WorkflowSpec): StepVisibility | undefined {
    let byMode = this.visibilities.get(spec.steps);
    if (byMode === undefined) this.visibilities.set(spec.steps, (byMode = new Map()));
    if (byMode.has(spec.previousSteps)) return byMode.get(spec.previousSteps);
    const v = visibility(spec);
    byMode.set(spec.previousSteps, v);
    return v;
  }

  /** A machine for `run`, whose step definitions become the copy shared with the other runs that have the same ones. */
  private machineFor(run: RunRecord): RunMachine {
    run.spec.steps = this.sharedSteps.intern(run.spec.steps);
    return new RunMachine(run, this.machineOptions);
  }

  private activate(run: RunRecord, first: (m: RunMachine) => Effects): ActiveRun {
    const machine = this.machineFor(run);
    return this.attach(machine, first(machine), false);
  }

  /**
   * Drives a machine from here on; `fx` are its first effects, committed by
   * react() unless `committed` (the caller has written their patch already).
   */
  private attach(machine: RunMachine, fx: Effects, committed = true): ActiveRun {
    const run = machine.run;
    const active: ActiveRun = {
      machine,
      log: undefined,
      inflight: new Map(),
      timers: undefined,
      contextJson: JSON.stringify(run.spec.context),
      fragments: undefined,
      visible: this.visibility(run.spec),
      itemValues: undefined,
      itemBodies: undefined,
      detached: false,
      evicted: false,
      slotted: undefined,
    };
    this.active.set(run.runId, active);
    if (this.active.size > this.activePeak) this.activePeak = this.active.size;
    this.armDeadline(active);
    if (committed) {
      if (fx.done) this.finish(active);
      this.perform(active, fx, performance.now());
    } else void this.react(active, fx);
    return active;
  }

  /** Times the run's deadline (again): none once it ended or compensates, nor while a pause holds it. */
  private armDeadline(active: ActiveRun): void {
    active.cancelDeadline?.();
    active.cancelDeadline = undefined;
    const run = active.machine.run;
    if (isTerminal(run.state) || run.state === "compensating" || !deadlineRuns(run)) return;
    active.cancelDeadline = this.clock.setTimer(() => {
      if (!active.detached) void this.react(active, active.machine.deadlineReached(this.clock.now()));
    }, run.deadlineAt - this.clock.now());
  }

  /** Commits what the machine changed, publishes the events, then performs the effects. */
  private react(active: ActiveRun, fx: Effects): Promise<void> {
    const start = performance.now();
    const patch = active.machine.takePatch();
    // Paused: waits for slots end now, before any grant could reach the machine.
    for (const index of fx.unqueue) this.gate?.forget(slotHolder(active.machine.run.runId, index));
    if (fx.deadline && !fx.terminal) this.armDeadline(active);
    for (const index of fx.abort) active.inflight.get(key("step", index))?.abort();
    for (const { index, item } of fx.abortItems) active.inflight.get(key("item", index, item))?.abort();
    if (fx.terminal) active.cancelDeadline?.();
    if (fx.done) this.finish(active);
    if (!patch) {
      if (fx.done) this.tracer.runEnded(active.machine.run);
      this.settleSlots(active);
      this.perform(active, fx, start);
      return Promise.resolve();
    }
    const workflowId = active.machine.run.spec.workflowId;
    const committed = this.store.commit(patch).then(
      () => {
        this.metrics.storeCommit(since(start));
        this.feed.publish(workflowId, patch.events);
        if (fx.done) this.tracer.runEnded(active.machine.run);
        this.settleSlots(active);
        this.perform(active, fx, start);
      },
      (err: unknown) => this.onCommitFailure(active, err),
    );
    this.pendingCommits.add(committed);
    void committed.finally(() => this.pendingCommits.delete(committed));
    return committed;
  }

  /** Performs fx; `start` (performance.now()) is when what led to them happened, for the overhead metric. */
  private perform(active: ActiveRun, fx: Effects, start: number): void {
    if (fx.terminal) {
      const run = active.machine.run;
      this.metrics.runFinished(run.spec.workflowId, run.state);
      runLog(this.log, active).info(
        {
          workflowId: run.spec.workflowId,
          state: run.state,
          durationMs: this.clock.now() - run.createdAt,
          reason: run.error?.reason,
          error: run.error,
          compensationFailed: run.compensation?.failed,
        },
        "workflow finished",
      );
    }
    if (active.detached || this.stopping) return;
    for (const index of fx.hold) this.holdSlot(active, index);
    for (const index of fx.acquire) this.requestSlot(active, index);
    for (const t of fx.timers) {
      const k = key(t.kind, t.index, t.item);
      const timers = (active.timers ??= new Map());
      timers.get(k)?.();
      const cancel = this.clock.setTimer(() => {
        if (active.timers?.delete(k) && active.timers.size === 0) active.timers = undefined;
        if (active.detached) return;
        const m = active.machine;
        const now = this.clock.now();
        const due =
          t.kind === "step"
            ? m.retryDue(t.index, now)
            : t.kind === "item"
              ? m.itemRetryDue(t.index, t.item!, now)
              : t.kind === "compensation"
                ? m.compensationRetryDue(t.index, now)
                : m.webhookRetryDue();
        void this.react(active, due);
      }, t.at - this.clock.now());
      timers.set(k, cancel);
    }
    if (fx.dispatch.length === 0) return;
    for (const work of fx.dispatch) this.send(active, work);
    this.metrics.overhead(since(start));
  }

  /**
   * Sends a piece of work. With a dispatcher that can reserve a slot of the
   * URL's origin first, a call that must wait for its origin's limits waits as a
   * WaitingCall (the run and the work, nothing else): its request, abort
   * controller and promise are made when the slot is granted (sendCall).
   */
  private send(active: ActiveRun, work: Work): void {
    const d = this.dispatcher;
    if (d.reserve !== undefined) {
      const url = this.currentUrl(active, work);
      if (url === undefined) return;
      const waiting = new WaitingCall(this, active, work, url);
      const place = d.reserve(url, waiting);
      if (place === "held") {
        this.sendCall(active, work, url);
        return;
      }
      if (place !== "none") {
        waiting.place = place;
        waiting.key = key(work.kind, work.index, work.item);
        if (work.kind !== "webhook") waiting.previous = this.previousSteps(active, work.index, work.kind !== "compensation");
        active.inflight.set(waiting.key, waiting);
        this.logWaiting(active, work, place.origin, place.ahead);
        return;
      }
    }
    this.sendCall(active, work, undefined);
  }

  private logWaiting(active: ActiveRun, work: Work, origin: string, ahead: number): void {
    if (this.log.isLevelEnabled("debug")) {
      runLog(this.log, active).debug({ kind: work.kind, stepId: this.stepIdOf(active, work), attempt: work.attempt, origin, ahead }, "call waiting for its host's limits");
    }
  }

  /** A WaitingCall holds a slot of its origin now: its call is built and sent, or the slot given back. */
  slotGranted(w: WaitingCall): void {
    const active = w.active;
    if (active.inflight.get(w.key) === w) active.inflight.delete(w.key);
    this.metrics.hostWait(since(w.queuedAt));
    if (active.detached || this.stopping) {
      // Nothing new is sent while stopping; the run is sent again where it is driven next.
      this.dispatcher.giveBack?.(w.url);
      return;
    }
    this.sendCall(active, w.work, w.url, w.previous);
  }

  /** A WaitingCall's place is gone: the dispatcher closed, or the call was cancelled. */
  slotLost(w: WaitingCall, outcome: AttemptOutcome): void {
    const active = w.active;
    if (active.inflight.get(w.key) !== w) return;
    active.inflight.delete(w.key);
    // As an answer from dispatch() would be: after the current turn, not within it.
    queueMicrotask(() => this.attemptOver(active, w.work, outcome, 0, undefined));
  }

  /**
   * Builds the call and dispatches it. `reservedUrl`: a slot of that URL's origin is
   * held for it (given back if the work is no longer current); without one, the
   * dispatcher may queue the call itself. `previous`: previousSteps entries taken earlier.
   */
  private sendCall(active: ActiveRun, work: Work, reservedUrl: string | undefined, previous?: string[]): void {
    let call: StepCall | undefined;
    try {
      call = this.callFor(active, work, previous);
    } catch (err) {
      if (reservedUrl !== undefined) this.dispatcher.giveBack?.(reservedUrl);
      // Rendering a request body can fail for one run's data: that call fails
      // (never retried), the process and the other runs go on.
      runLog(this.log, active).error({ err, kind: work.kind, stepId: this.stepIdOf(active, work), attempt: work.attempt }, "could not render the request");
      const outcome = terminalFailure(RENDER_FAILED, "could not render the request body from the run's data");
      queueMicrotask(() => {
        if (!active.detached) void this.react(active, this.applyOutcome(active, work, outcome));
      });
      return;
    }
    if (!call) {
      if (reservedUrl !== undefined) this.dispatcher.giveBack?.(reservedUrl);
      return;
    }
    const span = this.tracer.startAttempt(active.machine.run, work.kind === "item" ? "step" : work.kind, work.index, work.attempt, work.item);
    if (span) Object.assign(call.headers, span.headers);
    const k = key(work.kind, work.index, work.item);
    const controller = new AbortController();
    active.inflight.set(k, controller);
    // One controller per call: the timeout and a cancel (or the run's deadline) both abort it.
    // The attempt timeout runs from when the call is sent: a call waiting for its host's
    // limits has its timer started when it leaves the queue.
    const timeoutMs = call.timeoutMs;
    let cancelTimeout: (() => void) | undefined;
    let queued = false;
    let sent = performance.now();
    const progress: DispatchProgress | undefined =
      reservedUrl === undefined
        ? {
            queued: (origin, ahead) => {
              queued = true;
              this.logWaiting(active, work, origin, ahead);
            },
            sent: () => {
              const now = performance.now();
              this.metrics.hostWait(since(sent));
              sent = now;
              cancelTimeout = this.clock.setTimer(() => controller.abort(ATTEMPT_TIMEOUT), timeoutMs);
            },
          }
        : undefined;
    const dispatched = this.dispatcher.dispatch(call, controller.signal, progress, reservedUrl !== undefined);
    if (!queued) cancelTimeout = this.clock.setTimer(() => controller.abort(ATTEMPT_TIMEOUT), timeoutMs);
    void dispatched
      .catch((err: unknown): AttemptOutcome => ({
        ok: false,
        retryable: true,
        error: { reason: "internal", message: String(err) },
      }))
      .then((outcome) => {
        cancelTimeout?.();
        if (active.inflight.get(k) === controller) active.inflight.delete(k);
        this.attemptOver(active, work, outcome, since(sent), span);
      });
  }

  /** An attempt's answer (or why it has none): applied to the run, counted and logged. */
  private attemptOver(active: ActiveRun, work: Work, outcome: AttemptOutcome, seconds: number, span: AttemptSpan | undefined): void {
    if (active.detached) {
      span?.end({ ok: outcome.ok, abandoned: true });
      return;
    }
    const fx = this.applyOutcome(active, work, outcome);
    this.record(active, work, outcome, seconds, fx, span);
    void this.react(active, fx);
  }

  private stepIdOf(active: ActiveRun, work: Work): string | undefined {
    return work.kind === "webhook" ? undefined : active.machine.run.steps[work.index]?.id;
  }

  /** Counts a finished call and logs it: failures at info (with whether and when it is retried), successes at debug. */
  private record(active: ActiveRun, work: Work, outcome: AttemptOutcome, seconds: number, fx: Effects, span: AttemptSpan | undefined): void {
    // Any 2xx delivers a webhook, whatever the body says (as in applyOutcome).
    const status = outcome.ok ? 200 : (outcome.error.httpStatus ?? 0);
    const failure = outcome.ok || (work.kind === "webhook" && status >= 200 && status < 300) ? undefined : outcome.error;
    this.metrics.attempt(work.kind === "item" ? "step" : work.kind, failure === undefined, failure?.reason ?? "", seconds);
    if (failure === undefined) {
      span?.end({ ok: true, httpStatus: outcome.ok ? undefined : status });
      // The hot path: no child logger, no fields unless debug is on.
      if (this.log.isLevelEnabled("debug")) {
        runLog(this.log, active).debug({ kind: work.kind, stepId: active.machine.run.steps[work.index]?.id, attempt: work.attempt, durationMs: Math.round(seconds * 1000) }, "attempt succeeded");
      }
      return;
    }
    let retryAt: number | undefined;
    for (const t of fx.timers) if (t.kind === work.kind && t.index === work.index && t.item === work.item) retryAt = t.at;
    span?.end({ ok: false, httpStatus: failure.httpStatus, reason: failure.reason, message: failure.message, retryAt });
    runLog(this.log, active).info(
      {
        kind: work.kind,
        stepId: active.machine.run.steps[work.index]?.id,
        item: work.item,
        attempt: work.attempt,
        httpStatus: failure.httpStatus,
        reason: failure.reason,
        durationMs: Math.round(seconds * 1000),
        retry: retryAt !== undefined,
        retryAt: retryAt === undefined ? undefined : new Date(retryAt).toISOString(),
        error: failure.message,
      },
      work.kind === "step" ? "step attempt failed" : work.kind === "item" ? "item attempt failed" : work.kind === "compensation" ? "compensation attempt failed" : "webhook delivery failed",
    );
  }

  private applyOutcome(active: ActiveRun, work: Work, outcome: AttemptOutcome): Effects {
    const m = active.machine;
    const now = this.clock.now();
    switch (work.kind) {
      case "step":
        return outcome.ok
          ? m.attemptSucceeded(work.index, work.attempt, outcome.result, now)
          : m.attemptFailed(work.index, work.attempt, outcome, now);
      case "item":
        return outcome.ok
          ? m.itemSucceeded(work.index, work.item!, work.attempt, outcome.result, now)
          : m.itemFailed(work.index, work.item!, work.attempt, outcome, now);
      case "compensation":
        return outcome.ok
          ? m.compensationSucceeded(work.index, work.attempt, now)
          : m.compensationFailed(work.index, work.attempt, outcome, now);
      case "webhook": {
        // Any 2xx delivers a webhook, whatever the body says.
        const status = outcome.ok ? 200 : (outcome.error.httpStatus ?? 0);
        return status >= 200 && status < 300 ? m.webhookSucceeded(work.attempt, now) : m.webhookFailed(work.attempt, outcome as Extract<AttemptOutcome, { ok: false }>, now);
      }
    }
  }

  /** The URL a piece of work calls, or undefined if the work is no longer current (its attempt was settled or superseded). */
  private currentUrl(active: ActiveRun, work: Work): string | undefined {
    const run = active.machine.run;
    if (work.kind === "webhook") {
      const w = run.webhook;
      return w?.state === "delivering" && w.attempts === work.attempt ? w.url : undefined;
    }
    const step = run.spec.steps[work.index];
    const record = run.steps[work.index];
    if (work.kind === "compensation") {
      const c = record.compensation;
      return c?.state === "running" && c.attempts === work.attempt ? step.compensation : undefined;
    }
    if (record.state !== "running") return undefined;
    if (work.kind === "step") return record.attempts === work.attempt ? step.url : undefined;
    const it = active.machine.items(work.index)?.[work.item!];
    return it?.state === "running" && it.attempts === work.attempt ? step.url : undefined;
  }

  /** The HTTP call for a piece of work, or undefined if it is no longer current; `previous`: its previousSteps entries, if taken earlier. */
  private callFor(active: ActiveRun, work: Work, previous?: string[]): StepCall | undefined {
    const url = this.currentUrl(active, work);
    if (url === undefined) return undefined;
    const run = active.machine.run;
    if (work.kind === "webhook") {
      const w = run.webhook!;
      return {
        url,
        body: this.renderWebhook(run),
        timeoutMs: this.webhookTimeoutMs,
        idempotencyKey: w.eventId,
        messageId: w.eventId,
        headers: { "weft-run-id": run.runId, "weft-event-type": w.eventType, "weft-attempt": String(work.attempt) },
      };
    }
    const step = run.spec.steps[work.index];
    const record = run.steps[work.index];
    const headers = { "weft-run-id": run.runId, "weft-step-id": step.id, "weft-attempt": String(work.attempt) };
    if (work.kind === "step") {
      return {
        url,
        body: this.stepBody(active, work.index, work.attempt, "", true, previous),
        timeoutMs: step.timeoutMs,
        idempotencyKey: `${run.runId}:${step.id}`,
        messageId: `${run.runId}:${step.id}:${work.attempt}`,
        headers,
      };
    }
    if (work.kind === "item") {
      const k = work.item!;
      const values = this.itemValues(active, work.index);
      return {
        url,
        body: this.itemBodies(active, work.index, previous).body(work.attempt, values[k], k),
        timeoutMs: step.timeoutMs,
        idempotencyKey: `${run.runId}:${step.id}:${k}`,
        messageId: `${run.runId}:${step.id}:${k}:${work.attempt}`,
        headers: { ...headers, "weft-item-index": String(k) },
      };
    }
    const extra =
      `,"compensation":true,"result":${active.machine.resultText(work.index)}` +
      `,"failedStep":${JSON.stringify(run.error?.stepId ?? null)},"error":${JSON.stringify(run.error ?? null)}`;
    return {
      url,
      body: this.stepBody(active, work.index, work.attempt, extra, false, previous),
      timeoutMs: step.timeoutMs,
      idempotencyKey: `${run.runId}:${step.id}:compensation`,
      messageId: `${run.runId}:${step.id}:compensation:${work.attempt}`,
      headers: { ...headers, "weft-compensation": "true" },
    };
  }

  /**
   * `{workflowId, runId, workflow, stepId, attempt, context, previousSteps, …extra}`.
   * previousSteps holds the completed steps (`{result, completedAt, attempts}`)
   * and, for step calls (join policies let a step run after failures), the
   * failed and cancelled ones (`{state, error, completedAt, attempts}`, no
   * result). Compensation calls list the completed steps only, as before joins.
   */
  private stepBody(active: ActiveRun, index: number, attempt: number, extra: string, unsuccessful = true, previous?: string[]): string {
    const run = active.machine.run;
    const head = bodyHead(run.spec.workflowId, run.runId, run.steps[index].id);
    return stepBody(head, attempt, bodyMiddle(active.contextJson, previous ?? this.previousSteps(active, index, unsuccessful)), extra);
  }

  /**
   * The fixed parts of map step `index`'s item bodies (see stepBody), serialized
   * once and kept while previousSteps stays the same (a step settling elsewhere
   * in the run, e.g. on a parallel branch, changes it).
   */
  private itemBodies(active: ActiveRun, index: number, previous?: string[]): ItemBodies {
    const entries = previous ?? this.previousSteps(active, index, true);
    let bodies = active.itemBodies?.get(index);
    if (bodies === undefined || !bodies.holds(entries)) {
      const run = active.machine.run;
      bodies = new ItemBodies(bodyHead(run.spec.workflowId, run.runId, run.steps[index].id), active.contextJson, entries);
      (active.itemBodies ??= new Map()).set(index, bodies);
    }
    return bodies;
  }

  /**
   * The previousSteps entries (`"<stepId>":{…}`) of step `index`'s call, each
   * serialized once: a settled step's entry never changes. Which steps are
   * listed: forEachPreviousStep (the workflow's previous_steps).
   */
  private previousSteps(active: ActiveRun, index: number, unsuccessful: boolean): string[] {
    const run = active.machine.run;
    const parts: string[] = [];
    forEachPreviousStep(active.visible, index, run.steps, unsuccessful, (i) => {
      // Each of the states listed is final: the fragment never changes.
      let f = active.fragments?.get(i);
      if (f === undefined) {
        const st = run.steps[i];
        const completedAt = new Date(st.completedAt ?? 0).toISOString();
        // A result's text is the one the store writes (made once, see json-text.ts).
        const entry =
          st.state === "completed"
            ? `{"result":${active.machine.resultText(i)},"completedAt":"${completedAt}","attempts":${st.attempts}}`
            : JSON.stringify({ state: st.state, error: st.error ?? null, completedAt, attempts: st.attempts });
        f = `${JSON.stringify(st.id)}:${entry}`;
        (active.fragments ??= new Map()).set(i, f);
      }
      parts.push(f);
    });
    return parts;
  }

  /** A map step's items as JSON texts (for_each resolves the same way every time: its sources never change). */
  private itemValues(active: ActiveRun, index: number): string[] {
    let values = active.itemValues?.get(index);
    if (values === undefined) {
      const v = active.machine.forEachValues(index);
      values = typeof v === "string" ? [] : v.map((x) => JSON.stringify(x));
      (active.itemValues ??= new Map()).set(index, values);
    }
    return values;
  }

  private finish(active: ActiveRun): void {
    active.detached = true;
    this.clearTimers(active);
    const runId = active.machine.run.runId;
    // A reopened run (redrive) may be driven by a newer ActiveRun already.
    if (this.active.get(runId) === active) this.active.delete(runId);
    // Waits for a slot end with the run here (a run driven again asks again).
    for (const index of active.slotted ?? []) this.gate?.forget(slotHolder(runId, index));
  }

  // ---- concurrency keys -----------------------------------------------------------

  /** The scope of the key of the run (-1) or of step `index`. */
  private slotKey(active: ActiveRun, index: number): { key: string; limit: number } | undefined {
    const spec = active.machine.run.spec;
    const c = index < 0 ? spec.concurrency : spec.steps[index]?.concurrency;
    return c && { key: c.scope, limit: c.limit };
  }

  /** Queues the run (-1) or a step for a slot; once taken, the machine starts it. */
  private requestSlot(active: ActiveRun, index: number): void {
    const k = this.slotKey(active, index);
    if (!k) return;
    (active.slotted ??= new Set()).add(index);
    const run = active.machine.run;
    const grant = () => {
      if (active.evicted || this.stopping) return;
      void this.react(active, active.machine.admitted(index, this.clock.now()));
    };
    if (!this.gate) {
      queueMicrotask(grant);
      return;
    }
    const queuedAt = (index < 0 ? run.queuedAt : run.steps[index].queuedAt) ?? this.clock.now();
    this.gate.request({ key: k.key, limit: k.limit, holder: slotHolder(run.runId, index), priority: run.spec.priority ?? 0, queuedAt, grant });
  }

  /** After a restart: the run or step in flight keeps its slot. */
  private holdSlot(active: ActiveRun, index: number): void {
    const k = this.slotKey(active, index);
    if (!k || !this.gate) return;
    (active.slotted ??= new Set()).add(index);
    const holder = slotHolder(active.machine.run.runId, index);
    this.gate.hold(k.key, holder).catch((err: unknown) => runLog(this.log, active).warn({ err, holder }, "concurrency keys: could not record a held slot"));
  }

  /** Gives back the slots of the run and steps that settled (after their commit). */
  private settleSlots(active: ActiveRun): void {
    if (!active.slotted?.size || active.evicted) return;
    const run = active.machine.run;
    for (const index of active.slotted) {
      const done = index < 0 ? !holdsRunSlot(run) : isSettled(run.steps[index].state);
      if (!done) continue;
      active.slotted.delete(index);
      const k = this.slotKey(active, index);
      if (!k || !this.gate) continue;
      const holder = slotHolder(run.runId, index);
      this.gate.release(k.key, holder).catch((err: unknown) =>
        runLog(this.log, active).warn({ err, holder }, "concurrency keys: could not give a slot back; it is reclaimed once its key blocks others"),
      );
    }
  }

  /** False when a slot's holder (a run, or a step of one) has settled, here or in the store. */
  private async stillHolds(holder: string): Promise<boolean> {
    const { runId, step } = parseSlotHolder(holder);
    const active = this.active.get(runId);
    const run = active && !active.evicted ? active.machine.run : await this.store.getRun(runId);
    if (!run) return false;
    if (step < 0) return holdsRunSlot(run);
    const st = run.steps[step];
    return st !== undefined && !isSettled(st.state);
  }

  private clearTimers(active: ActiveRun): void {
    active.cancelDeadline?.();
    if (active.timers) for (const cancel of active.timers.values()) cancel();
    active.timers = undefined;
  }

  /**
   * A commit failed (storage error or a version conflict): this process's view
   * of the run can no longer be trusted. Stop driving it, abandon its calls,
   * and reload it from the store.
   */
  private onCommitFailure(active: ActiveRun, err: unknown): void {
    const runId = active.machine.run.runId;
    if (active.evicted) return;
    active.evicted = true;
    runLog(this.log, active).error({ err }, "commit failed; reloading run from the store");
    this.finish(active);
    for (const c of active.inflight.values()) c.abort();
    this.reload(runId);
  }

  /** Reloads a run after reloadDelayMs, and again later if the store cannot be read. */
  private reload(runId: string): void {
    const cancel = this.clock.setTimer(() => {
      cancel();
      if (this.stopping || this.active.has(runId)) return;
      // With ownership, only a run this replica may still drive is reloaded.
      (this.ownership ? this.ownership.claim(runId) : this.store.getRun(runId)).then(
        (run) => {
          if (run && needsDriving(run) && !this.active.has(runId) && !this.stopping) this.resume(run);
        },
        (e: unknown) => {
          this.log.error({ err: e, runId }, "reload failed; trying again");
          this.reload(runId);
        },
      );
    }, this.reloadDelayMs);
  }
}
