// An EventFeed in front of a real one that misbehaves the way a feed fed from
// elsewhere (another server, a database listener) may: it loses events,
// delivers some twice, re-delivers old ones, or floods a subscriber.
import type { RunEvent } from "../../src/domain/run-record.ts";
import type { EventFeed, EventListener } from "../../src/ports/event-feed.ts";

/**
 * What to do with the n-th event (1-based, per subscription) coming from the
 * source: deliver each of the returned events, in order (an empty list drops it).
 * `seen` holds every event this subscription received from the source so far.
 */
export type FeedPolicy = (event: RunEvent, n: number, seen: readonly RunEvent[]) => readonly RunEvent[];

export class UnreliableFeed implements EventFeed {
  private readonly source: EventFeed;
  private readonly policy: FeedPolicy;
  /** Events dropped / extra deliveries made, over all subscriptions. */
  dropped = 0;
  extra = 0;

  constructor(source: EventFeed, policy: FeedPolicy) {
    this.source = source;
    this.policy = policy;
  }

  publish(workflowId: string, events: readonly RunEvent[]): void {
    this.source.publish(workflowId, events);
  }

  subscribe(runId: string | undefined, listener: EventListener): () => void {
    const seen: RunEvent[] = [];
    return this.source.subscribe(runId, (workflowId, event) => {
      seen.push(event);
      const out = this.policy(event, seen.length, seen);
      if (out.length === 0) this.dropped++;
      else this.extra += out.length - 1;
      for (const e of out) listener(workflowId, e);
    });
  }
}
