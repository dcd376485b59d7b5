// Runs per state (of a workflow id and labels, or all), counted with ListWorkflows up to a cap per state.
import { useEffect, useRef, useState } from "react";
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
const REFRESH_MS = 1500;

async function countState(state: (typeof RUN_STATES)[number]["state"], workflowId: string, labels: Record<string, string>, signal: AbortSignal): Promise<{ count: number; more: boolean }> {
  let token = "";
  let count = 0;
  for (let page = 0; page < CAP_PAGES; page++) {
    const res = await weft.listWorkflows({ pageSize: PAGE, pageToken: token, states: [state], workflowId, labels, view: WorkflowView.BASIC }, { signal });
    count += res.workflows.length;
    token = res.nextPageToken;
    if (!token) return { count, more: false };
  }
  return { count, more: true };
}

export function useStateCounts(workflowId: string, labels: Record<string, string>, changes: number, keyVersion: number): StateCount[] | undefined {
  const filterKey = `${workflowId}\n${JSON.stringify(labels)}`;
  const [counts, setCounts] = useState<StateCount[]>();
  const [wanted, setWanted] = useState(0);
  const last = useRef({ at: 0, wanted: -1 });
  const current = useRef(filterKey);
  current.current = filterKey;
  // A change asks for a count; counts run at most once per REFRESH_MS, however busy the server.
  useEffect(() => setWanted((w) => w + 1), [filterKey, changes, keyVersion]);
  useEffect(() => {
    if (last.current.wanted === wanted) return;
    const wait = Math.max(0, last.current.at + REFRESH_MS - Date.now());
    const timer = setTimeout(async () => {
      last.current = { at: Date.now(), wanted };
      const signal = AbortSignal.timeout(30_000);
      try {
        const all = await Promise.all(RUN_STATES.map(async (s) => ({ name: s.name, ...(await countState(s.state, workflowId, labels, signal)) })));
        // Only for the filter still shown (an older count finishing late is dropped).
        if (current.current === filterKey) setCounts(all);
      } catch {
        // The list shows the error; the counts keep their last value.
      }
    }, wait);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [wanted, filterKey]);
  return counts;
}
