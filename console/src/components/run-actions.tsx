import { weft } from "../api/client.ts";
import { runActions } from "../api/run-actions.ts";
import { toRunDetail, type RunDetail } from "../api/view-models.ts";
import { navigate, RUNS_HREF } from "../hooks/use-route.ts";
import type { WriteAccess } from "../hooks/use-write-access.ts";
import { type ActionRefusal, ConfirmAction } from "./confirm-action.tsx";

/**
 * Redrive, Redeliver webhook and Delete, each after a confirmation and only when the run's state
 * allows it. After a redrive or a redelivery the page follows the run again (onReopened).
 */
export function RunActions({ run, access, onChanged, onReopened, report }: { run: RunDetail; access: WriteAccess; onChanged(run: RunDetail): void; onReopened(): void; report(refusal: ActionRefusal | undefined): void }) {
  const can = runActions(run);
  const id = run.id;
  return (
    <span className="run-actions">
      {can.redrive && (
        <ConfirmAction
          id="redrive-run"
          label="Redrive"
          question="Redrive this run? Completed steps keep their results; the others run again."
          confirmLabel="Yes, redrive"
          dismissLabel="Keep it as it is"
          access={access}
          report={report}
          run={async () => {
            try {
              const { workflow } = await weft.redriveWorkflow({ id });
              if (workflow) onChanged(toRunDetail(workflow));
            } finally {
              // Also after a refusal (e.g. RUN_NOT_FINISHED: redriven elsewhere), the page catches up.
              onReopened();
            }
          }}
        />
      )}
      {can.redeliver && (
        <ConfirmAction
          id="redeliver-webhook"
          label="Redeliver webhook"
          question={`Send the ${run.webhook?.eventType || "webhook"} to ${run.webhook?.url.slice(0, 80) ?? "its URL"} again?`}
          confirmLabel="Yes, redeliver"
          dismissLabel="No"
          access={access}
          report={report}
          run={async () => {
            const { workflow } = await weft.redeliverWebhook({ id });
            if (workflow) onChanged(toRunDetail(workflow));
            onReopened();
          }}
        />
      )}
      {can.remove && (
        <ConfirmAction
          id="delete-run"
          label="Delete"
          question="Delete this run with its events and items? This cannot be undone."
          confirmLabel="Yes, delete"
          dismissLabel="Keep it"
          access={access}
          report={report}
          danger
          run={async () => {
            await weft.deleteWorkflow({ id });
            navigate(RUNS_HREF);
          }}
        />
      )}
    </span>
  );
}
