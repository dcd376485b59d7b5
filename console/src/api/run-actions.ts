// Which actions a finished run's state allows on the run page (the server has the last word). Pure.

/** What the actions depend on (a RunDetail has it). */
export interface ActionRun {
  state: string;
  saga: boolean;
  steps: { compensation: { state: string } }[];
  webhook?: { state: string };
}

const FINISHED = new Set(["completed", "failed", "cancelled"]);
const DELIVERING = new Set(["pending", "delivering", "retry_wait"]);

/** A saga run whose compensations have run: the server refuses to redrive it (COMPENSATED). */
export function compensated(run: Pick<ActionRun, "saga" | "steps">): boolean {
  return run.saga && run.steps.some((s) => s.compensation.state !== "none");
}

/** Whether a run may be rerun from one of its steps (RerunWorkflow): once it has finished, whatever its outcome. */
export function canRerun(run: Pick<ActionRun, "state">): boolean {
  return FINISHED.has(run.state);
}

/** Which of a finished run's actions its state allows. */
export function runActions(run: ActionRun): { redrive: boolean; redeliver: boolean; remove: boolean } {
  const finished = FINISHED.has(run.state);
  const webhook = run.webhook?.state;
  return {
    redrive: (run.state === "failed" || run.state === "cancelled") && !compensated(run),
    redeliver: finished && (webhook === "failed" || webhook === "delivered"),
    // The server deletes a run only once its webhook delivery is done.
    remove: finished && !(webhook !== undefined && DELIVERING.has(webhook)),
  };
}
