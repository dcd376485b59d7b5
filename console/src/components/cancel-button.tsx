import { useState } from "react";
import { weft } from "../api/client.ts";
import { toProblem, type ApiProblem } from "../api/errors.ts";
import { useAuth } from "../api/auth-context.ts";
import { toRunDetail, type RunDetail } from "../api/view-models.ts";
import type { WriteAccess } from "../hooks/use-write-access.ts";
import { ProblemBanner } from "./problem-banner.tsx";

/** Cancels the run after a confirmation; with a read key it says that a write key is needed. */
export function CancelButton({ runId, access, onCancelled }: { runId: string; access: WriteAccess; onCancelled(run: RunDetail): void }) {
  const auth = useAuth();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiProblem>();
  if (access === "no") {
    return (
      <button disabled data-testid="cancel-run" data-needs-write="true" title="Cancelling needs a write key">
        Cancel (needs a write key)
      </button>
    );
  }
  const cancel = async () => {
    setBusy(true);
    setProblem(undefined);
    try {
      const { workflow } = await weft.cancelWorkflow({ id: runId, reason: "cancelled from the console" });
      if (workflow) onCancelled(toRunDetail(workflow));
      setConfirming(false);
    } catch (err) {
      const p = toProblem(err);
      if (p.needsKey) auth.reportUnauthenticated(p.message);
      setProblem(p);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span className="cancel">
      {!confirming ? (
        <button className="danger" data-testid="cancel-run" onClick={() => setConfirming(true)}>Cancel run</button>
      ) : (
        <span className="confirm" data-testid="cancel-confirmation">
          Cancel this run? In-flight calls are aborted.{" "}
          <button className="danger" data-testid="cancel-confirm" disabled={busy} onClick={() => void cancel()}>Yes, cancel</button>{" "}
          <button data-testid="cancel-dismiss" disabled={busy} onClick={() => setConfirming(false)}>Keep running</button>
        </span>
      )}
      {problem && <ProblemBanner problem={problem} action="Cancel" />}
    </span>
  );
}
