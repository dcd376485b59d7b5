// One run, live: WatchWorkflow's snapshot, then its events; the full event log from
// ListWorkflowEvents. Each event reloads the run (GetWorkflow, debounced) so that every field
// (results, next retry times, compensation and webhook states) is current. After the run ends,
// the run is reloaded while its webhook is still being delivered.
import { useCallback, useEffect, useRef, useState } from "react";
import { Code } from "@connectrpc/connect";
import { weft } from "../api/client.ts";
import { isAbort, toProblem, type ApiProblem } from "../api/errors.ts";
import { useAuth } from "../api/auth-context.ts";
import { toEventView, toRunDetail, type EventView, type RunDetail } from "../api/view-models.ts";

export interface RunResult {
  run?: RunDetail;
  events: EventView[];
  problem?: ApiProblem;
  live: boolean;
  /** Replaces the run (e.g. with CancelWorkflow's answer). */
  setRun(run: RunDetail): void;
  /**
   * Follows the run again after it finished (a redrive, a webhook redelivery): the watch resumes
   * after the last event seen, so it carries on from the redrive's transitions.
   */
  resume(): void;
}

const RELOAD_DEBOUNCE_MS = 150;
/**
 * While a map step has items in flight the run is re-read this often: items that start and
 * complete are not events (only their failed attempts are), so the stream says nothing of them.
 */
const ITEMS_POLL_MS = 1000;
const WEBHOOK_POLL_MS = 2000;
const EVENTS_PAGE = 1000;

/** Marks (performance.mark) when the page first has the run's data: the start of "render" (RunGraph). */
export const RUN_DATA_MARK = "weft:run-data";

/** Dispatched on window by RunGraph once the graph is painted. */
export const GRAPH_PAINTED_EVENT = "weft:graph-painted";
/** The event log is read once the graph is painted (or after this long): the graph goes first. */
const LOG_DEFER_MAX_MS = 2000;

function graphPainted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      window.removeEventListener(GRAPH_PAINTED_EVENT, done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, LOG_DEFER_MAX_MS);
    window.addEventListener(GRAPH_PAINTED_EVENT, done);
    signal.addEventListener("abort", done);
  });
}

function markRunData(): void {
  performance.clearMarks(RUN_DATA_MARK);
  performance.mark(RUN_DATA_MARK);
}

/** A map step of the run has items that have not finished yet. */
function itemsMoving(run: RunDetail): boolean {
  return run.steps.some((s) => s.items && (s.state === "running" || s.state === "retry_wait") && s.items.completed + s.items.failed + s.items.cancelled < s.items.total);
}

export function useRun(id: string): RunResult {
  const auth = useAuth();
  const [run, setRun] = useState<RunDetail>();
  const [events, setEvents] = useState<EventView[]>([]);
  const [problem, setProblem] = useState<ApiProblem>();
  const [live, setLive] = useState(false);
  const eventMap = useRef(new Map<number, EventView>());
  const resumeRef = useRef<() => void>(() => {});

  useEffect(() => {
    const abort = new AbortController();
    const signal = abort.signal;
    eventMap.current = new Map();
    setRun(undefined);
    setEvents([]);
    setProblem(undefined);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let lastSequence = 0n;

    const fail = (err: unknown): boolean => {
      if (signal.aborted || isAbort(err)) return true;
      const p = toProblem(err);
      if (p.needsKey) auth.reportUnauthenticated(p.message);
      setProblem(p);
      return p.needsKey || p.denied || p.code === Code.NotFound || p.code === Code.InvalidArgument;
    };
    const addEvents = (list: EventView[]) => {
      for (const e of list) eventMap.current.set(e.sequence, e);
      setEvents([...eventMap.current.values()].sort((a, b) => a.sequence - b.sequence));
    };
    let following = true;
    const reload = async () => {
      try {
        const { workflow } = await weft.getWorkflow({ id }, { signal });
        if (workflow && !signal.aborted) {
          const detail = toRunDetail(workflow);
          setRun(detail);
          pollItems(detail);
          return detail;
        }
      } catch (err) {
        fail(err);
      }
      return undefined;
    };
    const scheduleReload = (ms = RELOAD_DEBOUNCE_MS) => {
      clearTimeout(timer);
      timer = setTimeout(() => void reload(), ms);
    };
    // Keeps a map step's item counts live (while the stream is up; an event reloads sooner).
    const pollItems = (detail: RunDetail) => {
      if (following && !signal.aborted && itemsMoving(detail)) scheduleReload(ITEMS_POLL_MS);
    };
    const loadLog = async () => {
      let token = "";
      do {
        const res = await weft.listWorkflowEvents({ id, pageSize: EVENTS_PAGE, pageToken: token }, { signal });
        addEvents(res.events.map(toEventView));
        token = res.nextPageToken;
      } while (token && !signal.aborted);
    };

    let loggedOnce = false;
    // Set by resume() while following: once the current watch (or webhook polling) ends, watch again.
    let again = false;
    let active = false;
    const followOnce = async () => {
      while (!signal.aborted) {
        try {
          const stream = weft.watchWorkflow({ id, afterSequence: lastSequence }, { signal });
          setLive(true);
          for await (const msg of stream) {
            if (msg.kind.case === "snapshot") {
              const w = msg.kind.value;
              lastSequence = w.lastSequence;
              if (!loggedOnce) markRunData();
              const detail = toRunDetail(w);
              setRun(detail);
              pollItems(detail);
              setProblem(undefined);
              if (!loggedOnce) {
                loggedOnce = true;
                void graphPainted(signal)
                  .then(loadLog)
                  .catch(fail);
              }
            } else if (msg.kind.case === "event") {
              lastSequence = msg.kind.value.sequence;
              addEvents([toEventView(msg.kind.value)]);
              scheduleReload();
            }
          }
          // The stream ends after the run's terminal transition.
          setLive(false);
          following = false;
          clearTimeout(timer);
          let final = await reload();
          while (!signal.aborted && !again && final?.webhook && ["pending", "delivering", "retry_wait"].includes(final.webhook.state)) {
            await new Promise((r) => setTimeout(r, WEBHOOK_POLL_MS));
            final = (await reload()) ?? final;
          }
          return;
        } catch (err) {
          setLive(false);
          if (fail(err)) return;
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    };
    const follow = async () => {
      if (active) {
        again = true;
        return;
      }
      active = true;
      try {
        do {
          again = false;
          following = true;
          await followOnce();
        } while (again && !signal.aborted);
      } finally {
        active = false;
      }
    };
    resumeRef.current = () => {
      setProblem(undefined);
      void follow();
    };
    void follow();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id, auth.version]);

  const resume = useCallback(() => resumeRef.current(), []);
  return { run, events, problem, live, setRun, resume };
}
