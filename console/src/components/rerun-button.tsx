import { weft } from "../api/client.ts";
import { navigate, runHref } from "../hooks/use-route.ts";
import type { WriteAccess } from "../hooks/use-write-access.ts";
import { ConfirmAction } from "./confirm-action.tsx";

/**
 * "Rerun from this step" in a finished run's step panel: after a confirmation, RerunWorkflow
 * starts a new run that runs this step and every step downstream of it again (the other
 * completed steps are copied), and the page goes to the new run.
 */
export function RerunButton({ runId, stepId, access }: { runId: string; stepId: string; access: WriteAccess }) {
  return (
    <ConfirmAction
      id="rerun-step"
      label="Rerun from this step"
      question={`Start a new run that runs ${stepId.slice(0, 80)} and every step after it again? The other completed steps are copied from this run, which stays as it is.`}
      confirmLabel="Yes, start the rerun"
      dismissLabel="No"
      access={access}
      run={async () => {
        const { workflow } = await weft.rerunWorkflow({ id: runId, fromSteps: [stepId] });
        if (workflow) navigate(runHref(workflow.id));
      }}
    />
  );
}

/** "rerun of <run>" / "copied from <run>": a link to the run. */
export function RunLink({ label, runId, testId }: { label: string; runId: string; testId: string }) {
  const href = runHref(runId);
  return (
    <span className="run-link" data-testid={testId} data-run-id={runId}>
      {label}{" "}
      <a
        href={href}
        onClick={(e) => {
          e.preventDefault();
          navigate(href);
        }}
      >
        <code>{runId}</code>
      </a>
    </span>
  );
}
