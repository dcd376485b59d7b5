// Map steps' items on the MongoDB store (src/store/mongo/mongo-items.ts): one
// document per started item in their own collection, a commit's changes in the
// run document's outbox (staged apart when large), copied before the run's next
// commit; readers merge the outbox over the collection.
import { BSON } from "mongodb";
import { afterEach, expect, test } from "vitest";
import { MAX_MAP_ITEMS } from "../../src/domain/map-step.ts";
import { RunMachine } from "../../src/domain/run-machine.ts";
import { createdEvent, newRunRecord, type RunRecord } from "../../src/domain/run-record.ts";
import { RunIdGenerator } from "../../src/domain/run-id.ts";
import { MongoItems } from "../../src/store/mongo/mongo-items.ts";
import { MongoWorkflowStore } from "../../src/store/mongo/mongo-store.ts";
import { describeMongo, newTestDbName } from "../support/mongo-server.ts";
import { itemToDoc } from "../../src/store/mongo/mongo-documents.ts";
import { commitWithoutCopy, itemCollections } from "../support/mongo-commit.ts";
import { testWorkflow } from "../support/test-workflow.ts";
import { until as untilFor } from "../support/watch.ts";

/** Polls until pred() holds, for at most 2 minutes unless told: copies of thousands of items to mongo-java-server on a busy machine take a while. */
const until = (pred: () => boolean | Promise<boolean>, what: string, ms = 120_000) => untilFor(pred, what, ms);

const ids = new RunIdGenerator();

describeMongo("MongoDB store: map items in their own collection", (mongo) => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  async function replicas(n: number): Promise<MongoWorkflowStore[]> {
    const database = newTestDbName();
    const stores: MongoWorkflowStore[] = [];
    for (let i = 0; i < n; i++) {
      const s = await MongoWorkflowStore.open({ uri: mongo().uri, database, leaseTtlMs: 60_000 });
      closers.push(() => s.close());
      await s.renewLease();
      stores.push(s);
    }
    return stores;
  }

  const rows = (s: MongoWorkflowStore) => itemCollections(s).rows;
  const stage = (s: MongoWorkflowStore) => itemCollections(s).stage;
  const runDocBytes = async (s: MongoWorkflowStore, runId: string) => BSON.calculateObjectSize((await s.runs.findOne({ _id: runId }))!);

  /** prepare → map over its result (max_concurrency as given), created, started and committed up to the map's start. */
  async function mapRun(store: MongoWorkflowStore, n: number, maxConcurrency: number): Promise<RunMachine> {
    const now = Date.now();
    const run: RunRecord = newRunRecord(
      ids.next(now),
      testWorkflow([{ id: "prepare" }, { id: "map", dependsOn: ["prepare"], forEach: "/prepare/result", maxConcurrency }], { id: "items" }),
      now,
    );
    await store.createRun(run, [createdEvent(run)]);
    const m = new RunMachine(structuredClone(run));
    m.start(now + 1);
    await store.commit(m.takePatch()!);
    m.attemptSucceeded(0, 1, Array.from({ length: n }, (_, i) => i), now + 2);
    await store.commit(m.takePatch()!);
    return m;
  }

  test("10,000 items: only started ones are stored, each in its own document; a cancel of all is staged apart; the run document stays small", async () => {
    const [a] = await replicas(1);
    const m = await mapRun(a, MAX_MAP_ITEMS, 50);
    const runId = m.run.runId;
    // The run document holds the prepare step's result (the 10,000-number list, ~49 KB); items add nothing that grows.
    const baseline = await runDocBytes(a, runId);
    await until(async () => (await rows(a).countDocuments({ runId })) === 50, "the 50 started items to be copied");
    for (let i = 0; i < 50; i++) {
      m.itemSucceeded(1, i, 1, { i, text: "r".repeat(100) }, Date.now());
      await a.commit(m.takePatch()!);
    }
    const back = await a.getRun(runId);
    expect(back!.items![1]).toHaveLength(MAX_MAP_ITEMS);
    expect(back!.items![1]).toEqual(m.run.items![1]);
    expect(back!.items![1].filter((it) => it.state === "completed")).toHaveLength(50);
    expect(back!.items![1].filter((it) => it.state === "running")).toHaveLength(50);
    expect(await runDocBytes(a, runId)).toBeLessThan(baseline + 4096);

    m.cancel(Date.now(), "cancelled: enough");
    await a.commit(m.takePatch()!);
    const cancelled = await a.getRun(runId);
    expect(cancelled!.state).toBe("cancelled");
    expect(cancelled!.items![1]).toEqual(m.run.items![1]);
    expect(cancelled!.items![1].filter((it) => it.state === "cancelled")).toHaveLength(MAX_MAP_ITEMS - 50);
    expect(await runDocBytes(a, runId)).toBeLessThan(baseline + 4096);
    // Copied, then the staged chunks are gone; every item that ever started (or was cancelled) has its document.
    await until(async () => (await a.runs.findOne({ _id: runId }))!.copyPending === undefined, "the last copy");
    expect(await stage(a).countDocuments({ runId })).toBe(0);
    expect(await rows(a).countDocuments({ runId })).toBe(MAX_MAP_ITEMS);
    expect((await a.getRun(runId))!.items).toEqual(m.run.items);

    expect(await a.deleteRun(runId)).toEqual({ deleted: true });
    expect(await rows(a).countDocuments({ runId })).toBe(0);
  });

  test("items a replica committed but did not copy before dying are read from the outbox (inline and staged) and copied by the next owner", async () => {
    const [a, b] = await replicas(2);
    const m = await mapRun(a, 3_000, 1000);
    const runId = m.run.runId;
    await until(async () => (await rows(a).countDocuments({ runId })) === 1000, "the started items to be copied");
    // One item completes (inline outbox), written as a crash right after the run update leaves it: no copy.
    m.itemSucceeded(1, 7, 1, { seven: 7 }, Date.now());
    const first = await commitWithoutCopy(a, m.takePatch()!);
    expect((await b.getRun(runId))!.items![1][7]).toMatchObject({ state: "completed", result: { seven: 7 } });
    expect((await rows(a).findOne({ _id: `${runId}:1:7` }))!.d.state).toBe("running");
    // The copy of that outbox goes before the next commit; then a cancel stops 2,999 items (staged), again without a copy.
    await first.items.copy(runId, first.itemOutbox);
    m.cancel(Date.now(), "cancelled: stop");
    const { itemOutbox } = await commitWithoutCopy(a, m.takePatch()!);
    expect(itemOutbox!.staged!.chunks).toBeGreaterThan(0);
    expect(await stage(a).countDocuments({ runId })).toBe(itemOutbox!.staged!.chunks);
    const read = await b.getRun(runId);
    expect(read!.items).toEqual(m.run.items);
    expect(await rows(a).countDocuments({ runId, "d.state": "cancelled" })).toBe(0);
    // a dies; b's sweep copies the finished run's outboxes.
    await a.db.collection<{ _id: string; expiresAt: number }>("replicas").updateOne({ _id: a.replicaId }, { $set: { expiresAt: Date.now() - 1 } });
    expect(await b.claimOrphans(10)).toEqual([]);
    expect(await rows(a).countDocuments({ runId, "d.state": "cancelled" })).toBe(2_999);
    expect(await stage(a).countDocuments({ runId })).toBe(0);
    expect((await b.getRun(runId))!.items).toEqual(m.run.items);
  });

  test("a late copy of an older commit's items never replaces a newer item", async () => {
    const [a] = await replicas(1);
    const m = await mapRun(a, 2, 2);
    const runId = m.run.runId;
    const items = new MongoItems(rows(a), stage(a), () => {});
    const startedAt = m.run.version;
    m.itemSucceeded(1, 0, 1, "done", Date.now());
    await a.commit(m.takePatch()!);
    m.itemSucceeded(1, 1, 1, "done too", Date.now());
    await a.commit(m.takePatch()!);
    await until(async () => (await rows(a).countDocuments({ runId, "d.state": "completed" })) === 2, "the completions to be copied");
    // The outbox of the map's start (older), copied again as a replica that lost the run might.
    const running = { state: "running" as const, attempts: 1, startedAt: 1 };
    const older = { v: startedAt, items: [0, 1].map((i) => ({ s: 1, i, d: running })) };
    await items.copy(runId, older);
    expect((await rows(a).find({ runId }).toArray()).map((r) => r.d.state)).toEqual(["completed", "completed"]);
    expect((await a.getRun(runId))!.items![1].map((it) => it.result)).toEqual(["done", "done too"]);
  });

  test("a reader never sees items older than the run it read, while another replica commits them one by one", async () => {
    const [a, b] = await replicas(2);
    const n = 200;
    const m = await mapRun(a, n, n);
    const runId = m.run.runId;
    const base = m.run.version;
    let done = false;
    const reads: { version: number; completed: number }[] = [];
    const reader = (async () => {
      while (!done) {
        const r = (await b.getRun(runId))!;
        reads.push({ version: r.version, completed: r.items![1].filter((it) => it.state === "completed").length });
      }
    })();
    for (let i = 0; i < n; i++) {
      m.itemSucceeded(1, i, 1, i, Date.now());
      await a.commit(m.takePatch()!);
    }
    done = true;
    await reader;
    expect(reads.length).toBeGreaterThan(5);
    // Each commit completes one item (the step's completion comes with the last). A read made
    // again while commits kept landing may show later items, never earlier ones.
    for (const r of reads) expect(r.completed).toBeGreaterThanOrEqual(Math.min(n, r.version - base));
    const last = (await b.getRun(runId))!;
    expect(last.items![1].every((it) => it.state === "completed")).toBe(true);
  });

  test("an item written by a later commit than the run document read: the read is made again, and ends", async () => {
    const [a] = await replicas(1);
    const m = await mapRun(a, 2, 2);
    const runId = m.run.runId;
    await until(async () => (await rows(a).countDocuments({ runId })) === 2, "the started items to be copied");
    // As a copy of the next commit would leave it (no commit follows here).
    await rows(a).updateOne({ _id: `${runId}:1:0` }, { $set: { v: m.run.version + 1, d: { state: "completed", attempts: 1, resultJson: "1" } } });
    const read = await a.getRun(runId);
    expect(read!.version).toBe(m.run.version);
    expect(read!.items![1].map((it) => it.state)).toEqual(["completed", "running"]);
  });

  test("a run written when items were kept in the run document reads back and goes on", async () => {
    const [a] = await replicas(1);
    const m = await mapRun(a, 3, 3);
    const runId = m.run.runId;
    // The document as the earlier layout had it: the items inside, no lists, no item documents.
    await until(async () => (await rows(a).countDocuments({ runId })) === 3, "the started items to be copied");
    await rows(a).deleteMany({ runId });
    const legacy = m.run.items![1].map((it) => itemToDoc(it));
    await a.runs.updateOne({ _id: runId }, { $set: { items: { "1": legacy } }, $unset: { itemLists: "", itemOutbox: "" } });
    expect((await a.getRun(runId))!.items).toEqual(m.run.items);
    m.itemSucceeded(1, 1, 1, "one", Date.now());
    await a.commit(m.takePatch()!);
    const back = await a.getRun(runId);
    expect(back!.items![1].map((it) => it.state)).toEqual(["running", "completed", "running"]);
    expect(back!.items).toEqual(m.run.items);
  });
});
