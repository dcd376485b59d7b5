import { useMemo, useState } from "react";
import { STATE_COLOURS } from "../api/states.ts";
import { buildTimeline, type TimelineBar } from "../api/timeline.ts";
import type { EventView, RunDetail } from "../api/view-models.ts";
import { formatDuration, formatTime } from "../format.ts";

const ROW_HEIGHT = 22;
const VIEW_ROWS = 18;

function barColour(b: TimelineBar): string {
  if (b.kind === "retry_wait" || b.kind === "compensation_wait") return STATE_COLOURS.retry_wait!;
  if (b.kind === "compensation") return b.outcome === "running" ? STATE_COLOURS.compensating! : (STATE_COLOURS[b.outcome] ?? STATE_COLOURS.compensating!);
  if (b.kind === "webhook") return STATE_COLOURS[b.outcome] ?? STATE_COLOURS.pending!;
  // An attempt that ended in a retry wait failed.
  return b.outcome === "retry_wait" ? STATE_COLOURS.failed! : (STATE_COLOURS[b.outcome] ?? STATE_COLOURS.running!);
}

/** Every attempt, retry wait, compensation and the webhook delivery over time (rows drawn as they scroll into view). */
export function TimelineChart({ run, events, now, selected, onSelect }: { run: RunDetail; events: EventView[]; now: number; selected?: string; onSelect(id: string): void }) {
  const timeline = useMemo(() => buildTimeline(run, events, now), [run, events, now]);
  const [scrollTop, setScrollTop] = useState(0);
  const byRow = useMemo(() => {
    const m = new Map<string, TimelineBar[]>();
    for (const b of timeline.bars) m.set(b.row, [...(m.get(b.row) ?? []), b]);
    return m;
  }, [timeline]);
  const span = timeline.end - timeline.start;
  const pct = (t: number) => `${(((t - timeline.start) / span) * 100).toFixed(3)}%`;
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - 5);
  const last = Math.min(timeline.rows.length, first + VIEW_ROWS + 10);
  return (
    <div className="timeline" data-testid="timeline">
      <div className="timeline-axis">
        <span>{formatTime(timeline.start)}</span>
        <span>{formatDuration(span)}</span>
      </div>
      <div className="timeline-scroll" style={{ maxHeight: VIEW_ROWS * ROW_HEIGHT }} onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}>
        <div style={{ height: timeline.rows.length * ROW_HEIGHT, position: "relative" }}>
          {timeline.rows.slice(first, last).map((row, i) => (
            <div
              key={row}
              className={`timeline-row${row === selected ? " selected" : ""}`}
              data-testid="timeline-row"
              data-row={row}
              style={{ top: (first + i) * ROW_HEIGHT, height: ROW_HEIGHT }}
              onClick={() => onSelect(row)}
            >
              <span className="timeline-label" title={row}>{row}</span>
              <span className="timeline-track">
                {(byRow.get(row) ?? []).map((b, j) => {
                  const end = b.end ?? now;
                  return (
                    <span
                      key={j}
                      className={`bar bar-${b.kind}`}
                      data-testid="timeline-bar"
                      data-kind={b.kind}
                      data-attempt={b.attempt}
                      data-outcome={b.outcome}
                      title={`${b.kind.replace("_", " ")} ${b.attempt ? `#${b.attempt} ` : ""}${b.outcome}: ${formatDuration(end - b.start)}${b.message ? ` (${b.message})` : ""}`}
                      style={{ left: pct(b.start), width: `max(2px, ${(((end - b.start) / span) * 100).toFixed(3)}%)`, background: barColour(b) }}
                    />
                  );
                })}
              </span>
            </div>
          ))}
        </div>
      </div>
      <div className="legend">
        <span><i style={{ background: STATE_COLOURS.completed }} />attempt ok</span>
        <span><i style={{ background: STATE_COLOURS.failed }} />attempt failed</span>
        <span><i style={{ background: STATE_COLOURS.running }} />running</span>
        <span><i style={{ background: STATE_COLOURS.retry_wait }} />retry wait</span>
        <span><i style={{ background: STATE_COLOURS.compensating }} />compensation</span>
        <span><i style={{ background: STATE_COLOURS.delivered }} />webhook</span>
      </div>
    </div>
  );
}
