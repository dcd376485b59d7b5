// Runs per state (of a workflow id, or all), counted with ListWorkflows up to a cap per state.
import { useEffect, useState } from "react";
import { WorkflowView } from "@gen/weft/v1/workflow_pb.js";
import { weft } from "../api/client.ts";
import { RUN_STATES, type RunStateName } from "../api/states.ts";

export interface StateCount {
  name: RunStateName;
  count: number;
  /** More than count runs are in this state (the count stopped at the cap). */
  more: boolean;
}

const PAGE = 100;
const CAP_PAGES = 10;
const REFRESH_DEBOUNCE_MS = 1000;

async function countState(state: (typeof RUN_STATES)[number]["state"], workflowId: string, signal: AbortSignal): Promise<{ count: number; more: boolean }> {
  let token = "";
  let count = 0;
  for (let page = 0; page < CAP_PAGES; page++) {
    const res = await weft.listWorkflows({ pageSize: PAGE, pageToken: token, states: [state], workflowId, view: WorkflowView.BASIC }, { signal });
    count += res.workflows.length;
    token = res.nextPageToken;
    if (!token) return { count, more: false };
  }
  return { count, more: true };
}

export function useStateCounts(workflowId: string, changes: number, keyVersion: number): StateCount[] | undefined {
  const [counts, setCounts] = useState<StateCount[]>();
  useEffect(() => {
    const abort = new AbortController();
    const timer = setTimeout(async () => {
      try {
        const all = await Promise.all(RUN_STATES.map(async (s) => ({ name: s.name, ...(await countState(s.state, workflowId, abort.signal)) })));
        if (!abort.signal.aborted) setCounts(all);
      } catch {
        // The list shows the error; the counts keep their last value.
      }
    }, changes === 0 ? 0 : REFRESH_DEBOUNCE_MS);
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [workflowId, changes, keyVersion]);
  return counts;
}
