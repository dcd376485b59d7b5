// WatchWorkflow / ListWorkflowEvents against the real server: ordering, resume
// (also across a kill -9), finished runs, fan-out, cancellation without leaks,
// heartbeats, errors and shutdown. Protocols and WatchWorkflows live in
// watch-clients.test.ts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { create } from "@bufbuild/protobuf";
import {
  StepState,
  type WatchWorkflowResponse,
  WatchWorkflowRequestSchema,
  type WorkflowEvent,
  WorkflowState,
} from "../../gen/ts/weft/v1/workflow_pb.js";
import { HandlerServer } from "../support/handler-server.ts";
import {
  collectWatch,
  complexPipeline,
  describeEvent,
  Gate,
  gated,
  grpcJsWatchClient,
  isTerminalRunEvent,
  listEvents,
  range,
  runTrail,
  seqs,
  sleep,
  stepTrail,
  until,
  within,
} from "../support/watch.ts";
import { kill9, spawnWeft } from "../support/weft-process.ts";
import { startWeft, type TestWeft, waitForRun } from "../support/weft.ts";

let handlers: HandlerServer;
let weft: TestWeft;
const gates: Gate[] = [];
const newGate = () => {
  const g = new Gate();
  gates.push(g);
  return g;
};

beforeAll(async () => {
  handlers = await HandlerServer.start();
  weft = await startWeft();
});

afterAll(async () => {
  for (const g of gates) g.open();
  await weft?.stop();
  await handlers?.close();
});

const PIPELINE_STEPS = ["prepare", "process-a", "process-b", "process-c", "validate", "aggregate", "notify"];

/** Run and step states after applying `events` (the whole history up to some sequence). */
function replay(events: WorkflowEvent[]) {
  let run = WorkflowState.UNSPECIFIED;
  const steps = new Map<string, StepState>();
  for (const e of events) {
    if (e.transition.case === "run") run = e.transition.value.toState;
    if (e.transition.case === "step") steps.set(e.stepId, e.transition.value.toState);
  }
  return { run, steps };
}

async function expectListenersBack(baseline: number): Promise<void> {
  await expect.poll(() => weft.server.feed.listenerCount, { timeout: 30_000, interval: 10 }).toBe(baseline);
}

describe("WatchWorkflow", () => {
  test("a watcher started right after CreateWorkflow gets the snapshot, then every transition once and in order, then the stream ends", async () => {
    handlers.on("/w1/prepare", () => ({ json: { success: true, result: { prepared: true } }, delayMs: 300 }));
    for (const p of ["a", "b", "c"]) {
      handlers.on(`/w1/process-${p}`, () => ({ json: { success: true, result: { p } }, delayMs: 40 }));
    }
    const { workflow } = await weft.client.createWorkflow({
      id: "complex-pipeline",
      steps: complexPipeline(handlers, "/w1"),
      context: { pipelineId: "pipeline_123" },
    });
    const id = workflow!.id;
    const w = await collectWatch((signal) => weft.client.watchWorkflow({ id }, { signal }));
    expect(w.error).toBeUndefined();
    expect(w.ended).toBe(true);

    // A snapshot first, and only once.
    expect(w.messages[0].kind.case).toBe("snapshot");
    expect(w.messages.filter((m) => m.kind.case === "snapshot")).toHaveLength(1);
    const snap = w.snapshot!;
    expect(snap.id).toBe(id);
    expect(snap.workflowId).toBe("complex-pipeline");
    const s = Number(snap.lastSequence);
    expect(s).toBeGreaterThanOrEqual(1);

    // Then sequences s+1, s+2, … with no gap and no duplicate, the terminal run event last.
    expect(seqs(w.events)).toEqual(range(s, w.events.length));
    const last = w.events.at(-1)!;
    expect(describeEvent(last)).toBe(`${s + w.events.length} run RUNNING→COMPLETED`);
    expect(w.events.filter(isTerminalRunEvent)).toHaveLength(1);
    for (const e of w.events) {
      expect(e.runId).toBe(id);
      expect(e.workflowId).toBe("complex-pipeline");
    }
    // prepare takes 300 ms: every step completes after the snapshot was taken.
    for (const step of PIPELINE_STEPS) expect(stepTrail(w.events, step), step).toContain("RUNNING→COMPLETED");

    // Cross-check with the paged history: the watched events are exactly the log after the snapshot.
    const done = await weft.client.getWorkflow({ id });
    const all = await listEvents(weft.client, id, 3);
    expect(all.pages).toBeGreaterThanOrEqual(Math.ceil(all.events.length / 3));
    expect(seqs(all.events)).toEqual(range(0, Number(done.workflow!.lastSequence)));
    expect(w.events.map(describeEvent)).toEqual(all.events.filter((e) => e.sequence > snap.lastSequence).map(describeEvent));
    expect(w.events).toEqual(all.events.filter((e) => e.sequence > snap.lastSequence));

    // The whole history: every step pending→running→completed, the run pending→running→completed.
    expect(runTrail(all.events)).toEqual(["UNSPECIFIED→PENDING", "PENDING→RUNNING", "RUNNING→COMPLETED"]);
    for (const step of PIPELINE_STEPS) expect(stepTrail(all.events, step), step).toEqual(["PENDING→RUNNING", "RUNNING→COMPLETED"]);
    // Dependencies: a step starts only after each of its dependencies completed.
    const at = (step: string, trail: string) => all.events.findIndex((e) => e.stepId === step && describeEvent(e).endsWith(trail));
    for (const def of complexPipeline(handlers, "/w1")) {
      for (const dep of def.dependsOn ?? []) expect(at(def.id, "PENDING→RUNNING"), `${def.id} after ${dep}`).toBeGreaterThan(at(dep, "RUNNING→COMPLETED"));
    }
    // The completion events carry the results; times never go backwards.
    const completedA = all.events.find((e) => e.stepId === "process-a" && describeEvent(e).endsWith("RUNNING→COMPLETED"))!;
    expect(completedA.result).toBeDefined();
    expect(done.workflow!.results["process-a"]).toEqual(completedA.result);
    const times = all.events.map((e) => Number(e.time!.seconds) * 1000 + e.time!.nanos / 1e6);
    expect(times).toEqual([...times].sort((a, b) => a - b));

    // The snapshot is the run as it was at its last_sequence.
    const before = replay(all.events.filter((e) => e.sequence <= snap.lastSequence));
    expect(snap.state).toBe(before.run);
    for (const st of snap.steps) expect(st.state, st.id).toBe(before.steps.get(st.id) ?? StepState.PENDING);
  });

  test("resume: after a disconnect, after_sequence delivers exactly the rest (caught up from the store, then live)", async () => {
    const aggregate = newGate();
    const notify = newGate();
    gated(handlers, "/w2/aggregate", aggregate, { total: 3 });
    gated(handlers, "/w2/notify", notify, { sent: true });
    const { workflow } = await weft.client.createWorkflow({ id: "complex-pipeline", steps: complexPipeline(handlers, "/w2") });
    const id = workflow!.id;
    const baseline = weft.server.feed.listenerCount;

    // Part 1: read until aggregate is running, then hang up.
    const first = await collectWatch((signal) => weft.client.watchWorkflow({ id }, { signal }), {
      stopWhen: (m) => m.kind.case === "event" && m.kind.value.stepId === "aggregate" && describeEvent(m.kind.value).endsWith("PENDING→RUNNING"),
    });
    expect(first.stopped).toBe(true);
    const s = Number(first.snapshot!.lastSequence);
    expect(seqs(first.events)).toEqual(range(s, first.events.length));
    const cut = Number(first.events.at(-1)!.sequence);
    await expectListenersBack(baseline);

    // While nobody watches, the run moves on: aggregate completes, notify starts (and waits).
    aggregate.open();
    await handlers.waitForCall((c) => c.body.runId === id && c.path === "/w2/notify");
    await waitForRun(weft.client, id, (w) => w.currentSteps.includes("notify"));

    // Part 2: resume; the missed events come from the store, the rest live once notify is released.
    let sawNotifyRunning = false;
    const second = await collectWatch((signal) => weft.client.watchWorkflow({ id, afterSequence: BigInt(cut) }, { signal }), {
      onMessage: (m) => {
        if (m.kind.case === "event" && m.kind.value.stepId === "notify" && describeEvent(m.kind.value).endsWith("PENDING→RUNNING")) {
          sawNotifyRunning = true;
          setTimeout(() => notify.open(), 50);
        }
      },
    });
    expect(sawNotifyRunning).toBe(true);
    expect(second.error).toBeUndefined();
    expect(second.ended).toBe(true);
    expect(second.snapshot).toBeUndefined();
    expect(second.messages.every((m) => m.kind.case === "event")).toBe(true);
    expect(seqs(second.events)).toEqual(range(cut, second.events.length));
    expect(describeEvent(second.events.at(-1)!)).toMatch(/ run RUNNING→COMPLETED$/);
    expect(second.events.map(describeEvent)).toEqual(
      expect.arrayContaining([expect.stringMatching(/aggregate RUNNING→COMPLETED$/), expect.stringMatching(/notify RUNNING→COMPLETED$/)]),
    );

    const history = await listEvents(weft.client, id, 4, s);
    expect([...first.events, ...second.events]).toEqual(history.events);
    await expectListenersBack(baseline);
  });

  test("resume across a kill -9 and restart on the same data directory", async () => {
    const dir = mkdtempSync(join(tmpdir(), "weft-watch-restart-"));
    const gate = newGate();
    handlers.on("/w2r/a", () => ({ json: { success: true, result: "a" }, delayMs: 100 }));
    gated(handlers, "/w2r/slow", gate, "slow");
    handlers.on("/w2r/c", () => ({ json: { success: true, result: "c" }, delayMs: 100 }));
    handlers.on("/w2r/d", () => ({ json: { success: true, result: "d" }, delayMs: 50 }));
    const first = await spawnWeft(dir);
    let second: Awaited<ReturnType<typeof spawnWeft>> | undefined;
    try {
      const { workflow } = await first.client.createWorkflow({
        id: "restartable",
        steps: [
          { id: "a", url: handlers.url("/w2r/a") },
          { id: "slow", url: handlers.url("/w2r/slow"), dependsOn: ["a"] },
          { id: "c", url: handlers.url("/w2r/c"), dependsOn: ["slow"] },
          { id: "d", url: handlers.url("/w2r/d"), dependsOn: ["c"] },
        ],
      });
      const id = workflow!.id;
      // Part 1: the stream is open when the server dies.
      let sawSlowRunning = false;
      const part1 = collectWatch((signal) => first.client.watchWorkflow({ id }, { signal }), {
        onMessage: (m) => {
          if (m.kind.case === "event" && describeEvent(m.kind.value).endsWith("slow PENDING→RUNNING")) sawSlowRunning = true;
        },
      });
      await until(() => sawSlowRunning, "slow to start");
      await handlers.waitForCall((c) => c.body.runId === id && c.path === "/w2r/slow");
      await kill9(first);
      const p1 = await within(part1, 5_000, "the stream to fail after kill -9");
      expect(p1.ended).toBe(false);
      expect(p1.error).toBeInstanceOf(ConnectError);
      const s = Number(p1.snapshot!.lastSequence);
      expect(seqs(p1.events)).toEqual(range(s, p1.events.length));
      expect(p1.events.some(isTerminalRunEvent)).toBe(false);
      const cut = Number(p1.events.at(-1)!.sequence);

      // Part 2: a new process on the same data directory resumes the run; the watcher resumes the stream.
      second = await spawnWeft(dir);
      const s2 = second;
      let released = false;
      const part2 = collectWatch((signal) => s2.client.watchWorkflow({ id, afterSequence: BigInt(cut) }, { signal }), {
        onMessage: () => {
          if (!released) {
            released = true;
            gate.open();
          }
        },
      });
      // The run may have nothing to report until slow is released: release it at the latest after 300 ms.
      setTimeout(() => gate.open(), 300);
      const p2 = await within(part2, 15_000, "the resumed stream to end");
      expect(p2.error).toBeUndefined();
      expect(p2.ended).toBe(true);
      expect(p2.snapshot).toBeUndefined();
      expect(seqs(p2.events)).toEqual(range(cut, p2.events.length));
      expect(describeEvent(p2.events.at(-1)!)).toMatch(/ run RUNNING→COMPLETED$/);

      const joined = [...p1.events, ...p2.events];
      expect(new Set(seqs(joined)).size).toBe(joined.length);
      const history = await listEvents(s2.client, id, 5, s);
      expect(joined).toEqual(history.events);
      for (const step of ["a", "slow", "c", "d"]) expect(stepTrail(history.events, step).at(-1), step).toBe("RUNNING→COMPLETED");
    } finally {
      gate.open();
      if (first.child.exitCode === null && first.child.signalCode === null) await kill9(first);
      if (second) await kill9(second);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a finished run: the snapshot and the end; after_sequence=3 replays 4..last; after the last, nothing", async () => {
    const { workflow } = await weft.client.createWorkflow({
      id: "finished",
      steps: [
        { id: "a", url: handlers.url("/w3/a") },
        { id: "b", url: handlers.url("/w3/b"), dependsOn: ["a"] },
        { id: "c", url: handlers.url("/w3/c"), dependsOn: ["b"] },
      ],
    });
    const id = workflow!.id;
    const done = await waitForRun(weft.client, id);
    expect(done.state).toBe(WorkflowState.COMPLETED);
    const n = Number(done.lastSequence);
    expect(n).toBe(9); // created, started, 3 × (running, completed), completed

    const plain = await within(collectWatch((signal) => weft.client.watchWorkflow({ id }, { signal })), 3_000, "the stream to end");
    expect(plain.error).toBeUndefined();
    expect(plain.ended).toBe(true);
    expect(plain.messages).toHaveLength(1);
    expect(plain.snapshot).toEqual(done);

    const resumed = await within(
      collectWatch((signal) => weft.client.watchWorkflow({ id, afterSequence: 3n }, { signal })),
      3_000,
      "the replay to end",
    );
    expect(resumed.error).toBeUndefined();
    expect(resumed.ended).toBe(true);
    expect(resumed.messages.every((m) => m.kind.case === "event")).toBe(true);
    expect(seqs(resumed.events)).toEqual(range(3, n - 3));
    expect(resumed.events).toEqual((await listEvents(weft.client, id, 2, 3)).events);
    expect(describeEvent(resumed.events.at(-1)!)).toBe(`${n} run RUNNING→COMPLETED`);

    for (const after of [BigInt(n), BigInt(n + 10)]) {
      const none = await within(collectWatch((signal) => weft.client.watchWorkflow({ id, afterSequence: after }, { signal })), 3_000, "an empty replay");
      expect(none.error).toBeUndefined();
      expect(none.ended).toBe(true);
      expect(none.messages).toEqual([]);
    }
  });

  test("200 watchers on one run and 200 runs with one watcher each all get their run's complete event sequence", async () => {
    const baseline = weft.server.feed.listenerCount;
    // One run, 200 watchers. The first step waits until every watcher has its snapshot.
    const gateOne = newGate();
    gated(handlers, "/w4/one/first", gateOne, 1);
    handlers.on("/w4/one/p", (c) => ({ json: { success: true, result: c.body.stepId } }));
    const { workflow } = await weft.client.createWorkflow({
      id: "fan-out-watch",
      steps: [
        { id: "first", url: handlers.url("/w4/one/first") },
        ...["p1", "p2", "p3"].map((s) => ({ id: s, url: handlers.url("/w4/one/p"), dependsOn: ["first"], parallel: true })),
        { id: "last", url: handlers.url("/w4/one/p"), dependsOn: ["p1", "p2", "p3"] },
      ],
    });
    const id = workflow!.id;
    let snapshots = 0;
    const onMessage = (m: { kind: { case: string | undefined } }) => {
      if (m.kind.case === "snapshot") snapshots++;
    };
    const t0 = Date.now();
    const watchers = Array.from({ length: 200 }, () =>
      collectWatch((signal) => weft.client.watchWorkflow({ id }, { signal }), { onMessage, timeoutMs: 30_000 }),
    );
    await until(() => snapshots === 200, "200 snapshots", 15_000);
    expect(weft.server.feed.listenerCount).toBe(baseline + 200);
    gateOne.open();
    const results = await Promise.all(watchers);
    const history = await listEvents(weft.client, id, 100);
    const s = results[0].snapshot!.lastSequence;
    const expected = history.events.filter((e) => e.sequence > s);
    expect(expected.length).toBeGreaterThanOrEqual(10);
    for (const r of results) {
      expect(r.error).toBeUndefined();
      expect(r.ended).toBe(true);
      expect(r.snapshot!.lastSequence).toBe(s);
      expect(r.events).toEqual(expected);
    }
    const oneRunMs = Date.now() - t0;

    // 200 runs, one watcher each.
    const gateMany = newGate();
    gated(handlers, "/w4/many/first", gateMany, 1);
    const ids = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const res = await weft.client.createWorkflow({
          id: "many-watched",
          context: { i },
          steps: [
            { id: "first", url: handlers.url("/w4/many/first") },
            { id: "second", url: handlers.url("/w4/many/second"), dependsOn: ["first"] },
          ],
        });
        return res.workflow!.id;
      }),
    );
    snapshots = 0;
    const perRun = ids.map((runId) =>
      collectWatch((signal) => weft.client.watchWorkflow({ id: runId }, { signal }), { onMessage, timeoutMs: 30_000 }),
    );
    await until(() => snapshots === 200, "200 snapshots", 15_000);
    gateMany.open();
    const perRunResults = await Promise.all(perRun);
    for (const [i, r] of perRunResults.entries()) {
      expect(r.error).toBeUndefined();
      expect(r.ended).toBe(true);
      expect(r.snapshot!.id).toBe(ids[i]);
      for (const e of r.events) expect(e.runId).toBe(ids[i]);
      expect(describeEvent(r.events.at(-1)!)).toMatch(/ run RUNNING→COMPLETED$/);
      const h = await listEvents(weft.client, ids[i], 100, Number(r.snapshot!.lastSequence));
      expect(r.events).toEqual(h.events);
    }
    await expectListenersBack(baseline);
    console.info(`[watch] 200 watchers on one run: ${oneRunMs} ms; 200 runs: ${Date.now() - t0 - oneRunMs} ms`);
  });

  test("watchers joining a busy run at arbitrary moments each get a gap-free, duplicate-free continuation of their snapshot", async () => {
    handlers.on("/w4b/x", (c) => ({ json: { success: true, result: c.body.stepId }, delayMs: (c.body.stepId.length * 7) % 13 }));
    const steps = Array.from({ length: 150 }, (_, i) => ({
      id: `s${i}`,
      url: handlers.url("/w4b/x"),
      parallel: true,
      dependsOn: i >= 50 ? [`s${i - 50}`] : [],
    }));
    const { workflow } = await weft.client.createWorkflow({ id: "busy", steps });
    const id = workflow!.id;
    const watchers: Promise<Awaited<ReturnType<typeof collectWatch>>>[] = [];
    // Join while events are being committed and published, until the run is over.
    for (let i = 0; i < 40; i++) {
      watchers.push(collectWatch((signal) => weft.client.watchWorkflow({ id }, { signal })));
      await sleep(i % 3 === 0 ? 0 : 8);
    }
    const results = await Promise.all(watchers);
    const log = (await listEvents(weft.client, id, 1000)).events;
    expect(log.length).toBe(1 + 1 + 150 * 2 + 1);
    const snapshotSeqs = new Set<bigint>();
    for (const w of results) {
      expect(w.error).toBeUndefined();
      expect(w.ended).toBe(true);
      const s = w.snapshot!.lastSequence;
      snapshotSeqs.add(s);
      expect(seqs(w.events)).toEqual(range(Number(s), log.length - Number(s)));
      expect(w.events).toEqual(log.filter((e) => e.sequence > s));
    }
    // The watchers really joined at different points of the run.
    expect(snapshotSeqs.size).toBeGreaterThan(3);
  });

  test("a reader that stalls while megabytes of events pile up still gets every event once, in order", async () => {
    const blob = "x".repeat(8 * 1024);
    handlers.on("/w4c/x", (c) => ({ json: { success: true, result: { step: c.body.stepId, blob } } }));
    const gate = newGate();
    gated(handlers, "/w4c/first", gate, "first");
    const steps = [
      { id: "first", url: handlers.url("/w4c/first") },
      ...Array.from({ length: 200 }, (_, i) => ({ id: `s${i}`, url: handlers.url("/w4c/x"), parallel: true, dependsOn: ["first"] })),
    ];
    const { workflow } = await weft.client.createWorkflow({ id: "stalled-reader", steps });
    const id = workflow!.id;
    const abort = new AbortController();
    try {
      const it = weft.client.watchWorkflow({ id }, { signal: abort.signal })[Symbol.asyncIterator]();
      const first = await it.next();
      expect(first.value?.kind.case).toBe("snapshot");
      const s = Number((first.value!.kind.value as { lastSequence: bigint }).lastSequence);
      // Stop reading while the run produces ~1.6 MB of events (more than the HTTP/2 window).
      gate.open();
      await waitForRun(weft.client, id);
      await sleep(100);
      const events: WorkflowEvent[] = [];
      for (;;) {
        const r = await it.next();
        if (r.done) break;
        if (r.value.kind.case === "event") events.push(r.value.kind.value);
      }
      const log = (await listEvents(weft.client, id, 1000)).events;
      expect(log.length).toBe(1 + 1 + 201 * 2 + 1);
      expect(seqs(events)).toEqual(range(s, log.length - s));
      expect(events).toEqual(log.slice(s));
    } finally {
      abort.abort();
    }
  });

  test("client cancellation frees the subscription: 1,000 open/snapshot/abort cycles leave no listener behind", async () => {
    const gate = newGate();
    gated(handlers, "/w5/long", gate, "long");
    const { workflow } = await weft.client.createWorkflow({ id: "long-running", steps: [{ id: "long", url: handlers.url("/w5/long") }] });
    const id = workflow!.id;
    await waitForRun(weft.client, id, (w) => w.state === WorkflowState.RUNNING && w.currentSteps.includes("long"));
    const baseline = weft.server.feed.listenerCount;
    let peak = baseline;
    type Open = (signal: AbortSignal) => AsyncIterable<WatchWorkflowResponse>;
    const lane = async (open: Open, cycles: number) => {
      for (let i = 0; i < cycles; i++) {
        const abort = new AbortController();
        const it = open(abort.signal)[Symbol.asyncIterator]();
        const first = await it.next();
        expect(first.done).toBe(false);
        expect(first.value?.kind.case).toBe("snapshot");
        peak = Math.max(peak, weft.server.feed.listenerCount);
        abort.abort();
        await it.next().then(
          (r) => expect(r.done).toBe(true),
          // grpc-js errors carry the gRPC status code, which Code mirrors (1 = CANCELLED).
          (err: unknown) => expect(err instanceof ConnectError ? err.code : (err as { code?: number }).code).toBe(Code.Canceled),
        );
      }
    };
    const t0 = Date.now();
    // 1,000 over gRPC (HTTP/2), 10 at a time.
    await Promise.all(Array.from({ length: 10 }, () => lane((signal) => weft.client.watchWorkflow({ id }, { signal }), 100)));
    const cyclesMs = Date.now() - t0;
    expect(peak).toBeGreaterThan(baseline); // the watches really subscribed
    await expectListenersBack(baseline);
    // And 50 each over the Connect protocol and gRPC-Web on HTTP/1.1, and over grpc-js.
    const h1 = weft.connectClient("1.1");
    const web = weft.grpcWebClient();
    const g = grpcJsWatchClient(weft.server.port);
    try {
      await Promise.all([
        lane((signal) => h1.watchWorkflow({ id }, { signal }), 50),
        lane((signal) => web.watchWorkflow({ id }, { signal }), 50),
        lane((signal) => g.watch(create(WatchWorkflowRequestSchema, { id }), signal), 50),
      ]);
    } finally {
      g.close();
    }
    await expectListenersBack(baseline);

    // The server still answers, and still streams.
    const now = await weft.client.getWorkflow({ id });
    expect(now.workflow!.state).toBe(WorkflowState.RUNNING);
    const last = collectWatch((signal) => weft.client.watchWorkflow({ id }, { signal }), {
      onMessage: (m) => {
        if (m.kind.case === "snapshot") gate.open();
      },
    });
    const w = await within(last, 5_000, "the final watch to end");
    expect(w.ended).toBe(true);
    expect(describeEvent(w.events.at(-1)!)).toMatch(/ run RUNNING→COMPLETED$/);
    await expectListenersBack(baseline);
    console.info(`[watch] 1000 gRPC open/abort cycles: ${cyclesMs} ms, then 150 over HTTP/1.1 and grpc-js: ${Date.now() - t0 - cyclesMs} ms`);
  });

  test("errors: unknown run NOT_FOUND, empty id INVALID_ARGUMENT, bad page_token INVALID_ARGUMENT — without leaking listeners", async () => {
    const baseline = weft.server.feed.listenerCount;
    const streamError = async (req: { id: string; afterSequence?: bigint }) => {
      const w = await collectWatch((signal) => weft.client.watchWorkflow(req, { signal }), { timeoutMs: 5_000 });
      expect(w.messages).toEqual([]);
      return ConnectError.from(w.error);
    };
    const notFound = await streamError({ id: "wf_00000000000000000000000000" });
    expect(notFound.code).toBe(Code.NotFound);
    expect(notFound.findDetails(ErrorInfoSchema)[0]?.reason).toBe("RUN_NOT_FOUND");
    expect((await streamError({ id: "" })).code).toBe(Code.InvalidArgument);
    expect((await streamError({ id: "wf_x", afterSequence: -1n })).code).toBe(Code.InvalidArgument);
    // Over HTTP/1.1 (Connect protocol) the same codes.
    const h1 = weft.connectClient("1.1");
    const h1err = await collectWatch((signal) => h1.watchWorkflow({ id: "wf_00000000000000000000000000" }, { signal }), { timeoutMs: 5_000 });
    expect(ConnectError.from(h1err.error).code).toBe(Code.NotFound);

    const { workflow } = await weft.client.createWorkflow({ id: "errors", steps: [{ id: "a", url: handlers.url("/w9/a") }] });
    const id = workflow!.id;
    await waitForRun(weft.client, id);
    const listError = (req: { id: string; pageToken?: string; pageSize?: number }) =>
      weft.client.listWorkflowEvents(req).then(
        () => undefined,
        (err: unknown) => ConnectError.from(err).code,
      );
    const b64 = (s: string) => Buffer.from(s).toString("base64url");
    for (const pageToken of ["not-a-token", "%%%", b64("-1"), b64("abc"), b64(JSON.stringify({ before: id }))]) {
      expect(await listError({ id, pageToken }), pageToken).toBe(Code.InvalidArgument);
    }
    expect(await listError({ id, pageSize: -1 })).toBe(Code.InvalidArgument);
    expect(await listError({ id: "" })).toBe(Code.InvalidArgument);
    expect(await listError({ id: "wf_00000000000000000000000000" })).toBe(Code.NotFound);
    // A good token from a previous page works.
    const page1 = await weft.client.listWorkflowEvents({ id, pageSize: 2 });
    expect(seqs(page1.events)).toEqual([1, 2]);
    const page2 = await weft.client.listWorkflowEvents({ id, pageSize: 2, pageToken: page1.nextPageToken });
    expect(seqs(page2.events)).toEqual([3, 4]);
    await expectListenersBack(baseline);
  });
});

describe("heartbeats and shutdown", () => {
  test("an idle watch gets heartbeats (watchHeartbeatMs: 100) while a step takes 500 ms", async () => {
    const hb = await startWeft({ watchHeartbeatMs: 100 });
    try {
      handlers.on("/w6/slow", () => ({ json: { success: true, result: "slow" }, delayMs: 500 }));
      const { workflow } = await hb.client.createWorkflow({ id: "heartbeat", steps: [{ id: "slow", url: handlers.url("/w6/slow") }] });
      const id = workflow!.id;
      const w = await collectWatch((signal) => hb.client.watchWorkflow({ id }, { signal }), { timeoutMs: 120_000 });
      expect(w.error).toBeUndefined();
      expect(w.ended).toBe(true);
      // ~500 ms idle at one heartbeat per 100 ms of silence (more if the machine is slow).
      expect(w.heartbeats).toBeGreaterThanOrEqual(2);
      const kinds = w.messages.map((m) => (m.kind.case === "event" ? describeEvent(m.kind.value).replace(/^\d+ /, "") : m.kind.case));
      const running = kinds.indexOf("slow PENDING→RUNNING");
      const completed = kinds.indexOf("slow RUNNING→COMPLETED");
      expect(kinds.slice(0, 1)).toEqual(["snapshot"]);
      expect(kinds.slice(running + 1, completed).filter((k) => k === "heartbeat").length).toBeGreaterThanOrEqual(2);
      expect(kinds.at(-1)).toBe("run RUNNING→COMPLETED");
      // Heartbeats carry the server's current time and come no more often than every 100 ms.
      const beats: number[] = [];
      for (const m of w.messages) {
        if (m.kind.case !== "heartbeat") continue;
        const ms = Number(m.kind.value.time!.seconds) * 1000 + m.kind.value.time!.nanos / 1e6;
        expect(Math.abs(ms - Date.now())).toBeLessThan(120_000);
        beats.push(ms);
      }
      for (let i = 1; i < beats.length; i++) expect(beats[i] - beats[i - 1]).toBeGreaterThanOrEqual(80);
      expect(seqs(w.events)).toEqual(range(Number(w.snapshot!.lastSequence), w.events.length));
    } finally {
      await hb.stop();
    }
  });

  test("server shutdown ends open streams cleanly and promptly", async () => {
    const own = await startWeft();
    const gate = newGate();
    try {
      gated(handlers, "/w10/block", gate, "x");
      const { workflow } = await own.client.createWorkflow({ id: "shutdown", steps: [{ id: "block", url: handlers.url("/w10/block") }] });
      const id = workflow!.id;
      let snapshots = 0;
      const watches = [own.client, own.connectClient("1.1")].map((c) =>
        collectWatch((signal) => c.watchWorkflow({ id }, { signal }), {
          onMessage: (m) => {
            if (m.kind.case === "snapshot") snapshots++;
          },
          timeoutMs: 120_000,
        }),
      );
      const dashboard = (async () => {
        const abort = new AbortController();
        const timer = setTimeout(() => abort.abort(), 120_000);
        let n = 0;
        try {
          for await (const _ of own.client.watchWorkflows({}, { signal: abort.signal })) n++;
          return { ended: true, n };
        } catch (err) {
          return { ended: false, n, err };
        } finally {
          clearTimeout(timer);
        }
      })();
      await until(() => snapshots === 2, "both snapshots");
      await until(() => own.server.feed.listenerCount === 3, "three subscriptions");
      // The streams' own limits are 120 s: ending well before that, with `ended`, is stop()'s doing.
      const stopped = own.stop();
      const results = await within(Promise.all(watches), 60_000, "the watches to end after stop()");
      for (const r of results) {
        expect(r.error).toBeUndefined();
        expect(r.ended).toBe(true);
        expect(r.events.some(isTerminalRunEvent)).toBe(false);
      }
      const d = await within(dashboard, 60_000, "the WatchWorkflows stream to end after stop()");
      expect(d.ended, String((d as { err?: unknown }).err)).toBe(true);
      await within(stopped, 60_000, "stop() to resolve");
      expect(own.server.feed.listenerCount).toBe(0);
    } finally {
      gate.open();
      await own.stop();
    }
  });
});
