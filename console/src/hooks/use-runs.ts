// The runs list: a page of ListWorkflows, kept live by WatchWorkflows (every run-level
// transition reloads the page); when the stream fails, the page is polled until it is back.
import { useCallback, useEffect, useRef, useState } from "react";
import { WorkflowView, type WorkflowState } from "@gen/weft/v1/workflow_pb.js";
import { weft } from "../api/client.ts";
import { isAbort, toProblem, type ApiProblem } from "../api/errors.ts";
import { useAuth } from "../api/auth-context.ts";
import { toRunSummary, type RunSummary } from "../api/view-models.ts";

export interface RunsQuery {
  states: WorkflowState[];
  workflowId: string;
  /** Only runs having every one of these labels. */
  labels: Record<string, string>;
  pageToken: string;
  pageSize: number;
}

export interface RunsResult {
  runs: RunSummary[];
  nextPageToken: string;
  loading: boolean;
  problem?: ApiProblem;
  live: "watch" | "poll" | "connecting";
  /** Bumped on every transition the stream reports (the counts reload on it). */
  changes: number;
}

const POLL_MS = 3000;
const RELOAD_DEBOUNCE_MS = 200;

export function useRuns(query: RunsQuery): RunsResult {
  const auth = useAuth();
  const [result, setResult] = useState<RunsResult>({ runs: [], nextPageToken: "", loading: true, live: "connecting", changes: 0 });
  const seq = useRef(0);
  const statesKey = query.states.join(",");
  const labelsKey = JSON.stringify(query.labels);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    try {
      const res = await weft.listWorkflows({
        pageSize: query.pageSize,
        pageToken: query.pageToken,
        states: query.states,
        workflowId: query.workflowId,
        labels: query.labels,
        view: WorkflowView.BASIC,
      });
      if (mine !== seq.current) return;
      setResult((r) => ({ ...r, runs: res.workflows.map(toRunSummary), nextPageToken: res.nextPageToken, loading: false, problem: undefined }));
    } catch (err) {
      if (mine !== seq.current) return;
      const problem = toProblem(err);
      if (problem.needsKey) auth.reportUnauthenticated(problem.message);
      setResult((r) => ({ ...r, loading: false, problem }));
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [query.pageSize, query.pageToken, statesKey, query.workflowId, labelsKey, auth.version]);

  useEffect(() => {
    setResult((r) => ({ ...r, loading: true }));
    void load();
  }, [load]);

  useEffect(() => {
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let poller: ReturnType<typeof setInterval> | undefined;
    const reload = () => {
      clearTimeout(timer);
      timer = setTimeout(() => void load(), RELOAD_DEBOUNCE_MS);
    };
    const startPolling = () => {
      poller ??= setInterval(() => {
        void load();
        setResult((r) => ({ ...r, changes: r.changes + 1 }));
      }, POLL_MS);
    };
    const watch = async () => {
      while (!abort.signal.aborted) {
        try {
          // Until the stream shows it is open (its headers, or its first message, which may be a
          // heartbeat a while later), the page is also polled so that nothing in between is missed.
          setResult((r) => ({ ...r, live: "connecting" }));
          startPolling();
          let open = false;
          const opened = () => {
            if (open) return;
            open = true;
            clearInterval(poller);
            poller = undefined;
            setResult((r) => ({ ...r, live: "watch", changes: r.changes + 1 }));
            reload();
          };
          const stream = weft.watchWorkflows({ workflowId: query.workflowId, labels: query.labels }, { signal: abort.signal, onHeader: opened });
          for await (const msg of stream) {
            opened();
            if (msg.kind.case === "event") {
              setResult((r) => ({ ...r, changes: r.changes + 1 }));
              reload();
            }
          }
        } catch (err) {
          if (abort.signal.aborted || isAbort(err)) return;
          const problem = toProblem(err);
          if (problem.needsKey) {
            auth.reportUnauthenticated(problem.message);
            return;
          }
        }
        // The stream ended or failed: ListWorkflows paging (polled) until it reconnects.
        setResult((r) => ({ ...r, live: "poll" }));
        startPolling();
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    };
    void watch();
    return () => {
      abort.abort();
      clearTimeout(timer);
      clearInterval(poller);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [query.workflowId, labelsKey, load]);

  return result;
}
