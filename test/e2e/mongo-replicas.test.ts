// Several Weft processes on one MongoDB database, end to end: real server
// processes (killed with kill -9 or stopped with SIGTERM), real step handlers,
// real clients. What is checked: runs of a killed replica are taken over and
// finish exactly once (in-flight attempts re-sent with the same
// Idempotency-Key), watchers on a surviving replica see every transition once
// and in order, a cancel works from a replica that does not drive the run, a
// graceful stop hands runs over at once, an interrupted change stream loses
// and repeats nothing, and a polling replica still serves every event.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, expect, onTestFailed, onTestFinished, test } from "vitest";
import {
  CompensationState,
  type StepDefinitionSchema,
  StepState,
  type Workflow,
  type WorkflowEvent,
  WorkflowService,
  WorkflowState,
} from "../../gen/ts/weft/v1/workflow_pb.js";
import { HandlerServer, type RecordedCall } from "../support/handler-server.ts";
import { describeMongo, newTestDbName } from "../support/mongo-server.ts";
import { allEvents as eventLog, hangUntilAborted } from "../support/run-observer.ts";
import { startTcpProxy } from "../support/tcp-proxy.ts";
import { collectWatch, describeEvent, isTerminalRunEvent, type Watched } from "../support/watch.ts";
import { kill9, logEntries, spawnWeft, stopWeft, type WeftProcess } from "../support/weft-process.ts";
import { TERMINAL } from "../support/weft.ts";

type StepInit = MessageInitShape<typeof StepDefinitionSchema>;
type WeftClient = Client<typeof WorkflowService>;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const RUNS = Number(process.env.WEFT_REPLICA_TEST_RUNS ?? 500);

interface Replica extends WeftProcess {
  name: string;
  replicaId: string;
  /** Set when the test's cleanup killed it (so the logs do not blame a kill -9 the test did not do). */
  cleanedUp?: boolean;
}

const alive = (p: WeftProcess) => p.child.exitCode === null && p.child.signalCode === null;

/** Runs fn over items with at most `n` at a time; results in input order. */
async function pool<T, R>(items: T[], n: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

async function until(pred: () => boolean, what: string, timeoutMs: number, detail?: () => string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `\n${detail()}` : ""}`);
    await sleep(10);
  }
}

/** Polls GetWorkflow until every run is terminal; on timeout says which runs stalled, where. */
async function waitAllTerminal(client: WeftClient, ids: string[], timeoutMs: number, db?: () => Promise<string>): Promise<Map<string, Workflow>> {
  const done = new Map<string, Workflow>();
  const end = Date.now() + timeoutMs;
  let pending = [...ids];
  let last = new Map<string, Workflow>();
  while (pending.length > 0) {
    const got = await pool(pending, 8, async (id) => (await client.getWorkflow({ id })).workflow!);
    last = new Map(got.map((w) => [w.id, w]));
    for (const w of got) if (TERMINAL.has(w.state)) done.set(w.id, w);
    pending = pending.filter((id) => !done.has(id));
    if (pending.length === 0) break;
    if (Date.now() > end) {
      const stalled = pending.slice(0, 10).map((id) => {
        const w = last.get(id)!;
        return `  ${id} ${WorkflowState[w.state]} steps=${JSON.stringify(w.steps.map((s) => `${s.id}:${StepState[s.state]}/${CompensationState[s.compensationState]}`))}`;
      });
      throw new Error(`${pending.length} of ${ids.length} runs did not finish within ${timeoutMs} ms (a stalled run):\n${stalled.join("\n")}${db ? `\n${await db()}` : ""}`);
    }
    await sleep(100);
  }
  return done;
}

/** A WatchWorkflows stream read in the background until stop(). */
function dashboard(client: WeftClient) {
  const abort = new AbortController();
  const events: WorkflowEvent[] = [];
  const byRun = new Map<string, WorkflowEvent[]>();
  let error: unknown;
  const running = (async () => {
    try {
      for await (const m of client.watchWorkflows({}, { signal: abort.signal })) {
        if (m.kind.case !== "event") continue;
        const e = m.kind.value;
        events.push(e);
        let list = byRun.get(e.runId);
        if (!list) byRun.set(e.runId, (list = []));
        list.push(e);
      }
    } catch (err) {
      if (!abort.signal.aborted) error = err;
    }
  })();
  return {
    events,
    byRun,
    get error() {
      return error;
    },
    terminalSeen: (id: string) => (byRun.get(id) ?? []).some(isTerminalRunEvent),
    async stop() {
      abort.abort();
      await running;
    },
  };
}

/** A WatchWorkflow stream read like a client that resumes with after_sequence when the stream fails. */
interface ResumedWatch extends Watched {
  /** Why the stream failed, each time it did (it was resumed after each). */
  errors: string[];
}

async function watchResuming(client: WeftClient, id: string, timeoutMs: number): Promise<ResumedWatch> {
  const end = Date.now() + timeoutMs;
  const out: ResumedWatch = { messages: [], events: [], heartbeats: 0, ended: false, stopped: false, errors: [] };
  while (!out.ended && Date.now() < end) {
    const after = out.events.at(-1)?.sequence ?? out.snapshot?.lastSequence ?? 0n;
    const w = await collectWatch((signal) => client.watchWorkflow({ id, afterSequence: after }, { signal }), { timeoutMs: end - Date.now() });
    out.messages.push(...w.messages);
    out.snapshot ??= w.snapshot;
    out.events.push(...w.events);
    out.heartbeats += w.heartbeats;
    out.ended = w.ended;
    if (w.error !== undefined) {
      out.errors.push(String((w.error as Error).message ?? w.error));
      if (Date.now() < end) await sleep(100);
    }
  }
  if (!out.ended) out.error = new Error(`watch of ${id} did not end within ${timeoutMs} ms (errors: ${out.errors.join("; ")})`);
  return out;
}

const runEvents = (events: WorkflowEvent[]) => events.filter((e) => e.transition.case === "run");
const completedSteps = (events: WorkflowEvent[]) =>
  events.filter((e) => e.transition.case === "step" && e.transition.value.toState === StepState.COMPLETED).map((e) => e.stepId);

/** A log that numbers its events 1..n and never repeats a transition of a step. */
function expectWellFormedLog(id: string, log: WorkflowEvent[], lastSequence: bigint): void {
  expect(log.map((e) => Number(e.sequence)), `${id}: sequences`).toEqual(Array.from({ length: log.length }, (_, i) => i + 1));
  expect(BigInt(log.length), `${id}: last_sequence`).toBe(lastSequence);
  const seen = new Set<string>();
  for (const e of log) {
    const k = `${e.transition.case}:${e.stepId}:${describeEvent(e).replace(/^\d+ /, "")}`;
    expect(seen.has(k), `${id}: transition repeated: ${describeEvent(e)}`).toBe(false);
    seen.add(k);
  }
  expect(log.filter(isTerminalRunEvent), `${id}: terminal run events`).toHaveLength(1);
}

/** What a WatchWorkflow stream got must be the log after its snapshot, once and in order, ending with the run. */
function expectWatchedAll(id: string, w: Watched, log: WorkflowEvent[]): void {
  expect(w.error, `${id}: watch error`).toBeUndefined();
  expect(w.ended, `${id}: watch ended by itself`).toBe(true);
  expect(w.snapshot, `${id}: snapshot`).toBeDefined();
  const s = Number(w.snapshot!.lastSequence);
  expect(w.events.map(describeEvent), `${id}: watched events`).toEqual(log.slice(s).map(describeEvent));
  expect(w.events, `${id}: watched events (whole messages)`).toEqual(log.slice(s));
  expect(isTerminalRunEvent(w.events.at(-1) ?? log[s - 1]), `${id}: the watch ended with the run's terminal event`).toBe(true);
}

/** Run-level events a WatchWorkflows stream got for one run: the log's, once each, in order. */
function expectDashboardSaw(id: string, got: WorkflowEvent[] | undefined, log: WorkflowEvent[]): void {
  expect((got ?? []).map(describeEvent), `${id}: WatchWorkflows events`).toEqual(runEvents(log).map(describeEvent));
  expect((got ?? []).filter(isTerminalRunEvent), `${id}: terminal event on WatchWorkflows`).toHaveLength(1);
}

describeMongo("several Weft replicas on one MongoDB database", (mongo) => {
  let handlers: HandlerServer;
  const everyReplica: Replica[] = [];
  const dirs: string[] = [];
  const databases: string[] = [];

  beforeAll(async () => {
    handlers = await HandlerServer.start();
  });

  afterAll(async () => {
    for (const p of everyReplica) if (alive(p)) await kill9(p);
    await handlers?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    if (databases.length > 0) {
      const client = new MongoClient(mongo().uri, { serverSelectionTimeoutMS: 5000 });
      try {
        for (const name of databases) await client.db(name).dropDatabase().catch(() => {});
      } finally {
        await client.close();
      }
    }
  });

  /**
   * The replicas of one test, on a fresh database: killed when the test ends,
   * their logs printed when it fails.
   */
  function cluster() {
    const database = newTestDbName();
    databases.push(database);
    const replicas: Replica[] = [];
    let mongoClient: MongoClient | undefined;
    onTestFailed(() => {
      for (const r of replicas) console.error(formatLogs(r));
    });
    onTestFinished(async () => {
      for (const r of replicas) {
        if (!alive(r)) continue;
        r.cleanedUp = true;
        await kill9(r);
      }
      await mongoClient?.close();
    });
    return {
      database,
      replicas,
      async start(name: string, args: string[], uri = mongo().uri, env?: NodeJS.ProcessEnv): Promise<Replica> {
        const dir = mkdtempSync(join(tmpdir(), "weft-replica-"));
        dirs.push(dir);
        const p = await spawnWeft(dir, ["--mongodb-uri", uri, "--mongodb-database", database, "--shutdown-grace-ms", "500", ...args], { env });
        const store = logEntries(p).find((e) => e.msg === "using the MongoDB store");
        const r: Replica = Object.assign(p, { name, replicaId: String(store?.replicaId ?? "?") });
        replicas.push(r);
        everyReplica.push(r);
        return r;
      },
      /** The runs collection, read directly (owners, for diagnostics and checks). */
      async runDoc(id: string): Promise<{ owner: string | null; state: string; driving: boolean; version: number } | null> {
        mongoClient ??= new MongoClient(mongo().uri, { serverSelectionTimeoutMS: 5000 });
        return mongoClient
          .db(database)
          .collection<{ _id: string; owner: string | null; state: string; driving: boolean; version: number }>("runs")
          .findOne({ _id: id }, { projection: { owner: 1, state: 1, driving: 1, version: 1 } });
      },
      /** Where a run's events are in the database: the run document's outbox and the events collection. */
      async eventsWhere(id: string): Promise<string> {
        mongoClient ??= new MongoClient(mongo().uri, { serverSelectionTimeoutMS: 5000 });
        const db = mongoClient.db(database);
        const run = await db
          .collection<{ _id: string; state: string; driving: boolean; owner: string | null; lastSeq: number; outbox?: { seq: number }[] }>("runs")
          .findOne({ _id: id }, { projection: { owner: 1, state: 1, driving: 1, lastSeq: 1, "outbox.seq": 1 } });
        const stored = await db.collection("events").find({ runId: id }, { projection: { seq: 1 } }).sort({ seq: 1 }).toArray();
        const names = new Map(replicas.map((r) => [r.replicaId, r.name]));
        return (
          `${id}: state=${run?.state} driving=${run?.driving} owner=${names.get(run?.owner ?? "") ?? run?.owner} lastSeq=${run?.lastSeq} ` +
          `outbox=[${(run?.outbox ?? []).map((d) => d.seq).join(",")}] events collection=[${stored.map((d) => d.seq).join(",")}]`
        );
      },
      /** For runs whose terminal event a WatchWorkflows stream never got: what it saw and where the events are. */
      async dashboardMisses(dash: ReturnType<typeof dashboard>, ids: string[], createdOn: (id: string) => string): Promise<string[]> {
        const missing = ids.filter((id) => !dash.terminalSeen(id));
        return Promise.all(
          missing.slice(0, 10).map(async (id) => `${id} (created on ${createdOn(id)}): WatchWorkflows saw [${(dash.byRun.get(id) ?? []).map(describeEvent).join("; ")}]; in the database: ${await this.eventsWhere(id)}`),
        );
      },
      async owners(): Promise<string> {
        mongoClient ??= new MongoClient(mongo().uri, { serverSelectionTimeoutMS: 5000 });
        const docs = await mongoClient.db(database).collection("runs").find({ driving: true }, { projection: { owner: 1, state: 1 } }).limit(20).toArray();
        const names = new Map(replicas.map((r) => [r.replicaId, r.name]));
        return `runs still driving (first 20): ${JSON.stringify(docs.map((d) => [d._id, d.state, names.get(d.owner) ?? d.owner]))}`;
      },
    };
  }

  function formatLogs(r: Replica): string {
    const lines = r.logs.flatMap((chunk) => chunk.split("\n")).filter((l) => l.trim() !== "");
    // Per-run "workflow created"/"workflow finished" lines would drown the rest: they are only counted.
    const perRun = (l: string) => (l.includes('"msg":"workflow finished"') || l.includes('"msg":"workflow created"')) && l.includes('"level":30');
    const finished = lines.filter(perRun).length;
    const rest = lines.filter((l) => !perRun(l));
    const shown = rest.slice(-200);
    return (
      `\n===== logs of replica ${r.name} (${r.replicaId}, ${r.cleanedUp ? "running until the test's cleanup" : alive(r) ? "running" : `exited ${r.child.exitCode ?? r.child.signalCode}`}): ` +
      `${finished} "workflow created"/"workflow finished" lines omitted${rest.length > shown.length ? `, first ${rest.length - shown.length} other lines omitted` : ""}\n` +
      shown.join("\n")
    );
  }

  const tookOver = (r: Replica) =>
    logEntries(r)
      .filter((e) => e.msg === "took over runs")
      .reduce((n, e) => n + Number(e.runs ?? 0), 0);

  // ---------------------------------------------------------------------------------------

  test(`three replicas, ${RUNS} runs of mixed shapes, one replica killed with kill -9 mid-way: every run finishes once, watchers on a survivor see everything`, { timeout: 150_000 }, async () => {
    const t0 = Date.now();
    const c = cluster();
    const args = ["--lease-ttl-ms", "2000", "--sweep-interval-ms", "300", "--poll-interval-ms", "20", "--log-level", "info"];
    const replicas = await Promise.all(["r0", "r1", "r2"].map((n) => c.start(n, args)));
    const [survivor, , victim] = replicas;
    const tStarted = Date.now();

    // ---- handlers: deterministic results (a re-sent attempt gets the same answer), some slow-ish ----
    const P = "/rep";
    const jitter = (min: number, max: number) => min + Math.floor(Math.random() * (max - min));
    const ok = (call: RecordedCall, delayMs: number, result?: unknown) => ({
      json: { success: true, result: result ?? { run: call.body.runId, step: call.body.stepId } },
      delayMs,
    });
    // A few of r2's runs hold their first call until r2 is killed, so calls of r2 are in flight at the kill however
    // fast or slow the machine runs the others.
    let openGate!: () => void;
    const gate = new Promise<void>((r) => (openGate = r));
    let gateOpen = false;
    for (const k of [1, 2, 3, 4]) {
      handlers.on(`${P}/chain/c${k}`, async (call) => {
        if (k === 1 && !gateOpen && (call.body.context as { hold?: boolean } | undefined)?.hold) await gate;
        return ok(call, k === 2 ? jitter(30, 70) : jitter(2, 15));
      });
    }
    handlers.on(`${P}/fan/prepare`, (call) => ok(call, jitter(2, 15)));
    handlers.on(`${P}/fan/item`, (call) => ok(call, jitter(10, 60)));
    handlers.on(`${P}/fan/finalize`, (call) =>
      ok(call, jitter(2, 10), { seen: Object.keys(call.body.previousSteps).filter((s) => s.startsWith("item-")).sort() }),
    );
    for (const s of ["reserve", "charge", "prepare", "left", "right"]) handlers.on(`${P}/saga/${s}`, (call) => ok(call, jitter(5, 50)));
    for (const s of ["ship", "commit"]) {
      handlers.on(`${P}/saga/${s}`, () => ({ status: 422, json: { success: false, error: "declined for good" }, delayMs: jitter(5, 30) }));
    }
    handlers.on(`${P}/saga/notify`, (call) => ok(call, 1));
    handlers.on(`${P}/saga/undo`, (call) => ok(call, jitter(5, 25), { undone: call.body.stepId }));

    // ---- the runs ----
    type Shape = "chain" | "fan" | "saga-line" | "saga-diamond";
    interface Planned {
      index: number;
      shape: Shape;
      on: Replica;
      steps: StepInit[];
      /** The step that fails for good (sagas). */
      failing?: string;
      id?: string;
      createdAt?: number;
    }
    const undo = `${P}/saga/undo`;
    function plan(index: number): Planned {
      const on = replicas[index % 3];
      const kind = Math.floor(index / 3) % 4;
      if (kind === 0) {
        const n = 3 + (index % 2);
        const steps = Array.from({ length: n }, (_, k) => ({
          id: `c${k + 1}`,
          url: `${P}/chain/c${k + 1}`,
          dependsOn: k === 0 ? [] : [`c${k}`],
        }));
        return { index, shape: "chain", on, steps };
      }
      if (kind === 1) {
        const n = 2 + (index % 4);
        const items = Array.from({ length: n }, (_, k) => ({ id: `item-${k + 1}`, url: `${P}/fan/item`, dependsOn: ["prepare"], parallel: true }));
        return {
          index,
          shape: "fan",
          on,
          steps: [{ id: "prepare", url: `${P}/fan/prepare` }, ...items, { id: "finalize", url: `${P}/fan/finalize`, dependsOn: items.map((s) => s.id) }],
        };
      }
      if (kind === 2) {
        return {
          index,
          shape: "saga-line",
          on,
          failing: "ship",
          steps: [
            { id: "reserve", url: `${P}/saga/reserve`, compensation: undo },
            { id: "charge", url: `${P}/saga/charge`, dependsOn: ["reserve"], compensation: undo },
            { id: "ship", url: `${P}/saga/ship`, dependsOn: ["charge"], compensation: undo },
            { id: "notify", url: `${P}/saga/notify`, dependsOn: ["ship"] },
          ],
        };
      }
      return {
        index,
        shape: "saga-diamond",
        on,
        failing: "commit",
        steps: [
          { id: "prepare", url: `${P}/saga/prepare`, compensation: undo },
          { id: "left", url: `${P}/saga/left`, dependsOn: ["prepare"], parallel: true, compensation: undo },
          { id: "right", url: `${P}/saga/right`, dependsOn: ["prepare"], parallel: true, compensation: undo },
          { id: "commit", url: `${P}/saga/commit`, dependsOn: ["left", "right"], compensation: undo },
        ],
      };
    }
    const planned = Array.from({ length: RUNS }, (_, i) => plan(i));
    const held = new Set(planned.filter((p) => p.on === victim && p.shape === "chain").slice(-4));

    // ---- a WatchWorkflows dashboard on a survivor, live before the first run ----
    const dash = dashboard(survivor.client);
    handlers.on(`${P}/warmup`, (call) => ok(call, 0));
    const warm = (await victim.client.createWorkflow({ id: "warmup", baseUrl: handlers.baseUrl, steps: [{ id: "w", url: `${P}/warmup` }] })).workflow!.id;
    await until(() => dash.terminalSeen(warm), "the dashboard on r0 to see the warm-up run (created on r2) finish", 20_000);

    // ---- create every run, round robin over the three replicas ----
    await pool(planned, 24, async (p) => {
      const res = await p.on.client.createWorkflow({
        id: `replicas-${p.shape}`,
        baseUrl: handlers.baseUrl,
        steps: p.steps,
        saga: p.shape.startsWith("saga"),
        context: held.has(p) ? { index: p.index, hold: true } : { index: p.index },
      });
      p.id = res.workflow!.id;
      p.createdAt = Date.now();
    });
    const tCreated = Date.now();
    const byId = new Map(planned.map((p) => [p.id!, p]));
    const victimRuns = new Set(planned.filter((p) => p.on === victim).map((p) => p.id!));
    const victimInflight = () =>
      handlers.calls.filter((call) => victimRuns.has(call.body.runId) && call.respondedAt === undefined && !call.aborted);

    // ---- watchers on the survivor for some of the victim's runs, unfinished yet (the last it was given) ----
    const watchedIds = [...victimRuns].filter((id) => !dash.terminalSeen(id)).slice(-6);
    expect(watchedIds.length, "unfinished runs of r2 to watch").toBeGreaterThan(0);
    const snapshots = new Set<string>();
    const watches = watchedIds.map((id) =>
      collectWatch((signal) => survivor.client.watchWorkflow({ id }, { signal }), {
        timeoutMs: 90_000,
        onMessage: (m) => {
          if (m.kind.case === "snapshot") snapshots.add(id);
        },
      }).then((w) => [id, w] as const),
    );
    await until(() => snapshots.size === watchedIds.length, "the per-run watchers on r0 to get their snapshots", 20_000);
    // ---- about mid-way, with calls of r2 in flight, kill -9 (no await between the check and the kill) ----
    const terminalCount = () => planned.filter((p) => dash.terminalSeen(p.id!)).length;
    await until(
      () => terminalCount() >= RUNS * 0.4 && victimInflight().length >= 3,
      "40% of the runs to finish with calls of r2 in flight",
      60_000,
      () => `${terminalCount()} finished, ${victimInflight().length} calls of r2 in flight`,
    );
    // No await from here to the kill: nothing can answer these calls in between.
    const inflightAtKill = victimInflight();
    const finishedAtKill = terminalCount();
    const killAt = Date.now();
    await kill9(victim);
    gateOpen = true;
    openGate();

    // ---- everything finishes on the survivors ----
    const ids = planned.map((p) => p.id!);
    const finals = await waitAllTerminal(survivor.client, ids, 90_000, () => c.owners());
    const tDone = Date.now();
    // Checked at the end, with the details of any run it missed.
    await until(() => ids.every((id) => dash.terminalSeen(id)), "WatchWorkflows on r0 to see every run finish", 10_000).catch(() => {});
    const watched = new Map(await Promise.all(watches));
    await sleep(300); // anything repeated would arrive now
    await dash.stop();
    expect(dash.error).toBeUndefined();

    // ---- per run: the right outcome, recorded exactly once ----
    const logs = new Map(await pool(ids, 8, async (id) => [id, await eventLog(replicas[(byId.get(id)!.index + 1) % 2].client, id)] as const));
    let takenOver = 0;
    for (const p of planned) {
      const id = p.id!;
      const w = finals.get(id)!;
      const log = logs.get(id)!;
      expectWellFormedLog(id, log, w.lastSequence);
      const terminal = log.find(isTerminalRunEvent)!;
      const terminalAt = Number(terminal.time!.seconds) * 1000 + terminal.time!.nanos / 1e6;
      if (p.on === victim && terminalAt > killAt) takenOver++;
      const calls = handlers.callsFor(id);
      const stepIds = p.steps.map((s) => s.id!);
      // Every attempt was the first: what was sent twice was re-sent, not retried.
      for (const s of w.steps) expect(s.attempts, `${id} ${s.id} attempts`).toBeLessThanOrEqual(1);
      if (p.shape === "chain" || p.shape === "fan") {
        expect(WorkflowState[w.state], `${id} (${p.shape}) state`).toBe("COMPLETED");
        expect(completedSteps(log).sort(), `${id}: completed once each`).toEqual([...stepIds].sort());
        for (const s of stepIds) {
          const expected = s === "finalize" ? { seen: stepIds.filter((x) => x.startsWith("item-")).sort() } : { run: id, step: s };
          expect(toJson(ValueSchema, w.results[s]), `${id} result of ${s}`).toEqual(expected);
        }
        // Each call saw the results of every step it depends on (the fan-in: all of them).
        for (const call of calls) {
          const def = p.steps.find((s) => s.id === call.body.stepId)!;
          for (const dep of def.dependsOn ?? []) {
            expect(call.body.previousSteps[dep]?.result, `${id} ${def.id} sees ${dep}`).toEqual({ run: id, step: dep });
          }
        }
      } else {
        expect(WorkflowState[w.state], `${id} (${p.shape}) state`).toBe("FAILED");
        expect(w.error?.stepId).toBe(p.failing);
        expect(w.compensationFailed).toBe(false);
        const completed = completedSteps(log);
        expect([...completed].sort(), `${id}: completed steps`).toEqual(stepIds.filter((s) => s !== p.failing && s !== "notify").sort());
        // Compensated newest completion first, each once; the failed step and the skipped one never.
        const compensated = log.filter(
          (e) => e.transition.case === "compensation" && e.transition.value.toState === CompensationState.SUCCEEDED,
        );
        expect(compensated.map((e) => e.stepId), `${id}: compensations in the log`).toEqual([...completed].reverse());
        const undoCalls = calls.filter((call) => call.path === undo).sort((a, b) => a.receivedAt - b.receivedAt);
        const firstReceipts = [...new Set(undoCalls.map((call) => call.body.stepId))];
        expect(firstReceipts, `${id}: compensation calls`).toEqual([...completed].reverse());
        for (const s of w.steps) {
          const want = completed.includes(s.id) ? CompensationState.SUCCEEDED : CompensationState.UNSPECIFIED;
          expect(CompensationState[s.compensationState], `${id} ${s.id} compensation`).toBe(CompensationState[want]);
        }
        expect(calls.filter((call) => call.path === `${P}/saga/notify`)).toHaveLength(0);
      }
      // Handler side: every delivery of one step (or of its compensation) carries that step's one key.
      for (const call of calls) {
        const comp = call.headers["weft-compensation"] === "true";
        expect(call.headers["idempotency-key"], `${id} ${call.path}`).toBe(`${id}:${call.body.stepId}${comp ? ":compensation" : ""}`);
      }
    }

    // ---- the takeover: the victim's unfinished runs were finished by others, its in-flight calls re-sent ----
    expect(takenOver, "runs created on r2 that finished after r2 was killed").toBeGreaterThan(0);
    expect(inflightAtKill.length).toBeGreaterThan(0);
    for (const lost of inflightAtKill) {
      const again = handlers.calls.filter(
        (call) => call !== lost && call.headers["idempotency-key"] === lost.headers["idempotency-key"] && call.receivedAt > lost.receivedAt,
      );
      expect(again.length, `${lost.headers["idempotency-key"]} (in flight at the kill) sent again`).toBeGreaterThanOrEqual(1);
      for (const call of again) {
        expect(call.path).toBe(lost.path);
        expect(call.body.attempt, `${lost.headers["idempotency-key"]}: the same attempt`).toBe(lost.body.attempt);
      }
    }
    const resent = new Map<string, number>();
    for (const call of handlers.calls) {
      const k = String(call.headers["idempotency-key"]);
      if (byId.has(call.body.runId)) resent.set(k, (resent.get(k) ?? 0) + 1);
    }
    const deliveredTwice = [...resent.values()].filter((n) => n > 1).length;
    expect(tookOver(replicas[0]) + tookOver(replicas[1]), "runs the survivors logged as taken over").toBeGreaterThan(0);

    console.log(
      `[mongo-replicas] ${RUNS} runs: replicas up in ${tStarted - t0} ms, created in ${tCreated - tStarted} ms; ` +
        `kill -9 of r2 after ${killAt - tStarted} ms with ${finishedAtKill} runs finished and ${inflightAtKill.length} of its calls in flight; ` +
        `all finished ${tDone - killAt} ms after the kill; ${takenOver} of r2's runs finished by r0/r1 ` +
        `(logged takeovers: r0 ${tookOver(replicas[0])}, r1 ${tookOver(replicas[1])}); ${deliveredTwice} steps delivered more than once; ` +
        `${dash.events.length} WatchWorkflows events`,
    );

    // ---- the watchers on the survivor ----
    for (const [id, w] of watched) expectWatchedAll(id, w, logs.get(id)!);
    const missed = await Promise.all(
      ids
        .filter((id) => !dash.terminalSeen(id))
        .slice(0, 10)
        .map(async (id) => {
          const p = byId.get(id)!;
          const t = logs.get(id)!.find(isTerminalRunEvent)!;
          const at = Number(t.time!.seconds) * 1000 + t.time!.nanos / 1e6 - killAt;
          return (
            `${id} (created on ${p.on.name}, finished ${at.toFixed(0)} ms after the kill): ` +
            `WatchWorkflows saw [${(dash.byRun.get(id) ?? []).map(describeEvent).join("; ")}]; in the database: ${await c.eventsWhere(id)}`
          );
        }),
    );
    expect(missed, `runs whose terminal event never reached WatchWorkflows on r0 (${ids.filter((id) => !dash.terminalSeen(id)).length} in all)`).toEqual([]);
    for (const id of ids) expectDashboardSaw(id, dash.byRun.get(id), logs.get(id)!);

  });
  // ---------------------------------------------------------------------------------------

  const FAST = ["--sweep-interval-ms", "300", "--poll-interval-ms", "20"];

  /** Chain and fan-out handlers under `prefix`, answering `{run, step}` after a few tens of ms at most. */
  function programShapes(prefix: string): void {
    const jitter = (min: number, max: number) => min + Math.floor(Math.random() * (max - min));
    const ok = (call: RecordedCall, delayMs: number) => ({ json: { success: true, result: { run: call.body.runId, step: call.body.stepId } }, delayMs });
    handlers.on(`${prefix}/step`, (call) => ok(call, jitter(5, 40)));
    handlers.on(`${prefix}/item`, (call) => ok(call, jitter(40, 150)));
  }
  const chainSteps = (prefix: string, n: number): StepInit[] =>
    Array.from({ length: n }, (_, k) => ({ id: `s${k + 1}`, url: `${prefix}/step`, dependsOn: k === 0 ? [] : [`s${k}`] }));
  const fanSteps = (prefix: string, n: number): StepInit[] => {
    const items = Array.from({ length: n }, (_, k) => ({ id: `item-${k + 1}`, url: `${prefix}/item`, dependsOn: ["prepare"], parallel: true }));
    return [{ id: "prepare", url: `${prefix}/step` }, ...items, { id: "finalize", url: `${prefix}/step`, dependsOn: items.map((i) => i.id) }];
  };

  /** Starts a WatchWorkflows stream on `r` and returns once it demonstrably receives events (a warm-up run created on `via`). */
  async function liveDashboard(r: Replica, via: Replica, prefix: string) {
    const dash = dashboard(r.client);
    handlers.on(`${prefix}/warmup`, () => ({ json: { success: true } }));
    const { workflow } = await via.client.createWorkflow({ id: "warmup", baseUrl: handlers.baseUrl, steps: [{ id: "w", url: `${prefix}/warmup` }] });
    await until(() => dash.terminalSeen(workflow!.id), `WatchWorkflows on ${r.name} to see a run of ${via.name} finish`, 20_000);
    return dash;
  }

  test("CancelWorkflow on a replica that does not drive the run: CANCELLED comes back, the in-flight call is aborted, no later step is called", async () => {
    const c = cluster();
    const args = ["--lease-ttl-ms", "5000", ...FAST];
    const [a, b] = await Promise.all([c.start("A", args), c.start("B", args)]);
    expect(a.replicaId).not.toBe(b.replicaId);
    handlers.on("/cx/first", () => ({ json: { success: true, result: "first" } }));
    handlers.on("/cx/slow", hangUntilAborted(30_000));
    handlers.on("/cx/after", () => ({ json: { success: true, result: "after" } }));
    const { workflow } = await a.client.createWorkflow({
      id: "cancel-elsewhere",
      baseUrl: handlers.baseUrl,
      steps: [
        { id: "first", url: "/cx/first" },
        { id: "slow", url: "/cx/slow", dependsOn: ["first"] },
        { id: "after", url: "/cx/after", dependsOn: ["slow"] },
      ],
    });
    const id = workflow!.id;
    const slowCall = await handlers.waitForCall((call) => call.body.runId === id && call.path === "/cx/slow", 20_000);
    expect((await c.runDoc(id))?.owner, "the run is driven by A").toBe(a.replicaId);

    const res = await b.client.cancelWorkflow({ id, reason: "customer changed their mind" });
    expect(WorkflowState[res.workflow!.state]).toBe("CANCELLED");
    expect(res.workflow!.error?.message).toContain("customer changed their mind");
    await until(() => slowCall.aborted, "A to abort the in-flight call of the slow step", 10_000);

    for (const r of [a, b]) {
      const w = (await r.client.getWorkflow({ id })).workflow!;
      expect(WorkflowState[w.state], `state on ${r.name}`).toBe("CANCELLED");
      expect(w.steps.map((s) => [s.id, StepState[s.state]])).toEqual([
        ["first", "COMPLETED"],
        ["slow", "CANCELLED"],
        ["after", "SKIPPED"],
      ]);
    }
    await sleep(500); // a late call of a later step would show now
    expect(handlers.callsFor(id, "/cx/after")).toHaveLength(0);
    expect(handlers.callsFor(id, "/cx/slow")).toHaveLength(1);
    const log = await eventLog(b.client, id);
    expectWellFormedLog(id, log, BigInt(log.length));
    expect(runEvents(log).map(describeEvent).map((d) => d.replace(/^\d+ /, ""))).toEqual([
      "run UNSPECIFIED→PENDING",
      "run PENDING→RUNNING",
      "run RUNNING→CANCELLED",
    ]);
    expect(log.filter((e) => e.stepId === "slow").map((e) => describeEvent(e).replace(/^\d+ /, ""))).toEqual([
      "slow PENDING→RUNNING",
      "slow RUNNING→CANCELLED",
    ]);
    expect(log.filter((e) => e.stepId === "after").map((e) => describeEvent(e).replace(/^\d+ /, ""))).toEqual(["after PENDING→SKIPPED"]);
  });

  test("a graceful stop (SIGTERM) hands the replica's runs over at once: the others finish them long before its 60 s lease would expire", async () => {
    const c = cluster();
    const args = ["--lease-ttl-ms", "60000", ...FAST, "--shutdown-grace-ms", "300", "--log-level", "info"];
    const [a, b, cc] = await Promise.all([c.start("A", args), c.start("B", args), c.start("C", args)]);
    handlers.on("/gs/a", (call) => ({ json: { success: true, result: { run: call.body.runId, step: "a" } } }));
    // The first delivery of `slow` outlasts A's grace period; a delivery again (same key) answers at once.
    const hang = hangUntilAborted(30_000);
    handlers.on("/gs/slow", (call, calls) =>
      calls.some((x) => x !== call && x.headers["idempotency-key"] === call.headers["idempotency-key"])
        ? { json: { success: true, result: { run: call.body.runId, step: "slow" } } }
        : hang(call, calls),
    );
    handlers.on("/gs/c", (call) => ({ json: { success: true, result: { run: call.body.runId, step: "c" } } }));
    const ids = await pool(Array.from({ length: 30 }, (_, i) => i), 10, async (i) => {
      const { workflow } = await a.client.createWorkflow({
        id: "graceful",
        baseUrl: handlers.baseUrl,
        context: { i },
        steps: [
          { id: "a", url: "/gs/a" },
          { id: "slow", url: "/gs/slow", dependsOn: ["a"] },
          { id: "c", url: "/gs/c", dependsOn: ["slow"] },
        ],
      });
      return workflow!.id;
    });
    await until(() => ids.every((id) => handlers.callsFor(id, "/gs/slow").length > 0), "A to call the slow step of every run", 20_000);
    for (const id of ids) expect((await c.runDoc(id))?.owner, `${id} driven by A`).toBe(a.replicaId);

    const stoppedAt = Date.now();
    expect(await stopWeft(a, "SIGTERM"), "A's exit code").toBe(0);
    // The lease is 60 s: only the hand-over can explain the others finishing these runs in far less.
    const finals = await waitAllTerminal(b.client, ids, 30_000, () => c.owners());
    const tookMs = Date.now() - stoppedAt;
    const survivors = new Set([b.replicaId, cc.replicaId]);
    for (const id of ids) {
      const w = finals.get(id)!;
      expect(WorkflowState[w.state], id).toBe("COMPLETED");
      const log = await eventLog(cc.client, id);
      expectWellFormedLog(id, log, w.lastSequence);
      expect(completedSteps(log).sort()).toEqual(["a", "c", "slow"]);
      const slow = handlers.callsFor(id, "/gs/slow");
      expect(slow, `${id}: slow delivered by A, then once more`).toHaveLength(2);
      expect(slow[0].aborted, `${id}: A's call aborted at the end of its grace period`).toBe(true);
      expect(slow.map((x) => x.headers["idempotency-key"])).toEqual([`${id}:slow`, `${id}:slow`]);
      expect(slow[1].body.attempt).toBe(slow[0].body.attempt);
      expect(slow[1].body.previousSteps.a.result).toEqual({ run: id, step: "a" });
      expect(handlers.callsFor(id, "/gs/a")).toHaveLength(1);
      expect(handlers.callsFor(id, "/gs/c")).toHaveLength(1);
      expect(survivors.has(String((await c.runDoc(id))?.owner)), `${id} finished by B or C`).toBe(true);
    }
    const released = logEntries(a).filter((e) => e.msg === "released runs to other replicas");
    expect(released.map((e) => e.runs)).toEqual([30]);
    expect(tookOver(b) + tookOver(cc)).toBeGreaterThanOrEqual(30);
    console.log(`[mongo-replicas] SIGTERM: 30 runs handed over and finished by B (${tookOver(b)}) and C (${tookOver(cc)}) ${tookMs} ms after the signal (lease: 60000 ms)`);
  });

  test("the change stream of one replica is cut again and again (a proxy resets its connections): no run stalls, its watchers see every event once and in order", { timeout: 120_000 }, async (ctx) => {
    const address = mongo().address;
    if (!address) {
      console.warn("*** SKIPPED the change-stream interruption test: the MongoDB under test (MONGODB_URI) has no address to put a proxy in front of");
      ctx.skip();
      return;
    }
    const proxy = await startTcpProxy(address.host, address.port);
    onTestFinished(() => proxy.close());
    const proxied = new URL(mongo().uri);
    proxied.host = `127.0.0.1:${proxy.port}`;
    proxied.searchParams.set("directConnection", "true");
    const c = cluster();
    const args = ["--lease-ttl-ms", "15000", ...FAST, "--log-level", "info"];
    // WEFT_TEST_DRIVER_LOG=<file>: the cut replica logs the MongoDB driver's topology, connection and
    // server-selection events, and its whole log is written to <file> if the test fails.
    const driverLog = process.env.WEFT_TEST_DRIVER_LOG;
    const driverEnv = driverLog
      ? { MONGODB_LOG_TOPOLOGY: "debug", MONGODB_LOG_CONNECTION: "debug", MONGODB_LOG_SERVER_SELECTION: "debug", MONGODB_LOG_PATH: "stderr" }
      : undefined;
    const [direct, cut] = await Promise.all([c.start("direct", args), c.start("cut", args, proxied.toString(), driverEnv)]);
    if (driverLog) onTestFailed(() => writeFileSync(driverLog, cut.logs.join("\n")));
    /** Whether the cut replica still reaches MongoDB, and whether a fresh client gets through the proxy. */
    const probe = async () => {
      const before = proxy.accepted;
      const fresh = new MongoClient(proxied.toString(), { serverSelectionTimeoutMS: 5000 });
      const ping = await fresh
        .db("admin")
        .command({ ping: 1 })
        .then(() => "ok", (e: Error) => `failed: ${e.message}`);
      await fresh.close();
      const freshConnections = proxy.accepted - before;
      const read = await cut.client
        .listWorkflows({ pageSize: 1 }, { timeoutMs: 5000 })
        .then(() => "ok", (e: Error) => `failed: ${e.message}`);
      return (
        `a fresh client through the proxy: ping ${ping}; ListWorkflows on the cut replica (5 s deadline): ${read}; ` +
        `connections the cut replica opened through the proxy meanwhile: ${proxy.accepted - before - freshConnections}; ${await c.owners()}`
      );
    };
    programShapes("/cs");
    const dash = await liveDashboard(cut, direct, "/cs");

    // The runs are driven by the direct replica; the cut one only watches them.
    const ids: string[] = [];
    const watches: Promise<readonly [string, ResumedWatch]>[] = [];
    let cuts = 0;
    for (let wave = 0; wave < 4; wave++) {
      const created = await pool(Array.from({ length: 12 }, (_, i) => i), 6, async (i) => {
        const steps = i % 2 === 0 ? fanSteps("/cs", 3) : chainSteps("/cs", 4);
        const { workflow } = await direct.client.createWorkflow({ id: `cut-${i % 2 === 0 ? "fan" : "chain"}`, baseUrl: handlers.baseUrl, steps });
        return workflow!.id;
      });
      for (const id of created) {
        ids.push(id);
        watches.push(watchResuming(cut.client, id, 60_000).then((w) => [id, w] as const));
      }
      await sleep(150);
      proxy.cutAll();
      cuts++;
      await sleep(200);
    }
    proxy.cutAll();
    cuts++;
    const finals = await waitAllTerminal(direct.client, ids, 30_000, () => c.owners());
    let ended = 0;
    for (const w of watches) void w.then(() => ended++);
    await until(() => ended === watches.length, "the WatchWorkflow streams on the cut replica to end", 40_000).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${watches.length - ended} of ${watches.length} still open after their runs had finished; ${await probe()}`);
    });
    const watched = await Promise.all(watches);
    await until(() => ids.every((id) => dash.terminalSeen(id)), "WatchWorkflows on the cut replica to see every run finish", 10_000).catch(() => {});
    await sleep(300);
    await dash.stop();
    expect(dash.error).toBeUndefined();
    const missed = await c.dashboardMisses(dash, ids, () => "direct");
    if (missed.length > 0) missed.push(await probe());
    expect(missed, "runs whose terminal event never reached WatchWorkflows on the cut replica").toEqual([]);
    const streamErrors: string[] = [];
    for (const [id, w] of watched) {
      const log = await eventLog(direct.client, id);
      expect(WorkflowState[finals.get(id)!.state], id).toBe("COMPLETED");
      expectWellFormedLog(id, log, finals.get(id)!.lastSequence);
      expectWatchedAll(id, w, log);
      expectDashboardSaw(id, dash.byRun.get(id), log);
      streamErrors.push(...w.errors);
    }
    expect(proxy.accepted, "the cut replica reconnected").toBeGreaterThan(cuts);
    const warnings = logEntries(cut).filter((e) => Number(e.level) >= 40).map((e) => String(e.msg));
    console.log(
      `[mongo-replicas] change stream cut ${cuts} times: ${ids.length} runs, ${proxy.accepted} connections through the proxy; ` +
        `warnings of the cut replica: ${JSON.stringify([...new Set(warnings)])}; ` +
        `WatchWorkflow streams that failed and were resumed with after_sequence: ${streamErrors.length} ${JSON.stringify([...new Set(streamErrors)])}`,
    );
  });

  test("a replica on the polling feed (--mongodb-feed poll) serves WatchWorkflow and WatchWorkflows with every event of runs another replica drives", async () => {
    const c = cluster();
    const args = ["--lease-ttl-ms", "15000", ...FAST];
    const [driver, poller] = await Promise.all([c.start("driver", args), c.start("poller", [...args, "--mongodb-feed", "poll"])]);
    expect(logEntries(poller).find((e) => e.msg === "using the MongoDB store")?.feed).toBe("poll");
    programShapes("/pf");
    const dash = await liveDashboard(poller, driver, "/pf");
    const ids = await pool(Array.from({ length: 12 }, (_, i) => i), 6, async (i) => {
      const steps = i % 2 === 0 ? fanSteps("/pf", 2 + (i % 3)) : chainSteps("/pf", 3);
      const { workflow } = await driver.client.createWorkflow({ id: "polled", baseUrl: handlers.baseUrl, steps });
      return workflow!.id;
    });
    const watches = ids.map((id) => collectWatch((signal) => poller.client.watchWorkflow({ id }, { signal }), { timeoutMs: 60_000 }));
    const finals = await waitAllTerminal(driver.client, ids, 30_000, () => c.owners());
    const watched = await Promise.all(watches);
    await until(() => ids.every((id) => dash.terminalSeen(id)), "WatchWorkflows on the polling replica to see every run finish", 10_000).catch(() => {});
    await sleep(200);
    await dash.stop();
    expect(dash.error).toBeUndefined();
    expect(await c.dashboardMisses(dash, ids, () => driver.name), "runs whose terminal event never reached WatchWorkflows on the polling replica").toEqual([]);
    for (const [i, id] of ids.entries()) {
      const log = await eventLog(poller.client, id);
      expect(WorkflowState[finals.get(id)!.state], id).toBe("COMPLETED");
      expectWellFormedLog(id, log, finals.get(id)!.lastSequence);
      expectWatchedAll(id, watched[i], log);
      expectDashboardSaw(id, dash.byRun.get(id), log);
      for (const call of handlers.callsFor(id)) expect(call.headers["idempotency-key"]).toBe(`${id}:${call.body.stepId}`);
    }
    expect((await c.runDoc(ids[0]))?.owner).toBe(driver.replicaId);
  });
});
