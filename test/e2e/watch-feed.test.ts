// The watch streams on top of a misbehaving event feed. In one process the
// feed never loses or repeats anything, so the gap filling, de-duplication and
// overflow paths of the streams are reached here through a wrapper feed that
// does (as a feed fed by another server may), in front of a real server's
// engine and store, served through Connect's in-memory router transport.
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { WorkflowService } from "../../gen/ts/weft/v1/workflow_pb.js";
import type { RunEvent } from "../../src/domain/run-record.ts";
import { DEFAULT_LIMITS } from "../../src/domain/workflow-spec.ts";
import { WorkflowServiceHandler } from "../../src/transport/workflow-service.ts";
import { HandlerServer } from "../support/handler-server.ts";
import { type FeedPolicy, UnreliableFeed } from "../support/unreliable-feed.ts";
import { collectWatch, complexPipeline, describeEvent, Gate, gated, listEvents, range, seqs, until, within } from "../support/watch.ts";
import { startWeft, type TestWeft } from "../support/weft.ts";

let handlers: HandlerServer;
let weft: TestWeft;
const services: WorkflowServiceHandler[] = [];
const gates: Gate[] = [];

beforeAll(async () => {
  handlers = await HandlerServer.start();
  weft = await startWeft();
});

afterAll(async () => {
  for (const g of gates) g.open();
  for (const s of services) s.closeStreams();
  await weft?.stop();
  await handlers?.close();
});

/** A WorkflowService on the real engine, but fed through `policy`. */
function serviceWith(policy: FeedPolicy) {
  const feed = new UnreliableFeed(weft.server.feed, policy);
  const service = new WorkflowServiceHandler({ engine: weft.server.engine, feed, limits: DEFAULT_LIMITS, heartbeatMs: 200 });
  services.push(service);
  const client = createClient(WorkflowService, createRouterTransport((router) => router.service(WorkflowService, service)));
  return { feed, client };
}

const isTerminal = (e: RunEvent) => e.kind === "run" && ["completed", "failed", "cancelled"].includes(e.to);

/** Starts a complex-pipeline run whose first step waits for the returned gate. */
async function pipelineRun(prefix: string) {
  const gate = new Gate();
  gates.push(gate);
  gated(handlers, `${prefix}/prepare`, gate, { prepared: true });
  const { workflow } = await weft.client.createWorkflow({ id: "complex-pipeline", steps: complexPipeline(handlers, prefix) });
  return { id: workflow!.id, gate };
}

/** Watches `id` through `client`; the run is released once the snapshot is in. */
async function watchReleased(client: ReturnType<typeof serviceWith>["client"], id: string, gate: Gate) {
  const w = await collectWatch((signal) => client.watchWorkflow({ id }, { signal }), {
    onMessage: (m) => {
      if (m.kind.case === "snapshot") gate.open();
    },
    timeoutMs: 15_000,
  });
  expect(w.error).toBeUndefined();
  expect(w.ended).toBe(true);
  const s = Number(w.snapshot!.lastSequence);
  const log = (await listEvents(weft.client, id, 100)).events;
  expect(seqs(w.events)).toEqual(range(s, log.length - s));
  expect(w.events).toEqual(log.slice(s));
  return w;
}

describe("WatchWorkflow over an unreliable feed", () => {
  test("lost events are filled in from the store; repeated and stale ones are not delivered twice", async () => {
    const { feed, client } = serviceWith((e, n, seen) => {
      if (isTerminal(e)) return [seen[0], e]; // a stale one first
      if (n % 3 === 1) return []; // lost
      if (n % 4 === 0) return [e, e]; // twice
      if (n % 5 === 0 && n > 2) return [e, seen[n - 3]]; // then an old one again
      return [e];
    });
    const { id, gate } = await pipelineRun("/wf1");
    const w = await watchReleased(client, id, gate);
    expect(w.events.length).toBeGreaterThanOrEqual(14);
    expect(feed.dropped).toBeGreaterThan(0);
    expect(feed.extra).toBeGreaterThan(0);
  });

  test("a lost terminal event (and everything after a point) is found by the idle sweep: the watcher still ends", async () => {
    const { feed, client } = serviceWith((e, n) => (n >= 6 ? [] : [e])); // the feed goes silent
    const { id, gate } = await pipelineRun("/wf-silent");
    await watchReleased(client, id, gate);
    expect(feed.dropped).toBeGreaterThan(0);
  });

  test("a subscriber flooded past the queue limit catches up from the store and still gets every event once", async () => {
    const { client } = serviceWith((e, n, seen) => (n === 3 ? [...Array<RunEvent>(10_001).fill(seen[0]), e] : [e]));
    const { id, gate } = await pipelineRun("/wf2");
    await watchReleased(client, id, gate);
  });
});

describe("WatchWorkflows over an unreliable feed", () => {
  test("events the feed repeats, at once or long after, reach a dashboard once each, in order", async () => {
    // Every run event twice, and with each terminal event every earlier event of its run again.
    const { feed, client } = serviceWith((e, _n, seen) => {
      if (e.kind !== "run") return [e];
      return isTerminal(e) ? [e, ...seen.filter((o) => o.runId === e.runId), e] : [e, e];
    });
    const got = new Map<string, string[]>();
    const abort = new AbortController();
    const baseline = weft.server.feed.listenerCount;
    const dashboard = (async () => {
      for await (const m of client.watchWorkflows({ workflowId: "dup-dash" }, { signal: abort.signal })) {
        if (m.kind.case !== "event") continue;
        const e = m.kind.value;
        got.set(e.runId, [...(got.get(e.runId) ?? []), describeEvent(e)]);
      }
    })().catch((err: unknown) => (abort.signal.aborted ? undefined : err));
    await until(() => weft.server.feed.listenerCount > baseline, "the dashboard to subscribe");
    const runs: string[] = [];
    for (const k of [1, 2, 3]) {
      handlers.on(`/dup-dash/${k}`, () => ({ json: { success: true } }));
      const steps = [{ id: "a", url: handlers.url(`/dup-dash/${k}`) }, { id: "b", url: handlers.url(`/dup-dash/${k}`), dependsOn: ["a"] }];
      runs.push((await weft.client.createWorkflow({ id: "dup-dash", steps })).workflow!.id);
    }
    const finished = (id: string) => (got.get(id) ?? []).some((d) => d.endsWith("→COMPLETED"));
    await until(() => runs.every(finished), "the dashboard to see every run finish", 15_000);
    // A last run through the same stream: whatever was queued before its events has been sent by now.
    handlers.on("/dup-dash/last", () => ({ json: { success: true } }));
    const last = (await weft.client.createWorkflow({ id: "dup-dash", steps: [{ id: "a", url: handlers.url("/dup-dash/last") }] })).workflow!.id;
    await until(() => finished(last), "the dashboard to see the last run finish", 15_000);
    abort.abort();
    expect(await dashboard).toBeUndefined();
    expect(feed.extra).toBeGreaterThan(0);
    for (const id of [...runs, last]) {
      const log = (await listEvents(weft.client, id, 100)).events.filter((e) => e.transition.case === "run");
      expect(got.get(id), id).toEqual(log.map(describeEvent));
    }
  });

  test("a dashboard that falls too far behind gets RESOURCE_EXHAUSTED and its subscription is released", async () => {
    const baseline = weft.server.feed.listenerCount;
    let flooded = false;
    const { client } = serviceWith((e) => {
      if (flooded || e.kind !== "run") return [e];
      flooded = true;
      return Array<RunEvent>(10_001).fill(e);
    });
    let events = 0;
    const dashboard = (async () => {
      try {
        for await (const m of client.watchWorkflows({ workflowId: "flood" })) if (m.kind.case === "event") events++;
        return undefined;
      } catch (err) {
        return ConnectError.from(err);
      }
    })();
    await until(() => weft.server.feed.listenerCount > baseline, "the dashboard to subscribe");
    handlers.on("/wf3/a", () => ({ json: { success: true } }));
    await weft.client.createWorkflow({ id: "flood", steps: [{ id: "a", url: handlers.url("/wf3/a") }] });
    // A bound against a hang, not a latency target: on the MongoDB store the events travel through
    // the change stream, which a loaded machine can hold up for seconds.
    const err = await within(dashboard, 15_000, "the dashboard to fail");
    expect(err?.code).toBe(Code.ResourceExhausted);
    expect(events).toBe(0);
    await expect.poll(() => weft.server.feed.listenerCount, { timeout: 30_000 }).toBe(baseline);
  });
});
