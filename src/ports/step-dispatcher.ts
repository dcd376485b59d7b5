// The dispatcher port: sends one attempt of a step and reports what happened.
import type { AttemptOutcome } from "../domain/attempt-outcome.ts";

export interface StepCall {
  runId: string;
  stepId: string;
  attempt: number;
  url: string;
  /** The JSON request body, already serialized. */
  body: string;
  timeoutMs: number;
  /** Stable across attempts of one step: `runId:stepId`. */
  idempotencyKey: string;
}

export interface StepDispatcher {
  /** Never rejects: transport problems come back as failed outcomes. `signal` aborts the call (cancel). */
  dispatch(call: StepCall, signal: AbortSignal): Promise<AttemptOutcome>;
  close(): Promise<void>;
}
