import { JOIN_OUTCOME_LABELS, joinOutcome } from "../api/map-join.ts";
import type { EventView, StepView } from "../api/view-models.ts";
import { durationBetween, formatDuration, formatTime } from "../format.ts";
import { ErrorDetailView } from "./error-detail.tsx";
import { JsonView } from "./json-view.tsx";
import { QueuedBadge, StateBadge } from "./state-badge.tsx";
import { ItemCounts, StepItems } from "./step-items.tsx";
import { RerunButton, RunLink } from "./rerun-button.tsx";
import type { WriteAccess } from "../hooks/use-write-access.ts";

/**
 * A step: its definition, state, result, every attempt's error and the next retry time; on a
 * finished run (`rerun` given: the write access) "Rerun from this step".
 */
export function StepPanel({ runId, step, events, now, rerun }: { runId: string; step: StepView; events: EventView[]; now: number; rerun?: WriteAccess }) {
  const d = step.definition;
  const outcome = joinOutcome(step.state, step.error?.reason);
  const failedAttempts = events.filter((e) => e.kind === "step" && e.stepId === step.id && e.error);
  const compensationErrors = events.filter((e) => e.kind === "compensation" && e.stepId === step.id && e.error);
  return (
    <div className="panel" data-testid="step-panel" data-step={step.id}>
      <h2>
        Step <code>{step.id}</code> <StateBadge state={step.state} testId="step-state" />
        {step.waitingFor && <QueuedBadge waitingFor={step.waitingFor} testId="step-queued" />}
        {outcome && (
          <span className={`outcome-badge outcome-${outcome}`} data-testid="step-outcome" data-outcome={outcome}>
            {JOIN_OUTCOME_LABELS[outcome]}
          </span>
        )}
      </h2>
      {(rerun !== undefined || step.copiedFrom) && (
        <p className="step-rerun">
          {step.copiedFrom && <RunLink label="Copied (not called in this run) from" runId={step.copiedFrom} testId="step-copied-from" />}{" "}
          {rerun !== undefined && <RerunButton runId={runId} stepId={step.id} access={rerun} />}
        </p>
      )}
      <dl>
        <dt>Attempts</dt>
        <dd data-testid="step-attempts">{step.attempts}{d.retries ? ` of ${d.retries.maxAttempts}` : ""}</dd>
        <dt>Started</dt>
        <dd>{formatTime(step.startedAt)}</dd>
        <dt>Completed</dt>
        <dd>{formatTime(step.completedAt)}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(durationBetween(step.startedAt, step.completedAt, now))}</dd>
        {step.state === "retry_wait" && (
          <>
            <dt>Next attempt</dt>
            <dd data-testid="step-next-attempt">{formatTime(step.nextAttemptAt)} (in {formatDuration((step.nextAttemptAt ?? now) - now)})</dd>
          </>
        )}
        <dt>Last error</dt>
        <dd><ErrorDetailView error={step.error} testId="step-error" /></dd>
      </dl>
      <h3>Definition</h3>
      <dl>
        <dt>URL</dt>
        <dd><code>{d.url}</code></dd>
        <dt>Depends on</dt>
        <dd>{d.dependsOn.length ? d.dependsOn.map((x) => <code key={x}>{x} </code>) : "—"}</dd>
        {d.dependsOn.length > 0 && (
          <>
            <dt>Join</dt>
            <dd data-testid="step-join">{d.join ?? "all (default)"}</dd>
          </>
        )}
        {d.forEach && (
          <>
            <dt>For each</dt>
            <dd data-testid="step-for-each"><code>{d.forEach}</code></dd>
            <dt>Max concurrency</dt>
            <dd>{d.maxConcurrency || "10 (default)"}</dd>
            <dt>Item failures</dt>
            <dd data-testid="step-item-failures">{d.itemFailures ?? "all (default)"}</dd>
          </>
        )}
        <dt>Parallel</dt>
        <dd>{d.parallel ? "yes" : "no"}</dd>
        <dt>Timeout</dt>
        <dd>{d.timeoutMs === undefined ? "300 s (default)" : formatDuration(d.timeoutMs)}</dd>
        <dt>Retries</dt>
        <dd>
          {d.retries
            ? `${d.retries.maxAttempts} attempts, ${d.retries.backoff}, initial ${formatDuration(d.retries.initialIntervalMs ?? 1000)}, max ${formatDuration(d.retries.maxIntervalMs ?? 60_000)}, jitter ${d.retries.jitter}`
            : "single attempt"}
        </dd>
        {d.compensation && (
          <>
            <dt>Compensation</dt>
            <dd><code>{d.compensation}</code></dd>
          </>
        )}
      </dl>
      {d.forEach && (
        <>
          <h3>Items</h3>
          {step.items ? (
            <>
              <ItemCounts counts={step.items} />
              <StepItems runId={runId} stepId={step.id} counts={step.items} />
            </>
          ) : (
            <p className="muted">not started</p>
          )}
        </>
      )}
      <h3>Failed attempts</h3>
      {failedAttempts.length === 0 ? (
        <p className="muted">none</p>
      ) : (
        <ul data-testid="step-attempt-errors">
          {failedAttempts.map((e) => (
            <li key={e.sequence}>
              attempt {e.attempt} at {formatTime(e.time)} → {e.to.replace("_", " ")}: <ErrorDetailView error={e.error} />
            </li>
          ))}
        </ul>
      )}
      {step.compensation.state !== "none" && (
        <>
          <h3>Compensation</h3>
          <dl>
            <dt>State</dt>
            <dd><StateBadge state={step.compensation.state} testId="step-compensation-state" /></dd>
            <dt>Attempts</dt>
            <dd>{step.compensation.attempts}</dd>
            <dt>Error</dt>
            <dd><ErrorDetailView error={step.compensation.error} /></dd>
          </dl>
          {compensationErrors.map((e) => (
            <div key={e.sequence}>attempt {e.attempt}: <ErrorDetailView error={e.error} /></div>
          ))}
        </>
      )}
      <h3>Result</h3>
      <JsonView value={step.result} testId="step-result" />
    </div>
  );
}
