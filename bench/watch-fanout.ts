// Watch fan-out: many concurrent WatchWorkflow streams on one run, and how long
// each transition takes to reach them.
//
// The run is a chain whose first step is held by the handler until every
// watcher has its snapshot; then the remaining steps run at full speed and each
// transition is delivered to every watcher. Latency = the time a watcher
// received an event − the event's own timestamp (taken when the transition is
// decided, just before its commit; both clocks are this machine's, read with
// sub-millisecond resolution here and millisecond resolution in the event).
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { benchTransportOptions } from "./auth.ts";
import { WorkflowService } from "../gen/ts/weft/v1/workflow_pb.js";
import type { HandlerChild } from "./children.ts";
import { type Dist, dist, sleep } from "./stats.ts";

export interface WatchFanoutResult {
  watchers: number;
  connections: number;
  transitions: number;
  delivered: number;
  expected: number;
  latencyMs: Dist;
  connectMs: number;
  wallMs: number;
}

export async function runWatchFanout(
  weftBaseUrl: string,
  handler: HandlerChild,
  watchers: number,
  steps: number,
  deadlineMs: number,
): Promise<WatchFanoutResult> {
  // Several HTTP/2 connections, as many dashboards would have.
  const connections = Math.max(1, Math.ceil(watchers / 100));
  const clients = Array.from({ length: connections }, () =>
    createClient(WorkflowService, createGrpcTransport({ baseUrl: weftBaseUrl, ...benchTransportOptions() })),
  );
  const ids = Array.from({ length: steps }, (_, i) => `w${String(i).padStart(3, "0")}`);
  const { workflow } = await clients[0].createWorkflow({
    id: "bench-watch",
    baseUrl: handler.baseUrl,
    steps: ids.map((id, i) => ({ id, url: i === 0 ? "/hold" : "/step", dependsOn: i === 0 ? [] : [ids[i - 1]] })),
  });
  const runId = workflow!.id;
  const latencies: number[] = [];
  let delivered = 0;
  let snapshots = 0;
  let lastSeq = 0n;
  const abort = new AbortController();
  const t0 = performance.now();
  const streams = Array.from({ length: watchers }, async (_, i) => {
    const client = clients[i % connections];
    let count = 0;
    for await (const msg of client.watchWorkflow({ id: runId }, { signal: abort.signal })) {
      if (msg.kind.case === "snapshot") {
        snapshots++;
      } else if (msg.kind.case === "event") {
        const e = msg.kind.value;
        latencies.push(performance.timeOrigin + performance.now() - timestampMs(e.time!));
        count++;
        if (e.sequence > lastSeq) lastSeq = e.sequence;
      }
    }
    delivered += count;
  });
  while (snapshots < watchers && Date.now() < deadlineMs) await sleep(10);
  const connectMs = performance.now() - t0;
  const tRelease = performance.now();
  await handler.get("/release");
  const done = Promise.all(streams);
  const timer = setTimeout(() => abort.abort(), Math.max(0, deadlineMs - Date.now()));
  await done.catch(() => {});
  clearTimeout(timer);
  const wallMs = performance.now() - tRelease;
  const { workflow: final } = await clients[0].getWorkflow({ id: runId });
  // Events after the snapshot: everything from the first step's start on.
  const transitions = Number(final!.lastSequence) - 3;
  return {
    watchers,
    connections,
    transitions,
    delivered,
    expected: transitions * watchers,
    latencyMs: dist(latencies),
    connectMs,
    wallMs,
  };
}
