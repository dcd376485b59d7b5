// Concurrency keys end to end: a real server and a real handler server that
// records which runs of which user it holds at once. Workflow-level keys (a
// user's runs one at a time, another user's run going on), step-level keys,
// priority order, fairness between a key with many queued runs and one with
// few, a queued run or step visible as such (GetWorkflow, the event log and
// WatchWorkflow), cancel of a queued run; two replicas on one MongoDB database.
// WEFT_TEST_STORE=mongodb runs it on MongoDB. Slots kept over a restart and
// kill -9 of the embedded store: concurrency-keys-restart.test.ts.
import type { Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { StepState, type WorkflowService, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { type Behaviour, HandlerServer, type RecordedCall } from "../support/handler-server.ts";
import { sleep } from "../support/run-observer.ts";
import { Gate, listEvents } from "../support/watch.ts";
import { loadConfig } from "../../src/config.ts";
import { describeMongo } from "../support/mongo-server.ts";
import { createPlatform } from "../../clients/ts/src/index.ts";
import { startWeft, TEST_SECRET, type TestWeft, waitForRun } from "../support/weft.ts";

const QUEUED = "concurrency_key";

/** Records, per key value in the context (`user`), how many calls the handler holds at once. */
export class Overlap {
  now = new Map<string, number>();
  max = new Map<string, number>();
  /** Calls in the order they arrived: `<user>:<runId>:<stepId>`. */
  order: string[] = [];
  /** `hold(call)` decides how long each call is held. */
  behaviour(hold: (call: RecordedCall) => Promise<void>): Behaviour {
    return async (call) => {
      const user = String(call.body.context.user);
      this.order.push(`${user}:${call.body.runId}:${call.body.stepId}`);
      const n = (this.now.get(user) ?? 0) + 1;
      this.now.set(user, n);
      this.max.set(user, Math.max(this.max.get(user) ?? 0, n));
      try {
        await hold(call);
      } finally {
        this.now.set(user, this.now.get(user)! - 1);
      }
      return { json: { success: true, result: { user } } };
    };
  }
}

async function waitUntil(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(15);
  }
}

async function runOf(client: Client<typeof WorkflowService>, id: string) {
  return (await client.getWorkflow({ id })).workflow!;
}

describe("concurrency keys", () => {
  let weft: TestWeft;
  let handlers: HandlerServer;
  beforeAll(async () => {
    handlers = await HandlerServer.start();
    weft = await startWeft();
  });
  afterAll(async () => {
    await weft?.stop();
    await handlers?.close();
  });

  const create = (workflowId: string, path: string, user: string, extra: Record<string, unknown> = {}, steps = 2) =>
    weft.client.createWorkflow({
      id: workflowId,
      steps: Array.from({ length: steps }, (_, i) => ({ id: `s${i}`, url: handlers.url(path), dependsOn: i === 0 ? [] : [`s${i - 1}`] })),
      context: { user },
      concurrency: { key: "/context/user", limit: 1 },
      ...extra,
    });

  test("a workflow key holds two runs of one user apart while another user's run proceeds", async () => {
    const overlap = new Overlap();
    const gate = new Gate();
    handlers.on("/wk/step", overlap.behaviour(async (call) => {
      if (call.body.context.user === "u1") await gate.opened;
    }));
    const first = (await create("wk", "/wk/step", "u1")).workflow!;
    await handlers.waitForCall((c) => c.body.runId === first.id);
    const second = (await create("wk", "/wk/step", "u1")).workflow!;
    const other = (await create("wk", "/wk/step", "u2")).workflow!;

    // The other user's run completes while u1's first run is held.
    const done = await waitForRun(weft.client, other.id);
    expect(done.state).toBe(WorkflowState.COMPLETED);
    // u1's second run waits, pending, for its key.
    const queued = await waitForRun(weft.client, second.id, (w) => w.waitingFor === QUEUED);
    expect(queued.state).toBe(WorkflowState.PENDING);
    expect(queued.concurrencyKey).toBe("u1");
    expect(queued.concurrency).toMatchObject({ key: "/context/user", limit: 1 });
    expect(handlers.callsFor(second.id)).toHaveLength(0);

    gate.open();
    for (const id of [first.id, second.id]) expect((await waitForRun(weft.client, id)).state).toBe(WorkflowState.COMPLETED);
    expect(overlap.max.get("u1")).toBe(1);
    // Every call of the second run came after the first run's last call had been answered.
    const firstCalls = handlers.callsFor(first.id);
    const secondCalls = handlers.callsFor(second.id);
    expect(secondCalls).toHaveLength(2);
    const lastAnswer = Math.max(...firstCalls.map((c) => c.respondedAt ?? Number.POSITIVE_INFINITY));
    expect(Math.min(...secondCalls.map((c) => c.receivedAt))).toBeGreaterThan(lastAnswer);
    // The queued run's log: created, queued (PENDING -> PENDING, waiting_for), then running.
    const { events } = await listEvents(weft.client, second.id, 100);
    const runEvents = events.filter((e) => e.transition.case === "run");
    expect(runEvents.slice(0, 3).map((e) => [e.transition.value!.fromState, e.transition.value!.toState, e.waitingFor])).toEqual([
      [WorkflowState.UNSPECIFIED, WorkflowState.PENDING, ""],
      [WorkflowState.PENDING, WorkflowState.PENDING, QUEUED],
      [WorkflowState.PENDING, WorkflowState.RUNNING, ""],
    ]);
    const finished = await runOf(weft.client, second.id);
    expect(finished.waitingFor).toBe("");
  });

  test("a step key: one charge per user at a time across runs; a queued step shows as queued in GetWorkflow and WatchWorkflow", async () => {
    const overlap = new Overlap();
    const gate = new Gate();
    let held = 0;
    handlers.on("/sk/charge", overlap.behaviour(async (call) => {
      if (call.body.context.user === "u1" && held++ === 0) await gate.opened;
      else await sleep(5);
    }));
    const create3 = (user: string) =>
      weft.client.createWorkflow({
        id: "sk",
        steps: [
          { id: "prepare", url: handlers.url("/sk/other") },
          { id: "charge", url: handlers.url("/sk/charge"), dependsOn: ["prepare"], concurrency: { key: "/context/user", limit: 1 } },
          { id: "notify", url: handlers.url("/sk/other"), dependsOn: ["charge"] },
        ],
        context: { user },
      });
    const a = (await create3("u1")).workflow!;
    await handlers.waitForCall((c) => c.body.runId === a.id && c.body.stepId === "charge");
    const b = (await create3("u1")).workflow!;
    const c = (await create3("u1")).workflow!;
    const d = (await create3("u2")).workflow!;
    // u2's charge is another key: its run completes.
    expect((await waitForRun(weft.client, d.id)).state).toBe(WorkflowState.COMPLETED);
    // b's charge waits: PENDING, waiting_for concurrency_key, not current, no attempt.
    const queued = await waitForRun(weft.client, b.id, (w) => w.steps[1].waitingFor === QUEUED);
    expect(queued.state).toBe(WorkflowState.RUNNING);
    expect(queued.steps[1]).toMatchObject({ state: StepState.PENDING, attempts: 0, concurrencyKey: "u1" });
    expect(queued.steps[1].definition?.concurrency).toMatchObject({ key: "/context/user", limit: 1 });
    expect(queued.currentSteps).toEqual([]);
    // WatchWorkflow: the snapshot shows it queued; then the step goes PENDING -> RUNNING -> COMPLETED.
    const abort = new AbortController();
    const seen: string[] = [];
    const watching = (async () => {
      for await (const m of weft.client.watchWorkflow({ id: b.id }, { signal: abort.signal })) {
        if (m.kind.case === "snapshot") seen.push(`snapshot charge ${StepState[m.kind.value.steps[1].state]} ${m.kind.value.steps[1].waitingFor}`);
        else if (m.kind.case === "event" && m.kind.value.stepId === "charge" && m.kind.value.transition.case === "step") {
          const t = m.kind.value.transition.value;
          seen.push(`charge ${StepState[t.fromState]}->${StepState[t.toState]} ${m.kind.value.waitingFor}`.trim());
        }
      }
    })().catch(() => {});
    await waitUntil("the watch sees the snapshot", () => seen.length > 0);
    gate.open();
    for (const id of [a.id, b.id, c.id]) expect((await waitForRun(weft.client, id)).state).toBe(WorkflowState.COMPLETED);
    await waitUntil("the watch sees the charge complete", () => seen.some((s) => s.startsWith("charge RUNNING->COMPLETED")));
    abort.abort();
    await watching;
    expect(seen).toEqual(["snapshot charge PENDING concurrency_key", "charge PENDING->RUNNING", "charge RUNNING->COMPLETED"]);
    expect(overlap.max.get("u1")).toBe(1);
    // The log of b has the queued transition before it ran.
    const { events } = await listEvents(weft.client, b.id, 100);
    const charge = events.filter((e) => e.stepId === "charge" && e.transition.case === "step").map((e) => `${StepState[e.transition.value!.fromState]}->${StepState[e.transition.value!.toState]} ${e.waitingFor}`.trim());
    expect(charge).toEqual(["PENDING->PENDING concurrency_key", "PENDING->RUNNING", "RUNNING->COMPLETED"]);
  });

  test("among queued runs of one key, higher priority first, first come first served within a priority", async () => {
    const overlap = new Overlap();
    const gate = new Gate();
    handlers.on("/pr/step", overlap.behaviour(async (call) => {
      if (call.body.context.user === "hold") await gate.opened;
    }));
    const createP = (name: string, priority: number) =>
      weft.client.createWorkflow({
        id: "pr",
        steps: [{ id: name, url: handlers.url("/pr/step") }],
        context: { user: name === "holder" ? "hold" : "p", k: "same" },
        concurrency: { key: "/context/k", limit: 1 },
        priority,
      });
    const holder = (await createP("holder", 0)).workflow!;
    await handlers.waitForCall((c) => c.body.runId === holder.id);
    const names: [string, number][] = [["low-1", 0], ["mid", 5], ["low-2", 0], ["top", 10], ["neg", -3], ["mid-2", 5]];
    const ids: string[] = [];
    for (const [name, p] of names) {
      const w = (await createP(name, p)).workflow!;
      expect(w.priority).toBe(p);
      ids.push(w.id);
      // Queued one after the other: FIFO is about the order they queued.
      await waitForRun(weft.client, w.id, (x) => x.waitingFor === QUEUED);
    }
    gate.open();
    for (const id of ids) await waitForRun(weft.client, id);
    const started = overlap.order.map((o) => o.split(":")[2]).filter((s) => s !== "holder");
    expect(started).toEqual(["top", "mid", "mid-2", "low-1", "low-2", "neg"]);
  });

  test("fairness: a key with 200 queued runs does not starve one with 10", async () => {
    // Both keys allow 2 at a time. Small enough for a busy 2-core machine; the
    // assertion is about order (the small key's runs all finish while the big
    // key still has most of its runs to go), not about time.
    const overlap = new Overlap();
    // Every call waits until all 210 runs are queued, so both backlogs exist at once.
    const gate = new Gate();
    handlers.on("/fair/step", overlap.behaviour(async () => {
      await gate.opened;
      await sleep(10);
    }));
    const completions: string[] = [];
    const createF = (user: string) =>
      weft.client.createWorkflow({
        id: "fair",
        steps: [{ id: "s", url: handlers.url("/fair/step") }],
        context: { user },
        concurrency: { key: "/context/user", limit: 2 },
      });
    const big: string[] = [];
    for (let i = 0; i < 200; i++) big.push((await createF("big")).workflow!.id);
    const small: string[] = [];
    for (let i = 0; i < 10; i++) small.push((await createF("small")).workflow!.id);
    for (const id of [...big.slice(2), ...small.slice(2)]) await waitForRun(weft.client, id, (w) => w.waitingFor === QUEUED);
    await waitUntil("the first two runs of each key are held", () => overlap.order.length === 4);
    gate.open();
    const pending = new Set([...big, ...small]);
    await waitUntil("every run finished", async () => {
      for (const id of [...pending]) {
        const w = await runOf(weft.client, id);
        if (w.state === WorkflowState.COMPLETED) {
          pending.delete(id);
          completions.push(small.includes(id) ? "small" : "big");
        }
      }
      return pending.size === 0;
    }, 300_000);
    expect(overlap.max.get("big")).toBeLessThanOrEqual(2);
    expect(overlap.max.get("small")).toBeLessThanOrEqual(2);
    // When the small key's last run started, the big key had most of its 200 still to start.
    const bigBeforeLastSmall = overlap.order.slice(0, overlap.order.findLastIndex((o) => o.startsWith("small:"))).filter((o) => o.startsWith("big:")).length;
    expect(bigBeforeLastSmall).toBeLessThan(100);
  });

  test("cancelling a queued run takes it out of the queue; the next one starts", async () => {
    const gate = new Gate();
    handlers.on("/cq/step", async (call) => {
      if (call.body.context.user === "c1" && call.body.stepId === "s0" && !gate.isOpen) await gate.opened;
      return { json: { success: true, result: null } };
    });
    const first = (await create("cq", "/cq/step", "c1")).workflow!;
    await handlers.waitForCall((c) => c.body.runId === first.id);
    const second = (await create("cq", "/cq/step", "c1")).workflow!;
    const third = (await create("cq", "/cq/step", "c1")).workflow!;
    await waitForRun(weft.client, third.id, (w) => w.waitingFor === QUEUED);
    const cancelled = (await weft.client.cancelWorkflow({ id: second.id, reason: "not needed" })).workflow!;
    expect(cancelled.state).toBe(WorkflowState.CANCELLED);
    expect(cancelled.waitingFor).toBe("");
    expect(cancelled.steps.map((s) => s.state)).toEqual([StepState.SKIPPED, StepState.SKIPPED]);
    gate.open();
    expect((await waitForRun(weft.client, third.id)).state).toBe(WorkflowState.COMPLETED);
    expect(handlers.callsFor(second.id)).toHaveLength(0);
  });

  test("the TypeScript client: create with concurrency and priority; getStatus shows the queued run and step", async () => {
    const platform = createPlatform({ baseUrl: weft.baseUrl, signingSecrets: TEST_SECRET, jobsBaseUrl: handlers.baseUrl });
    const gate = new Gate();
    handlers.on("/sdk/hold", async () => {
      await gate.opened;
      return { json: { success: true, result: null } };
    });
    const input = {
      id: "sdk-ck",
      steps: [{ id: "charge", url: "/sdk/hold", concurrency: { key: "/context/user", limit: 1 } }],
      context: { user: "s1" },
      concurrency: { key: "/context/user", limit: 2 },
      priority: 7,
    };
    const first = await platform.workflows.create(input);
    await handlers.waitForCall((c) => c.body.runId === first.id);
    const second = await platform.workflows.create(input);
    await waitUntil("the second run's charge is queued", async () => (await platform.workflows.getStatus(second.id)).steps[0].waitingFor === QUEUED);
    const status = await platform.workflows.getStatus(second.id);
    expect(status).toMatchObject({ state: "running", priority: 7 });
    expect(status.steps[0]).toMatchObject({ state: "pending", waitingFor: QUEUED, attempts: 0 });
    const third = await platform.workflows.create(input);
    await waitUntil("the third run is queued", async () => (await platform.workflows.getStatus(third.id)).waitingFor === QUEUED);
    expect((await platform.workflows.getStatus(third.id)).state).toBe("pending");
    gate.open();
    for (const id of [first.id, second.id, third.id]) expect((await waitForRun(weft.client, id)).state).toBe(WorkflowState.COMPLETED);
    const done = await platform.workflows.getStatus(third.id);
    expect(done.waitingFor).toBeUndefined();
    expect(done.steps[0].waitingFor).toBeUndefined();
  });

  test("bad concurrency settings are INVALID_ARGUMENT naming the field", async () => {
    const bad = async (req: Record<string, unknown>) => {
      try {
        await weft.client.createWorkflow({ id: "bad", steps: [{ id: "a", url: handlers.url("/x") }], context: { user: "u" }, ...req });
      } catch (err) {
        return String((err as Error).message);
      }
      throw new Error("accepted");
    };
    expect(await bad({ concurrency: { key: "/context/missing", limit: 1 } })).toContain("concurrency.key: the context has no value at /context/missing");
    expect(await bad({ concurrency: { key: "/context/user", limit: 0 } })).toContain("concurrency.limit: must be between 1 and 1000");
    expect(await bad({ concurrency: { key: "user", limit: 1 } })).toContain("concurrency.key: must be a JSON pointer into the context");
    expect(await bad({ priority: 5000 })).toContain("priority: must be an integer between -1000 and 1000");
    expect(
      await bad({ steps: [{ id: "a", url: handlers.url("/x"), concurrency: { key: "/context/user/deeper", limit: 1 } }] }),
    ).toContain("steps[0].concurrency.key");
  });
});

describeMongo("concurrency keys across two replicas on one MongoDB database", (mongo) => {
  let a: TestWeft;
  let b: TestWeft;
  let handlers: HandlerServer;
  beforeAll(async () => {
    handlers = await HandlerServer.start();
    const base = loadConfig([], {})!;
    const mongodb = { ...base.mongodb, uri: mongo().uri, database: mongo().dbName, pollIntervalMs: 20, sweepIntervalMs: 500, leaseTtlMs: 3000 };
    a = await startWeft({ mongodb });
    b = await startWeft({ mongodb });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await handlers?.close();
  });

  test("a workflow key and a step key hold across replicas: runs created on both never overlap for one user; another user's runs go on", async () => {
    const overlap = new Overlap();
    handlers.on("/xr/run", overlap.behaviour(async () => {
      await sleep(30);
    }));
    const charges = new Overlap();
    handlers.on("/xr/charge", charges.behaviour(async () => {
      await sleep(30);
    }));
    const ids: { client: Client<typeof WorkflowService>; id: string; user: string }[] = [];
    for (let i = 0; i < 12; i++) {
      const client = i % 2 === 0 ? a.client : b.client;
      const user = i % 3 === 2 ? "other" : "same";
      const byRun = (
        await client.createWorkflow({
          id: "xr",
          steps: [
            { id: "s0", url: handlers.url("/xr/run") },
            { id: "s1", url: handlers.url("/xr/run"), dependsOn: ["s0"] },
          ],
          context: { user },
          concurrency: { key: "/context/user", limit: 1 },
        })
      ).workflow!;
      ids.push({ client, id: byRun.id, user });
      const byStep = (
        await client.createWorkflow({
          id: "xs",
          steps: [{ id: "charge", url: handlers.url("/xr/charge"), concurrency: { key: "/context/user", limit: 2 } }],
          context: { user },
        })
      ).workflow!;
      ids.push({ client, id: byStep.id, user });
    }
    for (const { client, id } of ids) expect((await waitForRun(client, id)).state).toBe(WorkflowState.COMPLETED);
    expect(overlap.max.get("same")).toBe(1);
    expect(charges.max.get("same")).toBeLessThanOrEqual(2);
    expect(charges.max.get("other")).toBeLessThanOrEqual(2);
    // Runs were driven on both replicas.
    expect(overlap.order.filter((o) => o.startsWith("same:"))).toHaveLength(16);
  });

  test("a replica that stops while its run holds the key: the other replica takes the run over with its slot, and the queued run on it starts after", async () => {
    let release = false;
    handlers.on("/xh/step", async () => {
      while (!release) await sleep(10);
      return { json: { success: true, result: null } };
    });
    const mongodb = a.config.mongodb;
    const c = await startWeft({ mongodb });
    const req = { id: "xh", steps: [{ id: "s", url: handlers.url("/xh/step") }], context: { user: "h" }, concurrency: { key: "/context/user", limit: 1 } };
    const first = (await c.client.createWorkflow(req)).workflow!;
    await handlers.waitForCall((x) => x.body.runId === first.id);
    const second = (await b.client.createWorkflow(req)).workflow!;
    await waitForRun(b.client, second.id, (w) => w.waitingFor === QUEUED);
    await c.stop();
    // Taken over (the call is sent again by a survivor) and still holding the key.
    await handlers.waitForCall((x) => x.body.runId === first.id && handlers.callsFor(first.id).length >= 2, 60_000);
    expect((await runOf(b.client, second.id)).waitingFor).toBe(QUEUED);
    release = true;
    expect((await waitForRun(b.client, first.id)).state).toBe(WorkflowState.COMPLETED);
    expect((await waitForRun(b.client, second.id)).state).toBe(WorkflowState.COMPLETED);
    const firstDone = Math.max(...handlers.callsFor(first.id).map((x) => x.respondedAt ?? 0));
    expect(handlers.callsFor(second.id)[0].receivedAt).toBeGreaterThan(firstDone);
  });
});
