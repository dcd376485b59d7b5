// The dispatcher port: sends one attempt of a step and reports what happened.
import type { AttemptOutcome } from "../domain/attempt-outcome.ts";

/** One signed JSON POST: a step attempt, a compensation attempt or a webhook delivery. */
export interface StepCall {
  url: string;
  /** The JSON request body, already serialized (as text, or as its UTF-8 bytes). */
  body: string | Uint8Array;
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

/**
 * What a dispatcher tells its caller about a call that must wait before it is
 * sent (its origin's in-flight or rate limit). Only such calls hear from it.
 */
export interface DispatchProgress {
  /** Called within dispatch(), at most once: the call waits, `ahead` other calls to `origin` wait before it. */
  queued(origin: string, ahead: number): void;
  /** Called after queued(), when the call leaves the queue and is sent (not if it was aborted first). */
  sent(): void;
}

/**
 * A caller waiting for a slot of an origin before it builds its call (see
 * StepDispatcher.reserve): while it waits, this is all the dispatcher holds of it.
 */
export interface SlotWaiter {
  /** It holds a slot now: dispatch its call at once with `reserved`, or giveBack() the slot. Never called from within reserve(). */
  granted(): void;
  /** The dispatcher is closing: no slot will come. */
  dropped(): void;
}

/** A place in an origin's queue (see StepDispatcher.reserve). */
export interface SlotReservation {
  readonly origin: string;
  /** Calls to the origin that waited before this one when it was queued. */
  readonly ahead: number;
  /** Leaves the queue (its waiter hears nothing more); nothing if the slot was granted already. */
  cancel(): void;
}

export interface StepDispatcher {
  /**
   * Never rejects: transport problems come back as failed outcomes. `signal`
   * aborts the call, also while it waits to be sent: with reason ATTEMPT_TIMEOUT
   * it is a (retryable) timeout, otherwise a cancellation. The caller owns the
   * timer: it starts it when dispatch() returns, unless `progress.queued` was
   * called, in which case when `progress.sent` is (the attempt timeout measures
   * the handler, not the wait).
   */
  dispatch(call: StepCall, signal: AbortSignal, progress?: DispatchProgress, reserved?: boolean): Promise<AttemptOutcome>;
  /**
   * Optional: a slot of `url`'s origin before anything of the call is built, so a
   * call that must wait for its origin's limits holds no request, signal or promise
   * meanwhile. "held": a slot is taken now, dispatch the call with `reserved`;
   * "none": nothing to reserve (a URL refused or not parsed), dispatch as usual and
   * let dispatch() answer; a reservation: queued, `waiter.granted()` comes when the
   * slot is held.
   */
  reserve?(url: string, waiter: SlotWaiter): "held" | "none" | SlotReservation;
  /** Gives back a slot that reserve() or granted() gave and that no call will use. */
  giveBack?(url: string): void;
  close(): Promise<void>;
}
