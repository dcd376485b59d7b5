import type { RunSummary } from "../api/view-models.ts";
import { formatDuration, formatTime } from "../format.ts";
import { navigate, runHref } from "../hooks/use-route.ts";
import { LabelChips } from "./label-chips.tsx";
import { QueuedBadge, StateBadge } from "./state-badge.tsx";

export function RunsTable({ runs, now, onPickLabel }: { runs: RunSummary[]; now: number; onPickLabel?(label: string): void }) {
  if (runs.length === 0) return <p className="muted" data-testid="runs-empty">No runs.</p>;
  return (
    <table className="runs" data-testid="runs-table">
      <thead>
        <tr>
          <th>Run</th>
          <th>Workflow</th>
          <th>State</th>
          <th>Labels</th>
          <th>Created</th>
          <th>Duration</th>
          <th>Current steps / error</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => (
          <tr key={r.id} data-testid="run-row" data-run-id={r.id} data-state={r.state}>
            <td>
              <a
                href={runHref(r.id)}
                onClick={(e) => {
                  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
                  e.preventDefault();
                  navigate(runHref(r.id));
                }}
              >
                <code>{r.id}</code>
              </a>
            </td>
            <td>{r.workflowId}</td>
            <td>
              <StateBadge state={r.state} testId="run-row-state" />
              {r.waitingFor && <QueuedBadge waitingFor={r.waitingFor} testId="run-row-queued" />}
            </td>
            <td><LabelChips labels={r.labels} testId="run-row-labels" onPick={onPickLabel} /></td>
            <td>{formatTime(r.createdAt)}</td>
            <td>{formatDuration(r.startedAt === undefined ? undefined : (r.completedAt ?? now) - r.startedAt)}</td>
            <td className="clip">{r.errorMessage || r.currentSteps.join(", ")}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
