// The run machine with map steps (README "Map steps").
import { describe, expect, test } from "vitest";
import { compileWorkflow } from "../../src/domain/compile-workflow.ts";
import type { JoinPolicy } from "../../src/domain/join-policy.ts";
import { mapResult } from "../../src/domain/map-step.ts";
import { type Effects, RunMachine, type Work } from "../../src/domain/run-machine.ts";
import { applyPatch, newRunRecord, type RunRecord } from "../../src/domain/run-record.ts";
import { DEFAULT_LIMITS } from "../../src/domain/workflow-spec.ts";
import { type TestStep, testWorkflow } from "../support/test-workflow.ts";

function record(steps: TestStep[], context: unknown = {}): RunRecord {
  return newRunRecord("wf_TEST", testWorkflow(steps, { context }), 1000);
}

const fail = (retryable = false) => ({ error: { reason: "http_status", message: "HTTP 500", httpStatus: 500 }, retryable });
const items = (fx: Effects) => fx.dispatch.filter((w) => w.kind === "item").map((w) => w.item);

/** prepare → map (for_each /prepare/result) → collect. */
function mapRun(opts: { n: number; maxConcurrency?: number; itemFailures?: JoinPolicy; maxAttempts?: number }) {
  const m = new RunMachine(
    record([
      { id: "prepare" },
      {
        id: "map",
        dependsOn: ["prepare"],
        forEach: "/prepare/result",
        maxConcurrency: opts.maxConcurrency ?? 3,
        itemFailures: opts.itemFailures,
        retries: opts.maxAttempts ? { maxAttempts: opts.maxAttempts, jitter: 0, initialIntervalMs: 1000 } : undefined,
      },
      { id: "collect", dependsOn: ["map"] },
    ]),
    { random: () => 0.5 },
  );
  m.start(1);
  const fx = m.attemptSucceeded(0, 1, Array.from({ length: opts.n }, (_, i) => i * 10), 2);
  return { m, fx };
}

describe("map steps in the run machine", () => {
  test("bounded concurrency, results in item order, dependents see the array", () => {
    const { m, fx } = mapRun({ n: 7, maxConcurrency: 3 });
    expect(m.run.steps[1].state).toBe("running");
    expect(items(fx)).toEqual([0, 1, 2]);
    // Finish out of order: each completion starts exactly one more item.
    expect(items(m.itemSucceeded(1, 2, 1, "r2", 3))).toEqual([3]);
    expect(items(m.itemSucceeded(1, 0, 1, "r0", 4))).toEqual([4]);
    let inFlight = 0;
    for (const it of m.run.items![1]) if (it.state === "running") inFlight++;
    expect(inFlight).toBe(3);
    expect(items(m.itemSucceeded(1, 4, 1, "r4", 5))).toEqual([5]);
    expect(items(m.itemSucceeded(1, 1, 1, "r1", 6))).toEqual([6]);
    m.itemSucceeded(1, 3, 1, "r3", 7);
    m.itemSucceeded(1, 6, 1, "r6", 8);
    const last = m.itemSucceeded(1, 5, 1, "r5", 9);
    expect(m.run.steps[1].state).toBe("completed");
    expect(last.dispatch).toEqual([{ kind: "step", index: 2, attempt: 1 }]);
    expect(mapResult(m.run.items![1])).toEqual(["r0", "r1", "r2", "r3", "r4", "r5", "r6"]);
    expect(m.forEachValues(1)).toEqual([0, 10, 20, 30, 40, 50, 60]);
  });

  test("an item is retried on its own, keeping its slot", () => {
    const { m, fx } = mapRun({ n: 2, maxConcurrency: 1, maxAttempts: 3 });
    expect(items(fx)).toEqual([0]);
    const f1 = m.itemFailed(1, 0, 1, fail(true), 3);
    expect(f1.timers).toEqual([{ kind: "item", index: 1, item: 0, at: 1003 }]);
    expect(f1.dispatch).toEqual([]); // the waiting retry holds the only slot
    expect(m.run.items![1][0]).toMatchObject({ state: "retry_wait", attempts: 1 });
    expect(m.itemRetryDue(1, 0, 1003).dispatch).toEqual([{ kind: "item", index: 1, item: 0, attempt: 2 }]);
    m.itemFailed(1, 0, 2, fail(true), 1004);
    m.itemRetryDue(1, 0, 3004);
    expect(items(m.itemSucceeded(1, 0, 3, "ok", 3005))).toEqual([1]);
    expect(m.run.items![1][0]).toMatchObject({ state: "completed", attempts: 3, result: "ok" });
    // A stale outcome of an earlier attempt is ignored.
    expect(m.itemSucceeded(1, 0, 1, "late", 3006).dispatch).toEqual([]);
  });

  test("an item's error message is kept short (10,000 failed items fit in a store document)", () => {
    const { m } = mapRun({ n: 2, maxConcurrency: 2, itemFailures: { kind: "all_settled" } });
    m.itemFailed(1, 0, 1, { error: { reason: "handler_error", message: "x".repeat(5000) }, retryable: false }, 3);
    expect(m.run.items![1][0].error!.message.length).toBeLessThanOrEqual(128);
    expect(m.run.items![1][0].error!.message).toMatch(/truncated\]$/);
  });

  test("all (default): one failed item fails the step and the run; unfinished items are cancelled", () => {
    const { m } = mapRun({ n: 5, maxConcurrency: 2 });
    const fx = m.itemFailed(1, 1, 1, fail(), 3);
    expect(fx.abortItems).toEqual([{ index: 1, item: 0 }]);
    expect(m.run.steps[1]).toMatchObject({ state: "failed", error: { reason: "items_failed" } });
    expect(m.run.items![1].map((i) => i.state)).toEqual(["cancelled", "failed", "cancelled", "cancelled", "cancelled"]);
    expect(m.run.state).toBe("failed");
    expect(m.run.steps[2].state).toBe("skipped");
  });

  test("all_settled: failures are tolerated and dependents see {state, error}", () => {
    const { m } = mapRun({ n: 3, maxConcurrency: 3, itemFailures: { kind: "all_settled" } });
    m.itemSucceeded(1, 0, 1, "a", 3);
    m.itemFailed(1, 1, 1, fail(), 4);
    const fx = m.itemSucceeded(1, 2, 1, "c", 5);
    expect(fx.dispatch).toEqual([{ kind: "step", index: 2, attempt: 1 }]);
    const result = mapResult(m.run.items![1]);
    expect(result[0]).toBe("a");
    expect(result[1]).toMatchObject({ state: "failed", error: { reason: "http_status", httpStatus: 500 } });
    expect(result[2]).toBe("c");
  });

  test("at_least and tolerated_failure_percent fail as soon as out of reach; any completes at the first success", () => {
    const a = mapRun({ n: 4, maxConcurrency: 4, itemFailures: { kind: "at_least", count: 3 } }).m;
    a.itemFailed(1, 0, 1, fail(), 3);
    expect(a.run.steps[1].state).toBe("running");
    const fa = a.itemFailed(1, 1, 1, fail(), 4);
    expect(a.run.steps[1].state).toBe("failed");
    expect(fa.abortItems.map((x) => x.item)).toEqual([2, 3]);

    const p = mapRun({ n: 10, maxConcurrency: 2, itemFailures: { kind: "tolerated_failure_percent", percent: 10 } }).m;
    p.itemFailed(1, 0, 1, fail(), 3);
    expect(p.run.steps[1].state).toBe("running");
    p.itemFailed(1, 1, 1, fail(), 4);
    expect(p.run.steps[1].state).toBe("failed");

    const y = mapRun({ n: 5, maxConcurrency: 2, itemFailures: { kind: "any" } }).m;
    y.itemFailed(1, 0, 1, fail(), 3);
    const fy = y.itemSucceeded(1, 2, 1, "win", 4);
    expect(y.run.steps[1].state).toBe("completed");
    expect(fy.abortItems).toEqual([{ index: 1, item: 1 }]); // in flight, no longer needed
    expect(y.run.items![1].map((i) => i.state)).toEqual(["failed", "cancelled", "completed", "cancelled", "cancelled"]);
    expect(y.run.items![1][1].error?.reason).toBe("not_needed");
  });

  test("an empty list completes at once with []; a non-array or a too long list fails the step, not retried", () => {
    const e = mapRun({ n: 0 });
    expect(e.m.run.steps[1].state).toBe("completed");
    expect(e.fx.dispatch).toEqual([{ kind: "step", index: 2, attempt: 1 }]);

    const m = new RunMachine(record([{ id: "map", forEach: "/context/list", retries: { maxAttempts: 5, jitter: 0 } }], { list: { not: "an array" } }));
    const fx = m.start(1);
    expect(fx.terminal).toBe(true);
    expect(m.run.steps[0]).toMatchObject({ state: "failed", error: { reason: "invalid_for_each", retryable: false } });
    expect(m.run.steps[0].error?.message).toContain("not an array");

    const big = new RunMachine(record([{ id: "map", forEach: "/context/list" }], { list: Array.from({ length: 10_001 }, () => 0) }));
    big.start(1);
    expect(big.run.steps[0].error?.message).toContain("more than the maximum of 10000");
  });

  test("cancel and the deadline abort items in flight and cancel the rest", () => {
    for (const how of ["cancel", "deadline"] as const) {
      const { m } = mapRun({ n: 5, maxConcurrency: 2 });
      m.itemSucceeded(1, 0, 1, "a", 3);
      const fx = how === "cancel" ? m.cancel(4, "cancelled by request") : m.deadlineReached(99_999_999_999);
      expect(fx.abortItems).toEqual([{ index: 1, item: 1 }, { index: 1, item: 2 }]);
      expect(m.run.steps[1].state).toBe("cancelled");
      expect(m.run.items![1].map((i) => i.state)).toEqual(["completed", "cancelled", "cancelled", "cancelled", "cancelled"]);
      expect(m.run.state).toBe(how === "cancel" ? "cancelled" : "failed");
    }
  });

  test("patches carry the item list once, then single items; a restart re-sends only running items", () => {
    const { m } = mapRun({ n: 100, maxConcurrency: 5, maxAttempts: 3 });
    const stored = structuredClone(m.run);
    stored.items = undefined;
    stored.version = 1;
    // Rebuild the stored copy from the patches, as a store does.
    const first = m.takePatch()!;
    expect(first.itemLists).toHaveLength(1);
    expect(first.itemLists![0].records).toHaveLength(100);
    const replay = structuredClone(m.run);
    m.itemSucceeded(1, 0, 1, "a", 3);
    m.itemFailed(1, 1, 1, fail(true), 4);
    const second = m.takePatch()!;
    expect(second.itemLists).toBeUndefined();
    expect(second.items!.map((x) => x.index).sort((a, b) => a - b)).toEqual([0, 1, 5]);
    expect(second.events.filter((e) => e.kind === "item")).toMatchObject([{ item: 1, from: "running", to: "retry_wait", attempt: 1 }]);
    applyPatch(replay, second);
    expect(replay.items![1]).toEqual(m.run.items![1]);

    const again = new RunMachine(structuredClone(replay));
    const fx = again.recover(5);
    const sent = fx.dispatch.map((w: Work) => w.item).sort((a, b) => a! - b!);
    expect(sent).toEqual([2, 3, 4, 5]);
    expect(fx.timers).toEqual([{ kind: "item", index: 1, item: 1, at: 1004 }]);
    expect(fx.dispatch.every((w) => w.kind === "item" && w.attempt === 1)).toBe(true);
  });

  test("validation names the field", () => {
    const bad = (s: TestStep[]) => {
      const r = compileWorkflow(
        { id: "wf", steps: s.map((x) => ({ url: "https://h.test/x", dependsOn: [], parallel: false, compensation: "", ...x })), onComplete: "", onError: "", saga: false, baseUrl: "", requestId: "" },
        DEFAULT_LIMITS,
      );
      return r.ok ? [] : r.violations.map((v) => `${v.field}: ${v.description}`);
    };
    expect(bad([{ id: "a", forEach: "items" }])[0]).toMatch(/^steps\[0\]\.for_each: must be a JSON pointer/);
    expect(bad([{ id: "a", forEach: "/context/~2" }])[0]).toMatch(/^steps\[0\]\.for_each: invalid JSON pointer/);
    expect(bad([{ id: "p" }, { id: "a", forEach: "/p/result" }])[0]).toMatch(/^steps\[1\]\.for_each: points into step "p", which is not in depends_on/);
    expect(bad([{ id: "p" }, { id: "a", forEach: "/p/items" }])[0]).toMatch(/^steps\[1\]\.for_each: must start with \/context/);
    expect(bad([{ id: "a", forEach: "/context/x", maxConcurrency: 1001 }])[0]).toMatch(/^steps\[0\]\.max_concurrency: must be between 1 and 1000/);
    expect(bad([{ id: "a", forEach: "/context/x", maxConcurrency: -1 }])[0]).toMatch(/^steps\[0\]\.max_concurrency/);
    expect(bad([{ id: "a", maxConcurrency: 5 }])[0]).toMatch(/^steps\[0\]\.max_concurrency: only a map step/);
    expect(bad([{ id: "a", itemFailures: { kind: "any" } }])[0]).toMatch(/^steps\[0\]\.item_failures: only a map step/);
    expect(bad([{ id: "a", forEach: "/context/x", itemFailures: { kind: "tolerated_failure_percent", percent: 101 } }])[0]).toMatch(
      /^steps\[0\]\.item_failures\.tolerated_failure_percent/,
    );
    expect(bad([{ id: "a", forEach: "/context/x", itemFailures: { kind: "any" }, maxConcurrency: 50 }])).toEqual([]);
  });
});
