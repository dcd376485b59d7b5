import type { ErrorView } from "../api/view-models.ts";

export function ErrorDetailView({ error, testId }: { error: ErrorView | undefined; testId?: string }) {
  if (!error) return <span className="muted">—</span>;
  return (
    <span className="error-detail" data-testid={testId}>
      {error.httpStatus ? <code>HTTP {error.httpStatus}</code> : null} {error.reason && <code>{error.reason}</code>} {error.message}
      {error.stepId && <> (step <code>{error.stepId}</code>)</>}
    </span>
  );
}
