// Which of Pause and Resume a run's state allows on the run page (the server has the last word). Pure.

/** Pause for a pending or running run, Resume for a paused one. */
export function pauseActions(state: string): { pause: boolean; resume: boolean } {
  return { pause: state === "pending" || state === "running", resume: state === "paused" };
}

/** The line the run page shows under a paused run's badge: why, and whether its deadline is held. */
export function pauseNote(run: { state: string; pauseReason: string; deadlineHeld: boolean }): string {
  if (run.state !== "paused") return "";
  const why = run.pauseReason ? `paused: ${run.pauseReason}` : "paused";
  return run.deadlineHeld ? `${why} (deadline held)` : why;
}
