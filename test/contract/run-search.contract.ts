// Labels, list filters and deletion: every WorkflowStore implementation runs
// these tests (test/contract/<store>.test.ts supplies the factory).
import { beforeEach, describe, expect, test } from "vitest";
import { RunMachine } from "../../src/domain/run-machine.ts";
import { createdEvent, newRunRecord, type RunRecord, type RunState } from "../../src/domain/run-record.ts";
import { RunIdGenerator } from "../../src/domain/run-id.ts";
import { matchesFilter } from "../../src/domain/run-labels.ts";
import type { ListRunsQuery, WorkflowStore } from "../../src/ports/workflow-store.ts";
import { testWorkflow } from "../support/test-workflow.ts";
import type { StoreHarness } from "./workflow-store.contract.ts";

export function labelledRun(opts: { workflowId?: string; labels?: Record<string, string>; now: number }): RunRecord {
  const spec = testWorkflow([{ id: "a" }], { id: opts.workflowId ?? "search", labels: opts.labels });
  // A generator of its own: the shared one would move ids of earlier times to its latest time.
  return newRunRecord(new RunIdGenerator().next(opts.now), spec, opts.now);
}

/** Moves a created run to `state` (running, or a finished state at time `at`) and commits it. */
export async function moveTo(store: WorkflowStore, run: RunRecord, state: RunState, at: number): Promise<void> {
  const m = new RunMachine(run);
  m.start(at);
  if (state === "cancelled") m.cancel(at, "test");
  else if (state === "completed") m.attemptSucceeded(0, 1, { ok: true }, at);
  else if (state === "failed") m.attemptFailed(0, 1, { retryable: false, error: { message: "no", reason: "handler_error" } }, at);
  await store.commit(m.takePatch()!);
}

/** Every page of a query, `limit` runs at a time (the service asks one more than it shows). */
export async function allPages(store: WorkflowStore, query: Omit<ListRunsQuery, "limit" | "beforeRunId">, limit: number): Promise<string[]> {
  const out: string[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await store.listRunSummaries({ ...query, beforeRunId: before, limit: limit + 1 });
    out.push(...page.slice(0, limit).map((r) => r.runId));
    if (page.length <= limit) return out;
    before = page[limit - 1].runId;
  }
}

/** What a query should answer, computed from the runs themselves, newest first. */
export function expected(runs: { run: RunRecord; state: RunState }[], query: Omit<ListRunsQuery, "limit">): string[] {
  return runs
    .filter(({ run, state }) =>
      (query.states.length === 0 || query.states.includes(state)) &&
      (!query.workflowId || run.spec.workflowId === query.workflowId) &&
      matchesFilter(query, run.spec.labels, run.createdAt))
    .map(({ run }) => run.runId)
    .sort()
    .reverse();
}

export function describeRunSearchContract(name: string, open: () => Promise<StoreHarness>): void {
  describe(`run labels, filters and deletion: ${name}`, () => {
    let h: StoreHarness;
    beforeEach(async () => {
      h = await open();
      return async () => {
        await h.store.close();
      };
    });

    test("labels are kept with the run: in the record, the summaries and after reopening", async () => {
      const run = labelledRun({ labels: { team: "payments", "env/region": "eu-1" }, now: Date.now() });
      await h.store.createRun(run, [createdEvent(run)]);
      expect((await h.store.getRun(run.runId))!.spec.labels).toEqual({ "env/region": "eu-1", team: "payments" });
      const [summary] = await h.store.listRunSummaries({ states: [], labels: [["team", "payments"]], limit: 10 });
      expect(summary.spec.labels).toEqual({ "env/region": "eu-1", team: "payments" });
      const store = await h.reopen();
      expect((await store.getRun(run.runId))!.spec.labels).toEqual({ "env/region": "eu-1", team: "payments" });
    });

    test("filters by labels, creation time, workflow id and state answer what the runs say, page after page", async () => {
      const base = Date.UTC(2026, 0, 1);
      const runs: { run: RunRecord; state: RunState }[] = [];
      const states: RunState[] = ["pending", "running", "completed", "cancelled"];
      for (let i = 0; i < 120; i++) {
        const labels: Record<string, string> = { tenant: `t${i % 3}` };
        if (i % 2 === 0) labels.tier = "gold";
        if (i % 5 === 0) labels.tier = "silver";
        const run = labelledRun({ workflowId: i % 4 === 0 ? "billing" : "search", labels: i % 7 === 6 ? undefined : labels, now: base + i * 1000 });
        await h.store.createRun(run, [createdEvent(run)]);
        const state = states[i % 4];
        if (state !== "pending") await moveTo(h.store, run, state, base + i * 1000 + 1);
        runs.push({ run, state });
      }
      const queries: Omit<ListRunsQuery, "limit">[] = [
        { states: [], labels: [["tenant", "t1"]] },
        { states: [], labels: [["tenant", "t1"], ["tier", "gold"]] },
        { states: ["completed"], labels: [["tier", "silver"]] },
        { states: [], labels: [["tenant", "t9"]] },
        { states: [], createdAfter: base + 30_000, createdBefore: base + 61_000 },
        { states: [], labels: [["tenant", "t0"]], createdAfter: base + 20_500, createdBefore: base + 100_000 },
        { states: ["running", "cancelled"], workflowId: "search" },
        { states: ["pending"], workflowId: "billing", createdBefore: base + 50_000 },
        { states: [], createdAfter: base + 1_000_000 },
      ];
      for (const q of queries) {
        const want = expected(runs, q);
        expect(await allPages(h.store, q, 7), JSON.stringify(q)).toEqual(want);
        expect((await h.store.listRuns({ ...q, limit: 5 })).map((r) => r.runId), JSON.stringify(q)).toEqual(want.slice(0, 5));
      }
      // Sanity: the queries are not all empty.
      expect(expected(runs, queries[1]).length).toBeGreaterThan(5);
    });

    test("deleteRun removes a finished run with its events and labels; running and unknown runs are reported", async () => {
      const now = Date.now();
      const done = labelledRun({ labels: { del: "yes" }, now });
      const live = labelledRun({ labels: { del: "yes" }, now: now + 1 });
      for (const r of [done, live]) await h.store.createRun(r, [createdEvent(r)]);
      await moveTo(h.store, done, "completed", now + 2);
      await moveTo(h.store, live, "running", now + 2);
      // A store that copies events after the commit may need a moment before the run can go.
      await expect.poll(async () => (await h.store.deleteRun(done.runId)).deleted, { timeout: 10_000 }).toBe(true);
      expect(await h.store.getRun(done.runId)).toBeUndefined();
      expect(await h.store.listEvents(done.runId, 0, 100)).toEqual([]);
      expect((await h.store.listRunSummaries({ states: [], labels: [["del", "yes"]], limit: 10 })).map((r) => r.runId)).toEqual([live.runId]);
      expect(await h.store.deleteRun(live.runId)).toEqual({ deleted: false, found: true, state: "running", webhookPending: false });
      expect(await h.store.getRun(live.runId)).toBeDefined();
      expect(await h.store.deleteRun(done.runId)).toEqual({ deleted: false, found: false });
    });

    test("deleteFinishedRuns deletes runs finished before the cutoff, at most `limit` at a time, and keeps the rest", async () => {
      const t0 = Date.UTC(2026, 0, 1);
      const old = Array.from({ length: 5 }, (_, i) => labelledRun({ labels: { batch: "old" }, now: t0 + i }));
      const recent = labelledRun({ now: t0 + 10 });
      const running = labelledRun({ now: t0 + 11 });
      for (const r of [...old, recent, running]) await h.store.createRun(r, [createdEvent(r)]);
      for (const r of old) await moveTo(h.store, r, "failed", t0 + 100);
      await moveTo(h.store, recent, "completed", t0 + 10_000);
      await moveTo(h.store, running, "running", t0 + 100);
      let deleted = 0;
      await expect
        .poll(async () => {
          deleted += await h.store.deleteFinishedRuns(t0 + 5_000, 2);
          return deleted;
        }, { timeout: 10_000 })
        .toBe(5);
      expect(await h.store.deleteFinishedRuns(t0 + 5_000, 2)).toBe(0);
      for (const r of old) {
        expect(await h.store.getRun(r.runId)).toBeUndefined();
        expect(await h.store.listEvents(r.runId, 0, 10)).toEqual([]);
      }
      expect(await h.store.getRun(recent.runId)).toBeDefined();
      expect(await h.store.getRun(running.runId)).toBeDefined();
      expect(await h.store.listRunSummaries({ states: [], labels: [["batch", "old"]], limit: 10 })).toEqual([]);
    });
  });
}
