// RedeliverWebhook: which runs' on_complete / on_error notification may be
// delivered again (README "Recovering runs"). Pure: no I/O. The reset itself
// is RunMachine.redeliverWebhook.
import { isTerminal, type RunRecord } from "./run-record.ts";

export interface RedeliveryRefusal {
  reason: "RUN_NOT_FINISHED" | "NO_WEBHOOK" | "WEBHOOK_IN_PROGRESS";
  message: string;
}

/** Why the webhook of `run` cannot be delivered again, or undefined when it can (failed or delivered). */
export function redeliveryRefusal(run: Pick<RunRecord, "runId" | "state" | "webhook">): RedeliveryRefusal | undefined {
  if (!isTerminal(run.state)) {
    return { reason: "RUN_NOT_FINISHED", message: `workflow run "${run.runId}" has not finished (${run.state}): its webhook is sent when it does` };
  }
  const w = run.webhook;
  if (w === undefined) {
    return { reason: "NO_WEBHOOK", message: `workflow run "${run.runId}" has no webhook (no on_complete / on_error for its outcome)` };
  }
  if (w.state !== "failed" && w.state !== "delivered") {
    return { reason: "WEBHOOK_IN_PROGRESS", message: `the webhook of workflow run "${run.runId}" is still being delivered (${w.state})` };
  }
  return undefined;
}
