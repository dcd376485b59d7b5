// The MongoDB change feed delivers each event once, even when the database
// announces it again long after it was delivered. The interleaving is driven
// step by step with real stores, a real feed and a real server: no timing
// decides the outcome (waits only poll for conditions).
import { pino } from "pino";
import { afterEach, expect, test } from "vitest";
import { RunIdGenerator } from "../../src/domain/run-id.ts";
import { RunMachine } from "../../src/domain/run-machine.ts";
import { createdEvent, newRunRecord, type RunEvent, type RunRecord } from "../../src/domain/run-record.ts";
import { MongoChangeFeed } from "../../src/store/mongo/mongo-change-feed.ts";
import { eventToDoc } from "../../src/store/mongo/mongo-documents.ts";
import { MongoWorkflowStore } from "../../src/store/mongo/mongo-store.ts";
import { describeMongo, newTestDbName } from "../support/mongo-server.ts";
import { commitWithoutCopy } from "../support/mongo-commit.ts";
import { testWorkflow } from "../support/test-workflow.ts";
import { until as untilFor } from "../support/watch.ts";

/** Polls until pred() holds, for at most 20 s unless told. */
const until = (pred: () => boolean | Promise<boolean>, what: string, ms = 20_000) => untilFor(pred, what, ms);

const ids = new RunIdGenerator();
const silent = pino({ level: "silent" });

function newRun(): RunRecord {
  const now = Date.now();
  return newRunRecord(ids.next(now), testWorkflow([{ id: "a" }], { id: "feed-once" }), now);
}

/** A run-level event of a run that exists only in the events collection (other replicas' traffic). */
function otherEvent(runId: string, seq: number): RunEvent {
  return { runId, seq, at: Date.now(), kind: "run", from: seq === 1 ? "" : "pending", to: seq === 1 ? "pending" : "running" };
}

describeMongo("MongoDB change feed: each event once", (mongo) => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  test("a finished run's last events, announced again by a sweep copying them after thousands of other events, reach the listeners once", async () => {
    const database = newTestDbName();
    const [a, b] = await Promise.all(
      [0, 1].map(async () => {
        const s = await MongoWorkflowStore.open({ uri: mongo().uri, database, leaseTtlMs: 300 });
        closers.push(() => s.close());
        return s;
      }),
    );

    // Replica a drives a run to its end.
    await a.renewLease();
    const run = newRun();
    await a.createRun(run, [createdEvent(run)]);
    const machine = new RunMachine(structuredClone(run));
    machine.start(Date.now());
    await a.commit(machine.takePatch()!);
    await until(async () => (await a.events.countDocuments({ runId: run.runId })) === machine.run.lastSeq, "the start events to be copied");
    machine.cancel(Date.now(), "cancelled: test");
    const patch = machine.takePatch()!;
    expect(patch.run?.state).toBe("cancelled");
    const last = patch.events.at(-1)!;
    expect(last).toMatchObject({ kind: "run", to: "cancelled" });

    // Replica b follows the events collection from here on.
    const feed = new MongoChangeFeed({ client: b.client, events: b.events, logger: silent, pollIntervalMs: 20 });
    await feed.start();
    closers.push(() => feed.close());
    const ofRun: number[] = [];
    let others = 0;
    let markers = 0;
    feed.subscribe(run.runId, (_, e) => ofRun.push(e.seq));
    feed.subscribe(undefined, (_, e) => {
      if (e.runId.startsWith("wf_other")) others++;
      if (e.runId === "wf_marker") markers++;
    });

    // 1. a's last commit, a minute ago: the finished state, its events in the outbox, the copyPending mark;
    //    then a copies the events to the collection (b's feed delivers them) and dies before clearing the mark.
    const { outbox } = await commitWithoutCopy(a, patch, new Date(Date.now() - 60_000));
    await a.events.insertMany(outbox, { ordered: true });
    await until(() => ofRun.includes(last.seq), "b's feed to deliver the run's last event");

    // 2. Since then the other replicas committed thousands of events (newer than the run's by a minute).
    const OTHERS = 5000;
    await b.events.insertMany(
      Array.from({ length: OTHERS }, (_, i) => eventToDoc(otherEvent(`wf_other${i >> 1}`, (i & 1) + 1), "others", new Date())),
      { ordered: true },
    );
    await until(() => others === OTHERS, `b's feed to deliver the ${OTHERS} other events`);

    // 3. a's lease has run out: b's sweep finds the finished run still marked and copies its outbox again.
    //    MongoDB refuses the inserts (duplicate keys); mongo-java-server announces them on the stream anyway.
    await until(async () => (await a.runs.db.collection<{ expiresAt: number }>("replicas").countDocuments({ expiresAt: { $gt: Date.now() } })) === 0, "a's lease to expire");
    await b.renewLease();
    expect(await b.claimOrphans(10)).toEqual([]);
    await until(async () => (await b.runs.findOne({ _id: run.runId }))?.copyPending === undefined, "the sweep to copy the outbox and clear the mark");

    // 4. A marker written after all that: once the feed has it, everything announced before it went through.
    await b.events.insertOne(eventToDoc(otherEvent("wf_marker", 1), "others", new Date()));
    await until(() => markers === 1, "the marker");

    expect(ofRun, "the run's events delivered by b's feed").toEqual(patch.events.map((e) => e.seq));
    expect(ofRun.filter((s) => s === last.seq), "deliveries of the run's terminal event").toHaveLength(1);
    expect(others).toBe(OTHERS);
  });

  test("events a dead replica committed long ago and never copied reach a polling replica's listeners once its successor copies them", async () => {
    const database = newTestDbName();
    const [a, b] = await Promise.all(
      [0, 1].map(async () => {
        const s = await MongoWorkflowStore.open({ uri: mongo().uri, database, leaseTtlMs: 300 });
        closers.push(() => s.close());
        return s;
      }),
    );
    await a.renewLease();
    const run = newRun();
    await a.createRun(run, [createdEvent(run)]);
    const machine = new RunMachine(structuredClone(run));
    machine.start(Date.now());
    await a.commit(machine.takePatch()!);
    await until(async () => (await a.events.countDocuments({ runId: run.runId })) === machine.run.lastSeq, "the start events to be copied");
    const copiedBefore = machine.run.lastSeq;

    // Replica b polls the events collection, looking back 30 s from the newest event it has.
    const feed = new MongoChangeFeed({ client: b.client, events: b.events, logger: silent, pollIntervalMs: 20, overlapMs: 30_000, mode: "poll" });
    await feed.start();
    closers.push(() => feed.close());
    const ofRun: number[] = [];
    let others = 0;
    let markers = 0;
    feed.subscribe(run.runId, (_, e) => ofRun.push(e.seq));
    feed.subscribe(undefined, (_, e) => {
      if (e.runId === "wf_other") others++;
      if (e.runId === "wf_marker") markers++;
    });

    // 1. a's commit ten minutes ago (a step completed), then a crash before copying its events:
    //    they are in the run document's outbox only, stamped with the commit's time.
    machine.attemptSucceeded(0, 1, { n: 1 }, Date.now());
    const patch = machine.takePatch()!;
    await commitWithoutCopy(a, patch, new Date(Date.now() - 600_000));
    // 2. Other replicas' events since then: b's cursor is at the present.
    await b.events.insertOne(eventToDoc(otherEvent("wf_other", 1), "others", new Date()));
    await until(() => others === 1, "the other replicas' event");
    // 3. a's lease runs out; that commit finished the run (its one step completed), so b's sweep copies its outbox.
    await until(async () => (await a.runs.db.collection<{ expiresAt: number }>("replicas").countDocuments({ expiresAt: { $gt: Date.now() } })) === 0, "a's lease to expire");
    await b.renewLease();
    expect(patch.run?.state).toBe("completed");
    expect(await b.claimOrphans(10)).toEqual([]);
    await until(async () => (await b.events.countDocuments({ runId: run.runId })) === patch.lastSeq, "the outbox to be copied");
    // 4. A marker after the copy: once the feed has it, a poll that sees the copy has been made.
    await b.events.insertOne(eventToDoc(otherEvent("wf_marker", 1), "others", new Date()));
    await until(() => markers === 1, "the marker");
    // The first poll found the run's first events (copied just before the feed started), the last ones the copy.
    expect(patch.events[0].seq).toBe(copiedBefore + 1);
    expect(ofRun, "the run's events delivered by b's polling feed").toEqual(Array.from({ length: patch.lastSeq }, (_, i) => i + 1));
  });
});
