import type { ApiProblem } from "../api/errors.ts";

/** An API error: its code and message; PERMISSION_DENIED and UNAUTHENTICATED say what to do. */
export function ProblemBanner({ problem, action }: { problem: ApiProblem; action?: string }) {
  const hint = problem.denied
    ? "This API key's scope does not allow it" + (action ? ` (${action} needs a write key)` : "") + "."
    : problem.needsKey
      ? "An API key is needed: enter one above."
      : undefined;
  return (
    <div className="problem" role="alert" data-testid="problem" data-code={problem.codeName} data-reason={problem.reason || undefined}>
      <strong>{problem.codeName}</strong>{problem.reason && <> <code data-testid="problem-reason">{problem.reason}</code></>} {problem.message}
      {hint && <div className="hint">{hint}</div>}
    </div>
  );
}
