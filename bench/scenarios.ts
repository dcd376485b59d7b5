// Workflow shapes, the closed-loop driver and the per-step overhead analysis.
import type { Client } from "@connectrpc/connect";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { WorkflowService, WorkflowState } from "../gen/ts/weft/v1/workflow_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { CreateWorkflowRequestSchema } from "../gen/ts/weft/v1/workflow_pb.js";
import type { HandlerChild } from "./children.ts";
import { type Dist, dist, sleep } from "./stats.ts";

export type WeftClient = Client<typeof WorkflowService>;

/** The handler reports requests for this step id to the benchmark (run completion). */
export const FINAL_STEP = "end";
const STEP_PATH = "/step";

export interface StepDef {
  id: string;
  dependsOn: string[];
  parallel: boolean;
}

/** n steps, each depending on the previous one, none parallel; the last is FINAL_STEP. */
export function chainSteps(n: number): StepDef[] {
  const steps: StepDef[] = [];
  for (let i = 0; i < n; i++) {
    const id = i === n - 1 ? FINAL_STEP : `s${String(i).padStart(2, "0")}`;
    steps.push({ id, dependsOn: i === 0 ? [] : [steps[i - 1].id], parallel: false });
  }
  return steps;
}

/** start → width parallel steps → FINAL_STEP (which depends on all of them). */
export function fanoutSteps(width: number): StepDef[] {
  const middle: StepDef[] = [];
  for (let i = 0; i < width; i++) {
    middle.push({ id: `p${String(i).padStart(3, "0")}`, dependsOn: ["start"], parallel: true });
  }
  return [
    { id: "start", dependsOn: [], parallel: false },
    ...middle,
    { id: FINAL_STEP, dependsOn: middle.map((s) => s.id), parallel: false },
  ];
}

export function createRequest(name: string, steps: StepDef[], handlerBaseUrl: string): MessageInitShape<typeof CreateWorkflowRequestSchema> {
  return {
    id: `bench-${name.replace(/[^A-Za-z0-9_.-]+/g, "-")}`,
    baseUrl: handlerBaseUrl,
    context: { bench: name, tenant: "acme", amount: 42 },
    steps: steps.map((s) => ({ id: s.id, url: STEP_PATH, dependsOn: s.dependsOn, parallel: s.parallel })),
  };
}

export interface PhaseResult {
  runIds: string[];
  /** CreateWorkflow round trips, ms. */
  createMs: number[];
  /** Date.now() just before the first create. */
  startWall: number;
  /** Date.now() when the last final-step request was reported by the handler. */
  lastFinalWall: number;
  /** With watchCompletion: per run, from calling CreateWorkflow to a WatchWorkflow stream seeing it COMPLETED, ms. */
  endToEndMs: number[];
}

/**
 * Closed loop: `concurrency` workers each create a run, wait until the handler
 * has answered the run's final step, and create the next, until `runs` were
 * created. Bounded by `deadlineMs` (absolute, Date.now()) and per-run waits.
 */
export async function drive(
  client: WeftClient,
  handler: HandlerChild,
  request: MessageInitShape<typeof CreateWorkflowRequestSchema>,
  runs: number,
  concurrency: number,
  deadlineMs: number,
  options: { watchCompletion?: boolean } = {},
): Promise<PhaseResult> {
  const waiters = new Map<string, () => void>();
  const early = new Set<string>();
  let lastFinalWall = 0;
  handler.onFinal((runId) => {
    lastFinalWall = Date.now();
    const w = waiters.get(runId);
    if (w) {
      waiters.delete(runId);
      w();
    } else early.add(runId);
  });
  const runIds: string[] = [];
  const createMs: number[] = [];
  const endToEndMs: number[] = [];
  let created = 0;
  let failure: Error | undefined;

  const waitFinal = (runId: string): Promise<void> => {
    if (early.delete(runId)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const left = Math.max(1, Math.min(60_000, deadlineMs - Date.now()));
      const timer = setTimeout(() => {
        waiters.delete(runId);
        reject(new Error(`run ${runId}: final step not reached within ${left} ms`));
      }, left);
      waiters.set(runId, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  };

  const worker = async () => {
    while (created < runs && failure === undefined) {
      if (Date.now() > deadlineMs) throw new Error(`phase deadline passed after ${created} of ${runs} runs`);
      created++;
      const t = performance.now();
      const { workflow } = await client.createWorkflow(request);
      createMs.push(performance.now() - t);
      if (!workflow) throw new Error("CreateWorkflow returned no workflow");
      runIds.push(workflow.id);
      if (options.watchCompletion) {
        waitFinal(workflow.id).catch(() => {});
        await watchCompleted(client, workflow.id, deadlineMs);
        endToEndMs.push(performance.now() - t);
      } else {
        await waitFinal(workflow.id);
      }
    }
  };

  const startWall = Date.now();
  const workers: Promise<void>[] = [];
  for (let i = 0; i < Math.min(concurrency, runs); i++) {
    workers.push(
      worker().catch((err: unknown) => {
        failure ??= err as Error;
      }),
    );
  }
  await Promise.all(workers);
  handler.onFinal(() => {});
  if (failure) throw failure;
  return { runIds, createMs, startWall, lastFinalWall, endToEndMs };
}

/** Watches a run until the stream shows it COMPLETED (its first snapshot, or the transition); throws on another end. */
async function watchCompleted(client: WeftClient, runId: string, deadlineMs: number): Promise<void> {
  const signal = AbortSignal.timeout(Math.max(1, Math.min(60_000, deadlineMs - Date.now())));
  for await (const msg of client.watchWorkflow({ id: runId }, { signal })) {
    if (msg.kind.case === "snapshot" && msg.kind.value.state === WorkflowState.COMPLETED) return;
    if (msg.kind.case === "event" && msg.kind.value.transition.case === "run") {
      const to = msg.kind.value.transition.value.toState;
      if (to === WorkflowState.COMPLETED) return;
      if (to === WorkflowState.FAILED || to === WorkflowState.CANCELLED) throw new Error(`run ${runId} ended ${WorkflowState[to]}`);
    }
  }
  throw new Error(`run ${runId}: the watch ended before it completed`);
}

/**
 * Confirms with GetWorkflow that every run is COMPLETED (a run completes one
 * commit after its final step answered, so non-terminal states are re-read a
 * bounded number of times). Returns the latest completedAt, ms since epoch.
 */
export async function confirmCompleted(client: WeftClient, runIds: string[], deadlineMs: number): Promise<number> {
  let latest = 0;
  let next = 0;
  const worker = async () => {
    while (next < runIds.length) {
      const id = runIds[next++];
      for (let tries = 0; ; tries++) {
        const { workflow } = await client.getWorkflow({ id });
        if (!workflow) throw new Error(`run ${id}: GetWorkflow returned nothing`);
        if (workflow.state === WorkflowState.COMPLETED) {
          if (workflow.completedAt) latest = Math.max(latest, timestampMs(workflow.completedAt));
          break;
        }
        if (workflow.state === WorkflowState.FAILED || workflow.state === WorkflowState.CANCELLED) {
          throw new Error(`run ${id} ended ${WorkflowState[workflow.state]}: ${workflow.error?.message ?? ""}`);
        }
        if (tries >= 200 || Date.now() > deadlineMs) {
          throw new Error(`run ${id} still ${WorkflowState[workflow.state]} after ${tries + 1} reads`);
        }
        await sleep(25);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return latest;
}

export interface Overhead {
  /** (received by the handler) − (latest response written for a dependency), ms. */
  overheadMs: Dist;
  /** Handler requests seen for the runs / expected. */
  requests: number;
  expected: number;
  /** Requests recorded more than once for the same run and step (re-sent attempts). */
  duplicates: number;
  /** Dependent steps with no usable record (should be 0). */
  missing: number;
  /** From the first request received to the last response written, on the handler's clock, ms. */
  handlerSpanMs: number;
}

/** Parses the handler's /records and measures the gap each dependency edge adds. */
export function analyse(recordsText: string, runIds: string[], steps: StepDef[]): Overhead {
  const wanted = new Set(runIds);
  const recv = new Map<string, number>();
  const sent = new Map<string, number>();
  let requests = 0;
  let duplicates = 0;
  let first = Infinity;
  let last = -Infinity;
  let start = 0;
  while (start < recordsText.length) {
    let end = recordsText.indexOf("\n", start);
    if (end < 0) end = recordsText.length;
    const line = recordsText.slice(start, end);
    start = end + 1;
    const t1 = line.indexOf("\t");
    const runId = line.slice(0, t1);
    if (!wanted.has(runId)) continue;
    const [, stepId, r, s] = line.split("\t");
    const key = `${runId}\u0000${stepId}`;
    if (recv.has(key)) duplicates++;
    // A re-sent attempt: the latest one is what the run went on with.
    const rn = Number(r);
    const sn = Number(s);
    recv.set(key, rn);
    sent.set(key, sn);
    requests++;
    if (rn < first) first = rn;
    if (sn > last) last = sn;
  }
  const values: number[] = [];
  let missing = 0;
  const dependents = steps.filter((s) => s.dependsOn.length > 0);
  for (const runId of runIds) {
    for (const step of dependents) {
      const r = recv.get(`${runId}\u0000${step.id}`);
      if (r === undefined) {
        missing++;
        continue;
      }
      let depDone = -Infinity;
      for (const d of step.dependsOn) {
        const s = sent.get(`${runId}\u0000${d}`);
        if (s === undefined) {
          depDone = NaN;
          break;
        }
        if (s > depDone) depDone = s;
      }
      if (Number.isNaN(depDone)) {
        missing++;
        continue;
      }
      values.push((r - depDone) / 1e6);
    }
  }
  return {
    overheadMs: dist(values),
    requests,
    expected: runIds.length * steps.length,
    duplicates,
    missing,
    handlerSpanMs: requests > 0 ? (last - first) / 1e6 : NaN,
  };
}
