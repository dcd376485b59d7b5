// Per-host limits end to end: a real server and real handler servers that count
// the requests they hold at once. In-flight bound under a 2,000-wide fan-out, the
// rate bound, a per-origin override, a queued call cancelled or timed out by the
// run before it is ever sent, and the attempt timeout measured from the send.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { StepState, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { loadConfig } from "../../src/config.ts";
import { type Behaviour, HandlerServer, type RecordedCall } from "../support/handler-server.ts";
import { hangUntilAborted, sleep } from "../support/run-observer.ts";
import { logEntries, spawnWeft, stopWeft, type WeftProcess } from "../support/weft-process.ts";
import { startWeft, TEST_STORE, type TestWeft, waitForRun } from "../support/weft.ts";

/** A behaviour that counts requests held at once; each is held `holdMs`, or until `release()` says so. */
function counting(hold: number | ((c: Counter) => Promise<void>)) {
  const c: Counter = { now: 0, max: 0, total: 0 };
  const behaviour: Behaviour = async (call) => {
    c.now++;
    c.total++;
    c.max = Math.max(c.max, c.now);
    try {
      if (typeof hold === "number") await sleep(hold);
      else await hold(c);
    } finally {
      c.now--;
    }
    return { json: { success: true, result: { step: call.body.stepId } } };
  };
  return { counter: c, behaviour };
}
interface Counter {
  now: number;
  max: number;
  total: number;
}

/**
 * Holds the first calls until `n` are held at once (or 30 s pass), so a limit of n is
 * reached however slow the machine (and one not kept shows as more than n held); every
 * call is then held `thenMs` more.
 */
const untilHeld = (n: number, thenMs: number) => async (c: Counter) => {
  const end = Date.now() + 30_000;
  while (c.max < n && Date.now() < end) await sleep(5);
  await sleep(thenMs);
};

/** When Weft sent a call: its signed Weft-Deadline minus the attempt timeout. */
const sentAt = (c: RecordedCall, timeoutMs: number) => Date.parse(String(c.headers["weft-deadline"])) - timeoutMs;

/** The most of `times` (ms, sorted) that fall in any closed window of `windowMs`. */
function mostInWindow(times: number[], windowMs: number): number {
  let most = 0;
  let j = 0;
  for (let i = 0; i < times.length; i++) {
    if (j < i) j = i;
    while (j + 1 < times.length && times[j + 1] <= times[i] + windowMs) j++;
    most = Math.max(most, j - i + 1);
  }
  return most;
}

async function metricValue(weft: TestWeft, name: string, origin: string): Promise<number | undefined> {
  const text = await (await fetch(`${weft.baseUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{origin="${origin}"}`));
  return line === undefined ? undefined : Number(line.split(" ").pop());
}

describe("--host-max-inflight 10 under a 2,000-wide fan-out", () => {
  let weft: TestWeft;
  let handlers: HandlerServer;
  beforeAll(async () => {
    handlers = await HandlerServer.start();
    const base = loadConfig(["--host-max-inflight", "10", "--max-steps", "2001"], {})!;
    weft = await startWeft({ hostLimits: base.hostLimits, limits: base.limits });
  });
  afterAll(async () => {
    await weft?.stop();
    await handlers?.close();
  });

  test("the handler never holds more than 10 calls at once, and every step completes", async () => {
    const { counter, behaviour } = counting(untilHeld(10, 2));
    handlers.on("/fan/item", behaviour);
    // One run of 2,000 parallel steps. On the MongoDB store (where one such run did not finish
    // within 10 minutes on a busy machine: its commits, not the calls, are slow there), 20 runs
    // of 100 parallel steps make the same 2,000 calls.
    const [runs, width] = TEST_STORE === "mongodb" ? [20, 100] : [1, 2000];
    const ids: string[] = [];
    for (let r = 0; r < runs; r++) {
      const { workflow } = await weft.client.createWorkflow({
        id: "host-limits-fanout",
        baseUrl: handlers.baseUrl,
        steps: [
          { id: "start", url: "/fan/start" },
          ...Array.from({ length: width }, (_, i) => ({ id: `item-${i}`, url: "/fan/item", dependsOn: ["start"], parallel: true })),
        ],
      });
      ids.push(workflow!.id);
    }
    // While the fan-out runs, /metrics shows calls waiting for the handler's origin.
    await expect.poll(() => metricValue(weft, "weft_host_calls_waiting", handlers.baseUrl), { timeout: 60_000 }).toBeGreaterThan(0);
    for (const id of ids) {
      const done = await waitForRun(weft.client, id, undefined, 580_000);
      expect(done.state).toBe(WorkflowState.COMPLETED);
      expect(done.steps.filter((s) => s.state === StepState.COMPLETED)).toHaveLength(width + 1);
      expect(done.steps.every((s) => s.attempts === 1)).toBe(true);
    }
    expect(counter.total).toBe(runs * width);
    expect(counter.max).toBeLessThanOrEqual(10);
    // The limit was reached (so the bound above was tested): 10 were held at once, and no more.
    expect(counter.max).toBe(10);
    // Calls waited, and the histogram saw them; nothing waits any more.
    const text = await (await fetch(`${weft.baseUrl}/metrics`)).text();
    const waits = Number(/^weft_host_wait_seconds_count (\d+)/m.exec(text)?.[1]);
    expect(waits).toBeGreaterThanOrEqual(runs * width - 10 * runs);
    expect(await metricValue(weft, "weft_host_calls_waiting", handlers.baseUrl)).toBe(0);
  }, 600_000);
});

describe("--host-max-rate 20 (burst 2)", () => {
  let weft: TestWeft;
  let handlers: HandlerServer;
  beforeAll(async () => {
    handlers = await HandlerServer.start();
    weft = await startWeft({ hostLimits: loadConfig(["--host-max-rate", "20"], {})!.hostLimits });
  });
  afterAll(async () => {
    await weft?.stop();
    await handlers?.close();
  });

  test("over any 1 s window, no more than 20 + 2 calls are sent; every step completes", async () => {
    const width = 70;
    const timeoutMs = 30_000;
    const { workflow } = await weft.client.createWorkflow({
      id: "host-limits-rate",
      baseUrl: handlers.baseUrl,
      steps: Array.from({ length: width }, (_, i) => ({ id: `item-${i}`, url: "/rate/item", parallel: true, timeout: durationFromMs(timeoutMs) })),
    });
    const done = await waitForRun(weft.client, workflow!.id, undefined, 120_000);
    expect(done.state).toBe(WorkflowState.COMPLETED);
    const calls = handlers.callsFor(workflow!.id, "/rate/item");
    expect(calls).toHaveLength(width);
    // The instants Weft sent the calls, as signed in each request (Weft-Deadline − timeout).
    const sent = calls.map((c) => sentAt(c, timeoutMs)).sort((a, b) => a - b);
    expect(mostInWindow(sent, 1000)).toBeLessThanOrEqual(22);
    expect(mostInWindow(sent, 2000)).toBeLessThanOrEqual(42);
    // A lower bound only (a busy machine is slower, never faster): 70 calls at 20/s after a burst of 2 take ≥ 3.35 s.
    expect(sent[sent.length - 1] - sent[0]).toBeGreaterThanOrEqual(3300);
  });
});

describe("a per-origin override (--host-limit)", () => {
  let weft: TestWeft;
  let limited: HandlerServer;
  let free: HandlerServer;
  beforeAll(async () => {
    limited = await HandlerServer.start();
    free = await HandlerServer.start();
    // Through WEFT_HOST_LIMITS, as an operator would set it.
    const config = loadConfig([], { WEFT_HOST_LIMITS: `${limited.baseUrl}=inflight:2;http://127.0.0.1:1=rate:1` })!;
    weft = await startWeft({ hostLimits: config.hostLimits });
  });
  afterAll(async () => {
    await weft?.stop();
    await limited?.close();
    await free?.close();
  });

  test("applies to its origin (at most 2 at once) and not to another port of the same host", async () => {
    const slow = counting(untilHeld(2, 50));
    limited.on("/o/item", slow.behaviour);
    // The other origin's handler holds each call until 6 are held at once (or 15 s pass):
    // it reaches 6 only if that origin is not held to 2.
    const gathered = counting(async (c) => {
      const end = Date.now() + 15_000;
      while (c.max < 6 && Date.now() < end) await sleep(5);
    });
    free.on("/o/item", gathered.behaviour);
    const width = 20;
    const { workflow } = await weft.client.createWorkflow({
      id: "host-limits-override",
      steps: [
        ...Array.from({ length: width }, (_, i) => ({ id: `a-${i}`, url: limited.url("/o/item"), parallel: true })),
        ...Array.from({ length: width }, (_, i) => ({ id: `b-${i}`, url: free.url("/o/item"), parallel: true })),
      ],
    });
    const done = await waitForRun(weft.client, workflow!.id, undefined, 60_000);
    expect(done.state).toBe(WorkflowState.COMPLETED);
    expect(slow.counter.total).toBe(width);
    expect(slow.counter.max).toBeLessThanOrEqual(2);
    expect(slow.counter.max).toBe(2);
    expect(gathered.counter.total).toBe(width);
    expect(gathered.counter.max).toBeGreaterThanOrEqual(6);
  });

  test("a call that waited for its origin lists in previousSteps what had completed when its step started, as one sent at once does, not what completed while it waited", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    limited.on("/o/held", async (call) => {
      await held;
      return { json: { success: true, result: { step: call.body.stepId } } };
    });
    const { workflow } = await weft.client.createWorkflow({
      id: "host-limits-built-late",
      steps: [
        { id: "h1", url: limited.url("/o/held"), parallel: true },
        { id: "h2", url: limited.url("/o/held"), parallel: true },
        { id: "waits", url: limited.url("/o/waits"), parallel: true },
        { id: "fast", url: free.url("/o/fast"), parallel: true },
      ],
    });
    const runId = workflow!.id;
    // Both of the origin's slots are taken, "waits" is queued, and "fast" completed meanwhile.
    await expect.poll(() => limited.callsFor(runId, "/o/held").length, { timeout: 30_000 }).toBe(2);
    await waitForRun(weft.client, runId, (w) => w.steps[3].state === StepState.COMPLETED, 30_000);
    expect(await metricValue(weft, "weft_host_calls_waiting", limited.baseUrl)).toBe(1);
    expect(limited.callsFor(runId, "/o/waits")).toHaveLength(0);

    release();
    expect((await waitForRun(weft.client, runId, undefined, 60_000)).state).toBe(WorkflowState.COMPLETED);
    const [waited] = limited.callsFor(runId, "/o/waits");
    expect(waited.body.previousSteps).toEqual({});
    expect(waited.body.stepId).toBe("waits");
  });

  test("webhooks count against their own URL's origin: at most 2 on_complete deliveries to it at once, every one delivered", async () => {
    const hooks = counting(untilHeld(2, 100));
    limited.on("/o/hook", hooks.behaviour);
    const runs = 8;
    // Every run's one step is held until all 8 are in, so the 8 runs finish (and want their webhook) together.
    const gate = counting(async (c) => {
      const end = Date.now() + 15_000;
      while (c.total < runs && Date.now() < end) await sleep(5);
    });
    free.on("/o/gate", gate.behaviour);
    const ids: string[] = [];
    for (let i = 0; i < runs; i++) {
      const { workflow } = await weft.client.createWorkflow({
        id: "host-limits-webhooks",
        onComplete: limited.url("/o/hook"),
        steps: [{ id: "one", url: free.url("/o/gate") }],
      });
      ids.push(workflow!.id);
    }
    for (const id of ids) await waitForRun(weft.client, id, (w) => w.webhook?.deliveredAt !== undefined, 60_000);
    expect(hooks.counter.total).toBe(runs);
    expect(gate.counter.max).toBe(runs);
    expect(hooks.counter.max).toBeLessThanOrEqual(2);
    expect(hooks.counter.max).toBe(2);
  });
});

describe("queued calls and the run's cancellation, deadline and attempt timeout (--host-max-inflight 1)", () => {
  let weft: TestWeft;
  let handlers: HandlerServer;
  beforeAll(async () => {
    handlers = await HandlerServer.start();
    weft = await startWeft({ hostLimits: loadConfig(["--host-max-inflight", "1"], {})!.hostLimits });
  });
  afterAll(async () => {
    await weft?.stop();
    await handlers?.close();
  });

  test("CancelWorkflow takes a queued call out of the queue: it never reaches the handler, and the origin's slot is free again", async () => {
    const p = "/cancel";
    handlers.on(`${p}/hang`, hangUntilAborted(30_000));
    const { workflow } = await weft.client.createWorkflow({
      id: "host-limits-cancel",
      baseUrl: handlers.baseUrl,
      steps: [
        { id: "hang", url: `${p}/hang`, parallel: true },
        { id: "queued", url: `${p}/queued`, parallel: true },
      ],
    });
    const runId = workflow!.id;
    await handlers.waitForCall((c) => c.body.runId === runId && c.path === `${p}/hang`);
    await expect.poll(() => metricValue(weft, "weft_host_calls_waiting", handlers.baseUrl), { timeout: 10_000 }).toBe(1);
    const running = await weft.client.getWorkflow({ id: runId });
    expect(running.workflow!.steps.map((s) => s.state)).toEqual([StepState.RUNNING, StepState.RUNNING]);

    await weft.client.cancelWorkflow({ id: runId, reason: "stop" });
    const done = await waitForRun(weft.client, runId);
    expect(done.state).toBe(WorkflowState.CANCELLED);
    expect(done.steps.map((s) => s.state)).toEqual([StepState.CANCELLED, StepState.CANCELLED]);
    expect(await metricValue(weft, "weft_host_calls_waiting", handlers.baseUrl)).toBe(0);

    // The origin's one slot is free: a new run's call goes through.
    const { workflow: next } = await weft.client.createWorkflow({ id: "host-limits-after-cancel", steps: [{ id: "one", url: handlers.url(`${p}/after`) }] });
    expect((await waitForRun(weft.client, next!.id)).state).toBe(WorkflowState.COMPLETED);
    await sleep(200);
    expect(handlers.callsFor(runId, `${p}/queued`)).toHaveLength(0);
  });

  test("the run deadline aborts a queued call: the run fails as timed_out and the call is never sent", async () => {
    const p = "/deadline";
    handlers.on(`${p}/hang`, hangUntilAborted(30_000));
    const { workflow } = await weft.client.createWorkflow({
      id: "host-limits-deadline",
      baseUrl: handlers.baseUrl,
      timeout: durationFromMs(1500),
      steps: [
        { id: "hang", url: `${p}/hang`, parallel: true },
        { id: "queued", url: `${p}/queued`, parallel: true },
      ],
    });
    const runId = workflow!.id;
    const done = await waitForRun(weft.client, runId);
    expect(done.state).toBe(WorkflowState.FAILED);
    expect(done.error).toMatchObject({ reason: "timed_out" });
    expect(done.steps.map((s) => s.state)).toEqual([StepState.CANCELLED, StepState.CANCELLED]);
    const { workflow: next } = await weft.client.createWorkflow({ id: "host-limits-after-deadline", steps: [{ id: "one", url: handlers.url(`${p}/after`) }] });
    expect((await waitForRun(weft.client, next!.id)).state).toBe(WorkflowState.COMPLETED);
    expect(handlers.callsFor(runId, `${p}/queued`)).toHaveLength(0);
  });

  test("the attempt timeout runs from when the call is sent: a call that waited longer than its timeout still gets its full timeout", async () => {
    const p = "/timeout";
    // The first call holds the origin's slot for 2.5 s; the second (timeout 1 s) waits behind it.
    const { workflow } = await weft.client.createWorkflow({
      id: "host-limits-timeout",
      baseUrl: handlers.baseUrl,
      steps: [
        { id: "slow", url: `${p}/slow`, parallel: true },
        { id: "quick", url: `${p}/quick`, parallel: true, timeout: durationFromMs(1000) },
      ],
    });
    handlers.on(`${p}/slow`, () => ({ json: { success: true, result: 1 }, delayMs: 2500 }));
    handlers.on(`${p}/quick`, () => ({ json: { success: true, result: 2 } }));
    const runId = workflow!.id;
    const done = await waitForRun(weft.client, runId, undefined, 30_000);
    expect(done.state).toBe(WorkflowState.COMPLETED);
    expect(done.steps.map((s) => [s.id, s.state, s.attempts])).toEqual([
      ["slow", StepState.COMPLETED, 1],
      ["quick", StepState.COMPLETED, 1],
    ]);
    const [slow] = handlers.callsFor(runId, `${p}/slow`);
    const [quick] = handlers.callsFor(runId, `${p}/quick`);
    // It was sent only once the slow call was answered, well over its 1 s timeout after it became ready,
    // and its Weft-Deadline is 1 s after it was sent.
    expect(quick.receivedAt).toBeGreaterThanOrEqual(slow.respondedAt!);
    expect(quick.receivedAt - slow.receivedAt).toBeGreaterThanOrEqual(2400);
    expect(sentAt(quick, 1000) - sentAt(slow, 300_000)).toBeGreaterThanOrEqual(2400);
  });

  test("a sent call still times out after its own timeout", async () => {
    const p = "/sent-timeout";
    handlers.on(`${p}/hang`, hangUntilAborted(30_000));
    const { workflow } = await weft.client.createWorkflow({
      id: "host-limits-sent-timeout",
      baseUrl: handlers.baseUrl,
      steps: [{ id: "hang", url: `${p}/hang`, timeout: durationFromMs(500) }],
    });
    const done = await waitForRun(weft.client, workflow!.id);
    expect(done.state).toBe(WorkflowState.FAILED);
    expect(done.steps[0].error).toMatchObject({ reason: "timeout" });
  });
});

describe("the weft process with --host-limit and --log-level debug", () => {
  test("a call that waits for its origin (set by the flag) is logged at debug, with the origin and the calls ahead of it", async () => {
    const handlers = await HandlerServer.start();
    const dir = mkdtempSync(join(tmpdir(), "weft-host-limits-"));
    let proc: WeftProcess | undefined;
    try {
      proc = await spawnWeft(dir, ["--log-level", "debug", "--host-limit", `${handlers.baseUrl}=inflight:1`]);
      handlers.on("/log/slow", () => ({ json: { success: true, result: 1 }, delayMs: 300 }));
      const { workflow } = await proc.client.createWorkflow({
        id: "host-limits-log",
        baseUrl: handlers.baseUrl,
        steps: [
          { id: "first", url: "/log/slow", parallel: true },
          { id: "second", url: "/log/slow", parallel: true },
        ],
      });
      const done = await waitForRun(proc.client, workflow!.id);
      expect(done.state).toBe(WorkflowState.COMPLETED);
      const [a, b] = handlers.callsFor(workflow!.id);
      expect(b.receivedAt).toBeGreaterThanOrEqual(a.respondedAt!);
      const waited = logEntries(proc).filter((e) => e.msg === "call waiting for its host's limits");
      expect(waited).toEqual([expect.objectContaining({ runId: workflow!.id, kind: "step", stepId: "second", attempt: 1, origin: handlers.baseUrl, ahead: 0 })]);
    } finally {
      if (proc) await stopWeft(proc);
      await handlers.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
