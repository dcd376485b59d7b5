// Sends step attempts as signed HTTP POSTs over a pooled keep-alive undici Agent.
import { Agent, request } from "undici";
import {
  type AttemptOutcome,
  classifyResponse,
  retryableFailure,
  terminalFailure,
} from "../domain/attempt-outcome.ts";
import { ATTEMPT_TIMEOUT, type StepCall, type StepDispatcher } from "../ports/step-dispatcher.ts";
import type { Signer } from "../signing/sign.ts";

export interface HttpDispatcherOptions {
  signer: Signer;
  /** Largest response body accepted; larger ones fail the step (not retried). */
  maxResultBytes: number;
  /** Connections per handler origin. */
  connectionsPerOrigin?: number;
  userAgent?: string;
}

export class HttpStepDispatcher implements StepDispatcher {
  private readonly agent: Agent;
  private readonly signer: Signer;
  private readonly maxResultBytes: number;
  private readonly userAgent: string;

  constructor(options: HttpDispatcherOptions) {
    this.signer = options.signer;
    this.maxResultBytes = options.maxResultBytes;
    this.userAgent = options.userAgent ?? "weft";
    // Attempt timeouts come from the caller (an abort with ATTEMPT_TIMEOUT); undici's are switched off.
    this.agent = new Agent({
      connections: options.connectionsPerOrigin ?? 256,
      keepAliveTimeout: 30_000,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  async dispatch(call: StepCall, signal: AbortSignal): Promise<AttemptOutcome> {
    const now = Date.now();
    try {
      if (signal.aborted) return this.aborted(call, signal);
      const headers: Record<string, string> = {
        ...call.headers,
        "content-type": "application/json",
        "user-agent": this.userAgent,
        "idempotency-key": call.idempotencyKey,
        "weft-deadline": new Date(now + call.timeoutMs).toISOString(),
        ...this.signer.headers(call.messageId, Math.floor(now / 1000), call.body),
      };
      const res = await request(call.url, {
        method: "POST",
        headers,
        body: call.body,
        signal,
        dispatcher: this.agent,
      });
      const declared = Number(res.headers["content-length"] ?? "0");
      if (declared > this.maxResultBytes) {
        res.body.destroy();
        return this.tooLarge(res.statusCode);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > this.maxResultBytes) {
          res.body.destroy();
          return this.tooLarge(res.statusCode);
        }
        chunks.push(chunk as Buffer);
      }
      const text = chunks.length === 1 ? chunks[0].toString("utf8") : Buffer.concat(chunks).toString("utf8");
      const header = (name: string) => {
        const v = res.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      return classifyResponse(res.statusCode, header("content-type"), header("retry-after"), text, Date.now());
    } catch (err) {
      if (signal.aborted) return this.aborted(call, signal);
      const e = err as NodeJS.ErrnoException;
      const code = e.code ? `${e.code}: ` : "";
      return retryableFailure("connection", `${code}${e.message}`);
    }
  }

  private aborted(call: StepCall, signal: AbortSignal): AttemptOutcome {
    return signal.reason === ATTEMPT_TIMEOUT
      ? retryableFailure("timeout", `no response within ${call.timeoutMs / 1000}s`)
      : terminalFailure("cancelled", "attempt cancelled");
  }

  private tooLarge(status: number): AttemptOutcome {
    return terminalFailure(
      "result_too_large",
      `handler response is larger than the limit of ${this.maxResultBytes} bytes`,
      { httpStatus: status },
    );
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
