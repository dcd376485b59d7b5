import { useEffect, useState } from "react";
import { weft } from "../api/client.ts";
import { isAbort, toProblem, type ApiProblem } from "../api/errors.ts";
import { itemView, type ItemView } from "../api/item-view.ts";
import type { ItemCountsView } from "../api/map-join.ts";
import { STATE_COLOURS } from "../api/states.ts";
import { durationBetween, formatDuration, formatTime } from "../format.ts";
import { ErrorDetailView } from "./error-detail.tsx";
import { ProblemBanner } from "./problem-banner.tsx";
import { StateBadge } from "./state-badge.tsx";

/** Items per page (ListStepItems pages; a 10,000-item step is read a page at a time). */
export const ITEMS_PAGE = 50;
/** Longer results are cut in the table (the whole result is in the cell's tooltip). */
const RESULT_CHARS = 120;

/** A map step's item counts by state, as a bar and numbers. */
export function ItemCounts({ counts }: { counts: ItemCountsView }) {
  const parts: [string, number][] = [
    ["completed", counts.completed],
    ["failed", counts.failed],
    ["cancelled", counts.cancelled],
    ["running", counts.running],
    ["retry_wait", counts.retryWait],
    ["pending", counts.pending],
  ];
  return (
    <div className="item-counts" data-testid="item-counts" data-total={counts.total}>
      <div className="item-counts-bar" aria-hidden>
        {parts.map(([state, n]) => (
          <i key={state} style={{ width: `${counts.total ? (n / counts.total) * 100 : 0}%`, background: STATE_COLOURS[state] }} />
        ))}
      </div>
      <span>{counts.total} items:</span>
      {parts.map(([state, n]) => (
        <span key={state} data-testid={`items-${state}`} data-count={n}>
          <i className="dot" style={{ background: STATE_COLOURS[state] }} /> {n} {state.replace("_", " ")}
        </span>
      ))}
    </div>
  );
}

/** The items of a map step, a page at a time (ListStepItems), re-read as its counts change. */
export function StepItems({ runId, stepId, counts }: { runId: string; stepId: string; counts: ItemCountsView }) {
  // Page tokens: tokens[i] reads page i ("" for the first).
  const [tokens, setTokens] = useState<string[]>([""]);
  const [page, setPage] = useState(0);
  const [items, setItems] = useState<ItemView[]>();
  const [next, setNext] = useState("");
  const [problem, setProblem] = useState<ApiProblem>();
  useEffect(() => {
    setTokens([""]);
    setPage(0);
  }, [runId, stepId]);
  // The page is read again whenever the counts change (items moved), so the table stays live.
  const version = [counts.total, counts.completed, counts.failed, counts.cancelled, counts.running, counts.retryWait].join("/");
  const token = tokens[page] ?? "";
  useEffect(() => {
    const abort = new AbortController();
    weft
      .listStepItems({ id: runId, stepId, pageSize: ITEMS_PAGE, pageToken: token }, { signal: abort.signal })
      .then((res) => {
        setItems(res.items.map(itemView));
        setNext(res.nextPageToken);
        setProblem(undefined);
      })
      .catch((err) => {
        if (!abort.signal.aborted && !isAbort(err)) setProblem(toProblem(err));
      });
    return () => abort.abort();
  }, [runId, stepId, token, version]);

  const first = page * ITEMS_PAGE;
  const pages = Math.max(1, Math.ceil(counts.total / ITEMS_PAGE));
  return (
    <div className="step-items" data-testid="step-items" data-page={page + 1}>
      {problem && <ProblemBanner problem={problem} />}
      <div className="pager">
        <button type="button" data-testid="items-prev" disabled={page === 0} onClick={() => setPage(page - 1)}>
          ← Previous
        </button>
        <span data-testid="items-range">
          items {items?.length ? `${first}–${first + items.length - 1}` : "—"} of {counts.total} (page {page + 1} of {pages})
        </span>
        <button
          type="button"
          data-testid="items-next"
          disabled={!next}
          onClick={() => {
            setTokens([...tokens.slice(0, page + 1), next]);
            setPage(page + 1);
          }}
        >
          Next →
        </button>
      </div>
      {items === undefined ? (
        <p className="muted">loading…</p>
      ) : items.length === 0 ? (
        <p className="muted">no items yet (the step has not started)</p>
      ) : (
        <table className="events items">
          <thead>
            <tr><th>#</th><th>State</th><th>Attempts</th><th>Duration</th><th>Error</th><th>Result</th></tr>
          </thead>
          <tbody>
            {items.map((i) => {
              const result = i.result === undefined ? undefined : JSON.stringify(i.result);
              return (
                <tr key={i.index} data-testid="item-row" data-index={i.index} data-state={i.state}>
                  <td>{i.index}</td>
                  <td><StateBadge state={i.state} /></td>
                  <td>{i.attempts}</td>
                  <td title={`started ${formatTime(i.startedAt)}, completed ${formatTime(i.completedAt)}`}>
                    {i.completedAt === undefined ? (i.state === "retry_wait" ? `retry at ${formatTime(i.nextAttemptAt)}` : "—") : formatDuration(durationBetween(i.startedAt, i.completedAt, i.completedAt))}
                  </td>
                  <td><ErrorDetailView error={i.error} /></td>
                  <td className="clip" title={result?.slice(0, 2000)}>
                    {result === undefined ? <span className="muted">—</span> : <code>{result.length > RESULT_CHARS ? `${result.slice(0, RESULT_CHARS)}…` : result}</code>}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}
