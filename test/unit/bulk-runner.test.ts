// The bulk runner (src/engine/bulk-runner.ts): the per-call cap and the cursor to go on from,
// dry runs, which runs are skipped, refusals counted as skipped, other errors ending the call,
// and the pace. The engine is replaced by an in-memory list of runs (the runner is the subject;
// the single-run operations it calls are tested end to end in test/e2e/pause.test.ts).
import { describe, expect, test } from "vitest";
import type { RunState, RunSummary } from "../../src/domain/run-record.ts";
import { runBulkAction } from "../../src/engine/bulk-runner.ts";
import { type Engine, RunFinishedError } from "../../src/engine/engine.ts";
import type { ListRunsQuery } from "../../src/ports/workflow-store.ts";

function fakeEngine(states: RunState[], fail?: (runId: string) => Error | undefined) {
  // Newest first, as the store lists them: run ids sort by creation.
  const runs = states.map((state, i) => ({ runId: `wf_${String(i).padStart(4, "0")}`, state }) as unknown as RunSummary);
  const acted: string[] = [];
  const engine = {
    async listSummaries(q: ListRunsQuery) {
      return runs
        .filter((r) => q.beforeRunId === undefined || r.runId < q.beforeRunId)
        .filter((r) => q.states.length === 0 || q.states.includes(r.state))
        .sort((a, b) => (a.runId < b.runId ? 1 : -1))
        .slice(0, q.limit);
    },
    async cancel(runId: string) {
      const err = fail?.(runId);
      if (err) throw err;
      acted.push(runId);
      return {};
    },
  } as unknown as Engine;
  return { engine, acted };
}

const base = { query: { states: [] as RunState[] }, action: "cancel" as const, dryRun: false, reason: "", ratePerSec: 100_000 };

describe("runBulkAction", () => {
  test("stops at the cap with the run to go on after; the next call goes on from there", async () => {
    const { engine, acted } = fakeEngine(Array.from({ length: 120 }, () => "running" as const));
    const first = await runBulkAction(engine, { ...base, cap: 50 });
    expect(first).toEqual({ matched: 50, affected: 50, skipped: 0, after: "wf_0070" });
    const second = await runBulkAction(engine, { ...base, cap: 50, query: { states: [], beforeRunId: first.after } });
    expect(second).toMatchObject({ matched: 50, affected: 50, after: "wf_0020" });
    const third = await runBulkAction(engine, { ...base, cap: 50, query: { states: [], beforeRunId: second.after } });
    expect(third).toEqual({ matched: 20, affected: 20, skipped: 0 });
    expect(new Set(acted).size).toBe(120);
  });

  test("a dry run acts on nothing; runs the action does not apply to are skipped", async () => {
    const { engine, acted } = fakeEngine(["running", "completed", "paused", "failed", "pending"]);
    expect(await runBulkAction(engine, { ...base, dryRun: true })).toEqual({ matched: 5, affected: 3, skipped: 2 });
    expect(acted).toEqual([]);
    expect(await runBulkAction(engine, base)).toEqual({ matched: 5, affected: 3, skipped: 2 });
    expect(acted.sort()).toEqual(["wf_0000", "wf_0002", "wf_0004"]);
  });

  test("a run that finished meanwhile is skipped; any other error ends the call", async () => {
    const { engine } = fakeEngine(["running", "running"], (id) => (id === "wf_0001" ? new RunFinishedError(id, "completed") : undefined));
    expect(await runBulkAction(engine, base)).toEqual({ matched: 2, affected: 1, skipped: 1 });
    const broken = fakeEngine(["running"], () => new Error("store unreachable"));
    await expect(runBulkAction(broken.engine, base)).rejects.toThrow("store unreachable");
  });

  test("is paced: n runs at r per second take at least (n - 1) / r seconds", async () => {
    const { engine } = fakeEngine(Array.from({ length: 11 }, () => "running" as const));
    const start = performance.now();
    await runBulkAction(engine, { ...base, ratePerSec: 100 });
    expect(performance.now() - start).toBeGreaterThanOrEqual(95);
  });
});
