import { STATE_COLOURS } from "../api/states.ts";

export function StateBadge({ state, testId }: { state: string; testId?: string }) {
  return (
    <span className="badge" data-testid={testId} data-state={state} style={{ background: STATE_COLOURS[state] ?? STATE_COLOURS.unknown }}>
      {state.replace("_", " ")}
    </span>
  );
}

/** A run or step that is PENDING but ready, queued for a slot of its concurrency key. */
export function QueuedBadge({ waitingFor, testId }: { waitingFor: string; testId?: string }) {
  return (
    <span className="queued-badge" data-testid={testId} data-waiting-for={waitingFor} title={`waiting for a slot of its ${waitingFor.replace("_", " ")}`}>
      queued ({waitingFor.replace("_", " ")})
    </span>
  );
}
