// What only a store shared by several replicas does: run ownership (leases,
// claims, release, cancel requests), the outbox that keeps events with their
// state change, and the change feed that carries events between replicas.
import { pino } from "pino";
import { afterEach, expect, test } from "vitest";
import { RunMachine } from "../../src/domain/run-machine.ts";
import { createdEvent, newRunRecord, type RunEvent, type RunRecord } from "../../src/domain/run-record.ts";
import { RunIdGenerator } from "../../src/domain/run-id.ts";
import type { OwnershipNotice } from "../../src/ports/run-ownership.ts";
import { VersionConflictError } from "../../src/ports/workflow-store.ts";
import { MongoChangeFeed } from "../../src/store/mongo/mongo-change-feed.ts";
import { MongoWorkflowStore } from "../../src/store/mongo/mongo-store.ts";
import { describeMongo, newTestDbName, startMongoJavaServer } from "../support/mongo-server.ts";
import { commitWithoutCopy } from "../support/mongo-commit.ts";
import { testWorkflow } from "../support/test-workflow.ts";
import { until as untilFor } from "../support/watch.ts";

/** Polls until pred() holds, for at most 5 s unless told. */
const until = (pred: () => boolean | Promise<boolean>, what: string, ms = 5000) => untilFor(pred, what, ms);

const ids = new RunIdGenerator();
const silent = pino({ level: "silent" });

function newRun(): RunRecord {
  const now = Date.now();
  return newRunRecord(ids.next(now), testWorkflow([{ id: "a" }, { id: "b", dependsOn: ["a"] }], { id: "ownership" }), now);
}

describeMongo("MongoDB store: replicas, outbox and change feed", (mongo) => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  async function replicas(n: number, leaseTtlMs = 5000): Promise<MongoWorkflowStore[]> {
    const database = newTestDbName();
    const stores: MongoWorkflowStore[] = [];
    for (let i = 0; i < n; i++) {
      const s = await MongoWorkflowStore.open({ uri: mongo().uri, database, leaseTtlMs });
      closers.push(() => s.close());
      stores.push(s);
    }
    return stores;
  }

  /**
   * What a replica that stops renewing its lease looks like to the others once
   * the lease has run out, without waiting for it: the tests use long leases
   * (nothing may expire by accident on a slow machine) and end one on purpose.
   */
  async function expireLease(store: MongoWorkflowStore): Promise<void> {
    const leases = store.client.db(store.runs.dbName).collection<{ _id: string; expiresAt: number }>("replicas");
    await leases.updateOne({ _id: store.replicaId }, { $set: { expiresAt: Date.now() - 1 } });
  }

  async function started(store: MongoWorkflowStore): Promise<{ run: RunRecord; machine: RunMachine }> {
    const run = newRun();
    await store.createRun(run, [createdEvent(run)]);
    const machine = new RunMachine(structuredClone(run));
    machine.start(run.createdAt + 1);
    await store.commit(machine.takePatch()!);
    // The copy to the events collection follows the commit; the tests below start from a run
    // whose events are all there (as the store's next commit would wait for it to be).
    await until(
      async () => (await store.events.countDocuments({ runId: run.runId })) === machine.run.lastSeq,
      "the start events to be copied",
    );
    return { run, machine };
  }

  test("only the run's owner can commit; another replica's patch is refused and writes nothing", async () => {
    const [a, b] = await replicas(2);
    await a.renewLease();
    const { run, machine } = await started(a);
    machine.attemptSucceeded(0, 1, { by: "b" }, Date.now());
    const patch = machine.takePatch()!;
    const err = await b.commit(patch).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VersionConflictError);
    expect(String((err as Error).message)).toContain(`driven by ${a.replicaId}`);
    expect((await a.getRun(run.runId))!.steps[0].state).toBe("running");
    await a.commit(patch);
    expect((await b.getRun(run.runId))!.steps[0]).toMatchObject({ state: "completed", result: { by: "b" } });
  });

  test("runs of a replica whose lease expired are claimed by exactly one other replica, which then drives them", async () => {
    const [a, b, c] = await replicas(3, 60_000);
    await a.renewLease();
    const runs = await Promise.all([1, 2, 3, 4, 5].map(() => started(a)));
    await Promise.all([b.renewLease(), c.renewLease()]);
    expect(await b.claimOrphans(100)).toEqual([]);
    // a stops renewing; b and c keep their leases alive and race for a's runs.
    await expireLease(a);
    await Promise.all([b.renewLease(), c.renewLease()]);
    const [byB, byC] = await Promise.all([b.claimOrphans(100), c.claimOrphans(100)]);
    const claimed = [...byB, ...byC].map((r) => r.runId).sort();
    expect(claimed).toEqual(runs.map((r) => r.run.runId).sort());
    const first = runs[0];
    const winner = byB.some((r) => r.runId === first.run.runId) ? b : c;
    const loser = winner === b ? c : b;
    first.machine.attemptSucceeded(0, 1, 1, Date.now());
    const patch = first.machine.takePatch()!;
    await expect(a.commit(patch)).rejects.toBeInstanceOf(VersionConflictError);
    await expect(loser.commit(patch)).rejects.toBeInstanceOf(VersionConflictError);
    await winner.commit(patch);
    expect((await winner.getRun(first.run.runId))!.steps[0].state).toBe("completed");
    expect(await loser.claim(first.run.runId)).toBeUndefined();
    expect((await winner.claim(first.run.runId))?.runId).toBe(first.run.runId);
  });

  test("released runs can be claimed at once, without waiting for the lease", async () => {
    const [a, b] = await replicas(2, 60_000);
    await Promise.all([a.renewLease(), b.renewLease()]);
    const { run } = await started(a);
    expect(await b.claimOrphans(10)).toEqual([]);
    await a.release([run.runId]);
    const claimed = await b.claimOrphans(10);
    expect(claimed.map((r) => r.runId)).toEqual([run.runId]);
  });

  test("a cancel request is recorded for the owner; finished runs refuse it", async () => {
    const [a, b] = await replicas(2);
    await Promise.all([a.renewLease(), b.renewLease()]);
    const { run, machine } = await started(a);
    expect(await b.requestCancel(run.runId, "stop it")).toBe(true);
    expect(await a.cancelRequests()).toEqual([{ runId: run.runId, reason: "stop it" }]);
    expect(await b.cancelRequests()).toEqual([]);
    expect((await b.getRun(run.runId))!.cancelRequest).toMatchObject({ reason: "stop it" });
    // The owner's commits are not disturbed by the request.
    machine.cancel(Date.now(), "cancelled: stop it");
    await a.commit(machine.takePatch()!);
    expect(await a.cancelRequests()).toEqual([]);
    expect(await b.requestCancel(run.runId, "again")).toBe(false);
  });

  test("reopen (redrive) on another replica takes the finished run over, drops an old cancel request, and keeps the last outbox", async () => {
    const [a, b] = await replicas(2, 60_000);
    await Promise.all([a.renewLease(), b.renewLease()]);
    const { run, machine } = await started(a);
    expect(await b.requestCancel(run.runId, "stop it")).toBe(true);
    machine.cancel(Date.now(), "cancelled: stop it");
    const last = machine.takePatch()!;
    // a's last commit is written but its events are not copied yet (as if a died right after it).
    await commitWithoutCopy(a, last);
    const stored = (await b.getRun(run.runId))!;
    const redriven = new RunMachine(structuredClone(stored));
    redriven.redrive(Date.now());
    const patch = redriven.takePatch()!;
    // The old owner cannot reopen with a stale version; b can, and owns the run then.
    await b.reopen(patch);
    const doc = (await b.runs.findOne({ _id: run.runId }))!;
    expect(doc).toMatchObject({ owner: b.replicaId, state: "running", driving: true });
    expect(doc.cancelRequest).toBeUndefined();
    expect(doc.copyPending).toBeUndefined();
    expect(await b.cancelRequests()).toEqual([]);
    // Every event is there, in order, the cancelled outbox included.
    await until(async () => (await b.events.countDocuments({ runId: run.runId })) === patch.lastSeq, "every event to be copied");
    const events = await b.listEvents(run.runId, 0, 100);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: patch.lastSeq }, (_, i) => i + 1));
    // a, the old owner, can no longer commit to it.
    const stale = new RunMachine(structuredClone(stored));
    stale.redrive(Date.now());
    await expect(a.reopen(stale.takePatch()!)).rejects.toBeInstanceOf(VersionConflictError);
    redriven.attemptSucceeded(0, machine.run.steps[0].attempts + 1, 1, Date.now());
    const next = redriven.takePatch()!;
    await expect(a.commit(next)).rejects.toBeInstanceOf(VersionConflictError);
    await b.commit(next);
    expect((await a.getRun(run.runId))!.steps[0]).toMatchObject({ state: "completed", attempts: 2 });
  });

  test("events a replica committed but did not copy before dying are read from the outbox and copied by the next owner", async () => {
    const [a, b] = await replicas(2, 60_000);
    await a.renewLease();
    const { run, machine } = await started(a);
    machine.attemptSucceeded(0, 1, { n: 1 }, Date.now());
    const patch = machine.takePatch()!;
    // What a crash between the run update and the copy leaves: the state and its events in the run document only.
    await commitWithoutCopy(a, patch);
    const inCollection = () => a.events.countDocuments({ runId: run.runId });
    expect(await inCollection()).toBe(3);
    const read = await b.listEvents(run.runId, 0, 100);
    expect(read.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(read[3]).toMatchObject({ stepId: "a", to: "completed", result: { n: 1 } });
    await expireLease(a);
    await b.renewLease();
    const [claimed] = await b.claimOrphans(10);
    expect(claimed.lastSeq).toBe(5);
    await until(async () => (await inCollection()) === 5, "the outbox to be copied");
  });

  test("a finished run's last events, not copied before its owner died, are copied by a live replica's sweep", async () => {
    const [a, b] = await replicas(2, 60_000);
    await a.renewLease();
    const { run, machine } = await started(a);
    machine.cancel(Date.now(), "cancelled: test");
    const patch = machine.takePatch()!;
    expect(patch.run?.state).toBe("cancelled");
    // The last commit as a crash right after it leaves it: state, outbox and the copyPending mark, no copy.
    await commitWithoutCopy(a, patch);
    const copied = async () => (await a.events.find({ runId: run.runId }).toArray()).map((e) => e.seq).sort((x, y) => x - y);
    expect(await copied()).toEqual([1, 2, 3]);
    await b.renewLease();
    // While a's lease lasts the run is a's business.
    await b.claimOrphans(10);
    expect(await copied()).toEqual([1, 2, 3]);
    await expireLease(a);
    await b.renewLease();
    expect(await b.claimOrphans(10)).toEqual([]);
    expect(await copied()).toEqual(patch.events.length === 0 ? [1, 2, 3] : [1, 2, 3, ...patch.events.map((e) => e.seq)]);
    expect((await a.runs.findOne({ _id: run.runId }))!.copyPending).toBeUndefined();
  });

  test("a run's last commit is marked until its events are copied, then unmarked", async () => {
    const [a] = await replicas(1);
    await a.renewLease();
    const { run, machine } = await started(a);
    machine.cancel(Date.now(), "cancelled: test");
    await a.commit(machine.takePatch()!);
    await until(async () => (await a.runs.findOne({ _id: run.runId }))!.copyPending === undefined, "the mark to clear");
    expect((await a.listEvents(run.runId, 0, 100)).at(-1)).toMatchObject({ kind: "run", to: "cancelled" });
    expect(await a.events.countDocuments({ runId: run.runId })).toBe((await a.getRun(run.runId))!.lastSeq);
  });

  test("rejoin gives a replica a new identity", async () => {
    const [a] = await replicas(1);
    const before = a.replicaId;
    a.rejoin();
    expect(a.replicaId).not.toBe(before);
  });

  for (const mode of ["auto", "poll"] as const) {
    test(`the change feed (${mode}) carries one replica's events and notices to another, in order, once`, async () => {
      const [a, b] = await replicas(2);
      const feed = new MongoChangeFeed({ client: b.client, events: b.events, logger: silent, pollIntervalMs: 20, mode });
      await feed.start();
      closers.push(() => feed.close());
      expect(feed.source).toBe(mode === "poll" ? "poll" : "stream");
      const seen: RunEvent[] = [];
      const all: string[] = [];
      const notices: OwnershipNotice[] = [];
      await a.renewLease();
      const run = newRun();
      feed.subscribe(run.runId, (_, e) => seen.push(e));
      feed.subscribe(undefined, (workflowId, e) => all.push(`${workflowId}:${e.runId}:${e.seq}`));
      feed.subscribeNotices((n) => notices.push(n));
      await a.createRun(run, [createdEvent(run)]);
      const m = new RunMachine(structuredClone(run));
      m.start(Date.now());
      await a.commit(m.takePatch()!);
      m.attemptSucceeded(0, 1, "x", Date.now());
      await a.commit(m.takePatch()!);
      m.attemptSucceeded(1, 1, "y", Date.now());
      await a.commit(m.takePatch()!);
      await until(() => seen.length >= 7, "seven events");
      await a.requestCancel(newRun().runId, "none");
      await b.requestCancel(run.runId, "too late");
      await a.release([]);
      await until(() => notices.some((n) => n.type === "released"), "the released notice");
      expect(seen.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(seen.at(-1)).toMatchObject({ kind: "run", to: "completed" });
      expect(all.filter((x) => x.includes(run.runId))).toHaveLength(7);
      expect(all[0]).toBe(`ownership:${run.runId}:1`);
      // Requests for runs that are not running are refused before any notice is sent.
      expect(notices).toEqual([{ type: "released" }]);
    });
  }

  test("a deployment without change history (like a standalone server): one warning, then polling, and events still flow", async (ctx) => {
    if (mongo().kind !== "mongo-java-server") ctx.skip();
    const server = await startMongoJavaServer(0, { oplog: false });
    closers.push(() => server.stop());
    const database = newTestDbName();
    const store = await MongoWorkflowStore.open({ uri: server.uri, database, leaseTtlMs: 5000 });
    closers.push(() => store.close());
    const warnings: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void warnings.push(JSON.parse(line).msg as string) });
    const feed = new MongoChangeFeed({ client: store.client, events: store.events, logger, pollIntervalMs: 20 });
    await feed.start();
    closers.push(() => feed.close());
    expect(feed.source).toBe("poll");
    expect(warnings).toEqual([expect.stringContaining("change streams are not available")]);
    const run = newRun();
    const seen: number[] = [];
    feed.subscribe(run.runId, (_, e) => seen.push(e.seq));
    await store.renewLease();
    await store.createRun(run, [createdEvent(run)]);
    const m = new RunMachine(structuredClone(run));
    m.start(Date.now());
    await store.commit(m.takePatch()!);
    await until(() => seen.length === 3, "three events by polling");
    expect(seen).toEqual([1, 2, 3]);
    expect(warnings).toHaveLength(1);
  });
});
