// The store contract: every WorkflowStore implementation runs these tests
// (test/contract/<store>.test.ts supplies the factory).
import { beforeEach, describe, expect, test } from "vitest";
import { RunMachine } from "../../src/domain/run-machine.ts";
import { createdEvent, newRunRecord, type RunRecord } from "../../src/domain/run-record.ts";
import { RunIdGenerator } from "../../src/domain/run-id.ts";
import { planRerun, rerunRecord } from "../../src/domain/rerun.ts";
import { VersionConflictError, type WorkflowStore } from "../../src/ports/workflow-store.ts";
import { testWorkflow } from "../support/test-workflow.ts";
import type { ConcurrencySlots } from "../../src/ports/concurrency-slots.ts";

export interface StoreHarness {
  store: WorkflowStore;
  /** Closes the store and opens a new instance on the same data. */
  reopen(): Promise<WorkflowStore>;
}

const ids = new RunIdGenerator();

export function newRun(opts: { workflowId?: string; requestId?: string; now?: number } = {}): RunRecord {
  const spec = testWorkflow([{ id: "a" }, { id: "b", dependsOn: ["a"] }], {
    id: opts.workflowId ?? "contract",
    context: { k: "v", n: [1, 2] },
    requestId: opts.requestId ?? "",
  });
  const now = opts.now ?? Date.now();
  return newRunRecord(ids.next(now), spec, now);
}

async function create(store: WorkflowStore, run: RunRecord) {
  return store.createRun(run, [createdEvent(run)]);
}

export function describeStoreContract(name: string, open: () => Promise<StoreHarness>): void {
  describe(`WorkflowStore contract: ${name}`, () => {
    let h: StoreHarness;
    beforeEach(async () => {
      h = await open();
      return async () => {
        await h.store.close();
      };
    });

    test("a created run reads back identically, with its first event", async () => {
      const run = newRun();
      const res = await create(h.store, run);
      expect(res.created).toBe(true);
      expect(await h.store.getRun(run.runId)).toEqual(run);
      expect(await h.store.listEvents(run.runId, 0, 10)).toEqual([createdEvent(run)]);
      expect(await h.store.getRun("wf_MISSING")).toBeUndefined();
    });

    test("a request id is used once: the second create returns the first run", async () => {
      const first = newRun({ requestId: "req-1" });
      const second = newRun({ requestId: "req-1" });
      expect((await create(h.store, first)).created).toBe(true);
      const again = await create(h.store, second);
      expect(again.created).toBe(false);
      expect(again.run.runId).toBe(first.runId);
      expect(await h.store.getRun(second.runId)).toBeUndefined();
      expect((await h.store.getRunByRequestId("req-1"))?.runId).toBe(first.runId);
      expect(await h.store.getRunByRequestId("req-2")).toBeUndefined();
    });

    test("concurrent creates with one request id make one run", async () => {
      const runs = [1, 2, 3, 4].map(() => newRun({ requestId: "req-race" }));
      const results = await Promise.all(runs.map((r) => create(h.store, r)));
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.run.runId)).size).toBe(1);
    });

    test("patches apply atomically with their events; a stale version is rejected and writes nothing", async () => {
      const run = newRun();
      await create(h.store, run);
      const m = new RunMachine(run);
      m.start(run.createdAt + 1);
      const p1 = m.takePatch()!;
      await h.store.commit(p1);
      const stored = (await h.store.getRun(run.runId))!;
      expect(stored.state).toBe("running");
      expect(stored.version).toBe(2);
      expect(stored.steps[0].state).toBe("running");
      expect(stored.steps[0].attempts).toBe(1);
      await expect(h.store.commit({ ...p1 })).rejects.toBeInstanceOf(VersionConflictError);
      expect((await h.store.getRun(run.runId))!.version).toBe(2);
      expect(await h.store.listEvents(run.runId, 0, 100)).toHaveLength(3);

      m.attemptSucceeded(0, 1, { big: "x".repeat(1000), nested: { ok: true } }, run.createdAt + 2);
      await h.store.commit(m.takePatch()!);
      const after = (await h.store.getRun(run.runId))!;
      expect(after.steps).toEqual(m.run.steps);
      expect(after.lastSeq).toBe(m.run.lastSeq);
      const events = await h.store.listEvents(run.runId, 3, 100);
      expect(events.map((e) => [e.seq, e.stepId, e.to])).toEqual([
        [4, "a", "completed"],
        [5, "b", "running"],
      ]);
      expect(events[0].result).toEqual({ big: "x".repeat(1000), nested: { ok: true } });
    });

    test("a conflicting patch fails alone: patches of other runs in the same batch commit", async () => {
      const a = newRun();
      const b = newRun();
      await Promise.all([create(h.store, a), create(h.store, b)]);
      const ma = new RunMachine(a);
      const mb = new RunMachine(b);
      ma.start(1);
      mb.start(1);
      const pa = ma.takePatch()!;
      const pb = mb.takePatch()!;
      const results = await Promise.allSettled([
        h.store.commit({ ...pa, expectedVersion: 99 }),
        h.store.commit(pb),
      ]);
      expect(results[0].status).toBe("rejected");
      expect(results[1].status).toBe("fulfilled");
      expect((await h.store.getRun(a.runId))!.state).toBe("pending");
      expect((await h.store.getRun(b.runId))!.state).toBe("running");
      expect(await h.store.listEvents(a.runId, 0, 10)).toHaveLength(1);
    });

    test("events page by sequence number", async () => {
      const run = newRun();
      await create(h.store, run);
      const m = new RunMachine(run);
      m.start(1);
      m.attemptSucceeded(0, 1, 1, 2);
      m.attemptSucceeded(1, 1, 2, 3);
      await h.store.commit(m.takePatch()!);
      const all = await h.store.listEvents(run.runId, 0, 100);
      expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect((await h.store.listEvents(run.runId, 2, 2)).map((e) => e.seq)).toEqual([3, 4]);
      expect(await h.store.listEvents(run.runId, 7, 10)).toEqual([]);
      expect(all.at(-1)).toMatchObject({ to: "completed", from: "running" });
      expect(all.at(-1)!.stepId).toBeUndefined();
    });

    test("listRuns is newest first, filters by state and workflow id, and pages", async () => {
      const base = Date.now();
      const runs = [0, 1, 2, 3, 4].map((i) => newRun({ workflowId: i % 2 ? "odd" : "even", now: base + i }));
      for (const r of runs) await create(h.store, r);
      const m = new RunMachine(runs[4]);
      m.start(base + 10);
      await h.store.commit(m.takePatch()!);

      const all = await h.store.listRuns({ states: [], limit: 100 });
      const mine = all.filter((r) => runs.some((x) => x.runId === r.runId)).map((r) => r.runId);
      expect(mine).toEqual(runs.map((r) => r.runId).reverse());
      const odd = await h.store.listRuns({ states: [], workflowId: "odd", limit: 100 });
      expect(odd.map((r) => r.runId)).toEqual([runs[3].runId, runs[1].runId]);
      const running = await h.store.listRuns({ states: ["running"], workflowId: "even", limit: 100 });
      expect(running.map((r) => r.runId)).toEqual([runs[4].runId]);
      const page1 = await h.store.listRuns({ states: [], workflowId: "even", limit: 2 });
      const page2 = await h.store.listRuns({ states: [], workflowId: "even", limit: 2, beforeRunId: page1[1].runId });
      expect([...page1, ...page2].map((r) => r.runId)).toEqual([runs[4].runId, runs[2].runId, runs[0].runId]);
      expect(page1[0].steps).toHaveLength(2);
    });

    test("listRunSummaries selects and orders like listRuns, without context, step definitions or results", async () => {
      const base = Date.now();
      const runs = [0, 1, 2].map((i) => newRun({ workflowId: "summaries", now: base + i }));
      for (const r of runs) await create(h.store, r);
      const m = new RunMachine(runs[2]);
      m.start(base + 10);
      m.attemptSucceeded(0, 1, { big: "result" }, base + 11);
      await h.store.commit(m.takePatch()!);

      const summaries = await h.store.listRunSummaries({ states: [], workflowId: "summaries", limit: 2 });
      expect(summaries.map((r) => r.runId)).toEqual([runs[2].runId, runs[1].runId]);
      const s = summaries[0];
      expect(s.steps).toEqual([{ id: "a", state: "completed" }, { id: "b", state: "running" }]);
      expect(s).toMatchObject({ state: "running", createdAt: runs[2].createdAt, lastSeq: m.run.lastSeq, deadlineAt: runs[2].deadlineAt });
      expect(s.spec).toEqual({ workflowId: "summaries", timeoutMs: runs[2].spec.timeoutMs, saga: false });
      expect(JSON.stringify(s)).not.toContain("result");
      const next = await h.store.listRunSummaries({ states: ["pending"], workflowId: "summaries", limit: 10, beforeRunId: runs[2].runId });
      expect(next.map((r) => r.runId)).toEqual([runs[1].runId, runs[0].runId]);
    });

    test("listActiveRuns returns the runs that are not finished", async () => {
      const done = newRun();
      const live = newRun();
      await create(h.store, done);
      await create(h.store, live);
      const m = new RunMachine(done);
      m.start(1);
      m.cancel(2, "test");
      await h.store.commit(m.takePatch()!);
      const active = (await h.store.listActiveRuns()).map((r) => r.runId);
      expect(active).toContain(live.runId);
      expect(active).not.toContain(done.runId);
    });

    test("reopen (redrive) is compare-and-set on version: the run needs driving again, its events go on; a stale one writes nothing", async () => {
      const run = newRun();
      await create(h.store, run);
      const m = new RunMachine(run);
      m.start(1);
      m.cancel(2, "test");
      await h.store.commit(m.takePatch()!);
      const stored = (await h.store.getRun(run.runId))!;
      const a = new RunMachine(structuredClone(stored));
      const b = new RunMachine(structuredClone(stored));
      a.redrive(3);
      b.redrive(3);
      const [pa, pb] = [a.takePatch()!, b.takePatch()!];
      const results = await Promise.allSettled([h.store.reopen(pa), h.store.reopen(pb)]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const rejected = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      expect(rejected.reason).toBeInstanceOf(VersionConflictError);
      const after = (await h.store.getRun(run.runId))!;
      expect(after).toMatchObject({ state: "running", redrives: 1, version: stored.version + 1 });
      expect((await h.store.listActiveRuns()).map((r) => r.runId)).toContain(run.runId);
      const events = await h.store.listEvents(run.runId, stored.lastSeq, 100);
      expect(events[0]).toMatchObject({ seq: stored.lastSeq + 1, kind: "run", from: "cancelled", to: "running", redriven: true });
      expect(events.map((e) => e.seq)).toEqual(pa.events.map((e) => e.seq));
      h.store = await h.reopen();
      expect((await h.store.listEvents(run.runId, stored.lastSeq, 1))[0].redriven).toBe(true);
    });

    test("a run's trace context is kept through commits, in every read, and after the store is reopened", async () => {
      const run = newRun();
      run.trace = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", parentSpanId: "b7ad6b7169203331", sampled: true, traceState: "vendor=abc" };
      const trace = structuredClone(run.trace);
      await create(h.store, run);
      expect((await h.store.getRun(run.runId))!.trace).toEqual(trace);
      const m = new RunMachine(run);
      m.start(run.createdAt + 1);
      await h.store.commit(m.takePatch()!);
      m.attemptSucceeded(0, 1, { ok: true }, run.createdAt + 2);
      await h.store.commit(m.takePatch()!);
      expect((await h.store.getRun(run.runId))!.trace).toEqual(trace);
      // What a restarted process or another replica drives the run from.
      expect((await h.store.listActiveRuns()).find((r) => r.runId === run.runId)!.trace).toEqual(trace);
      h.store = await h.reopen();
      expect((await h.store.getRun(run.runId))!.trace).toEqual(trace);
      // A run created without tracing has none.
      const plain = newRun();
      await create(h.store, plain);
      expect((await h.store.getRun(plain.runId))!.trace).toBeUndefined();
    });

    test("everything committed is there after the store is reopened", async () => {
      const run = newRun({ requestId: "durable-1" });
      await create(h.store, run);
      const m = new RunMachine(run);
      m.start(1);
      m.attemptSucceeded(0, 1, { charged: 42 }, 2);
      await h.store.commit(m.takePatch()!);
      h.store = await h.reopen();
      const back = (await h.store.getRun(run.runId))!;
      expect(back.steps[0]).toMatchObject({ state: "completed", result: { charged: 42 } });
      expect(back.version).toBe(2);
      expect((await create(h.store, newRun({ requestId: "durable-1" }))).created).toBe(false);
    });

    test("map step items: the list once, then single items; they read back in order, and item events keep their index", async () => {
      const spec = testWorkflow(
        [{ id: "map", url: "https://h.test/m", forEach: "/context/list", maxConcurrency: 2, retries: { maxAttempts: 3, jitter: 0 } }],
        { id: "contract-map", context: { list: ["a", "b", "c", "d"] } },
      );
      const run = newRunRecord(ids.next(Date.now()), spec, Date.now());
      await create(h.store, run);
      const m = new RunMachine(structuredClone(run), { random: () => 0.5 });
      m.start(1);
      const first = m.takePatch()!;
      expect(first.itemLists?.[0].records).toHaveLength(4);
      await h.store.commit(first);
      m.itemSucceeded(0, 1, 1, { "$odd.key": 1 }, 2);
      m.itemFailed(0, 0, 1, { error: { reason: "http_status", message: "HTTP 503", httpStatus: 503 }, retryable: true }, 3);
      const second = m.takePatch()!;
      expect(second.itemLists).toBeUndefined();
      expect(second.items).toHaveLength(3); // item 1 completed, item 0 waits for a retry, item 2 started
      await h.store.commit(second);
      h.store = await h.reopen();
      const back = (await h.store.getRun(run.runId))!;
      expect(back.items).toEqual(m.run.items);
      expect(back.items![0].map((i) => i.state)).toEqual(["retry_wait", "completed", "running", "pending"]);
      expect(back.items![0][1].result).toEqual({ "$odd.key": 1 });
      const events = await h.store.listEvents(run.runId, 0, 100);
      expect(events.filter((e) => e.kind === "item")).toMatchObject([{ stepId: "map", item: 0, from: "running", to: "retry_wait", attempt: 1 }]);
    });

    test("a rerun's first record (rerunOf, copied steps, a copied map step's items) and its creation event read back, also after commits and a reopen", async () => {
      const spec = testWorkflow(
        [{ id: "prep" }, { id: "map", dependsOn: ["prep"], forEach: "/prep/result" }, { id: "last", dependsOn: ["map"] }],
        { id: "contract-rerun" },
      );
      const original = newRunRecord(ids.next(Date.now()), spec, Date.now());
      const o = new RunMachine(original);
      o.start(1);
      o.attemptSucceeded(0, 1, ["x", "y"], 2);
      o.itemSucceeded(1, 0, 1, { "$r": 0 }, 3);
      o.itemSucceeded(1, 1, 1, { "$r": 1 }, 4);
      o.attemptSucceeded(2, 1, "done", 5);
      expect(o.run.state).toBe("completed");
      const plan = planRerun(o.run, { fromSteps: ["last"], requestId: "" }, { maxContextBytes: 1 << 20 });
      if (!plan.ok) throw new Error("bad plan");
      const run = rerunRecord(o.run, plan.plan, ids.next(Date.now()), Date.now());
      expect(run.items?.[1]).toHaveLength(2);
      const first = createdEvent(run);
      expect(first.rerunOf).toBe(o.run.runId);
      expect((await h.store.createRun(run, [first])).created).toBe(true);
      expect(await h.store.getRun(run.runId)).toEqual(run);
      expect(await h.store.listEvents(run.runId, 0, 10)).toEqual([first]);
      const m = new RunMachine(structuredClone(run));
      m.start(10);
      await h.store.commit(m.takePatch()!);
      m.attemptSucceeded(2, 1, "again", 11);
      await h.store.commit(m.takePatch()!);
      h.store = await h.reopen();
      const back = (await h.store.getRun(run.runId))!;
      expect(back.state).toBe("completed");
      expect(back.rerunOf).toBe(o.run.runId);
      expect(back.steps.map((st) => st.copiedFrom)).toEqual([o.run.runId, o.run.runId, undefined]);
      expect(back.items?.[1]?.map((it) => it.result)).toEqual([{ "$r": 0 }, { "$r": 1 }]);
      const [summary] = await h.store.listRunSummaries({ states: [], workflowId: "contract-rerun", limit: 1 });
      expect(summary.rerunOf).toBe(o.run.runId);
      expect((await h.store.listEvents(run.runId, 0, 1))[0].rerunOf).toBe(o.run.runId);
    });

    // ---- concurrency slots (README "Concurrency keys") ----

    test("concurrency slots: at most limit holders per key; a holder that asks again keeps its one slot", async () => {
      const slots = h.store as WorkflowStore & ConcurrencySlots;
      expect(await slots.acquireSlot("k", "wf_1", 2)).toBe(true);
      expect(await slots.acquireSlot("k", "wf_1", 2)).toBe(true);
      expect(await slots.acquireSlot("k", "wf_2#0", 2)).toBe(true);
      expect(await slots.acquireSlot("k", "wf_3", 2)).toBe(false);
      // Another key has its own slots.
      expect(await slots.acquireSlot("other", "wf_3", 1)).toBe(true);
      expect((await slots.slotHolders(["k", "other", "none"])).get("k")?.sort()).toEqual(["wf_1", "wf_2#0"]);
      await slots.releaseSlot("k", "wf_1");
      await slots.releaseSlot("k", "wf_1");
      expect(await slots.acquireSlot("k", "wf_3", 2)).toBe(true);
      expect(await slots.acquireSlot("k", "wf_4", 2)).toBe(false);
      // hold: kept whatever the limit (work in flight before a restart), once.
      await slots.holdSlot("k", "wf_5");
      await slots.holdSlot("k", "wf_5");
      expect((await slots.slotHolders(["k"])).get("k")?.sort()).toEqual(["wf_2#0", "wf_3", "wf_5"]);
      await slots.releaseSlot("k", "wf_5");
      await slots.releaseSlot("k", "wf_3");
      expect(await slots.acquireSlot("k", "wf_4", 2)).toBe(true);
    });

    test("concurrency slots: racing holders never take more than the limit, and slots survive a reopen", async () => {
      const slots = h.store as WorkflowStore & ConcurrencySlots;
      const got = await Promise.all(Array.from({ length: 20 }, (_, i) => slots.acquireSlot("race", `wf_${i}`, 3)));
      expect(got.filter(Boolean)).toHaveLength(3);
      const again = (await h.reopen()) as WorkflowStore & ConcurrencySlots;
      expect((await again.slotHolders(["race"])).get("race")).toHaveLength(3);
      expect(await again.acquireSlot("race", "wf_late", 3)).toBe(false);
    });
  });
}
