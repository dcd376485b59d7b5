import { useEffect, useState } from "react";
import { useAuth } from "../api/auth-context.ts";
import { isTerminalRun, runStateOf } from "../api/states.ts";
import { prewarmLayout } from "../graph/layout.ts";
import { navigate, RUNS_HREF } from "../hooks/use-route.ts";
import { useNow } from "../hooks/use-now.ts";
import { useRun } from "../hooks/use-run.ts";
import { useWriteAccess } from "../hooks/use-write-access.ts";
import { CancelButton } from "./cancel-button.tsx";
import { EventLog } from "./event-log.tsx";
import { ProblemBanner } from "./problem-banner.tsx";
import { RunGraph } from "./run-graph.tsx";
import { RunOverview } from "./run-overview.tsx";
import { LabelChips } from "./label-chips.tsx";
import { RunActions } from "./run-actions.tsx";
import { RunLink } from "./rerun-button.tsx";
import { canRerun } from "../api/run-actions.ts";
import { PauseActions } from "./pause-actions.tsx";
import type { ActionRefusal } from "./confirm-action.tsx";
import { pauseNote } from "../api/pause-actions.ts";
import { QueuedBadge, StateBadge } from "./state-badge.tsx";
import { StepPanel } from "./step-panel.tsx";
import { TimelineChart } from "./timeline-chart.tsx";

/** One run: its DAG, timeline, selected step, fields and event log, live; Cancel, Redrive, Redeliver webhook, Delete. */
export function RunPage({ id }: { id: string }) {
  const auth = useAuth();
  const { run, events, problem, live, setRun, resume } = useRun(id);
  const access = useWriteAccess(auth.version);
  const [selected, setSelected] = useState<string>();
  // A refused action stays shown (until dismissed or the next action) although its button may go
  // away as the page catches up with the run (a redrive refused because the run was redriven elsewhere).
  const [refusal, setRefusal] = useState<ActionRefusal>();
  const terminal = run ? isTerminalRun(runStateOf(run.state) ?? 0) : false;
  const now = useNow(500, !terminal);
  useEffect(() => {
    setSelected(undefined);
    setRefusal(undefined);
  }, [id]);
  useEffect(prewarmLayout, []);
  const step = run?.steps.find((s) => s.id === selected);

  return (
    <section data-testid="run-page" data-run-id={id}>
      <div className="page-head">
        <a
          href={RUNS_HREF}
          onClick={(e) => {
            e.preventDefault();
            navigate(RUNS_HREF);
          }}
        >
          ← Runs
        </a>
        <h1>
          <code>{id}</code>
        </h1>
        {run && <StateBadge state={run.state} testId="run-state" />}
        {run?.waitingFor && <QueuedBadge waitingFor={run.waitingFor} testId="run-queued" />}
        <span className={`live live-${live ? "watch" : "poll"}`}>{live ? "live" : terminal ? "finished" : "reconnecting…"}</span>
        {run && run.state === "paused" && <span className="muted" data-testid="run-pause-note">{pauseNote(run)}</span>}
        {run && !terminal && <PauseActions run={run} access={access} onChanged={setRun} report={setRefusal} />}
        {run && !terminal && <CancelButton runId={id} access={access} onCancelled={setRun} />}
        {run && terminal && <RunActions run={run} access={access} onChanged={setRun} onReopened={resume} report={setRefusal} />}
      </div>
      {refusal && (
        <div className="run-action-problem" data-testid="run-action-problem" data-action={refusal.action}>
          <ProblemBanner problem={refusal.problem} action={refusal.action} />
          <button data-testid="run-action-problem-dismiss" onClick={() => setRefusal(undefined)}>
            Dismiss
          </button>
        </div>
      )}
      {run?.rerunOf && (
        <div className="run-rerun-of">
          <RunLink label="rerun of" runId={run.rerunOf} testId="run-rerun-of" />
        </div>
      )}
      {run && run.labels.length > 0 && (
        <div className="run-labels">
          <LabelChips labels={run.labels} testId="run-labels" />
        </div>
      )}
      {problem && <ProblemBanner problem={problem} />}
      {!run ? (
        !problem && <p className="muted">loading…</p>
      ) : (
        <>
          <RunGraph key={id} steps={run.steps} selected={selected} onSelect={setSelected} />
          <div className="columns">
            <div className="column-main">
              <h2>Timeline</h2>
              <TimelineChart run={run} events={events} now={now} selected={selected} onSelect={setSelected} />
              {step ? <StepPanel runId={id} step={step} events={events} now={now} rerun={terminal && canRerun(run) ? access : undefined} /> : <p className="muted pad">Select a step in the graph or the timeline.</p>}
            </div>
            <div className="column-side">
              <RunOverview run={run} now={now} />
            </div>
          </div>
          <EventLog events={events} />
        </>
      )}
    </section>
  );
}
