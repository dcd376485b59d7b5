import { useState } from "react";
import type { EventView } from "../api/view-models.ts";
import { formatTime } from "../format.ts";
import { ErrorDetailView } from "./error-detail.tsx";

const SHOWN = 500;

/** The raw event log (newest last); long logs show their latest entries. */
export function EventLog({ events }: { events: EventView[] }) {
  const [open, setOpen] = useState(false);
  const shown = events.length > SHOWN ? events.slice(-SHOWN) : events;
  return (
    <details className="panel" data-testid="event-log" onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>Event log ({events.length} events)</summary>
      {open && (
        <>
          {events.length > SHOWN && <p className="muted">the latest {SHOWN} of {events.length}</p>}
          <table className="events">
            <thead>
              <tr><th>#</th><th>Time</th><th>Step</th><th>Transition</th><th>Attempt</th><th>Error</th></tr>
            </thead>
            <tbody>
              {shown.map((e) => (
                <tr key={e.sequence} data-testid="event-row">
                  <td>{e.sequence}</td>
                  <td>{formatTime(e.time)}</td>
                  <td><code>{e.stepId || "(run)"}</code></td>
                  <td>{e.kind}: {e.from} → {e.to}</td>
                  <td>{e.attempt || ""}</td>
                  <td><ErrorDetailView error={e.error} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </details>
  );
}
