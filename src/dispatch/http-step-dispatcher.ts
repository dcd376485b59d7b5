// Sends step attempts as signed HTTP POSTs over a pooled keep-alive undici Agent.
//
// It uses undici's handler-level API (Agent#dispatch) rather than request():
// a response body here is a small JSON document read in full, so the stream,
// async iterator and abort listener request() sets up per call are work for
// nothing on the hottest path of the engine. undici marks this API as one that
// may change between major versions; the major version is pinned in package.json.
//
// The outbound policy is applied twice: a URL whose host is a literal address
// or a host name denied by name is refused before anything is queued, and every
// other name is resolved by the connection's own lookup (handed to undici's
// connector, which passes it to net.connect / tls.connect), which refuses the
// connection unless every address the name resolves to is allowed. The socket
// then connects to an address that was checked, so DNS rebinding between
// CreateWorkflow and the call (or between two lookups) cannot pass. undici's
// dispatch does not follow redirects: a 3xx is the handler's answer.
//
// Per-host limits: every origin (scheme://host:port) has an OriginLimiter
// bounding its calls in flight and, if configured, the calls started per second.
// A call beyond them waits in the origin's FIFO queue here, not in undici's: one
// aborted while waiting leaves the queue at once and is never sent, where undici
// would open it on a connection and then destroy that connection to abort it.
// A caller can also queue before it builds its call (reserve): the engine does,
// so a call waiting for its origin costs a queue entry, not a rendered request,
// an abort signal, a promise and a response handler (100,000 runs queued behind
// one slow origin: see bench/memory.ts).
import type { LookupAddress, LookupAllOptions } from "node:dns";
import { lookup as dnsLookup } from "node:dns";
import type { IncomingHttpHeaders } from "node:http";
import { Agent, type Dispatcher } from "undici";
import {
  type AttemptOutcome,
  attemptCancelled,
  classifyResponse,
  destinationDenied,
  NOT_SENT_SHUTTING_DOWN,
  retryableFailure,
  terminalFailure,
} from "../domain/attempt-outcome.ts";
import { DEFAULT_HOST_MAX_INFLIGHT, type HostLimits, largestInflight, limitFor } from "../domain/host-limits.ts";
import { describeDenial, OutboundPolicy } from "../domain/outbound-policy.ts";
import { type Clock, systemClock } from "../ports/clock.ts";
import {
  ATTEMPT_TIMEOUT,
  type DispatchProgress,
  type SlotReservation,
  type SlotWaiter,
  type StepCall,
  type StepDispatcher,
} from "../ports/step-dispatcher.ts";
import type { Signer } from "../signing/sign.ts";
import { OriginLimiter, Waiter } from "./origin-limiter.ts";

export interface HttpDispatcherOptions {
  signer: Signer;
  /** Largest response body accepted; larger ones fail the step (not retried). */
  maxResultBytes: number;
  /** Per-origin limits on calls in flight and calls per second; default: 256 in flight, no rate limit. */
  hostLimits?: HostLimits;
  /** Without hostLimits: calls in flight per origin (default 256). */
  connectionsPerOrigin?: number;
  /** Time for the rate limits' token buckets; default: the system clock. */
  clock?: Clock;
  userAgent?: string;
  /** Destinations calls may go to; default: the default preset. */
  outbound?: OutboundPolicy;
  /** Resolves a host name to all its addresses; default: dns.lookup. Tests inject names here. */
  resolve?: Resolve;
}

export type Resolve = (
  hostname: string,
  options: LookupAllOptions,
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

/** A connection refused by the outbound policy (its lookup failed with this). */
export class DestinationDeniedError extends Error {
  readonly code = "EDESTINATIONDENIED";
}

interface Target {
  origin: string;
  path: string;
  gate: OriginLimiter;
  /** Set when the policy denies the URL's host without resolving it (a literal address or a denied name). */
  denied?: string;
}

/** Parsed step URLs: a run's steps are called again and again at the same few URLs. */
const TARGET_CACHE_LIMIT = 10_000;
/** Origins whose limiter is kept; past it, idle ones are forgotten. */
const GATE_LIMIT = 10_000;

export class HttpStepDispatcher implements StepDispatcher {
  private readonly agent: Agent;
  private readonly signer: Signer;
  private readonly maxResultBytes: number;
  private readonly userAgent: string;
  private readonly hostLimits: HostLimits;
  private readonly clock: Clock;
  private readonly targets = new Map<string, Target>();
  private readonly gates = new Map<string, OriginLimiter>();
  private readonly policy: OutboundPolicy;
  private readonly resolve: Resolve;

  constructor(options: HttpDispatcherOptions) {
    this.signer = options.signer;
    this.maxResultBytes = options.maxResultBytes;
    this.userAgent = options.userAgent ?? "weft";
    this.hostLimits = options.hostLimits ?? {
      defaults: { maxInflight: options.connectionsPerOrigin ?? DEFAULT_HOST_MAX_INFLIGHT, ratePerSecond: 0, burst: 1 },
      origins: new Map(),
    };
    this.clock = options.clock ?? systemClock;
    this.policy = options.outbound ?? new OutboundPolicy();
    this.resolve = options.resolve ?? ((hostname, opts, callback) => dnsLookup(hostname, opts, callback));
    // Attempt timeouts come from the caller (an abort with ATTEMPT_TIMEOUT); undici's are switched off.
    // Enough connections for the largest in-flight limit: calls never wait in undici's queue.
    this.agent = new Agent({
      connections: largestInflight(this.hostLimits),
      keepAliveTimeout: 30_000,
      headersTimeout: 0,
      bodyTimeout: 0,
      connect: { lookup: this.checkedLookup },
    });
  }

  dispatch(call: StepCall, signal: AbortSignal, progress?: DispatchProgress, reserved = false): Promise<AttemptOutcome> {
    if (signal.aborted && !reserved) return Promise.resolve(aborted(call, signal));
    let target: Target;
    try {
      target = this.target(call.url);
    } catch (err) {
      return Promise.resolve(terminalFailure("invalid_url", `cannot call "${call.url}": ${(err as Error).message}`));
    }
    if (target.denied !== undefined || signal.aborted) {
      // A reserved slot was for a URL reserve() accepted: given back, whatever the answer.
      if (reserved) target.gate.release();
      return Promise.resolve(target.denied !== undefined ? destinationDenied(target.denied) : aborted(call, signal));
    }
    return new Promise<AttemptOutcome>((resolve) => {
      const gate = target.gate;
      const handler = new AttemptHandler(call, signal, this.maxResultBytes, resolve, target, this.send, progress);
      if (reserved || gate.tryEnter()) {
        this.start(handler, call, target);
        return;
      }
      gate.wait(handler);
      progress?.queued(target.origin, gate.waiting - 1);
    });
  }

  reserve(url: string, waiter: SlotWaiter): "held" | "none" | SlotReservation {
    let target: Target;
    try {
      target = this.target(url);
    } catch {
      return "none";
    }
    if (target.denied !== undefined) return "none";
    const gate = target.gate;
    if (gate.tryEnter()) return "held";
    const place = new QueuedSlot(waiter, target.origin, gate);
    gate.wait(place);
    return place;
  }

  giveBack(url: string): void {
    this.target(url).gate.release();
  }

  /** Calls waiting for their origin's limits, by origin (origins with none left out). */
  *waitingByOrigin(): Iterable<[string, number]> {
    for (const [origin, gate] of this.gates) if (gate.waiting > 0) yield [origin, gate.waiting];
  }

  /** Sends a call that waited, once it holds a slot. */
  private readonly send = (handler: AttemptHandler): void => this.start(handler, handler.call, handler.target);

  /** The call holds a slot of its origin (released when undici is done with it). */
  private start(handler: AttemptHandler, call: StepCall, target: Target): void {
    // Signed when sent, so a call that waited for a connection is not sent with a stale timestamp.
    const now = Date.now();
    const headers: Record<string, string> = {
      ...call.headers,
      "content-type": "application/json",
      "user-agent": this.userAgent,
      "idempotency-key": call.idempotencyKey,
      "weft-deadline": new Date(now + call.timeoutMs).toISOString(),
      ...this.signer.headers(call.messageId, Math.floor(now / 1000), call.body),
    };
    try {
      this.agent.dispatch({ origin: target.origin, path: target.path, method: "POST", headers, body: call.body }, handler);
    } catch (err) {
      handler.onResponseError(undefined, err as Error);
    }
  }

  private target(url: string): Target {
    let t = this.targets.get(url);
    if (t === undefined) {
      const u = new URL(url);
      let gate = this.gates.get(u.origin);
      if (gate === undefined) {
        if (this.gates.size >= GATE_LIMIT) this.forgetIdleGates();
        gate = new OriginLimiter(limitFor(this.hostLimits, u.origin), this.clock);
        this.gates.set(u.origin, gate);
      }
      t = { origin: u.origin, path: `${u.pathname}${u.search}`, gate };
      const verdict = this.policy.checkHost(u.hostname);
      if ("allowed" in verdict && !verdict.allowed) t.denied = describeDenial(verdict.rule);
      if (this.targets.size >= TARGET_CACHE_LIMIT) this.targets.clear();
      this.targets.set(url, t);
    }
    return t;
  }

  /**
   * The lookup of every new connection (net.connect's `lookup` option): resolves
   * the name and refuses the connection unless the policy allows the name itself
   * or every address it resolves to.
   */
  private readonly checkedLookup = (
    hostname: string,
    options: { all?: boolean; family?: number | string; hints?: number },
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    const verdict = this.policy.checkHost(hostname);
    if ("allowed" in verdict && !verdict.allowed) {
      callback(new DestinationDeniedError(describeDenial(verdict.rule)), "");
      return;
    }
    const byName = "allowed" in verdict;
    const family = options.family === "IPv4" ? 4 : options.family === "IPv6" ? 6 : Number(options.family ?? 0);
    const resolved = (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]): void => {
      if (err) {
        callback(err, "");
        return;
      }
      if (!byName) {
        for (const a of addresses) {
          const v = this.policy.checkAddress(a.address);
          if (!v.allowed) {
            const name = hostname.length <= 80 ? hostname : `${hostname.slice(0, 80)}…`;
            callback(new DestinationDeniedError(`${describeDenial(v.rule)} (${name} resolved to ${a.address})`), "");
            return;
          }
        }
      }
      if (addresses.length === 0) {
        callback(Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }), "");
        return;
      }
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0].address, addresses[0].family);
    };
    try {
      this.resolve(hostname, { all: true, family, hints: options.hints }, resolved);
    } catch (err) {
      // e.g. a name dns.lookup refuses outright: a failed connection, not a crash.
      callback(err as NodeJS.ErrnoException, "");
    }
  };

  /** Forgets the limiters of idle origins, and the parsed URLs that point at them. */
  private forgetIdleGates(): void {
    for (const [origin, gate] of this.gates) if (gate.idle) this.gates.delete(origin);
    this.targets.clear();
  }

  /** Calls still waiting for their origin are answered (not sent); calls in flight finish or are aborted by their caller. */
  async close(): Promise<void> {
    for (const gate of this.gates.values()) gate.close();
    await this.agent.close();
  }
}

/** The policy's refusal behind a connection error, if that is what it is. */
function deniedBy(err: unknown): DestinationDeniedError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof DestinationDeniedError) return e;
    if (e instanceof AggregateError) {
      const inner = e.errors.find((x) => x instanceof DestinationDeniedError) as DestinationDeniedError | undefined;
      if (inner) return inner;
    }
  }
  return undefined;
}

function aborted(call: StepCall, signal: AbortSignal): AttemptOutcome {
  return signal.reason === ATTEMPT_TIMEOUT
    ? retryableFailure("timeout", `no response within ${call.timeoutMs / 1000}s`)
    : attemptCancelled();
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** A caller's place in an origin's queue, before it has built its call (see reserve). */
class QueuedSlot extends Waiter implements SlotReservation {
  readonly #waiter: SlotWaiter;
  readonly #gate: OriginLimiter;
  readonly origin: string;
  readonly ahead: number;

  constructor(waiter: SlotWaiter, origin: string, gate: OriginLimiter) {
    super();
    this.#waiter = waiter;
    this.#gate = gate;
    this.origin = origin;
    this.ahead = gate.waiting;
  }

  admit(): void {
    this.#waiter.granted();
  }

  drop(): void {
    this.#waiter.dropped();
  }

  cancel(): void {
    this.#gate.leave(this);
  }
}

/** One attempt's lifecycle: waits for its origin's limits if it must, collects the response body and settles exactly once. */
class AttemptHandler extends Waiter implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private headers: IncomingHttpHeaders = {};
  private readonly chunks: Buffer[] = [];
  private size = 0;
  /** The outcome was handed over (the request itself may still be winding down). */
  settled = false;
  /** undici is done with the request (its last callback came). */
  private over = false;
  readonly call: StepCall;
  readonly target: Target;
  private readonly signal: AbortSignal;
  private readonly maxBytes: number;
  private readonly resolve: (outcome: AttemptOutcome) => void;
  private readonly send: (h: AttemptHandler) => void;
  private readonly progress: DispatchProgress | undefined;
  private readonly onAbort = () => {
    if (this.controller) {
      this.controller.abort(new Error("attempt aborted"));
    } else {
      // Waiting in its origin's queue: it leaves it now, and is never sent. Or sent but
      // with no request yet (a connection being opened): answer now, a timeout must not
      // wait for a connection; onRequestStart aborts it before anything is written.
      if (this.inQueue) this.target.gate.leave(this);
      this.settle(aborted(this.call, this.signal));
    }
  };

  constructor(
    call: StepCall,
    signal: AbortSignal,
    maxBytes: number,
    resolve: (outcome: AttemptOutcome) => void,
    target: Target,
    send: (h: AttemptHandler) => void,
    progress: DispatchProgress | undefined,
  ) {
    super();
    this.call = call;
    this.target = target;
    this.signal = signal;
    this.maxBytes = maxBytes;
    this.resolve = resolve;
    this.send = send;
    this.progress = progress;
    signal.addEventListener("abort", this.onAbort, { once: true });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.signal.aborted) controller.abort(new Error("attempt aborted"));
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.status = statusCode;
    this.headers = headers;
    if (Number(first(headers["content-length"]) ?? "0") > this.maxBytes) this.tooLarge(controller);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    this.size += chunk.length;
    if (this.size > this.maxBytes) this.tooLarge(controller);
    else this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    this.requestOver();
    if (this.settled) return;
    const c = this.chunks;
    const text = c.length === 1 ? c[0].toString("utf8") : Buffer.concat(c).toString("utf8");
    this.settle(
      classifyResponse(this.status, first(this.headers["content-type"]), first(this.headers["retry-after"]), text, Date.now()),
    );
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.requestOver();
    if (this.settled) return;
    if (this.signal.aborted) {
      this.settle(aborted(this.call, this.signal));
      return;
    }
    const denied = deniedBy(err);
    if (denied) {
      this.settle(destinationDenied(denied.message));
      return;
    }
    const e = err as NodeJS.ErrnoException;
    this.settle(retryableFailure("connection", `${e.code ? `${e.code}: ` : ""}${e.message}`));
  }

  private tooLarge(controller: Dispatcher.DispatchController): void {
    this.settle(
      terminalFailure("result_too_large", `handler response is larger than the limit of ${this.maxBytes} bytes`, {
        httpStatus: this.status,
      }),
    );
    controller.abort(new Error("response too large"));
  }

  private requestOver(): void {
    if (this.over) return;
    this.over = true;
    this.target.gate.release();
  }

  /** Its turn came in the origin's queue. */
  admit(): void {
    this.progress?.sent();
    this.send(this);
  }

  /** The dispatcher closed while it waited: answered, never sent. */
  drop(): void {
    this.settle(NOT_SENT_SHUTTING_DOWN);
  }

  private settle(outcome: AttemptOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.signal.removeEventListener("abort", this.onAbort);
    this.resolve(outcome);
  }
}
