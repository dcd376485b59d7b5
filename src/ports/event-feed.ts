// The event feed port: committed events, in commit order, to whoever watches.
// The embedded store's feed is in-process (src/engine/local-event-feed.ts); a
// store shared by several servers feeds it from the database instead.
import type { RunEvent } from "../domain/run-record.ts";

export type EventListener = (workflowId: string, event: RunEvent) => void;

export interface EventFeed {
  /** Called after the events are committed, in commit order. */
  publish(workflowId: string, events: readonly RunEvent[]): void;
  /** Events of one run, or of every run when runId is undefined. Returns unsubscribe. */
  subscribe(runId: string | undefined, listener: EventListener): () => void;
}
