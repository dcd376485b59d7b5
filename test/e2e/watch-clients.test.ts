// WatchWorkflow through every client (Connect over HTTP/1.1, gRPC-Web,
// @grpc/grpc-js, grpcurl) and the WatchWorkflows dashboard stream.
import { toJson } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  type WatchWorkflowsResponse,
  type WorkflowEvent,
  WorkflowEventSchema,
  WorkflowState,
} from "../../gen/ts/weft/v1/workflow_pb.js";
import { findGrpcurl, runGrpcurl } from "../support/grpcurl.ts";
import { HandlerServer } from "../support/handler-server.ts";
import {
  collectWatch,
  describeEvent,
  Gate,
  gated,
  grpcJsWatchClient,
  listEvents,
  parseJsonStream,
  range,
  seqs,
  until,
  type Watched,
  within,
} from "../support/watch.ts";
import { startWeft, type TestWeft, waitForRun } from "../support/weft.ts";

let handlers: HandlerServer;
/** Heartbeats every 100 ms, so that idle streams show them quickly. */
let weft: TestWeft;
const gates: Gate[] = [];

beforeAll(async () => {
  handlers = await HandlerServer.start();
  weft = await startWeft({ watchHeartbeatMs: 100 });
});

afterAll(async () => {
  for (const g of gates) g.open();
  await weft?.stop();
  await handlers?.close();
});

/** A run whose first step waits for the returned gate; the rest take a little time. */
async function gatedRun(name: string) {
  const gate = new Gate();
  gates.push(gate);
  gated(handlers, `/${name}/first`, gate, { first: true });
  handlers.on(`/${name}/next`, (c) => ({ json: { success: true, result: c.body.stepId }, delayMs: 20 }));
  const { workflow } = await weft.client.createWorkflow({
    id: name,
    steps: [
      { id: "first", url: handlers.url(`/${name}/first`) },
      { id: "x", url: handlers.url(`/${name}/next`), dependsOn: ["first"], parallel: true },
      { id: "y", url: handlers.url(`/${name}/next`), dependsOn: ["first"], parallel: true },
      { id: "z", url: handlers.url(`/${name}/next`), dependsOn: ["x", "y"] },
    ],
  });
  return { id: workflow!.id, gate };
}

/** The invariants of a complete watch: snapshot, s+1…last without gaps, the terminal event, the log. */
async function expectCompleteWatch(w: Watched, id: string): Promise<void> {
  expect(w.error).toBeUndefined();
  expect(w.ended).toBe(true);
  const kinds = w.messages.map((m) => m.kind.case).filter((k) => k !== "heartbeat");
  expect(kinds[0]).toBe("snapshot");
  expect(kinds.slice(1).every((k) => k === "event")).toBe(true);
  const s = Number(w.snapshot!.lastSequence);
  expect(w.snapshot!.id).toBe(id);
  expect(seqs(w.events)).toEqual(range(s, w.events.length));
  expect(describeEvent(w.events.at(-1)!)).toMatch(/ run RUNNING→COMPLETED$/);
  expect(w.events).toEqual((await listEvents(weft.client, id, 3, s)).events);
}

describe("WatchWorkflow over every client", () => {
  test("Connect protocol and gRPC-Web over HTTP/1.1", async () => {
    for (const [name, client] of [
      ["connect-h1", weft.connectClient("1.1")],
      ["grpcweb-h1", weft.grpcWebClient()],
    ] as const) {
      const { id, gate } = await gatedRun(`wc-${name}`);
      const w = await collectWatch((signal) => client.watchWorkflow({ id }, { signal }), {
        onMessage: (m) => {
          if (m.kind.case === "snapshot") gate.open();
        },
      });
      await expectCompleteWatch(w, id);
      expect(w.events.length).toBeGreaterThanOrEqual(8);
    }
  });

  test("@grpc/grpc-js server-streaming call with protobuf-es serializers", async () => {
    const g = grpcJsWatchClient(weft.server.port);
    try {
      const { id, gate } = await gatedRun("wc-grpcjs");
      const w = await collectWatch((signal) => g.watch({ $typeName: "weft.v1.WatchWorkflowRequest", id, afterSequence: 0n }, signal), {
        onMessage: (m) => {
          if (m.kind.case === "snapshot") gate.open();
        },
      });
      await expectCompleteWatch(w, id);
      // Resume through grpc-js too.
      const after = Number(w.events[2].sequence);
      const resumed = await collectWatch((signal) =>
        g.watch({ $typeName: "weft.v1.WatchWorkflowRequest", id, afterSequence: BigInt(after) }, signal),
      );
      expect(resumed.ended).toBe(true);
      expect(resumed.snapshot).toBeUndefined();
      expect(resumed.events).toEqual(w.events.slice(3));
      // An unknown run fails with NOT_FOUND (grpc status 5).
      const missing = await collectWatch((signal) => g.watch({ $typeName: "weft.v1.WatchWorkflowRequest", id: "wf_00000000000000000000000000", afterSequence: 0n }, signal));
      expect((missing.error as { code?: number }).code).toBe(5);
    } finally {
      g.close();
    }
  });

  test("grpcurl prints the snapshot and every event, and exits 0 when the run finishes", async (ctx) => {
    const bin = await findGrpcurl();
    if (!bin) {
      console.warn("\n!!!! grpcurl is not installed (scripts/install-tools.sh): grpcurl watch test SKIPPED !!!!\n");
      ctx.skip();
      return;
    }
    const { id, gate } = await gatedRun("wc-grpcurl");
    const baseline = weft.server.feed.listenerCount;
    const addr = `127.0.0.1:${weft.server.port}`;
    const running = runGrpcurl(bin, ["-plaintext", "-d", JSON.stringify({ id }), addr, "weft.v1.WorkflowService/WatchWorkflow"]);
    // Release the run once grpcurl's stream is subscribed.
    await until(() => weft.server.feed.listenerCount > baseline, "grpcurl to subscribe", 20_000);
    gate.open();
    const res = await within(running, 30_000, "grpcurl to exit");
    expect(res.code, res.stderr).toBe(0);
    const messages = parseJsonStream(res.stdout).filter((m) => !("heartbeat" in (m as object))) as Array<{
      snapshot?: { id: string; lastSequence?: string; state: string };
      event?: Record<string, unknown> & { sequence: string };
    }>;
    expect(messages[0].snapshot?.id).toBe(id);
    const s = Number(messages[0].snapshot!.lastSequence ?? 0);
    const events = messages.slice(1).map((m) => m.event!);
    expect(events.every((e) => e !== undefined)).toBe(true);
    expect(events.map((e) => Number(e.sequence))).toEqual(range(s, events.length));
    const history = await listEvents(weft.client, id, 100, s);
    // Field for field the same as the protobuf-es JSON of the log.
    expect(events).toEqual(history.events.map((e) => toJson(WorkflowEventSchema, e)));
    expect(events.at(-1)).toMatchObject({ run: { fromState: "WORKFLOW_STATE_RUNNING", toState: "WORKFLOW_STATE_COMPLETED" } });
  });
});

describe("WatchWorkflows", () => {
  test("filters by state and workflow id, only run-level events, heartbeats when idle", async () => {
    type Dash = { events: WatchWorkflowsResponse[]; heartbeatsAfterDone: number; error?: unknown };
    let allDone = false;
    const dashboard = (req: { states?: WorkflowState[]; workflowId?: string }) => {
      const abort = new AbortController();
      const d: Dash = { events: [], heartbeatsAfterDone: 0 };
      const firstHeartbeat = new Gate();
      const done = (async () => {
        const timer = setTimeout(() => abort.abort(), 20_000);
        try {
          for await (const m of weft.client.watchWorkflows(req, { signal: abort.signal })) {
            if (m.kind.case === "heartbeat") {
              firstHeartbeat.open();
              // Heartbeats come only when nothing is queued: after the runs are done, one means everything arrived.
              if (allDone && ++d.heartbeatsAfterDone >= 1) break;
            } else {
              d.events.push(m);
            }
          }
        } catch (err) {
          d.error = err;
        } finally {
          clearTimeout(timer);
        }
        return d;
      })();
      return { done, firstHeartbeat };
    };
    const completedA = dashboard({ states: [WorkflowState.COMPLETED], workflowId: "dash-a" });
    const everythingB = dashboard({ workflowId: "dash-b" });
    const terminalAny = dashboard({ states: [WorkflowState.FAILED, WorkflowState.CANCELLED] });
    // Idle: heartbeats (and then we know the subscriptions are in place).
    await within(Promise.all([completedA, everythingB, terminalAny].map((d) => d.firstHeartbeat.opened)), 3_000, "idle heartbeats");

    handlers.on("/dash/ok", () => ({ json: { success: true, result: "ok" }, delayMs: 10 }));
    handlers.on("/dash/fail", () => ({ status: 500, json: { success: false, error: "nope" } }));
    const hold = new Gate();
    gates.push(hold);
    gated(handlers, "/dash/hold", hold);
    const create = async (workflowId: string, path: string) =>
      (await weft.client.createWorkflow({ id: workflowId, steps: [{ id: "s", url: handlers.url(path) }] })).workflow!.id;
    const okA = await Promise.all([1, 2, 3].map(() => create("dash-a", "/dash/ok")));
    const failA = await create("dash-a", "/dash/fail");
    const cancelA = await create("dash-a", "/dash/hold");
    const okB = await Promise.all([1, 2].map(() => create("dash-b", "/dash/ok")));
    const okC = await create("dash-c", "/dash/ok");
    await waitForRun(weft.client, cancelA, (w) => w.currentSteps.includes("s"));
    await weft.client.cancelWorkflow({ id: cancelA, reason: "test" });
    const all = [...okA, failA, cancelA, ...okB, okC];
    const final = await Promise.all(all.map((id) => waitForRun(weft.client, id)));
    expect(final.map((w) => w.state)).toEqual([
      ...okA.map(() => WorkflowState.COMPLETED),
      WorkflowState.FAILED,
      WorkflowState.CANCELLED,
      ...okB.map(() => WorkflowState.COMPLETED),
      WorkflowState.COMPLETED,
    ]);
    allDone = true;
    const [a, b, t] = await within(Promise.all([completedA.done, everythingB.done, terminalAny.done]), 5_000, "the dashboards");
    for (const d of [a, b, t]) expect(d.error).toBeUndefined();
    const ev = (d: Dash): WorkflowEvent[] => d.events.flatMap((m) => (m.kind.case === "event" ? [m.kind.value] : []));
    const trail = (e: WorkflowEvent) => describeEvent(e).replace(/^\d+ /, "");

    // states=[COMPLETED], workflow_id=dash-a: exactly one RUNNING→COMPLETED per completed dash-a run.
    const aEvents = ev(a);
    expect(aEvents.map((e) => e.runId).sort()).toEqual([...okA].sort());
    for (const e of aEvents) {
      expect(e.workflowId).toBe("dash-a");
      expect(trail(e)).toBe("run RUNNING→COMPLETED");
      // The event's sequence is the run's: the last of its log.
      const done = final[all.indexOf(e.runId)];
      expect(e.sequence).toBe(done.lastSequence);
      const log = await listEvents(weft.client, e.runId, 100);
      expect(e).toEqual(log.events.at(-1));
    }

    // workflow_id=dash-b, any state: every run-level transition of both runs, no step events.
    const bEvents = ev(b);
    for (const id of okB) {
      expect(bEvents.filter((e) => e.runId === id).map(trail)).toEqual(["run UNSPECIFIED→PENDING", "run PENDING→RUNNING", "run RUNNING→COMPLETED"]);
    }
    expect(bEvents).toHaveLength(okB.length * 3);

    // states=[FAILED, CANCELLED], any workflow: the failed and the cancelled run, nothing else.
    expect(ev(t).map((e) => [e.runId, trail(e)])).toEqual(
      expect.arrayContaining([
        [failA, "run RUNNING→FAILED"],
        [cancelA, "run RUNNING→CANCELLED"],
      ]),
    );
    expect(ev(t)).toHaveLength(2);
  });

  test("an unknown state in the filter is INVALID_ARGUMENT", async () => {
    const abort = new AbortController();
    const err = await (async () => {
      try {
        for await (const _ of weft.client.watchWorkflows({ states: [99 as WorkflowState] }, { signal: abort.signal })) break;
      } catch (e) {
        return ConnectError.from(e);
      }
      return undefined;
    })();
    expect(err?.code).toBe(3);
  });
});
