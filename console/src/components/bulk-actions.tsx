import { useState } from "react";
import { BulkAction, type WorkflowState } from "@gen/weft/v1/workflow_pb.js";
import { useAuth } from "../api/auth-context.ts";
import { weft } from "../api/client.ts";
import { toProblem, type ApiProblem } from "../api/errors.ts";
import type { WriteAccess } from "../hooks/use-write-access.ts";
import { ProblemBanner } from "./problem-banner.tsx";

const ACTIONS: { name: string; action: BulkAction }[] = [
  { name: "cancel", action: BulkAction.CANCEL },
  { name: "redrive", action: BulkAction.REDRIVE },
  { name: "pause", action: BulkAction.PAUSE },
  { name: "resume", action: BulkAction.RESUME },
];

export interface BulkFilter {
  states: WorkflowState[];
  workflowId: string;
  labels: Record<string, string>;
}

/**
 * Cancel, redrive, pause or resume every run the list's filters match
 * (BulkWorkflowAction): a dry run counts them first, then a confirmation
 * applies it. Shown only while a filter is set (the server refuses an empty one).
 */
export function BulkActions({ filter, access }: { filter: BulkFilter; access: WriteAccess }) {
  const auth = useAuth();
  const [action, setAction] = useState(ACTIONS[0]!);
  const [counted, setCounted] = useState<{ matched: bigint; affected: bigint }>();
  const [done, setDone] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiProblem>();
  if (access === "no") return null;
  const call = async (dryRun: boolean) => {
    setBusy(true);
    setProblem(undefined);
    setDone(undefined);
    try {
      let matched = 0n;
      let affected = 0n;
      let pageToken = "";
      do {
        const res = await weft.bulkWorkflowAction({ ...filter, action: action.action, dryRun, reason: `${action.name} from the console`, pageToken });
        matched += res.matched;
        affected += res.affected;
        pageToken = res.more ? res.nextPageToken : "";
      } while (pageToken);
      if (dryRun) setCounted({ matched, affected });
      else {
        setCounted(undefined);
        setDone(`${action.name}: ${affected} of ${matched} runs`);
      }
    } catch (err) {
      const p = toProblem(err);
      if (p.needsKey) auth.reportUnauthenticated(p.message);
      setProblem(p);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="bulk-actions" data-testid="bulk-actions">
      <label>
        For every run listed:{" "}
        <select
          data-testid="bulk-action"
          value={action.name}
          onChange={(e) => {
            setAction(ACTIONS.find((a) => a.name === e.target.value) ?? ACTIONS[0]!);
            setCounted(undefined);
          }}
        >
          {ACTIONS.map((a) => (
            <option key={a.name} value={a.name}>{a.name}</option>
          ))}
        </select>
      </label>{" "}
      <button data-testid="bulk-count" disabled={busy} onClick={() => void call(true)}>Count</button>
      {counted && (
        <span className="confirm" data-testid="bulk-confirmation">
          {" "}
          {counted.affected.toString()} of {counted.matched.toString()} matching runs would be affected.{" "}
          {counted.affected > 0n && (
            <button className="danger" data-testid="bulk-confirm" disabled={busy} onClick={() => void call(false)}>
              Yes, {action.name} them
            </button>
          )}{" "}
          <button data-testid="bulk-dismiss" disabled={busy} onClick={() => setCounted(undefined)}>No</button>
        </span>
      )}
      {done && <span className="muted" data-testid="bulk-done"> {done}</span>}
      {problem && <ProblemBanner problem={problem} action="Bulk action" />}
    </div>
  );
}
