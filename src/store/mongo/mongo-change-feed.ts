// The event feed of a MongoDB store: ONE change stream per process on the
// events collection (inserts only, filtered by the server), shared by every
// watcher and by the engine (notices from other replicas). Every replica's
// events reach every replica's watchers this way, in the order they were
// written.
//
// - The stream's resume token (the driver keeps the post-batch token) is used
//   to resume after errors; the driver resumes by itself after network errors.
// - A lost history (ChangeStreamHistoryLost) or a dropped connection triggers a
//   rescan of the recent events by time.
// - Every event reaches the listeners once: the feed remembers, per run, the
//   sequences it delivered (SeenEvents, bounded by runs), and drops whatever
//   comes again, however late: the same insert seen by the stream and by a
//   rescan, a stream resumed from an older token, or the announcement of an
//   insert that copied an event again (a takeover or a sweep copying an outbox;
//   MongoDB refuses it as a duplicate key, but some servers, mongo-java-server
//   for one, announce every insert attempt on the change stream).
// - Without change streams (a standalone server) the feed logs one warning and
//   polls the events collection instead.
import type { Collection, MongoClient, ResumeToken } from "mongodb";
import { MongoServerError } from "mongodb";
import type { Logger } from "pino";
import { SeenEvents } from "../../domain/seen-events.ts";
import { LocalEventFeed } from "../../engine/local-event-feed.ts";
import type { EventFeed, EventListener } from "../../ports/event-feed.ts";
import type { NoticeSource, OwnershipNotice } from "../../ports/run-ownership.ts";
import { type EventDoc, eventFromDoc, type NoticeDoc } from "./mongo-documents.ts";

export interface MongoChangeFeedOptions {
  client: MongoClient;
  events: Collection<EventDoc>;
  logger: Logger;
  /** Poll interval without change streams, and pause after an empty answer from a server that does not wait. */
  pollIntervalMs: number;
  /** How far back (by the inserting replica's clock) a poll or rescan looks again: covers clock skew and slow inserts. */
  overlapMs?: number;
  /** "poll" forces polling even where change streams work. */
  mode?: "auto" | "poll";
  /** Runs whose delivered events are remembered (default FEED_REMEMBERED_RUNS). */
  rememberedRuns?: number;
}

type FeedDoc = EventDoc | (NoticeDoc & { _id: unknown });

const HISTORY_LOST = new Set([286, 280]);
/** An empty answer faster than this came from a server that does not honour awaitData. */
const FAST_EMPTY_MS = 10;
const POLL_BATCH = 5000;
/** Runs whose delivered events the feed remembers (the least recently active are forgotten first). */
export const FEED_REMEMBERED_RUNS = 65_536;
/** Notices (hints, few) whose ids are remembered. */
const REMEMBERED_NOTICES = 1024;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

export class MongoChangeFeed implements EventFeed, NoticeSource {
  private readonly local = new LocalEventFeed();
  private readonly noticeListeners = new Set<(n: OwnershipNotice) => void>();
  private readonly client: MongoClient;
  private readonly events: Collection<EventDoc>;
  private readonly log: Logger;
  private readonly pollIntervalMs: number;
  private readonly overlapMs: number;
  private readonly stop = new AbortController();
  private readonly mode: "auto" | "poll";
  /** The events delivered, per run: a repeat is dropped however late it comes. */
  private readonly delivered: SeenEvents;
  /** Ids of the notices delivered recently (rescans and polls overlap). */
  private readonly noticesDelivered = new Set<string>();
  /** Latest ts delivered: where a poll or rescan continues. */
  private cursorTs = Date.now();
  private needRescan = false;
  private running: Promise<void> | undefined;
  /** "stream" or "poll", once known. */
  source: "stream" | "poll" | undefined;

  constructor(options: MongoChangeFeedOptions) {
    this.client = options.client;
    this.events = options.events;
    this.log = options.logger;
    this.pollIntervalMs = options.pollIntervalMs;
    this.overlapMs = options.overlapMs ?? 5000;
    this.mode = options.mode ?? "auto";
    this.delivered = new SeenEvents({ maxRuns: options.rememberedRuns ?? FEED_REMEMBERED_RUNS });
    const onPoolCleared = () => {
      this.needRescan = true;
    };
    this.client.on("connectionPoolCleared", onPoolCleared);
    this.stop.signal.addEventListener("abort", () => this.client.off("connectionPoolCleared", onPoolCleared));
  }

  /** Events come from the database, for this replica's commits and every other's: nothing to do here. */
  publish(): void {}

  subscribe(runId: string | undefined, listener: EventListener): () => void {
    return this.local.subscribe(runId, listener);
  }

  subscribeNotices(listener: (n: OwnershipNotice) => void): () => void {
    this.noticeListeners.add(listener);
    return () => this.noticeListeners.delete(listener);
  }

  get listenerCount(): number {
    return this.local.listenerCount;
  }

  /** Starts following the database; resolves once the feed is live (stream opened or polling chosen). */
  async start(): Promise<void> {
    let live!: () => void;
    const ready = new Promise<void>((r) => (live = r));
    this.running = this.run(live).catch((err: unknown) => {
      this.log.error({ err }, "event feed stopped");
      live();
    });
    await ready;
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.running;
  }

  private async run(live: () => void): Promise<void> {
    if (this.mode === "auto") await this.follow(live);
    if (this.stop.signal.aborted) return;
    this.source = "poll";
    live();
    while (!this.stop.signal.aborted) {
      try {
        await this.poll();
      } catch (err) {
        this.log.warn({ err }, "polling the events collection failed");
      }
      await sleep(this.pollIntervalMs, this.stop.signal);
    }
  }

  /** Follows the change stream until stopped; returns early only when change streams are not available. */
  private async follow(live: () => void): Promise<void> {
    let token: ResumeToken | undefined;
    let announced = false;
    while (!this.stop.signal.aborted) {
      const stream = this.events.watch<FeedDoc>([{ $match: { operationType: "insert" } }], {
        ...(token ? { startAfter: token } : {}),
      });
      const closeOnStop = () => void stream.close().catch(() => {});
      this.stop.signal.addEventListener("abort", closeOnStop, { once: true });
      try {
        for (;;) {
          const started = performance.now();
          const change = await stream.tryNext();
          if (!announced && !change && stream.closed) {
            // The server answered the $changeStream with a finished cursor: it keeps no change history.
            this.log.warn("change streams are not available on this MongoDB deployment (no change history); polling the events collection instead");
            return;
          }
          if (!announced) {
            announced = true;
            this.source = "stream";
            live();
          }
          if (this.stop.signal.aborted) return;
          if (stream.resumeToken) token = stream.resumeToken;
          if (change && change.operationType === "insert") {
            this.deliver(change.fullDocument);
          } else if (!change && performance.now() - started < FAST_EMPTY_MS) {
            await sleep(this.pollIntervalMs, this.stop.signal);
          }
          if (this.needRescan) await this.rescan();
          // After some errors the driver closes the stream and tryNext answers null for ever: reopen.
          if (stream.closed) {
            this.needRescan = true;
            break;
          }
        }
      } catch (err) {
        if (this.stop.signal.aborted) return;
        const code = err instanceof MongoServerError ? err.code : undefined;
        // Refused by the server when first opened: this deployment has no change streams.
        if (!announced && err instanceof MongoServerError) {
          this.log.warn(
            { err: (err as Error).message, code },
            "change streams are not available on this MongoDB deployment (a replica set is needed, and the changeStream privilege); polling the events collection instead",
          );
          return;
        }
        if (typeof code === "number" && HISTORY_LOST.has(code)) {
          this.log.warn({ code }, "change stream history lost; rescanning recent events");
          token = undefined;
        } else {
          this.log.warn({ err }, "change stream failed; resuming");
          await sleep(Math.max(100, this.pollIntervalMs), this.stop.signal);
        }
        this.needRescan = true;
      } finally {
        this.stop.signal.removeEventListener("abort", closeOnStop);
        await stream.close().catch(() => {});
      }
    }
  }

  /** Re-reads recent events by time after anything that may have made the stream skip some. */
  private async rescan(): Promise<void> {
    this.needRescan = false;
    try {
      await this.poll();
    } catch (err) {
      this.needRescan = true;
      this.log.warn({ err }, "rescan failed");
    }
  }

  private async poll(): Promise<void> {
    for (;;) {
      const since = new Date(this.cursorTs - this.overlapMs);
      const docs = (await this.events
        .find({ ts: { $gte: since } })
        .sort({ ts: 1, runId: 1, seq: 1 })
        .limit(POLL_BATCH)
        .toArray()) as FeedDoc[];
      let fresh = 0;
      for (const d of docs) if (this.deliver(d)) fresh++;
      if (docs.length < POLL_BATCH || fresh === 0) return;
    }
  }

  /** Hands one document to its listeners unless it was delivered already; true if it was new. */
  private deliver(doc: FeedDoc | undefined): boolean {
    if (!doc) return false;
    const ts = doc.ts instanceof Date ? doc.ts.getTime() : Date.now();
    if ("notice" in doc) {
      const id = String(doc._id);
      if (this.noticesDelivered.has(id)) return false;
      this.noticesDelivered.add(id);
      if (this.noticesDelivered.size > REMEMBERED_NOTICES) this.noticesDelivered.delete(this.noticesDelivered.values().next().value as string);
      if (ts > this.cursorTs) this.cursorTs = ts;
      const n: OwnershipNotice =
        doc.notice === "cancel" ? { type: "cancel", runId: doc.target ?? "", reason: doc.reason ?? "" } : { type: "released" };
      for (const l of this.noticeListeners) l(n);
      return true;
    }
    const e = doc as EventDoc;
    if (!this.delivered.firstTime(e.runId, e.seq)) return false;
    if (ts > this.cursorTs) this.cursorTs = ts;
    this.local.publish(e.workflowId, [eventFromDoc(e)]);
    return true;
  }
}
