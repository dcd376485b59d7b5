// Recovering runs end to end, on the embedded store and on MongoDB, through
// real clients (gRPC and Connect) against real servers and real handlers:
// RedriveWorkflow continues a failed run calling only the steps that did not
// complete; refusals (a running run, a compensated saga); a redrive racing a
// cancel and two redrives at once (one wins, the log stays consistent); a
// redrive on a MongoDB replica that does not drive the run; idempotency-key
// conflicts; RedeliverWebhook.
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { createPlatform, type WatchEvent, WeftError } from "../../clients/ts/src/index.ts";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { StepState, WebhookState, type Workflow, type WorkflowEvent, WorkflowService, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { HandlerServer, type RecordedCall } from "../support/handler-server.ts";
import { mongoPreflight } from "../support/mongo-server.ts";
import { embedded, mongodb } from "../support/store-setups.ts";
import { allEvents, byReceipt, hangUntilAborted, webhookBody } from "../support/run-observer.ts";
import { refusal } from "../support/rejection.ts";
import { waitUntil } from "../support/wait-until.ts";
import { startWeft, type TestWeft, waitForRun } from "../support/weft.ts";

type WeftClient = Client<typeof WorkflowService>;

const WEBHOOK = { retryPeriodMs: 1_500, initialIntervalMs: 50, maxIntervalMs: 200, timeoutMs: 2_000 };

const reasonOf = (err: ConnectError) => err.findDetails(ErrorInfoSchema)[0]?.reason;

/** Sequences 1..n without gaps, and every run transition starts where the previous one ended. */
function expectConsistentLog(events: WorkflowEvent[], lastSequence: bigint): void {
  expect(events.map((e) => Number(e.sequence))).toEqual(Array.from({ length: Number(lastSequence) }, (_, i) => i + 1));
  let state: WorkflowState | undefined;
  for (const e of events) {
    if (e.transition.case !== "run") continue;
    if (state !== undefined) expect(e.transition.value.fromState).toBe(state);
    state = e.transition.value.toState;
  }
}

const runTransitions = (events: WorkflowEvent[]) =>
  events.filter((e) => e.transition.case === "run").map((e) => {
    const t = e.transition.value as { fromState: WorkflowState; toState: WorkflowState; redriven: boolean };
    return [WorkflowState[t.fromState], WorkflowState[t.toState], t.redriven];
  });

const mongoSkip = mongoPreflight();
if ("skip" in mongoSkip) console.warn(`\n*** SKIPPED redrive on MongoDB: ${mongoSkip.skip}\n`);

for (const setup of [embedded(), mongodb()]) {
  describe.skipIf(setup.name === "mongodb" && "skip" in mongoSkip)(`recovering runs (${setup.name} store)`, () => {
    let weft: TestWeft;
    let client: WeftClient;
    let handlers: HandlerServer;
    let seq = 0;
    /** A fresh handler path per test. */
    const path = (name: string) => `/t${++seq}/${name}`;

    beforeAll(async () => {
      await setup.start();
      handlers = await HandlerServer.start();
      weft = await startWeft({ webhook: WEBHOOK, ...setup.overrides() });
      client = weft.client;
    });

    beforeEach(() => {
      currentWeftUrl = weft.baseUrl;
    });

    afterAll(async () => {
      await weft?.stop();
      await handlers?.close();
      await setup.stop();
    });

    /** Five steps in a chain; step 3 fails (for good) until `fixed.value` is set. */
    function fiveSteps(p: string, fixed: { value: boolean }) {
      for (const id of ["s1", "s2", "s4", "s5"]) handlers.on(`${p}/${id}`, (c) => ({ json: { success: true, result: { step: c.body.stepId, seen: Object.keys(c.body.previousSteps) } } }));
      handlers.on(`${p}/s3`, () => (fixed.value ? { json: { success: true, result: "fixed" } } : { status: 422, json: { error: "bug in handler" } }));
      return ["s1", "s2", "s3", "s4", "s5"].map((id, i) => ({ id, url: handlers.url(`${p}/${id}`), dependsOn: i === 0 ? [] : [`s${i}`] }));
    }

    const calls = (p: string, runId: string, step: string): RecordedCall[] => handlers.callsFor(runId, `${p}/${step}`);

    test("a run that failed at step 3 of 5 is redriven after the handler is fixed: only steps 3-5 are called", async () => {
      const p = path("five");
      const fixed = { value: false };
      const { workflow } = await client.createWorkflow({
        id: "five-steps",
        steps: fiveSteps(p, fixed),
        onComplete: handlers.url(`${p}/done`),
        onError: handlers.url(`${p}/error`),
      });
      const id = workflow!.id;
      const failed = await waitForRun(client, id, (w) => w.state === WorkflowState.FAILED && w.webhook?.state === WebhookState.DELIVERED);
      expect(failed.error?.stepId).toBe("s3");
      expect(failed.steps.map((s) => StepState[s.state])).toEqual(["COMPLETED", "COMPLETED", "FAILED", "SKIPPED", "SKIPPED"]);

      // A watcher of all runs sees the redrive live.
      const abort = new AbortController();
      const all: WorkflowEvent[] = [];
      const watching = (async () => {
        try {
          for await (const msg of client.watchWorkflows({ workflowId: "five-steps" }, { signal: abort.signal })) {
            if (msg.kind.case === "event") all.push(msg.kind.value);
          }
        } catch {
          // aborted
        }
      })();
      // The stream is open once it carries the events of a probe run.
      const probe = await client.createWorkflow({ id: "five-steps", steps: [{ id: "probe", url: handlers.url(`${p}/s1`) }] });
      await waitUntil(() => all.some((e) => e.runId === probe.workflow!.id));
      // Nothing after the failure yet (on MongoDB the stream may still bring the run's own
      // earlier events, copied from its outbox after the probe's: those are not new).
      const after = (e: WorkflowEvent) => e.runId === id && e.sequence > failed.lastSequence;
      expect(all.filter(after)).toEqual([]);

      fixed.value = true;
      const { workflow: redriven } = await client.redriveWorkflow({ id, deadlineExtension: { seconds: 3600n } });
      expect(redriven!.state).toBe(WorkflowState.RUNNING);
      expect(redriven!.error).toBeUndefined();
      expect(redriven!.results.s1).toBeDefined();
      expect(Number(redriven!.deadline!.seconds) * 1000).toBeGreaterThanOrEqual(Number(failed.deadline!.seconds) * 1000 + 3_600_000);

      const done = await waitForRun(client, id, (w) => w.state === WorkflowState.COMPLETED && w.webhook?.state === WebhookState.DELIVERED);
      // Handler call counts: steps 1 and 2 once (before the redrive), 3 twice (failed, then fixed), 4 and 5 once.
      expect(["s1", "s2", "s3", "s4", "s5"].map((s) => calls(p, id, s).length)).toEqual([1, 1, 2, 1, 1]);
      const s3 = byReceipt(calls(p, id, "s3"));
      expect(s3.map((c) => c.body.attempt)).toEqual([1, 2]);
      // Step 3's second call sees the kept results of steps 1 and 2.
      expect(Object.keys(s3[1].body.previousSteps).sort()).toEqual(["s1", "s2"]);
      expect(done.steps.map((s) => [s.id, StepState[s.state], s.attempts])).toEqual([
        ["s1", "COMPLETED", 1],
        ["s2", "COMPLETED", 1],
        ["s3", "COMPLETED", 2],
        ["s4", "COMPLETED", 1],
        ["s5", "COMPLETED", 1],
      ]);

      // The log goes on: created, running, failed, then the redriven transition, then completed.
      const events = await allEvents(client, id);
      expectConsistentLog(events, done.lastSequence);
      expect(runTransitions(events)).toEqual([
        ["UNSPECIFIED", "PENDING", false],
        ["PENDING", "RUNNING", false],
        ["RUNNING", "FAILED", false],
        ["FAILED", "RUNNING", true],
        ["RUNNING", "COMPLETED", false],
      ]);
      const ofRun = () => all.filter(after);
      await waitUntil(() => ofRun().some((e) => e.transition.case === "run" && e.transition.value.toState === WorkflowState.COMPLETED));
      abort.abort();
      await watching;
      expect(runTransitions(ofRun())).toEqual([
        ["FAILED", "RUNNING", true],
        ["RUNNING", "COMPLETED", false],
      ]);

      // on_error fired for the failure, on_complete for the new outcome, with its own event id.
      const errorHooks = handlers.calls.filter((c) => c.path === `${p}/error`);
      const doneHooks = handlers.calls.filter((c) => c.path === `${p}/done`);
      expect(errorHooks.map((c) => webhookBody(c).eventId)).toEqual([`evt_${id}`]);
      expect(doneHooks.map((c) => webhookBody(c).eventId)).toEqual([`evt_${id}_r1`]);
      expect(doneHooks[0].headers["webhook-id"]).toBe(`evt_${id}_r1`);
    });

    test("a redrive while the failure's webhook is still being delivered: that delivery is stopped, the new outcome gets its own", async () => {
      const p = path("superseded");
      const fixed = { value: false };
      handlers.on(`${p}/error`, hangUntilAborted(60_000, { status: 503, json: {} }));
      const { workflow } = await client.createWorkflow({
        id: "superseded",
        steps: fiveSteps(p, fixed),
        onComplete: handlers.url(`${p}/done`),
        onError: handlers.url(`${p}/error`),
      });
      const id = workflow!.id;
      const delivering = await waitForRun(client, id, (w) => w.webhook?.state === WebhookState.DELIVERING);
      expect(delivering.state).toBe(WorkflowState.FAILED);
      await handlers.waitForCall((c) => c.path === `${p}/error`);
      fixed.value = true;
      await client.redriveWorkflow({ id });
      const done = await waitForRun(client, id, (w) => w.state === WorkflowState.COMPLETED && w.webhook?.state === WebhookState.DELIVERED);
      expect(done.webhook).toMatchObject({ eventId: `evt_${id}_r1`, eventType: "workflow.completed", attempts: 1 });
      // The old delivery ended (aborted) and is not retried any more.
      const oldDeliveries = () => handlers.calls.filter((c) => c.path === `${p}/error`);
      await waitUntil(() => oldDeliveries().every((c) => c.aborted));
      const n = oldDeliveries().length;
      await new Promise((r) => setTimeout(r, 500)); // retries were due every 50-200 ms
      expect(oldDeliveries()).toHaveLength(n);
      expect(new Set(oldDeliveries().map((c) => webhookBody(c).eventId))).toEqual(new Set([`evt_${id}`]));
      expect(["s1", "s2", "s3", "s4", "s5"].map((s) => calls(p, id, s).length)).toEqual([1, 1, 2, 1, 1]);
    });

    test("a timed-out run is redriven with a later deadline and completes", async () => {
      const p = path("timeout");
      let slow = true;
      handlers.on(`${p}/b`, (c, all) => (slow ? hangUntilAborted(60_000)(c, all) : { json: { success: true, result: "in time" } }));
      const { workflow } = await client.createWorkflow({
        id: "timed-out",
        timeout: { seconds: 1n },
        steps: [
          { id: "a", url: handlers.url(`${p}/a`) },
          { id: "b", url: handlers.url(`${p}/b`), dependsOn: ["a"] },
        ],
      });
      const id = workflow!.id;
      const failed = await waitForRun(client, id);
      expect([failed.state, failed.error?.reason]).toEqual([WorkflowState.FAILED, "timed_out"]);
      slow = false;
      const { workflow: redriven } = await client.redriveWorkflow({ id, deadlineExtension: { seconds: 120n } });
      // The old deadline has passed: the new one is 120 s from the redrive.
      expect(Number(redriven!.deadline!.seconds)).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) + 100);
      const done = await waitForRun(client, id);
      expect(done.state).toBe(WorkflowState.COMPLETED);
      // Each step was called once per attempt; a step that had completed before the timeout was not called again.
      expect(done.steps.map((s) => [s.id, s.attempts])).toEqual(["a", "b"].map((step) => [step, calls(p, id, step).length]));
      if (failed.steps[0].state === StepState.COMPLETED) expect(calls(p, id, "a")).toHaveLength(1);
    });

    test("a run that has not finished is refused with FAILED_PRECONDITION; so is a completed one", async () => {
      const p = path("hang");
      handlers.on(`${p}/a`, hangUntilAborted(60_000));
      const { workflow } = await client.createWorkflow({ id: "hanging", steps: [{ id: "a", url: handlers.url(`${p}/a`) }] });
      const id = workflow!.id;
      await waitForRun(client, id, (w) => w.state === WorkflowState.RUNNING);
      const err = await refusal(client.redriveWorkflow({ id }));
      expect(err.code).toBe(Code.FailedPrecondition);
      expect(reasonOf(err)).toBe("RUN_NOT_FINISHED");
      expect(err.rawMessage).toMatch(/has not finished \(running\)/);
      const { workflow: cancelled } = await client.cancelWorkflow({ id });
      expect(cancelled!.state).toBe(WorkflowState.CANCELLED);

      const ok = await client.createWorkflow({ id: "quick", steps: [{ id: "a", url: handlers.url(`${p}/ok`) }] });
      await waitForRun(client, ok.workflow!.id, (w) => w.state === WorkflowState.COMPLETED);
      const completed = await refusal(client.redriveWorkflow({ id: ok.workflow!.id }));
      expect([completed.code, reasonOf(completed)]).toEqual([Code.FailedPrecondition, "RUN_COMPLETED"]);

      // Bad input names the field; an unknown run is NOT_FOUND.
      const bad = await refusal(client.redriveWorkflow({ id, deadlineExtension: { seconds: -5n } }));
      expect(bad.code).toBe(Code.InvalidArgument);
      expect(bad.rawMessage).toMatch(/deadline_extension/);
      expect((await refusal(client.redriveWorkflow({ id: "nope" }))).code).toBe(Code.InvalidArgument);
      expect((await refusal(client.redriveWorkflow({ id: "wf_00000000000000000000000000" }))).code).toBe(Code.NotFound);
    });

    test("a saga run whose compensations have run is refused: COMPENSATED", async () => {
      const p = path("saga");
      handlers.on(`${p}/b`, () => ({ status: 400, json: { error: "no" } }));
      const { workflow } = await client.createWorkflow({
        id: "saga",
        saga: true,
        steps: [
          { id: "a", url: handlers.url(`${p}/a`), compensation: handlers.url(`${p}/undo-a`) },
          { id: "b", url: handlers.url(`${p}/b`), dependsOn: ["a"] },
        ],
      });
      const id = workflow!.id;
      const failed = await waitForRun(client, id);
      expect(failed.state).toBe(WorkflowState.FAILED);
      expect(handlers.calls.filter((c) => c.path === `${p}/undo-a`)).toHaveLength(1);
      const err = await refusal(client.redriveWorkflow({ id }));
      expect(err.code).toBe(Code.FailedPrecondition);
      expect(reasonOf(err)).toBe("COMPENSATED");
      expect(err.rawMessage).toMatch(/compensations have run/);
      const after = (await client.getWorkflow({ id })).workflow!;
      expect([after.state, after.lastSequence]).toEqual([WorkflowState.FAILED, failed.lastSequence]);
    });

    test("a redrive racing a cancel: one wins cleanly, the log stays consistent", async () => {
      for (let round = 0; round < 4; round++) {
        const p = path("race");
        let failFirst = true;
        // Fails once, then hangs until aborted: a redriven run stays running until cancelled.
        handlers.on(`${p}/a`, async (c, all) => {
          if (failFirst) {
            failFirst = false;
            return { status: 400, json: { error: "first" } };
          }
          return hangUntilAborted(60_000)(c, all);
        });
        const { workflow } = await client.createWorkflow({ id: "race", steps: [{ id: "a", url: handlers.url(`${p}/a`) }] });
        const id = workflow!.id;
        await waitForRun(client, id);
        const other = round % 2 === 0 ? weft.connectClient() : client;
        const [redrive, cancel] = await Promise.allSettled([client.redriveWorkflow({ id }), other.cancelWorkflow({ id, reason: "race" })]);
        // The redrive always applies (the run was FAILED); the cancel either came first (refused: finished) or cancels the redriven run.
        expect(redrive.status).toBe("fulfilled");
        if (cancel.status === "rejected") {
          const err = ConnectError.from(cancel.reason);
          expect([err.code, reasonOf(err)]).toEqual([Code.FailedPrecondition, "RUN_FINISHED"]);
          await client.cancelWorkflow({ id });
        }
        const end = await waitForRun(client, id);
        expect(end.state).toBe(WorkflowState.CANCELLED);
        const events = await allEvents(client, id);
        expectConsistentLog(events, end.lastSequence);
        expect(runTransitions(events).slice(2)).toEqual([
          ["RUNNING", "FAILED", false],
          ["FAILED", "RUNNING", true],
          ["RUNNING", "CANCELLED", false],
        ]);
      }
    });

    test("two redrives at once: exactly one succeeds, the other is refused as the run is running again", async () => {
      const p = path("twice");
      const fixed = { value: false };
      const { workflow } = await client.createWorkflow({ id: "twice", steps: fiveSteps(p, fixed) });
      const id = workflow!.id;
      await waitForRun(client, id);
      fixed.value = true;
      const results = await Promise.allSettled([client.redriveWorkflow({ id }), weft.connectClient().redriveWorkflow({ id })]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const loser = ConnectError.from((results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason);
      expect([loser.code, reasonOf(loser)]).toEqual([Code.FailedPrecondition, "RUN_NOT_FINISHED"]);
      const done = await waitForRun(client, id);
      expect(done.state).toBe(WorkflowState.COMPLETED);
      expect(calls(p, id, "s3")).toHaveLength(2);
      const events = await allEvents(client, id);
      expectConsistentLog(events, done.lastSequence);
      expect(runTransitions(events).filter((t) => t[2])).toHaveLength(1);
    });

    test("idempotency: the same request again returns the run; a different request with the key is ALREADY_EXISTS", async () => {
      const p = path("idem");
      const requestId = `order-${setup.name}-${Date.now()}`;
      const request = {
        id: "idem",
        requestId,
        steps: [{ id: "a", url: handlers.url(`${p}/a`) }],
        context: { orderId: "o-1", qty: 2 },
      };
      const first = await client.createWorkflow(request);
      expect(first.deduplicated).toBe(false);
      // The same request (over Connect JSON, context keys in another order): the original run.
      const again = await weft.connectClient().createWorkflow({ ...request, context: { qty: 2, orderId: "o-1" } });
      expect(again.deduplicated).toBe(true);
      expect(again.workflow!.id).toBe(first.workflow!.id);
      // A different request reusing the key.
      const err = await refusal(client.createWorkflow({ ...request, context: { orderId: "o-2", qty: 2 } }));
      expect(err.code).toBe(Code.AlreadyExists);
      expect(reasonOf(err)).toBe("IDEMPOTENCY_KEY_REUSED");
      expect(err.findDetails(ErrorInfoSchema)[0]!.metadata).toEqual({ run_id: first.workflow!.id });
      const other = await refusal(client.createWorkflow({ ...request, steps: [{ id: "b", url: handlers.url(`${p}/a`) }] }));
      expect(reasonOf(other)).toBe("IDEMPOTENCY_KEY_REUSED");
      // Nothing new was stored.
      const { workflows } = await client.listWorkflows({ workflowId: "idem" });
      expect(workflows.map((w) => w.id)).toEqual([first.workflow!.id]);
    });

    test("RedeliverWebhook: a failed delivery is sent again once the receiver is fixed; refusals otherwise", async () => {
      const p = path("hook");
      let receiverUp = false;
      handlers.on(`${p}/done`, () => (receiverUp ? { json: { ok: true } } : { status: 503, json: { error: "down" } }));
      const { workflow } = await client.createWorkflow({
        id: "hooked",
        steps: [{ id: "a", url: handlers.url(`${p}/a`) }],
        onComplete: handlers.url(`${p}/done`),
      });
      const id = workflow!.id;
      const gaveUp = await waitForRun(client, id, (w) => w.webhook?.state === WebhookState.FAILED);
      const before = handlers.calls.filter((c) => c.path === `${p}/done`).length;
      expect(before).toBe(gaveUp.webhook!.attempts);

      receiverUp = true;
      const { workflow: again } = await client.redeliverWebhook({ id });
      expect([WebhookState.PENDING, WebhookState.DELIVERING]).toContain(again!.webhook!.state);
      const delivered = await waitForRun(client, id, (w) => w.webhook?.state === WebhookState.DELIVERED);
      expect(delivered.webhook!.attempts).toBe(gaveUp.webhook!.attempts + 1);
      const hooks = byReceipt(handlers.calls.filter((c) => c.path === `${p}/done`));
      expect(hooks).toHaveLength(before + 1);
      // The same notification: the same event id (webhook-id header) as the failed attempts.
      expect(new Set(hooks.map((c) => c.headers["webhook-id"]))).toEqual(new Set([`evt_${id}`]));
      expect(webhookBody(hooks.at(-1)!).workflow.id).toBe(id);
      // The run itself did not change state or log.
      expect([delivered.state, delivered.lastSequence]).toEqual([WorkflowState.COMPLETED, gaveUp.lastSequence]);

      // Delivered: may be delivered again.
      await weft.connectClient().redeliverWebhook({ id });
      await waitForRun(client, id, (w) => w.webhook?.state === WebhookState.DELIVERED && w.webhook.attempts === delivered.webhook!.attempts + 1);

      // No webhook, or a run that has not finished: refused.
      const plain = await client.createWorkflow({ id: "plain", steps: [{ id: "a", url: handlers.url(`${p}/a`) }] });
      await waitForRun(client, plain.workflow!.id);
      const none = await refusal(client.redeliverWebhook({ id: plain.workflow!.id }));
      expect([none.code, reasonOf(none)]).toEqual([Code.FailedPrecondition, "NO_WEBHOOK"]);
      handlers.on(`${p}/slow`, hangUntilAborted(60_000));
      const slow = await client.createWorkflow({ id: "slow", steps: [{ id: "a", url: handlers.url(`${p}/slow`) }], onComplete: handlers.url(`${p}/done`) });
      const running = await refusal(client.redeliverWebhook({ id: slow.workflow!.id }));
      expect([running.code, reasonOf(running)]).toEqual([Code.FailedPrecondition, "RUN_NOT_FINISHED"]);
      await client.cancelWorkflow({ id: slow.workflow!.id });
    });

    test("the TypeScript SDK: workflows.redrive and redeliverWebhook; a watch resumed from before the failure follows the redriven run to its end", async () => {
      const platform = createPlatform({ baseUrl: weft.baseUrl, transport: "grpc" });
      const p = path("sdk");
      const fixed = { value: false };
      const created = await platform.workflows.create({ id: "sdk", steps: fiveSteps(p, fixed), onError: handlers.url(`${p}/error`) });
      await waitForRun(client, created.id, (w) => w.webhook?.state === WebhookState.DELIVERED);
      fixed.value = true;
      const redriven = await platform.workflows.redrive(created.id, { deadlineExtensionMs: 90_000 });
      expect(redriven.state).toBe("running");
      const events: WatchEvent[] = [];
      for await (const msg of platform.workflows.watch(created.id, { afterSequence: 1 })) if (msg.type === "event") events.push(msg);
      // The watch passed over the FAILED transition the redrive followed, and ended at COMPLETED.
      const runEvents = events.filter((e) => e.kind === "run").map((e) => [e.from, e.to, e.redriven ?? false]);
      expect(runEvents).toEqual([
        ["pending", "running", false],
        ["running", "failed", false],
        ["failed", "running", true],
        ["running", "completed", false],
      ]);
      const err = await platform.workflows.redrive(created.id).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WeftError);
      // A run completed with no on_complete: nothing to redeliver.
      const none = await platform.workflows.redeliverWebhook(created.id).then(
        () => undefined,
        (e: unknown) => e as WeftError,
      );
      expect(none?.code).toBe("failed_precondition");
    });

    test("the CLI: weft redrive and weft redeliver", async () => {
      const p = path("cli");
      const fixed = { value: false };
      let receiverUp = false;
      handlers.on(`${p}/hook`, () => (receiverUp ? { json: {} } : { status: 503, json: {} }));
      const { workflow } = await client.createWorkflow({ id: "cli", steps: fiveSteps(p, fixed), onComplete: handlers.url(`${p}/hook`) });
      const id = workflow!.id;
      await waitForRun(client, id);
      const running = await weftCli(["redrive", id, "--deadline-extension", "nonsense"]);
      expect([running.code, running.stderr]).toEqual([2, expect.stringContaining("--deadline-extension: must be a positive number")]);
      fixed.value = true;
      const redriven = await weftCli(["redrive", id, "--deadline-extension", "600"]);
      expect(redriven.stderr).toBe("");
      expect([redriven.code, redriven.stdout.trim()]).toEqual([0, `${id} running`]);
      const again = await weftCli(["redrive", id]);
      // A refusal (not finished, or completed meanwhile) is failed_precondition: exit 1.
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/failed_precondition/);
      await waitForRun(client, id, (w) => w.webhook?.state === WebhookState.FAILED);
      receiverUp = true;
      const redelivered = await weftCli(["redeliver", id, "--output", "json"]);
      expect(redelivered.code).toBe(0);
      expect(JSON.parse(redelivered.stdout).id).toBe(id);
      await waitForRun(client, id, (w) => w.webhook?.state === WebhookState.DELIVERED);
    });

    if (setup.name === "mongodb") {
      test("two replicas on one database: a redrive on the replica that does not drive the run takes it over; of two at once, one wins", async () => {
        const second = await startWeft({ webhook: WEBHOOK, ...setup.overrides() });
        try {
          for (const both of [false, true]) {
            const p = path("replicas");
            const fixed = { value: false };
            const { workflow } = await client.createWorkflow({ id: "replicas", steps: fiveSteps(p, fixed) });
            const id = workflow!.id;
            await waitForRun(client, id);
            fixed.value = true;
            const attempts = both ? [client.redriveWorkflow({ id }), second.client.redriveWorkflow({ id })] : [second.client.redriveWorkflow({ id })];
            const results = await Promise.allSettled(attempts);
            expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
            for (const r of results) {
              if (r.status === "rejected") {
                // The loser finds the run redriven and still running, or (when its call arrives
                // late, e.g. on a loaded machine) already completed by the winner's redrive.
                const err = ConnectError.from(r.reason);
                expect(err.code).toBe(Code.FailedPrecondition);
                expect(["RUN_NOT_FINISHED", "RUN_COMPLETED"]).toContain(reasonOf(err));
              }
            }
            const done = await waitForRun(client, id);
            expect(done.state).toBe(WorkflowState.COMPLETED);
            // Exactly once: no step is called twice by the two replicas.
            expect(["s1", "s2", "s3", "s4", "s5"].map((s) => calls(p, id, s).length)).toEqual([1, 1, 2, 1, 1]);
            const events = await allEvents(second.client, id);
            expectConsistentLog(events, done.lastSequence);
            expect(runTransitions(events).filter((t) => t[2])).toHaveLength(1);
          }
        } finally {
          await second.server.close(500);
        }
      });
    }
  });
}

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** `node bin/weft.js <args>` on the bundled Node against the test's server. */
function weftCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(join(REPO_ROOT, "node_modules", ".bin", "node"), [join(REPO_ROOT, "bin", "weft.js"), ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/", WEFT_URL: currentWeftUrl },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

let currentWeftUrl = "";

export type { Workflow };
