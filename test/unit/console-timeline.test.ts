// The console's timeline (console/src/api/timeline.ts, a pure function): bars from a run's
// event log.
import { describe, expect, it } from "vitest";
import { buildTimeline, type TimelineEvent, WEBHOOK_ROW } from "../../console/src/api/timeline.ts";

let seq = 0;
const step = (stepId: string, time: number, from: string, to: string, attempt = 0, error?: string): TimelineEvent => ({
  sequence: ++seq,
  time,
  stepId,
  kind: "step",
  from,
  to,
  attempt,
  error: error === undefined ? undefined : { message: error },
});
const run = (time: number, from: string, to: string): TimelineEvent => ({ sequence: ++seq, time, stepId: "", kind: "run", from, to, attempt: 0 });
const comp = (stepId: string, time: number, from: string, to: string, attempt = 0): TimelineEvent => ({ sequence: ++seq, time, stepId, kind: "compensation", from, to, attempt });

describe("buildTimeline", () => {
  it("an attempt that fails, its retry wait, and the attempt that succeeds", () => {
    const events = [
      run(1000, "pending", "running"),
      step("a", 1000, "pending", "running", 1),
      step("a", 1100, "running", "retry_wait", 1, "HTTP 503"),
      step("a", 1600, "retry_wait", "running", 2),
      step("a", 1700, "running", "completed", 2),
      run(1700, "running", "completed"),
    ];
    const t = buildTimeline({ steps: [{ id: "a" }], createdAt: 990, completedAt: 1700 }, events, 5000);
    expect(t.rows).toEqual(["a"]);
    expect(t.bars).toEqual([
      { row: "a", kind: "attempt", attempt: 1, start: 1000, end: 1100, outcome: "retry_wait", message: "HTTP 503" },
      { row: "a", kind: "retry_wait", attempt: 1, start: 1100, end: 1600, outcome: "running" },
      { row: "a", kind: "attempt", attempt: 2, start: 1600, end: 1700, outcome: "completed" },
    ]);
    expect([t.start, t.end]).toEqual([990, 1700]);
  });

  it("events out of order are sorted by sequence; a running attempt stays open (drawn to now)", () => {
    const events = [step("a", 1000, "pending", "running", 1), run(900, "pending", "running")].reverse();
    const t = buildTimeline({ steps: [{ id: "a" }, { id: "b" }], createdAt: 900 }, events, 4000);
    expect(t.rows).toEqual(["a", "b"]);
    expect(t.bars).toEqual([{ row: "a", kind: "attempt", attempt: 1, start: 1000, outcome: "running" }]);
    expect(t.end).toBe(4000);
  });

  it("whatever is open when the run ends (cancelled) ends with it", () => {
    const events = [step("a", 1000, "pending", "running", 1), step("b", 1000, "pending", "running", 1), run(2000, "running", "cancelled")];
    const t = buildTimeline({ steps: [{ id: "a" }, { id: "b" }], createdAt: 1000, completedAt: 2000 }, events, 9000);
    expect(t.bars.map((b) => [b.row, b.end, b.outcome])).toEqual([
      ["a", 2000, "cancelled"],
      ["b", 2000, "cancelled"],
    ]);
  });

  it("compensation calls and their waits are bars of their own on the step's row", () => {
    const events = [
      step("a", 1000, "pending", "running", 1),
      step("a", 1100, "running", "completed", 1),
      run(1200, "running", "compensating"),
      comp("a", 1200, "pending", "running", 1),
      comp("a", 1300, "running", "retry_wait", 1),
      comp("a", 1500, "retry_wait", "running", 2),
      comp("a", 1550, "running", "succeeded", 2),
    ];
    const t = buildTimeline({ steps: [{ id: "a" }], createdAt: 1000 }, events, 2000);
    expect(t.bars.filter((b) => b.kind !== "attempt").map((b) => [b.kind, b.attempt, b.start, b.end, b.outcome])).toEqual([
      ["compensation", 1, 1200, 1300, "retry_wait"],
      ["compensation_wait", 1, 1300, 1500, "running"],
      ["compensation", 2, 1500, 1550, "succeeded"],
    ]);
  });

  it("the webhook delivery gets a row from the run's end to its delivery (or to now while pending)", () => {
    const base = { steps: [{ id: "a" }], createdAt: 1000, completedAt: 2000 };
    const delivered = buildTimeline({ ...base, webhook: { state: "delivered", attempts: 2, deliveredAt: 2600 } }, [], 9000);
    expect(delivered.rows).toEqual(["a", WEBHOOK_ROW]);
    expect(delivered.bars).toEqual([{ row: WEBHOOK_ROW, kind: "webhook", attempt: 2, start: 2000, end: 2600, outcome: "delivered", message: undefined }]);
    const pending = buildTimeline({ ...base, webhook: { state: "retry_wait", attempts: 1, lastError: { message: "HTTP 500" } } }, [], 9000);
    expect(pending.bars[0]).toMatchObject({ end: undefined, outcome: "retry_wait", message: "HTTP 500" });
    expect(pending.end).toBe(9000);
    expect(buildTimeline({ ...base, webhook: { state: "none", attempts: 0 } }, [], 9000).rows).toEqual(["a"]);
  });
});
