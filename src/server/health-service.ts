// grpc.health.v1.Health, see
// https://github.com/grpc/grpc/blob/master/doc/health-checking.md

import { Code, ConnectError } from "@connectrpc/connect";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckRequest,
  type HealthCheckResponseSchema,
} from "../../gen/ts/health/v1/health_pb.js";

export type HealthListener = (service: string, status: ServingStatus | undefined) => void;

/**
 * Serving status per service name; "" stands for the whole server.
 * Unknown names (never set, or removed) have no status.
 */
export class HealthStatusRegistry {
  #statuses = new Map<string, ServingStatus>();
  #listeners = new Set<HealthListener>();
  #shutDown = false;

  /** `initial` defaults to `{ "": SERVING }`. */
  constructor(initial: Record<string, ServingStatus> = { "": ServingStatus.SERVING }) {
    for (const [service, status] of Object.entries(initial)) this.#statuses.set(service, status);
  }

  get(service: string): ServingStatus | undefined {
    return this.#statuses.get(service);
  }

  /** A snapshot of all known statuses. */
  entries(): Map<string, ServingStatus> {
    return new Map(this.#statuses);
  }

  /** Sets a status and notifies watchers if it changed. Ignored after shutdown(). */
  set(service: string, status: ServingStatus): void {
    if (this.#shutDown) return;
    this.#update(service, status);
  }

  /** Forgets a service: Check answers NOT_FOUND, Watch SERVICE_UNKNOWN. */
  delete(service: string): void {
    if (this.#shutDown) return;
    this.#update(service, undefined);
  }

  /**
   * Marks every service NOT_SERVING and ignores later set() calls (like
   * grpc-go's Server.Shutdown): call it when a graceful shutdown begins so
   * watchers and load balancers stop routing here.
   */
  shutdown(): void {
    for (const service of [...this.#statuses.keys()]) this.#update(service, ServingStatus.NOT_SERVING);
    this.#shutDown = true;
  }

  /** Calls `listener` after every change; returns the unsubscribe function. */
  subscribe(listener: HealthListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #update(service: string, status: ServingStatus | undefined): void {
    if (this.#statuses.get(service) === status) return;
    if (status === undefined) this.#statuses.delete(service);
    else this.#statuses.set(service, status);
    for (const listener of [...this.#listeners]) {
      try {
        listener(service, status);
      } catch {
        // A broken listener must not break set() or the other listeners.
      }
    }
  }
}

type CheckResponseInit = MessageInitShape<typeof HealthCheckResponseSchema>;

/**
 * Most Health/Watch streams open at once, server-wide. Health needs no API
 * key and a watch never ends by itself, so beyond this a new one is refused
 * with RESOURCE_EXHAUSTED (Check is not limited).
 */
export const MAX_HEALTH_WATCHES = 100;

export function healthServiceImpl(registry: HealthStatusRegistry, maxWatches = MAX_HEALTH_WATCHES): ServiceImpl<typeof Health> {
  let openWatches = 0;
  return {
    check(request: HealthCheckRequest): CheckResponseInit {
      const status = registry.get(request.service);
      if (status === undefined) {
        throw new ConnectError(`unknown service ${JSON.stringify(request.service)}`, Code.NotFound);
      }
      return { status };
    },

    // Sends the current status at once (SERVICE_UNKNOWN for unknown names,
    // without ending the call), then every change until the call ends. Only
    // the latest status is kept for a slow reader: intermediate flaps are
    // coalesced, never queued without bound.
    async *watch(request: HealthCheckRequest, context: HandlerContext): AsyncGenerator<CheckResponseInit> {
      if (openWatches >= maxWatches) {
        throw new ConnectError(`too many Health/Watch streams are open (at most ${maxWatches}); use Health/Check or try again later`, Code.ResourceExhausted);
      }
      openWatches++;
      const { signal } = context;
      const current = (): ServingStatus => registry.get(request.service) ?? ServingStatus.SERVICE_UNKNOWN;
      let wake: (() => void) | undefined;
      const poke = () => wake?.();
      const unsubscribe = registry.subscribe((service) => {
        if (service === request.service) poke();
      });
      signal.addEventListener("abort", poke);
      try {
        let sent: ServingStatus | undefined;
        while (!signal.aborted) {
          const status = current();
          if (status !== sent) {
            sent = status;
            yield { status };
            continue;
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
            if (signal.aborted || current() !== sent) resolve();
          });
          wake = undefined;
        }
      } finally {
        openWatches--;
        unsubscribe();
        signal.removeEventListener("abort", poke);
      }
    },

    list(): MessageInitShape<typeof Health.method.list.output> {
      const statuses: Record<string, CheckResponseInit> = {};
      for (const [service, status] of registry.entries()) statuses[service] = { status };
      return { statuses };
    },
  };
}
