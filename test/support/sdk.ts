// Helpers for the SDK tests (test/e2e/sdk-*.test.ts).
import type { Interceptor } from "@connectrpc/connect";
import type { Platform, WatchMessage, WorkflowStatus } from "../../clients/ts/src/index.ts";
import type { RecordedCall, Reply } from "./handler-server.ts";

/** Follows a run with the SDK's watch until it ends; returns everything watched and the final status. */
export async function settle(
  platform: Platform,
  id: string,
  timeoutMs = 120_000,
): Promise<{ messages: WatchMessage[]; status: WorkflowStatus }> {
  const messages: WatchMessage[] = [];
  const signal = AbortSignal.timeout(timeoutMs);
  for await (const m of platform.workflows.watch(id, { signal })) messages.push(m);
  return { messages, status: await platform.workflows.getStatus(id) };
}

/**
 * An interceptor that sends GetWorkflow for `alias` to the run `runId`: the
 * product document's getStatus snippet asks for the literal id
 * 'workflow_abc123', while real run ids are server-assigned ('wf_…').
 */
export function aliasRunId(alias: string, runId: string): Interceptor {
  return (next) => async (req) => {
    if (!req.stream && req.method.name === "GetWorkflow") {
      const message = req.message as unknown as { id: string };
      if (message.id === alias) message.id = runId;
    }
    return next(req);
  };
}

const HOP_BY_HOP = new Set(["host", "connection", "content-length", "transfer-encoding", "keep-alive"]);

/** The Fetch Request a route handler (e.g. Next.js) would get for a call the handler server recorded. */
export function fetchRequestFor<R extends Request>(
  Ctor: new (input: string, init: RequestInit) => R,
  baseUrl: string,
  call: RecordedCall,
): R {
  const headers = new Headers();
  for (const [k, v] of Object.entries(call.headers)) {
    if (v === undefined || HOP_BY_HOP.has(k)) continue;
    headers.set(k, Array.isArray(v) ? v.join(", ") : v);
  }
  return new Ctor(baseUrl + call.path, { method: "POST", headers, body: call.rawBody });
}

/** A Fetch Response as the handler server's reply. */
export async function replyFrom(res: Response): Promise<Reply> {
  const text = await res.text();
  const isJson = (res.headers.get("content-type") ?? "").includes("json");
  return isJson ? { status: res.status, json: JSON.parse(text) } : { status: res.status, text };
}
