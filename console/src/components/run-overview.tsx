import type { RunDetail } from "../api/view-models.ts";
import { durationBetween, formatDuration, formatTime } from "../format.ts";
import { ErrorDetailView } from "./error-detail.tsx";
import { JsonView } from "./json-view.tsx";
import { StateBadge } from "./state-badge.tsx";

/** The run's fields: times, error, context, saga compensations and the webhook delivery. */
export function RunOverview({ run, now }: { run: RunDetail; now: number }) {
  const w = run.webhook;
  const compensated = run.steps.filter((s) => s.compensation.state !== "none");
  return (
    <div className="panel" data-testid="run-overview">
      <dl>
        <dt>Workflow</dt>
        <dd>{run.workflowId}</dd>
        <dt>Created</dt>
        <dd>{formatTime(run.createdAt)}</dd>
        <dt>Started</dt>
        <dd>{formatTime(run.startedAt)}</dd>
        <dt>Completed</dt>
        <dd>{formatTime(run.completedAt)}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(durationBetween(run.startedAt, run.completedAt, now))}</dd>
        <dt>Deadline</dt>
        <dd>{formatTime(run.deadline)}</dd>
        {run.requestId && (
          <>
            <dt>Request id</dt>
            <dd><code>{run.requestId}</code></dd>
          </>
        )}
        {run.baseUrl && (
          <>
            <dt>Base URL</dt>
            <dd><code>{run.baseUrl}</code></dd>
          </>
        )}
        <dt>Saga</dt>
        <dd>{run.saga ? (run.compensationFailed ? "yes, a compensation failed" : "yes") : "no"}</dd>
        <dt>Error</dt>
        <dd><ErrorDetailView error={run.error} testId="run-error" /></dd>
      </dl>
      {compensated.length > 0 && (
        <>
          <h3>Compensations</h3>
          <ul data-testid="run-compensations">
            {compensated.map((s) => (
              <li key={s.id}>
                <code>{s.id}</code> <StateBadge state={s.compensation.state} /> ×{s.compensation.attempts} <ErrorDetailView error={s.compensation.error} />
              </li>
            ))}
          </ul>
        </>
      )}
      <h3>Webhook</h3>
      {w ? (
        <dl data-testid="run-webhook">
          <dt>URL</dt>
          <dd><code>{w.url}</code> ({w.eventType})</dd>
          <dt>State</dt>
          <dd><StateBadge state={w.state} testId="webhook-state" /> after {w.attempts} attempt{w.attempts === 1 ? "" : "s"}</dd>
          {w.deliveredAt !== undefined && (
            <>
              <dt>Delivered</dt>
              <dd>{formatTime(w.deliveredAt)}</dd>
            </>
          )}
          {w.nextAttemptAt !== undefined && w.state === "retry_wait" && (
            <>
              <dt>Next attempt</dt>
              <dd>{formatTime(w.nextAttemptAt)}</dd>
            </>
          )}
          <dt>Last error</dt>
          <dd><ErrorDetailView error={w.lastError} /></dd>
          <dt>Gives up</dt>
          <dd>{formatTime(w.giveUpAt)}</dd>
        </dl>
      ) : (
        <p className="muted">{run.onComplete || run.onError ? "not sent yet" : "none configured"}</p>
      )}
      <h3>Context</h3>
      <JsonView value={run.context} testId="run-context" />
    </div>
  );
}
