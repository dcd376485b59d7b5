import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { StepState, WorkflowEventSchema, WorkflowSchema, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import {
  applyEvent,
  applyItemCounts,
  eventRecord,
  exitCodeFor,
  formatDuration,
  hasLiveItems,
  itemsText,
  renderLive,
  renderSummary,
  summaryRecord,
  viewFromSnapshot,
} from "../../src/cli/run-view.ts";

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const at = (ms: number) => timestampFromMs(T0 + ms);

function snapshot() {
  return create(WorkflowSchema, {
    id: "wf_01JDQ0000000000000000000AB",
    workflowId: "batch",
    state: WorkflowState.RUNNING,
    createdAt: at(0),
    startedAt: at(0),
    lastSequence: 3n,
    steps: [
      { id: "prepare", state: StepState.COMPLETED, attempts: 1, startedAt: at(0), completedAt: at(250) },
      { id: "flaky", state: StepState.RUNNING, attempts: 1, startedAt: at(250) },
      { id: "finalize", state: StepState.PENDING },
    ],
  });
}

const stepEvent = (sequence: number, stepId: string, from: StepState, to: StepState, ms: number, attempt: number, error?: { reason: string; message: string; httpStatus?: number }) =>
  create(WorkflowEventSchema, { sequence: BigInt(sequence), time: at(ms), runId: "wf_01JDQ0000000000000000000AB", stepId, transition: { case: "step", value: { fromState: from, toState: to } }, attempt, error });

describe("the watched run's view", () => {
  it("shows done of total, running, retrying with its countdown, then the summary", () => {
    const view = viewFromSnapshot(snapshot());
    expect(renderLive(view, new Date(T0 + 1000))).toBe(
      ["batch wf_01JDQ0000000000000000000AB  running 1.0s", "1/3 steps done, 1 running, 0 retrying, 0 failed", "  ✔ prepare   completed in 250ms", "  ▶ flaky     running 750ms", "  · finalize  pending"].join("\n"),
    );
    applyEvent(view, stepEvent(4, "flaky", StepState.RUNNING, StepState.RETRY_WAIT, 1100, 1, { reason: "http_status", message: "HTTP 503: busy", httpStatus: 503 }));
    view.steps[1].nextAttemptAt = new Date(T0 + 3100);
    const live = renderLive(view, new Date(T0 + 1600));
    expect(live).toContain("1/3 steps done, 0 running, 1 retrying, 0 failed");
    expect(live).toContain("  ↻ flaky     retrying: attempt 2 in 1.5s\n      http_status (HTTP 503): HTTP 503: busy");
    applyEvent(view, stepEvent(5, "flaky", StepState.RETRY_WAIT, StepState.RUNNING, 3100, 2));
    applyEvent(view, stepEvent(6, "flaky", StepState.RUNNING, StepState.COMPLETED, 3200, 2));
    applyEvent(view, stepEvent(7, "finalize", StepState.PENDING, StepState.FAILED, 3300, 1, { reason: "http_status", message: "HTTP 500: boom", httpStatus: 500 }));
    applyEvent(
      view,
      create(WorkflowEventSchema, { sequence: 8n, time: at(3400), transition: { case: "run", value: { fromState: WorkflowState.RUNNING, toState: WorkflowState.FAILED } }, error: { reason: "step_failed", message: 'step "finalize" failed' } }),
    );
    expect(renderLive(view, new Date(T0 + 9999))).toContain("  ✔ flaky     completed in 3.0s (2 attempts)");
    expect(renderSummary(view)).toBe('Run wf_01JDQ0000000000000000000AB (batch) failed in 3.4s: 2/3 steps completed, 1 failed\n  error: step_failed: step "finalize" failed');
    expect(summaryRecord(view)).toMatchObject({
      type: "summary",
      state: "failed",
      durationMs: 3400,
      steps: [
        { id: "prepare", state: "completed", attempts: 1, durationMs: 250 },
        { id: "flaky", state: "completed", attempts: 2, durationMs: 2950 },
        { id: "finalize", state: "failed", attempts: 1, error: "http_status (HTTP 500): HTTP 500: boom" },
      ],
    });
    expect(exitCodeFor(view.state)).toBe(1);
  });

  it("writes an event as a JSON record with lower-case state names", () => {
    const e = stepEvent(4, "flaky", StepState.RUNNING, StepState.RETRY_WAIT, 1100, 1, { reason: "timeout", message: "no answer in 5s" });
    expect(eventRecord(e, { nextAttemptAt: new Date(T0 + 2000) })).toEqual({
      type: "event",
      runId: "wf_01JDQ0000000000000000000AB",
      sequence: 4,
      time: "2026-01-01T12:00:01.100Z",
      kind: "step",
      stepId: "flaky",
      from: "running",
      to: "retry_wait",
      attempt: 1,
      error: { reason: "timeout", message: "no answer in 5s", retryable: false },
      nextAttemptAt: "2026-01-01T12:00:02.000Z",
    });
  });

  it("writes an item event with its index, and leaves the step's line alone", () => {
    const e = create(WorkflowEventSchema, {
      sequence: 9n,
      time: timestampFromMs(T0 + 500),
      runId: "wf_01JDQ0000000000000000000AB",
      workflowId: "w",
      stepId: "process",
      transition: { case: "item", value: { fromState: StepState.RUNNING, toState: StepState.RETRY_WAIT } },
      attempt: 1,
      itemIndex: 42,
    });
    expect(eventRecord(e)).toMatchObject({ kind: "item", stepId: "process", item: 42, from: "running", to: "retry_wait", attempt: 1 });
    const view = viewFromSnapshot(create(WorkflowSchema, { id: "wf_01JDQ0000000000000000000AB", workflowId: "w", state: WorkflowState.RUNNING, steps: [{ id: "process", state: StepState.RUNNING, attempts: 1 }] }));
    applyEvent(view, e);
    expect(view.steps[0].state).toBe(StepState.RUNNING);
  });

  it("maps how a run ended to the exit code, and formats durations", () => {
    expect([WorkflowState.COMPLETED, WorkflowState.FAILED, WorkflowState.CANCELLED].map(exitCodeFor)).toEqual([0, 1, 3]);
    expect([0, 999, 1500, 65_000, 3_700_000].map(formatDuration)).toEqual(["0ms", "999ms", "1.5s", "1m05s", "1h01m"]);
  });
});

describe("map steps and join outcomes in the view", () => {
  const counts = (c: Partial<Record<"total" | "pending" | "running" | "retryWait" | "completed" | "failed" | "cancelled", number>>) => ({
    total: 0, pending: 0, running: 0, retryWait: 0, completed: 0, failed: 0, cancelled: 0, ...c,
  });

  it("says a map step's items: settled of all, then the states that have any", () => {
    expect(itemsText(counts({ total: 10_000, completed: 6_117, failed: 3, running: 200, pending: 3_680 }))).toBe("6,120/10,000 items, 200 running, 3 failed");
    expect(itemsText(counts({ total: 10_000, completed: 10_000 }))).toBe("10,000/10,000 items");
    expect(itemsText(counts({ total: 5, completed: 1, failed: 1, cancelled: 3, retryWait: 0 }))).toBe("5/5 items, 1 failed, 3 cancelled");
    expect(itemsText(counts({ total: 3, running: 1, retryWait: 2 }))).toBe("0/3 items, 1 running, 2 retrying");
  });

  it("shows a map step's counts on its line, updates them from GetWorkflow, and sums them up at the end", () => {
    const run = create(WorkflowSchema, {
      id: "wf_01JDQ0000000000000000000MP",
      workflowId: "batch",
      state: WorkflowState.RUNNING,
      createdAt: at(0),
      startedAt: at(0),
      steps: [
        { id: "prepare", state: StepState.COMPLETED, attempts: 1, startedAt: at(0), completedAt: at(100) },
        { id: "process", state: StepState.RUNNING, attempts: 3, startedAt: at(100), definition: { id: "process", forEach: "/prepare/result/items" }, items: counts({ total: 10_000, completed: 6_117, failed: 3, running: 50, pending: 3_830 }) },
        { id: "finalize", state: StepState.PENDING, definition: { id: "finalize" } },
      ],
    });
    const view = viewFromSnapshot(run);
    expect(hasLiveItems(view)).toBe(true);
    // Its own attempt count says nothing for a map step: not shown.
    expect(renderLive(view, new Date(T0 + 2100))).toContain("  ▶ process   running 2.0s  6,120/10,000 items, 50 running, 3 failed");
    const later = create(WorkflowSchema, {
      steps: [{ id: "process", state: StepState.COMPLETED, items: counts({ total: 10_000, completed: 9_997, failed: 3 }) }],
    });
    applyEvent(view, stepEvent(9, "process", StepState.RUNNING, StepState.COMPLETED, 5100, 0));
    // Settled, but its last counts have items in flight: still polled.
    expect(hasLiveItems(view)).toBe(true);
    applyItemCounts(view, later.steps);
    expect(hasLiveItems(view)).toBe(false);
    expect(view.steps[1].items).toEqual(counts({ total: 10_000, completed: 9_997, failed: 3 }));
    expect(renderLive(view, new Date(T0 + 6000))).toContain("  ✔ process   completed in 5.0s  10,000/10,000 items, 3 failed");
    applyEvent(view, stepEvent(10, "finalize", StepState.PENDING, StepState.RUNNING, 5200, 1));
    applyEvent(view, stepEvent(11, "finalize", StepState.RUNNING, StepState.COMPLETED, 5300, 1));
    applyEvent(view, create(WorkflowEventSchema, { sequence: 12n, time: at(5400), transition: { case: "run", value: { fromState: WorkflowState.RUNNING, toState: WorkflowState.COMPLETED } } }));
    expect(hasLiveItems(view)).toBe(false);
    expect(renderSummary(view)).toBe("Run wf_01JDQ0000000000000000000MP (batch) completed in 5.4s: 3/3 steps completed\n  process: 10,000/10,000 items, 3 failed");
    expect(summaryRecord(view).steps).toContainEqual(expect.objectContaining({ id: "process", items: counts({ total: 10_000, completed: 9_997, failed: 3 }) }));
  });

  it("says what a join decided: a step cancelled as not needed, a step skipped because its join failed", () => {
    const view = viewFromSnapshot(
      create(WorkflowSchema, {
        id: "wf_01JDQ0000000000000000000JN",
        workflowId: "race",
        state: WorkflowState.RUNNING,
        steps: [
          { id: "fast", state: StepState.COMPLETED, attempts: 1, startedAt: at(0), completedAt: at(100) },
          { id: "slow", state: StepState.RUNNING, attempts: 1, startedAt: at(0) },
          { id: "first", state: StepState.PENDING },
          { id: "quorum", state: StepState.PENDING },
        ],
      }),
    );
    applyEvent(view, stepEvent(5, "slow", StepState.RUNNING, StepState.CANCELLED, 200, 1, { reason: "not_needed", message: 'not needed: step "first" went on without it' }));
    applyEvent(view, stepEvent(6, "quorum", StepState.PENDING, StepState.SKIPPED, 200, 0, { reason: "join_failed", message: 'step "quorum" cannot run (join at_least 2): needs at least 2 of 2 to complete; 1 failed' }));
    const live = renderLive(view, new Date(T0 + 300));
    expect(live).toContain('  ■ slow    cancelled in 200ms: not needed\n      not needed: step "first" went on without it');
    expect(live).toContain('  - quorum  skipped: join failed\n      step "quorum" cannot run (join at_least 2): needs at least 2 of 2 to complete; 1 failed');
    applyEvent(view, create(WorkflowEventSchema, { sequence: 7n, time: at(300), transition: { case: "run", value: { fromState: WorkflowState.RUNNING, toState: WorkflowState.FAILED } }, error: { reason: "join_failed", message: "…" } }));
    const summary = renderSummary(view);
    expect(summary).toContain("  slow: cancelled, not needed");
    expect(summary).toContain("  quorum: skipped, join failed");
    expect(summaryRecord(view).steps).toContainEqual(expect.objectContaining({ id: "slow", state: "cancelled", reason: "not_needed" }));
  });
});

describe("queued for a concurrency key", () => {
  it("the live view says a step or the run is queued, from the snapshot and from events", () => {
    const w = snapshot();
    w.steps[2].waitingFor = "concurrency_key";
    const view = viewFromSnapshot(w);
    expect(renderLive(view, new Date(T0 + 1000))).toContain("  · finalize  queued (concurrency key)");
    applyEvent(view, stepEvent(4, "finalize", StepState.PENDING, StepState.RUNNING, 1100, 1));
    expect(renderLive(view, new Date(T0 + 1200))).toContain("  ▶ finalize  running 100ms");
    const queuedRun = create(WorkflowEventSchema, {
      sequence: 5n,
      time: at(1300),
      runId: w.id,
      transition: { case: "run", value: { fromState: WorkflowState.PENDING, toState: WorkflowState.PENDING } },
      waitingFor: "concurrency_key",
    });
    applyEvent(view, queuedRun);
    expect(renderLive(view, new Date(T0 + 1400)).split("\n")[0]).toContain("pending (queued: concurrency key)");
    expect(eventRecord(queuedRun)).toMatchObject({ kind: "run", from: "pending", to: "pending", waitingFor: "concurrency_key" });
  });
});

describe("a paused run in the live view", () => {
  it("shows the pause's reason and a held deadline from a snapshot; a pause seen live shows as paused; resume clears it", () => {
    const paused = create(WorkflowSchema, { ...snapshot(), state: WorkflowState.PAUSED, pauseReason: "incident 7", deadlineHeld: true });
    const view = viewFromSnapshot(paused);
    expect(renderLive(view, new Date(T0 + 1000)).split("\n")[0]).toBe("batch wf_01JDQ0000000000000000000AB  paused (incident 7, deadline held) 1.0s");
    const runEvent = (sequence: number, from: WorkflowState, to: WorkflowState) =>
      create(WorkflowEventSchema, { sequence: BigInt(sequence), time: at(1100), runId: paused.id, transition: { case: "run", value: { fromState: from, toState: to } } });
    applyEvent(view, runEvent(4, WorkflowState.PAUSED, WorkflowState.RUNNING));
    expect(renderLive(view, new Date(T0 + 1200)).split("\n")[0]).toBe("batch wf_01JDQ0000000000000000000AB  running 1.2s");
    applyEvent(view, runEvent(5, WorkflowState.RUNNING, WorkflowState.PAUSED));
    expect(renderLive(view, new Date(T0 + 1300)).split("\n")[0]).toBe("batch wf_01JDQ0000000000000000000AB  paused 1.3s");
  });
});
