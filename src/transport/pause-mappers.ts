// The Workflow fields of a paused run (paused_at, pause_reason, deadline_held).
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Workflow } from "../../gen/ts/weft/v1/workflow_pb.js";
import type { RunHeader } from "../domain/run-record.ts";

export function pauseFields(run: Pick<RunHeader, "state" | "pause">): Pick<Workflow, "pausedAt" | "pauseReason" | "deadlineHeld"> {
  const p = run.state === "paused" ? run.pause : undefined;
  return { pausedAt: p ? timestampFromMs(p.at) : undefined, pauseReason: p?.reason ?? "", deadlineHeld: p?.holdDeadline ?? false };
}
