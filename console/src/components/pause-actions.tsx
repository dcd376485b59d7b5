import { weft } from "../api/client.ts";
import { pauseActions } from "../api/pause-actions.ts";
import { toRunDetail, type RunDetail } from "../api/view-models.ts";
import type { WriteAccess } from "../hooks/use-write-access.ts";
import { type ActionRefusal, ConfirmAction } from "./confirm-action.tsx";

/** Pause (a pending or running run) and Resume (a paused one), each after a confirmation. */
export function PauseActions({ run, access, onChanged, report }: { run: RunDetail; access: WriteAccess; onChanged(run: RunDetail): void; report(refusal: ActionRefusal | undefined): void }) {
  const can = pauseActions(run.state);
  const id = run.id;
  return (
    <span className="run-actions">
      {can.pause && (
        <ConfirmAction
          id="pause-run"
          label="Pause"
          question="Pause this run? Nothing new starts until it is resumed; calls in flight finish. Its deadline keeps running."
          confirmLabel="Yes, pause"
          dismissLabel="Keep running"
          access={access}
          report={report}
          run={async () => {
            const { workflow } = await weft.pauseWorkflow({ id, reason: "paused from the console" });
            if (workflow) onChanged(toRunDetail(workflow));
          }}
        />
      )}
      {can.resume && (
        <ConfirmAction
          id="resume-run"
          label="Resume"
          question="Resume this run? Retries that came due start at once."
          confirmLabel="Yes, resume"
          dismissLabel="Keep it paused"
          access={access}
          report={report}
          run={async () => {
            const { workflow } = await weft.resumeWorkflow({ id });
            if (workflow) onChanged(toRunDetail(workflow));
          }}
        />
      )}
    </span>
  );
}
