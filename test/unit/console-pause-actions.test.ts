// The console's Pause / Resume actions (console/src/api/pause-actions.ts): which one a run's state
// allows, and the note shown under a paused run's badge.
import { describe, expect, it } from "vitest";
import { pauseActions, pauseNote } from "../../console/src/api/pause-actions.ts";

describe("pauseActions", () => {
  it("offers Pause for pending and running runs, Resume for paused ones, nothing otherwise", () => {
    expect(pauseActions("running")).toEqual({ pause: true, resume: false });
    expect(pauseActions("pending")).toEqual({ pause: true, resume: false });
    expect(pauseActions("paused")).toEqual({ pause: false, resume: true });
    for (const s of ["compensating", "completed", "failed", "cancelled"]) expect(pauseActions(s)).toEqual({ pause: false, resume: false });
  });

  it("notes why a run is paused and whether its deadline is held", () => {
    expect(pauseNote({ state: "paused", pauseReason: "incident 7", deadlineHeld: true })).toBe("paused: incident 7 (deadline held)");
    expect(pauseNote({ state: "paused", pauseReason: "", deadlineHeld: false })).toBe("paused");
    expect(pauseNote({ state: "running", pauseReason: "", deadlineHeld: false })).toBe("");
  });
});
