import { useEffect, useMemo, useState } from "react";
import { Code } from "@connectrpc/connect";
import { weft } from "../api/client.ts";
import { toProblem, type ApiProblem } from "../api/errors.ts";
import { useAuth } from "../api/auth-context.ts";
import { labelMap, labelsFromParams, withLabel } from "../api/label-filter.ts";
import { runStateOf } from "../api/states.ts";
import { navigate, runHref } from "../hooks/use-route.ts";
import { useRuns } from "../hooks/use-runs.ts";
import { useStateCounts } from "../hooks/use-state-counts.ts";
import { useNow } from "../hooks/use-now.ts";
import { ProblemBanner } from "./problem-banner.tsx";
import { RunFilters, type Filters } from "./run-filters.tsx";
import { RunsTable } from "./runs-table.tsx";
import { StateCounts } from "./state-counts.tsx";
import { BulkActions } from "./bulk-actions.tsx";
import { useWriteAccess } from "../hooks/use-write-access.ts";

const PAGE_SIZE = 25;

/** The runs, newest first: filters, counts by state, paging; live. */
export function RunsPage() {
  const auth = useAuth();
  // The filters are kept in the address (?state=…&workflow=…&label=k%3Dv), so that a link shows the same list.
  const [filters, setFilters] = useState<Filters>(() => {
    const q = new URLSearchParams(window.location.search);
    const state = q.get("state") ?? "";
    return { state: runStateOf(state) === undefined ? "" : state, workflowId: (q.get("workflow") ?? "").slice(0, 128), labels: labelsFromParams(q.getAll("label")) };
  });
  // Tokens of the pages before the current one (the first page's is "").
  const [tokens, setTokens] = useState<string[]>([""]);
  const [searchProblem, setSearchProblem] = useState<ApiProblem>();
  const now = useNow(1000);
  const state = runStateOf(filters.state);
  const labelsKey = filters.labels.join("\n");
  const query = useMemo(
    () => ({ states: state === undefined ? [] : [state], workflowId: filters.workflowId, labels: labelMap(filters.labels), pageToken: tokens[tokens.length - 1]!, pageSize: PAGE_SIZE }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [state, filters.workflowId, labelsKey, tokens],
  );
  const result = useRuns(query);
  const access = useWriteAccess(auth.version);
  const filtered = query.states.length > 0 || query.workflowId !== "" || filters.labels.length > 0;
  const counts = useStateCounts(filters.workflowId, query.labels, result.changes, auth.version);
  useEffect(() => {
    setTokens([""]);
    const q = new URLSearchParams();
    if (filters.state) q.set("state", filters.state);
    if (filters.workflowId) q.set("workflow", filters.workflowId);
    for (const l of filters.labels) q.append("label", l);
    const search = q.size > 0 ? `?${q}` : "";
    if (search !== window.location.search) window.history.replaceState(null, "", `${window.location.pathname}${search}`);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [filters.state, filters.workflowId, labelsKey]);

  const search = async (runId: string) => {
    setSearchProblem(undefined);
    try {
      const { workflow } = await weft.getWorkflow({ id: runId });
      if (workflow) navigate(runHref(workflow.id));
    } catch (err) {
      const p = toProblem(err);
      if (p.needsKey) auth.reportUnauthenticated(p.message);
      setSearchProblem(p.code === Code.NotFound ? { ...p, message: `no run ${runId.slice(0, 64)}` } : p);
    }
  };

  return (
    <section data-testid="runs-page">
      <div className="page-head">
        <h1>Runs</h1>
        <span className={`live live-${result.live}`} data-testid="runs-live" title="WatchWorkflows stream, or ListWorkflows polling">
          {result.live === "watch" ? "live" : result.live === "poll" ? "polling" : "connecting…"}
        </span>
      </div>
      <StateCounts counts={counts} onPick={(s) => setFilters({ ...filters, state: s })} />
      <RunFilters filters={filters} onChange={setFilters} onSearch={(id) => void search(id)} />
      {filtered && <BulkActions key={JSON.stringify([query.states, query.workflowId, query.labels])} filter={{ states: query.states, workflowId: query.workflowId, labels: query.labels }} access={access} />}
      {searchProblem && <ProblemBanner problem={searchProblem} />}
      {result.problem && <ProblemBanner problem={result.problem} />}
      <RunsTable runs={result.runs} now={now} onPickLabel={(l) => setFilters({ ...filters, labels: withLabel(filters.labels, l) })} />
      <div className="pager">
        <button data-testid="page-prev" disabled={tokens.length <= 1} onClick={() => setTokens(tokens.slice(0, -1))}>
          ← Newer
        </button>
        <span className="muted">page {tokens.length}</span>
        <button data-testid="page-next" disabled={!result.nextPageToken} onClick={() => setTokens([...tokens, result.nextPageToken])}>
          Older →
        </button>
      </div>
    </section>
  );
}
