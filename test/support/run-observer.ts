// Helpers for the saga, webhook and deadline end-to-end tests: typed views of
// compensation and webhook request bodies, a handler behaviour that hangs until
// Weft aborts the call, signature checks and the run's event log.
import type { Client } from "@connectrpc/connect";
import { expect } from "vitest";
import {
  CompensationState,
  type WorkflowEvent,
  WorkflowService,
  WorkflowState,
} from "../../gen/ts/weft/v1/workflow_pb.js";
import { verifySignature } from "../../src/signing/verify.ts";
import type { Behaviour, RecordedCall, Reply } from "./handler-server.ts";
import { TEST_SECRET } from "./weft.ts";

/** The body of a compensation request: the step body plus the saga fields. */
export interface CompensationBody {
  workflowId: string;
  runId: string;
  workflow: string;
  stepId: string;
  attempt: number;
  context: Record<string, unknown>;
  previousSteps: Record<string, { result: unknown; completedAt: string; attempts: number }>;
  compensation: boolean;
  result: unknown;
  failedStep: string | null;
  error: { reason?: string; message?: string; stepId?: string } | null;
}

/** The body of an on_complete / on_error delivery (workflow is proto JSON). */
export interface WebhookBody {
  eventId: string;
  type: string;
  workflow: {
    id: string;
    workflowId: string;
    state: string;
    results?: Record<string, unknown>;
    error?: { reason?: string; message?: string; stepId?: string };
    steps?: { id: string; state: string; compensationState?: string }[];
    compensationFailed?: boolean;
  };
}

export const compensationBody = (c: RecordedCall) => c.body as unknown as CompensationBody;
export const webhookBody = (c: RecordedCall) => c.body as unknown as WebhookBody;

/** Holds the request open until Weft aborts it (or maxMs passes, then answers `reply`). */
export function hangUntilAborted(maxMs = 15_000, reply: Reply = { json: { success: true, result: "too late" } }): Behaviour {
  return async (call) => {
    const end = Date.now() + maxMs;
    while (!call.aborted && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    return reply;
  };
}

/** Asserts that a request carries a valid Standard Webhooks signature by TEST_SECRET. */
export function expectSigned(call: RecordedCall): void {
  const verdict = verifySignature({ headers: call.headers as Record<string, string>, body: call.rawBody, secrets: [TEST_SECRET] });
  expect(verdict).toEqual({ ok: true });
}

/** The run's whole event log, oldest first. */
export async function allEvents(client: Client<typeof WorkflowService>, id: string): Promise<WorkflowEvent[]> {
  const out: WorkflowEvent[] = [];
  let pageToken = "";
  do {
    const res = await client.listWorkflowEvents({ id, pageSize: 1000, pageToken });
    out.push(...res.events);
    pageToken = res.nextPageToken;
  } while (pageToken);
  return out;
}

/** The states the run itself went through, from its event log. */
export async function runStates(client: Client<typeof WorkflowService>, id: string): Promise<WorkflowState[]> {
  return (await allEvents(client, id)).flatMap((e) => (e.transition.case === "run" ? [e.transition.value.toState] : []));
}

/** "stepId:TO_STATE" for every compensation transition, in log order. */
export async function compensationTrail(client: Client<typeof WorkflowService>, id: string): Promise<string[]> {
  return (await allEvents(client, id)).flatMap((e) =>
    e.transition.case === "compensation" ? [`${e.stepId}:${CompensationState[e.transition.value.toState]}`] : [],
  );
}

/** Calls sorted by the time they were received. */
export const byReceipt = (calls: RecordedCall[]) => [...calls].sort((a, b) => a.receivedAt - b.receivedAt);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
