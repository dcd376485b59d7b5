// A real HTTP server playing the step handlers in tests: it records every call
// and answers with whatever the test programs per path.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedCall {
  path: string;
  headers: IncomingMessage["headers"];
  rawBody: string;
  body: {
    workflowId: string;
    runId: string;
    workflow: string;
    stepId: string;
    attempt: number;
    context: Record<string, unknown>;
    previousSteps: Record<string, { result: unknown; completedAt: string; attempts: number }>;
  };
  /** performance.now() when the request was fully received / the response was sent. */
  receivedAt: number;
  respondedAt?: number;
  /** True when the client went away before the response was sent. */
  aborted: boolean;
}

export interface Reply {
  status?: number;
  json?: unknown;
  text?: string;
  headers?: Record<string, string>;
  delayMs?: number;
}

export type Behaviour = (call: RecordedCall, calls: RecordedCall[]) => Reply | Promise<Reply>;

export class HandlerServer {
  readonly calls: RecordedCall[] = [];
  private readonly behaviours = new Map<string, Behaviour>();
  private server!: Server;
  baseUrl = "";

  static async start(): Promise<HandlerServer> {
    const h = new HandlerServer();
    h.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", async () => {
        const rawBody = Buffer.concat(chunks).toString("utf8");
        const call: RecordedCall = {
          path: req.url ?? "/",
          headers: req.headers,
          rawBody,
          body: rawBody ? JSON.parse(rawBody) : {},
          receivedAt: performance.now(),
          aborted: false,
        };
        h.calls.push(call);
        res.on("close", () => {
          if (!res.writableFinished) call.aborted = true;
        });
        const behaviour = h.behaviours.get(call.path) ?? defaultBehaviour;
        const reply = await behaviour(call, h.calls);
        if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
        if (res.destroyed) {
          call.aborted = true;
          return;
        }
        const status = reply.status ?? 200;
        const body = reply.text ?? (reply.json === undefined ? "" : JSON.stringify(reply.json));
        res.writeHead(status, {
          "content-type": reply.text !== undefined ? "text/plain" : "application/json",
          ...reply.headers,
        });
        call.respondedAt = performance.now();
        res.end(body);
      });
    });
    h.server.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => h.server.listen(0, "127.0.0.1", r));
    h.baseUrl = `http://127.0.0.1:${(h.server.address() as AddressInfo).port}`;
    return h;
  }

  on(path: string, behaviour: Behaviour): this {
    this.behaviours.set(path, behaviour);
    return this;
  }

  url(path: string): string {
    return this.baseUrl + path;
  }

  callsFor(runId: string, path?: string): RecordedCall[] {
    return this.calls.filter((c) => c.body.runId === runId && (path === undefined || c.path === path));
  }

  /** Resolves when a call matching the predicate has been received. */
  async waitForCall(pred: (c: RecordedCall) => boolean, timeoutMs = 120_000): Promise<RecordedCall> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = this.calls.find(pred);
      if (found) return found;
      if (Date.now() > end) throw new Error("timed out waiting for a handler call");
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** Succeeds with `{step: stepId}`. */
export const defaultBehaviour: Behaviour = (call) => ({
  json: { success: true, result: { step: call.body.stepId } },
});
