// Label and time filters on 10,000 runs, inserted through the stores directly:
// the answers match the runs, and they come from indexes (SQLite: EXPLAIN QUERY
// PLAN; MongoDB: explain() where the server has it, else the indexes exist).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createdEvent, type RunRecord, type RunState } from "../../src/domain/run-record.ts";
import type { ListRunsQuery, WorkflowStore } from "../../src/ports/workflow-store.ts";
import { listFilter, MongoWorkflowStore } from "../../src/store/mongo/mongo-store.ts";
import { SqliteWorkflowStore } from "../../src/store/sqlite-store.ts";
import { describeMongo, newTestDbName } from "../support/mongo-server.ts";
import { allPages, expected, labelledRun, moveTo } from "./run-search.contract.ts";

const RUNS = 10_000;
const BASE = Date.UTC(2026, 5, 1);

/** 10,000 runs over ~3 hours: 20 tenants, a rare label on 1 in 500, every 4th completed. */
async function fill(store: WorkflowStore): Promise<{ run: RunRecord; state: RunState }[]> {
  const runs: { run: RunRecord; state: RunState }[] = [];
  const CHUNK = 500;
  for (let from = 0; from < RUNS; from += CHUNK) {
    const chunk: { run: RunRecord; state: RunState }[] = [];
    for (let i = from; i < from + CHUNK; i++) {
      const labels: Record<string, string> = { tenant: `t${i % 20}`, env: i % 3 === 0 ? "prod" : "dev" };
      if (i % 500 === 7) labels.incident = "inc-42";
      chunk.push({ run: labelledRun({ workflowId: i % 2 === 0 ? "orders" : "refunds", labels, now: BASE + i * 1000 }), state: i % 4 === 0 ? "completed" : "pending" });
    }
    await Promise.all(chunk.map(({ run }) => store.createRun(run, [createdEvent(run)])));
    await Promise.all(chunk.filter((r) => r.state === "completed").map(({ run }) => moveTo(store, run, "completed", run.createdAt + 10)));
    runs.push(...chunk);
  }
  return runs;
}

const QUERIES: Omit<ListRunsQuery, "limit">[] = [
  { states: [], labels: [["incident", "inc-42"]] },
  { states: [], labels: [["tenant", "t3"], ["env", "prod"]], createdAfter: BASE + 2_000_000, createdBefore: BASE + 4_000_000 },
  { states: ["completed"], labels: [["tenant", "t4"]] },
  { states: [], createdAfter: BASE + 9_990_000 },
  { states: ["completed"], workflowId: "orders", createdBefore: BASE + 400_000 },
];

async function checkAnswers(store: WorkflowStore, runs: { run: RunRecord; state: RunState }[]): Promise<void> {
  for (const q of QUERIES) {
    const want = expected(runs, q);
    expect(want.length, JSON.stringify(q)).toBeGreaterThan(0);
    expect(await allPages(store, q, 100), JSON.stringify(q)).toEqual(want);
  }
}

describe("10,000 runs on SQLite", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-search-"));
  let store: SqliteWorkflowStore;
  let runs: { run: RunRecord; state: RunState }[];
  beforeAll(async () => {
    store = new SqliteWorkflowStore({ dataDir });
    runs = await fill(store);
  }, 300_000);
  afterAll(async () => {
    await store?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("filters answer exactly the matching runs, newest first, across pages", async () => {
    await checkAnswers(store, runs);
  }, 120_000);

  test("filters are served by indexes, without a scan of the runs or a sort", () => {
    const page = { limit: 51, beforeRunId: runs[5000].run.runId };
    const plans = {
      label: store.explainList({ ...QUERIES[0], ...page }),
      labelsAndTime: store.explainList({ ...QUERIES[1], ...page }),
      time: store.explainList({ ...QUERIES[3], ...page }),
      workflowAndState: store.explainList({ states: ["completed"], workflowId: "orders", ...page }),
    };
    const all = Object.values(plans).flat();
    // No table is read in full, and no result set is sorted afterwards.
    for (const line of all) expect(line).not.toMatch(/^SCAN (runs|labels|run_specs)\b/);
    expect(all.join("\n")).not.toMatch(/USE TEMP B-TREE FOR ORDER BY/);
    expect(plans.label[0]).toMatch(/^SEARCH labels USING PRIMARY KEY \(key=\? AND value=\? AND run_id<\?\)/);
    expect(plans.labelsAndTime[0]).toMatch(/^SEARCH labels USING PRIMARY KEY \(key=\? AND value=\? AND run_id>\? AND run_id<\?\)/);
    expect(plans.time[0]).toMatch(/^SEARCH runs USING INDEX sqlite_autoindex_runs_1 \(run_id>\? AND run_id<\?\)/);
    expect(plans.workflowAndState[0]).toMatch(/^SEARCH runs USING INDEX runs_by_workflow_state \(workflow_id=\? AND state=\? AND run_id<\?\)/);
  });
});

describeMongo("10,000 runs on MongoDB", (mongo) => {
  let store: MongoWorkflowStore;
  let runs: { run: RunRecord; state: RunState }[];
  beforeAll(async () => {
    store = await MongoWorkflowStore.open({ uri: mongo().uri, database: newTestDbName(), leaseTtlMs: 30_000 });
    runs = await fill(store);
  }, 600_000);
  afterAll(async () => {
    await store?.close();
  });

  test("filters answer exactly the matching runs, newest first, across pages", async () => {
    await checkAnswers(store, runs);
  }, 300_000);

  test("the label, workflow-and-state and finish-time indexes exist; explain() shows them used where the server explains", async () => {
    const indexes = await store.runs.indexes();
    const byName = new Map(indexes.map((i) => [i.name, i.key]));
    expect(byName.get("labels_newest")).toEqual({ labels: 1, _id: -1 });
    expect(byName.get("workflow_state_newest")).toEqual({ workflowId: 1, state: 1, _id: -1 });
    expect(byName.get("finished_at")).toEqual({ finishedAt: 1 });
    let plan: unknown;
    try {
      plan = await store.runs.find(listFilter({ ...QUERIES[0], limit: 51 })).sort({ _id: -1 }).limit(51).explain("queryPlanner");
    } catch {
      plan = undefined;
    }
    const text = JSON.stringify(plan ?? {});
    if (mongo().kind === "mongo-java-server" && !text.includes("winningPlan")) {
      // mongo-java-server answers explain without a query plan: the indexes above are what can be shown.
      return;
    }
    expect(text).toContain("labels_newest");
    expect(text).not.toContain('"COLLSCAN"');
  });
});
