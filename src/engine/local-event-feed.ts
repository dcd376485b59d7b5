// In-process event feed: listeners per run, plus listeners for every run.
import type { RunEvent } from "../domain/run-record.ts";
import type { EventFeed, EventListener } from "../ports/event-feed.ts";

export class LocalEventFeed implements EventFeed {
  private readonly byRun = new Map<string, Set<EventListener>>();
  private readonly all = new Set<EventListener>();

  publish(workflowId: string, events: readonly RunEvent[]): void {
    if (events.length === 0) return;
    const runListeners = this.byRun.get(events[0].runId);
    if (!runListeners && this.all.size === 0) return;
    for (const e of events) {
      if (runListeners) for (const l of runListeners) l(workflowId, e);
      for (const l of this.all) l(workflowId, e);
    }
  }

  subscribe(runId: string | undefined, listener: EventListener): () => void {
    if (runId === undefined) {
      this.all.add(listener);
      return () => this.all.delete(listener);
    }
    let set = this.byRun.get(runId);
    if (!set) this.byRun.set(runId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.byRun.get(runId) === set) this.byRun.delete(runId);
    };
  }

  /** Listeners currently registered (for leak checks). */
  get listenerCount(): number {
    let n = this.all.size;
    for (const s of this.byRun.values()) n += s.size;
    return n;
  }
}
