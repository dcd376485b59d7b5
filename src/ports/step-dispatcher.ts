// The dispatcher port: sends one attempt of a step and reports what happened.
import type { AttemptOutcome } from "../domain/attempt-outcome.ts";

/** One signed JSON POST: a step attempt, a compensation attempt or a webhook delivery. */
export interface StepCall {
  url: string;
  /** The JSON request body, already serialized. */
  body: string;
  timeoutMs: number;
  /** Stable across attempts: `runId:stepId` for a step. */
  idempotencyKey: string;
  /** The signature's webhook-id: unique per message. */
  messageId: string;
  /** Extra headers (weft-run-id, weft-step-id, weft-attempt, …). */
  headers: Record<string, string>;
}

/** The abort reason the caller uses when an attempt's timeout (call.timeoutMs) passes. */
export const ATTEMPT_TIMEOUT = Symbol("attempt timeout");

export interface StepDispatcher {
  /**
   * Never rejects: transport problems come back as failed outcomes. `signal`
   * aborts the call: with reason ATTEMPT_TIMEOUT it is a (retryable) timeout,
   * otherwise a cancellation. The caller owns the timer.
   */
  dispatch(call: StepCall, signal: AbortSignal): Promise<AttemptOutcome>;
  close(): Promise<void>;
}
