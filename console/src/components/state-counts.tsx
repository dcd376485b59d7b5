import { STATE_COLOURS } from "../api/states.ts";
import type { StateCount } from "../hooks/use-state-counts.ts";

/** Runs per state; a click filters the list by that state. */
export function StateCounts({ counts, onPick }: { counts: StateCount[] | undefined; onPick(state: string): void }) {
  if (!counts) return <div className="counts muted">counting…</div>;
  return (
    <div className="counts" data-testid="state-counts">
      {counts.map((c) => (
        <button key={c.name} className="count" data-testid={`count-${c.name}`} onClick={() => onPick(c.name)} title={`show ${c.name} runs`}>
          <span className="dot" style={{ background: STATE_COLOURS[c.name] }} />
          {c.name} <strong data-testid={`count-${c.name}-value`}>{c.count}{c.more ? "+" : ""}</strong>
        </button>
      ))}
    </div>
  );
}
