import { useState } from "react";
import { useAuth } from "../api/auth-context.ts";
import { toProblem, type ApiProblem } from "../api/errors.ts";
import type { WriteAccess } from "../hooks/use-write-access.ts";
import { ProblemBanner } from "./problem-banner.tsx";

export interface ConfirmActionProps {
  /** Test ids: `<id>` (the button), `<id>-confirmation`, `<id>-confirm`, `<id>-dismiss`. */
  id: string;
  label: string;
  question: string;
  confirmLabel: string;
  dismissLabel: string;
  access: WriteAccess;
  danger?: boolean;
  /** The call; a refusal is shown under the button (code, ErrorInfo reason and message), or given to `report`. */
  run(): Promise<void>;
  /**
   * Where a refusal goes instead, when the button may disappear with it (e.g. Redrive, once the page
   * catches up with a run redriven elsewhere): called with undefined when the call starts.
   */
  report?(refusal: ActionRefusal | undefined): void;
}

/** A refused action: the API error and the action's label. */
export interface ActionRefusal {
  problem: ApiProblem;
  action: string;
}

/** A write action on a run behind a confirmation; with a read key it says that a write key is needed. */
export function ConfirmAction({ id, label, question, confirmLabel, dismissLabel, access, danger, run, report }: ConfirmActionProps) {
  const auth = useAuth();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiProblem>();
  if (access === "no") {
    return (
      <button disabled data-testid={id} data-needs-write="true" title={`${label} needs a write key`}>
        {label} (needs a write key)
      </button>
    );
  }
  const go = async () => {
    setBusy(true);
    setProblem(undefined);
    report?.(undefined);
    try {
      await run();
      setConfirming(false);
    } catch (err) {
      const p = toProblem(err);
      if (p.needsKey) auth.reportUnauthenticated(p.message);
      if (report) report({ problem: p, action: label });
      else setProblem(p);
      setConfirming(false);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span className="cancel" data-testid={`${id}-action`}>
      {!confirming ? (
        <button className={danger ? "danger" : undefined} data-testid={id} onClick={() => setConfirming(true)}>{label}</button>
      ) : (
        <span className="confirm" data-testid={`${id}-confirmation`}>
          {question}{" "}
          <button className={danger ? "danger" : undefined} data-testid={`${id}-confirm`} disabled={busy} onClick={() => void go()}>{confirmLabel}</button>{" "}
          <button data-testid={`${id}-dismiss`} disabled={busy} onClick={() => setConfirming(false)}>{dismissLabel}</button>
        </span>
      )}
      {problem && <ProblemBanner problem={problem} action={label} />}
    </span>
  );
}
