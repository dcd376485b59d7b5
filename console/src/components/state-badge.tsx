import { STATE_COLOURS } from "../api/states.ts";

export function StateBadge({ state, testId }: { state: string; testId?: string }) {
  return (
    <span className="badge" data-testid={testId} data-state={state} style={{ background: STATE_COLOURS[state] ?? STATE_COLOURS.unknown }}>
      {state.replace("_", " ")}
    </span>
  );
}
