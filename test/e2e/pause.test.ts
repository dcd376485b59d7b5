// Pausing runs and bulk actions end to end, on the embedded store and on
// MongoDB, through real clients against real servers and real handlers:
// a pause holds a run while a retry comes due (the handler is not called
// again until resume); an attempt in flight finishing while paused is
// recorded and no next step starts; the deadline keeps running unless the
// pause holds it; cancel of a paused run; refusals (FAILED_PRECONDITION with
// an ErrorInfo reason) and two pauses at once; on MongoDB a pause on the
// replica that does not drive the run. BulkWorkflowAction: a dry run then a
// cancel of 1,000 running runs (GetWorkflow answered meanwhile, watchers see
// every cancel), a redrive of labelled failed runs, a pause and resume.
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createPlatform, WeftError } from "../../clients/ts/src/index.ts";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { BulkAction, StepState, type Workflow, type WorkflowEvent, WorkflowService, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { HandlerServer, type RecordedCall, type Reply } from "../support/handler-server.ts";
import { mongoPreflight } from "../support/mongo-server.ts";
import { embedded, mongodb } from "../support/store-setups.ts";
import { allEvents, sleep } from "../support/run-observer.ts";
import { startWeft, type TestWeft, waitForRun } from "../support/weft.ts";

type WeftClient = Client<typeof WorkflowService>;

async function refusal(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("the call succeeded");
}

const reasonOf = (err: ConnectError) => err.findDetails(ErrorInfoSchema)[0]?.reason;

const runTransitions = (events: WorkflowEvent[]) =>
  events.filter((e) => e.transition.case === "run").map((e) => {
    const t = e.transition.value as { fromState: WorkflowState; toState: WorkflowState };
    return `${WorkflowState[t.fromState]}>${WorkflowState[t.toState]}`;
  });

/** A handler whose calls wait until released (or aborted by Weft), then answer with the reply of that moment. */
class Gate {
  private open = false;
  reply: Reply = { json: { success: true, result: "ok" } };
  readonly behaviour = async (call: RecordedCall): Promise<Reply> => {
    while (!this.open && !call.aborted) await sleep(25);
    return this.reply;
  };
  release(reply?: Reply): void {
    if (reply) this.reply = reply;
    this.open = true;
  }
}

async function waitUntil(pred: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error("timed out");
    await sleep(20);
  }
}

const mongoSkip = mongoPreflight();
if ("skip" in mongoSkip) console.warn(`\n*** SKIPPED pause on MongoDB: ${mongoSkip.skip}\n`);

const retries = { maxAttempts: 3, backoff: 3, initialInterval: { seconds: 1n }, jitter: 0 };

for (const setup of [embedded(), mongodb()]) {
  describe.skipIf(setup.name === "mongodb" && "skip" in mongoSkip)(`pause, resume and bulk actions (${setup.name} store)`, () => {
    let weft: TestWeft;
    let client: WeftClient;
    let handlers: HandlerServer;
    let seq = 0;
    const path = (name: string) => `/p${++seq}/${name}`;

    beforeAll(async () => {
      await setup.start();
      handlers = await HandlerServer.start();
      weft = await startWeft({ ...setup.overrides() });
      client = weft.client;
    });

    afterAll(async () => {
      await weft?.stop();
      await handlers?.close();
      await setup.stop();
    });

    const get = async (id: string) => (await client.getWorkflow({ id })).workflow!;
    async function countRuns(labels: Record<string, string>, state: WorkflowState): Promise<number> {
      let n = 0;
      let pageToken = "";
      do {
        const page = await client.listWorkflows({ labels, states: [state], pageSize: 100, pageToken });
        n += page.workflows.length;
        pageToken = page.nextPageToken;
      } while (pageToken);
      return n;
    }
    const stepState = (w: Workflow, id: string) => StepState[w.steps.find((s) => s.id === id)!.state];

    test("a pause holds a run while a retry comes due; resume starts it at once and the run completes", async () => {
      const p = path("retry");
      const a = new Gate();
      handlers.on(`${p}/a`, async (c, all) => (all.filter((x) => x.path === c.path).length === 1 ? a.behaviour(c) : { json: { success: true, result: "a" } }));
      const { workflow } = await client.createWorkflow({
        id: "pause-retry",
        steps: [
          { id: "a", url: handlers.url(`${p}/a`), retries },
          { id: "b", url: handlers.url(`${p}/b`), dependsOn: ["a"] },
        ],
      });
      const id = workflow!.id;
      await handlers.waitForCall((c) => c.path === `${p}/a`);
      const { workflow: paused } = await client.pauseWorkflow({ id, reason: "incident 7" });
      expect(paused!.state).toBe(WorkflowState.PAUSED);
      expect(paused!.pauseReason).toBe("incident 7");
      expect(paused!.pausedAt).toBeDefined();
      expect(paused!.deadlineHeld).toBe(false);
      // The attempt in flight fails while paused: recorded, its retry scheduled.
      a.release({ status: 503, json: { error: "busy" } });
      const waiting = await waitForRun(client, id, (w) => stepState(w, "a") === "RETRY_WAIT");
      expect(waiting.state).toBe(WorkflowState.PAUSED);
      const dueAt = timestampMs(waiting.steps[0].nextAttemptAt!);
      // Well after the retry came due: still paused, the handler not called again.
      await waitUntil(() => Date.now() > dueAt + 1500);
      const still = await get(id);
      expect(still.state).toBe(WorkflowState.PAUSED);
      expect(stepState(still, "a")).toBe("RETRY_WAIT");
      expect(handlers.callsFor(id, `${p}/a`)).toHaveLength(1);

      const { workflow: resumed } = await client.resumeWorkflow({ id });
      expect(resumed!.state).toBe(WorkflowState.RUNNING);
      expect(resumed!.pausedAt).toBeUndefined();
      const done = await waitForRun(client, id);
      expect(done.state).toBe(WorkflowState.COMPLETED);
      expect(handlers.callsFor(id, `${p}/a`).map((c) => c.body.attempt)).toEqual([1, 2]);
      expect(handlers.callsFor(id, `${p}/b`)).toHaveLength(1);
      expect(runTransitions(await allEvents(client, id))).toEqual([
        "UNSPECIFIED>PENDING",
        "PENDING>RUNNING",
        "RUNNING>PAUSED",
        "PAUSED>RUNNING",
        "RUNNING>COMPLETED",
      ]);
    });

    test("an attempt in flight that finishes while paused is recorded and no next step starts; watchers see the pause live", async () => {
      const p = path("inflight");
      const a = new Gate();
      handlers.on(`${p}/a`, a.behaviour);
      const { workflow } = await client.createWorkflow({
        id: "pause-inflight",
        steps: [
          { id: "a", url: handlers.url(`${p}/a`) },
          { id: "b", url: handlers.url(`${p}/b`), dependsOn: ["a"] },
        ],
      });
      const id = workflow!.id;
      const abort = new AbortController();
      const seen: WorkflowEvent[] = [];
      const watching = (async () => {
        try {
          for await (const msg of client.watchWorkflow({ id }, { signal: abort.signal })) if (msg.kind.case === "event") seen.push(msg.kind.value);
        } catch {
          // aborted
        }
      })();
      await handlers.waitForCall((c) => c.path === `${p}/a`);
      await client.pauseWorkflow({ id });
      // A PAUSED filter of ListWorkflows finds it.
      const listed = await client.listWorkflows({ states: [WorkflowState.PAUSED], workflowId: "pause-inflight" });
      expect(listed.workflows.map((w) => w.id)).toEqual([id]);
      a.release();
      // The result is stored in the same commit that would have started b: b stays pending.
      const after = await waitForRun(client, id, (w) => stepState(w, "a") === "COMPLETED");
      expect(after.state).toBe(WorkflowState.PAUSED);
      expect(stepState(after, "b")).toBe("PENDING");
      expect(after.results.a).toBeDefined();
      expect(handlers.callsFor(id, `${p}/b`)).toHaveLength(0);
      await waitUntil(() => seen.some((e) => e.transition.case === "run" && e.transition.value.toState === WorkflowState.PAUSED));
      await client.resumeWorkflow({ id });
      expect((await waitForRun(client, id)).state).toBe(WorkflowState.COMPLETED);
      expect(handlers.callsFor(id, `${p}/b`)).toHaveLength(1);
      await waitUntil(() => seen.some((e) => e.transition.case === "run" && e.transition.value.toState === WorkflowState.COMPLETED));
      abort.abort();
      await watching;
      const live = runTransitions(seen);
      expect(live.slice(live.indexOf("RUNNING>PAUSED"))).toEqual(["RUNNING>PAUSED", "PAUSED>RUNNING", "RUNNING>COMPLETED"]);
    });

    test("the deadline keeps running while paused (the run times out); hold_deadline stops it and resume extends it", async () => {
      const p = path("deadline");
      const gate = new Gate();
      handlers.on(`${p}/a`, gate.behaviour);
      const mk = () => client.createWorkflow({ id: "pause-deadline", timeout: { seconds: 3n }, steps: [{ id: "a", url: handlers.url(`${p}/a`) }] });
      const free = (await mk()).workflow!;
      const held = (await mk()).workflow!;
      await handlers.waitForCall((c) => c.body.runId === free.id);
      await handlers.waitForCall((c) => c.body.runId === held.id);
      await client.pauseWorkflow({ id: free.id });
      const { workflow: h } = await client.pauseWorkflow({ id: held.id, holdDeadline: true });
      expect(h!.deadlineHeld).toBe(true);
      const timedOut = await waitForRun(client, free.id);
      expect(timedOut.state).toBe(WorkflowState.FAILED);
      expect(timedOut.error?.reason).toBe("timed_out");
      const deadline = timestampMs(held.deadline!);
      await waitUntil(() => Date.now() > deadline + 1500);
      const still = await get(held.id);
      expect(still.state).toBe(WorkflowState.PAUSED);
      const pausedAt = timestampMs(still.pausedAt!);
      const before = Date.now();
      const { workflow: resumed } = await client.resumeWorkflow({ id: held.id });
      // Later by the time spent paused (at least from pausedAt until the call was sent).
      expect(timestampMs(resumed!.deadline!)).toBeGreaterThanOrEqual(deadline + (before - pausedAt) - 5);
      gate.release();
      expect((await waitForRun(client, held.id)).state).toBe(WorkflowState.COMPLETED);
    });

    test("cancel of a paused run; refusals; two pauses at once: one wins", async () => {
      const p = path("refuse");
      handlers.on(`${p}/hang`, new Gate().behaviour);
      const { workflow } = await client.createWorkflow({ id: "pause-refuse", steps: [{ id: "a", url: handlers.url(`${p}/hang`) }] });
      const id = workflow!.id;
      await handlers.waitForCall((c) => c.body.runId === id);
      const resumeRunning = await refusal(client.resumeWorkflow({ id }));
      expect([resumeRunning.code, reasonOf(resumeRunning)]).toEqual([Code.FailedPrecondition, "RUN_NOT_PAUSED"]);
      const both = await Promise.allSettled([client.pauseWorkflow({ id }), weft.connectClient().pauseWorkflow({ id })]);
      expect(both.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const lost = ConnectError.from((both.find((r) => r.status === "rejected") as PromiseRejectedResult).reason);
      expect([lost.code, reasonOf(lost)]).toEqual([Code.FailedPrecondition, "RUN_PAUSED"]);
      const redrive = await refusal(client.redriveWorkflow({ id }));
      expect([redrive.code, reasonOf(redrive)]).toEqual([Code.FailedPrecondition, "RUN_NOT_FINISHED"]);
      const tooLong = await refusal(client.pauseWorkflow({ id, reason: "x".repeat(2000) }));
      expect(tooLong.code).toBe(Code.InvalidArgument);
      expect(tooLong.message).toContain("reason");
      expect(tooLong.message.length).toBeLessThan(400);
      const { workflow: cancelled } = await client.cancelWorkflow({ id, reason: "not needed" });
      expect(cancelled!.state).toBe(WorkflowState.CANCELLED);
      await waitUntil(() => handlers.callsFor(id).every((c) => c.aborted));
      const finished = await refusal(client.pauseWorkflow({ id }));
      expect([finished.code, reasonOf(finished)]).toEqual([Code.FailedPrecondition, "RUN_FINISHED"]);
      const missing = await refusal(client.pauseWorkflow({ id: "wf_01JAAAAAAAAAAAAAAAAAAAAAAA" }));
      expect(missing.code).toBe(Code.NotFound);
      expect(runTransitions(await allEvents(client, id))).toEqual(["UNSPECIFIED>PENDING", "PENDING>RUNNING", "RUNNING>PAUSED", "PAUSED>CANCELLED"]);
    });

    test("a pause racing the run's completion: either the pause wins (the run then completes from PAUSED) or it is refused as finished", async () => {
      const p = path("race");
      const outcomes = new Set<string>();
      for (let i = 0; i < 10; i++) {
        const { workflow } = await client.createWorkflow({ id: "pause-race", steps: [{ id: "a", url: handlers.url(`${p}/a`) }] });
        const id = workflow!.id;
        const res = await client.pauseWorkflow({ id }).then(
          () => "paused",
          (err: unknown) => {
            const e = ConnectError.from(err);
            return `${Code[e.code]}:${reasonOf(e)}`;
          },
        );
        outcomes.add(res);
        const done = await waitForRun(client, id);
        expect(done.state).toBe(WorkflowState.COMPLETED);
        const events = await allEvents(client, id);
        expect(events.map((e) => Number(e.sequence))).toEqual(events.map((_, k) => k + 1));
        const runs = runTransitions(events);
        if (res === "paused") {
          // Paused before or after the step was sent: either way nothing was left to start, so it completed.
          expect(runs.slice(0, 3)).toEqual(["UNSPECIFIED>PENDING", "PENDING>RUNNING", "RUNNING>PAUSED"]);
          expect(runs.at(-1)).toBe("PAUSED>COMPLETED");
        } else {
          expect(res).toBe("FailedPrecondition:RUN_FINISHED");
          expect(runs).toEqual(["UNSPECIFIED>PENDING", "PENDING>RUNNING", "RUNNING>COMPLETED"]);
        }
      }
      expect([...outcomes].every((o) => o === "paused" || o === "FailedPrecondition:RUN_FINISHED")).toBe(true);
    });

    test("the TypeScript client: pause, resume and bulkAction", async () => {
      const platform = createPlatform({ baseUrl: weft.baseUrl, transport: "grpc" });
      const p = path("sdk");
      const gate = new Gate();
      handlers.on(`${p}/a`, gate.behaviour);
      const labels = { sdk: `s${seq}` };
      const created = await platform.workflows.create({ id: "sdk-pause", labels, steps: [{ id: "a", url: handlers.url(`${p}/a`) }] });
      await handlers.waitForCall((c) => c.body.runId === created.id);
      const paused = await platform.workflows.pause(created.id, { reason: "sdk", holdDeadline: true });
      expect([paused.state, paused.pauseReason, paused.deadlineHeld]).toEqual(["paused", "sdk", true]);
      expect(paused.pausedAt).toBeInstanceOf(Date);
      const again = await platform.workflows.pause(created.id).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(again).toBeInstanceOf(WeftError);
      expect(await platform.workflows.bulkAction("resume", { labels, dryRun: true })).toEqual({ matched: 1, affected: 1, skipped: 0 });
      expect((await platform.workflows.resume(created.id)).state).toBe("running");
      expect(await platform.workflows.bulkAction("cancel", { labels, state: "running", reason: "sdk bulk" })).toEqual({ matched: 1, affected: 1, skipped: 0 });
      expect((await platform.workflows.getStatus(created.id)).state).toBe("cancelled");
    });

    if (setup.name === "mongodb") {
      test("two replicas: a pause on the replica that does not drive the run holds it there; no step starts after the pause is acknowledged", async () => {
        const second = await startWeft({ ...setup.overrides() });
        try {
          const p = path("replicas");
          const a = new Gate();
          handlers.on(`${p}/a`, a.behaviour);
          const { workflow } = await client.createWorkflow({
            id: "pause-replicas",
            steps: [
              { id: "a", url: handlers.url(`${p}/a`) },
              { id: "b", url: handlers.url(`${p}/b`), dependsOn: ["a"] },
            ],
          });
          const id = workflow!.id;
          await handlers.waitForCall((c) => c.body.runId === id);
          // Two pauses at once, one on each replica: one wins, the other is refused.
          const both = await Promise.allSettled([second.client.pauseWorkflow({ id, reason: "from replica 2" }), client.pauseWorkflow({ id, reason: "from replica 1" })]);
          expect(both.filter((r) => r.status === "fulfilled")).toHaveLength(1);
          const lost = ConnectError.from((both.find((r) => r.status === "rejected") as PromiseRejectedResult).reason);
          expect([lost.code, reasonOf(lost)]).toEqual([Code.FailedPrecondition, "RUN_PAUSED"]);
          expect((await get(id)).state).toBe(WorkflowState.PAUSED);
          // The first replica's call in flight finishes now: whatever it tries to commit, b must not start.
          a.release();
          const after = await waitForRun(client, id, (w) => stepState(w, "a") === "COMPLETED");
          expect(after.state).toBe(WorkflowState.PAUSED);
          expect(stepState(after, "b")).toBe("PENDING");
          expect(handlers.callsFor(id, `${p}/b`)).toHaveLength(0);
          // Resumed from the first replica (which no longer drives it): it completes, b called once.
          await client.resumeWorkflow({ id });
          expect((await waitForRun(client, id)).state).toBe(WorkflowState.COMPLETED);
          expect(handlers.callsFor(id, `${p}/b`)).toHaveLength(1);
          const events = await allEvents(second.client, id);
          expect(events.map((e) => Number(e.sequence))).toEqual(events.map((_, i) => i + 1));
          expect(runTransitions(events)).toEqual(["UNSPECIFIED>PENDING", "PENDING>RUNNING", "RUNNING>PAUSED", "PAUSED>RUNNING", "RUNNING>COMPLETED"]);
        } finally {
          await second.server.close(500);
        }
      });
    }

    test("bulk cancel of 1,000 running runs: a dry run first changes nothing; GetWorkflow answers meanwhile; watchers see every cancel", async () => {
      const p = path("bulk");
      handlers.on(`${p}/slow`, new Gate().behaviour);
      const labels = { batch: `b${seq}` };
      const ids: string[] = [];
      for (let i = 0; i < 1000; i += 50) {
        const made = await Promise.all(
          Array.from({ length: 50 }, () => client.createWorkflow({ id: "bulk", labels, steps: [{ id: "s", url: handlers.url(`${p}/slow`) }] })),
        );
        ids.push(...made.map((m) => m.workflow!.id));
      }
      // Every run is RUNNING (its call in flight, or queued behind the handler host's limits).
      await waitUntil(async () => (await countRuns(labels, WorkflowState.RUNNING)) === 1000);
      const empty = await refusal(client.bulkWorkflowAction({ action: BulkAction.CANCEL }));
      expect(empty.code).toBe(Code.InvalidArgument);
      expect(empty.message).toContain("all");
      const noAction = await refusal(client.bulkWorkflowAction({ labels }));
      expect(noAction.code).toBe(Code.InvalidArgument);

      const dry = await client.bulkWorkflowAction({ labels, action: BulkAction.CANCEL, dryRun: true });
      expect([dry.matched, dry.affected, dry.skipped, dry.more]).toEqual([1000n, 1000n, 0n, false]);
      expect(await countRuns(labels, WorkflowState.RUNNING)).toBe(1000);

      const abort = new AbortController();
      const cancelledSeen = new Set<string>();
      let open = false;
      const watching = (async () => {
        try {
          for await (const msg of client.watchWorkflows({ labels, states: [WorkflowState.CANCELLED] }, { signal: abort.signal })) {
            open = true;
            if (msg.kind.case === "event") cancelledSeen.add(msg.kind.value.runId);
          }
        } catch {
          // aborted
        }
      })();
      // The stream is open once its first message (a heartbeat or an event) can arrive; give it a probe.
      const probeRun = (await client.createWorkflow({ id: "bulk", labels, steps: [{ id: "s", url: handlers.url(`${p}/slow`) }] })).workflow!;
      await client.cancelWorkflow({ id: probeRun.id });
      await waitUntil(() => open && cancelledSeen.has(probeRun.id));

      let bulkDone = false;
      const bulk = client.bulkWorkflowAction({ labels, states: [WorkflowState.RUNNING], action: BulkAction.CANCEL, reason: "incident" }).finally(() => {
        bulkDone = true;
      });
      // Other calls are answered while the bulk cancel goes on (it is paced: 1,000 runs take seconds).
      await waitUntil(async () => (await get(ids[999])).state === WorkflowState.CANCELLED || bulkDone);
      const answered = await get(ids[0]);
      expect(answered.id).toBe(ids[0]);
      expect(bulkDone).toBe(false);
      const res = await bulk;
      expect([res.matched, res.affected, res.skipped, res.more]).toEqual([1000n, 1000n, 0n, false]);
      for (const id of [ids[0], ids[500], ids[999]]) {
        const w = await get(id);
        expect(w.state).toBe(WorkflowState.CANCELLED);
        expect(w.error?.message).toContain("incident");
      }
      const running = await client.listWorkflows({ labels, states: [WorkflowState.RUNNING] });
      expect(running.workflows).toHaveLength(0);
      await waitUntil(() => ids.every((id) => cancelledSeen.has(id)));
      abort.abort();
      await watching;
      // Nothing left to cancel: a second call matches them all and skips them.
      const again = await client.bulkWorkflowAction({ labels, action: BulkAction.CANCEL });
      expect([again.matched, again.affected, again.skipped]).toEqual([1001n, 0n, 1001n]);
    });

    test("bulk redrive of failed runs with a label; bulk pause and resume", async () => {
      const p = path("bulk2");
      const fixed = { value: false };
      handlers.on(`${p}/flaky`, () => (fixed.value ? { json: { success: true, result: "ok" } } : { status: 422, json: { error: "bug" } }));
      const mk = (labels: Record<string, string>) => client.createWorkflow({ id: "bulk2", labels, steps: [{ id: "s", url: handlers.url(`${p}/flaky`) }] });
      const tagged = await Promise.all(Array.from({ length: 5 }, () => mk({ team: `t${seq}` })));
      const other = await Promise.all(Array.from({ length: 2 }, () => mk({ team: `other${seq}` })));
      for (const r of [...tagged, ...other]) await waitForRun(client, r.workflow!.id);
      fixed.value = true;
      const res = await client.bulkWorkflowAction({ labels: { team: `t${seq}` }, states: [WorkflowState.FAILED], action: BulkAction.REDRIVE });
      expect([res.matched, res.affected, res.skipped]).toEqual([5n, 5n, 0n]);
      for (const r of tagged) expect((await waitForRun(client, r.workflow!.id)).state).toBe(WorkflowState.COMPLETED);
      for (const r of other) expect((await get(r.workflow!.id)).state).toBe(WorkflowState.FAILED);

      const gate = new Gate();
      handlers.on(`${p}/held`, gate.behaviour);
      const labels = { group: `g${seq}` };
      const held = await Promise.all(
        Array.from({ length: 4 }, () =>
          client.createWorkflow({ id: "bulk2", labels, steps: [{ id: "a", url: handlers.url(`${p}/held`) }, { id: "b", url: handlers.url(`${p}/after`), dependsOn: ["a"] }] }),
        ),
      );
      const heldIds = held.map((h) => h.workflow!.id);
      await waitUntil(() => heldIds.every((id) => handlers.callsFor(id).length === 1));
      const paused = await client.bulkWorkflowAction({ labels, action: BulkAction.PAUSE, reason: "maintenance" });
      expect([paused.matched, paused.affected]).toEqual([4n, 4n]);
      for (const id of heldIds) expect((await get(id)).pauseReason).toBe("maintenance");
      gate.release();
      for (const id of heldIds) {
        const w = await waitForRun(client, id, (x) => stepState(x, "a") === "COMPLETED");
        expect(w.state).toBe(WorkflowState.PAUSED);
      }
      expect(heldIds.flatMap((id) => handlers.callsFor(id, `${p}/after`))).toHaveLength(0);
      const resumed = await client.bulkWorkflowAction({ labels, states: [WorkflowState.PAUSED], action: BulkAction.RESUME });
      expect([resumed.matched, resumed.affected]).toEqual([4n, 4n]);
      for (const id of heldIds) expect((await waitForRun(client, id)).state).toBe(WorkflowState.COMPLETED);
    });
  });
}
