// What `weft run` and `weft rerun` print once the server made the run: its id,
// or with --watch (or --output json) a `created` line, then the run followed
// to its end (README "Command line").
import type { Workflow } from "../../gen/ts/weft/v1/workflow_pb.js";
import { EXIT } from "./cli-error.ts";
import { workflowStateName } from "./run-view.ts";

export interface StartedRunOptions {
  watch?: boolean;
  output?: "text" | "json";
  /** The server answered a run it had made for the same request id. */
  deduplicated: boolean;
  /** Fields the created line adds (rerun: `rerunOf`). */
  extra?: Record<string, unknown>;
  out(line: string): void;
  /** Follows the run from `from` (its state as created) to its end; returns the exit code. */
  follow(runId: string, output: "text" | "json", from: Workflow): Promise<number>;
}

/** Prints the started run (or its created line) and follows it with --watch; returns the exit code. */
export function reportStartedRun(run: Workflow, o: StartedRunOptions): Promise<number> | number {
  const output = o.output ?? (o.watch && !process.stdout.isTTY ? "json" : "text");
  if (output === "json") {
    o.out(JSON.stringify({ type: "created", runId: run.id, workflowId: run.workflowId, state: workflowStateName(run.state), ...o.extra, deduplicated: o.deduplicated }));
  } else if (!o.watch) o.out(run.id);
  if (!o.watch) return EXIT.ok;
  // From the sequence the run was created at: every event of the run is shown, however soon it came.
  return o.follow(run.id, output, run);
}
