// `weft rerun <runId> --from <step>…`: RerunWorkflow (README "Recovering runs").
// Prints the new run's id, or follows it with --watch as `weft run` does.
import { readFileSync } from "node:fs";
import type { JsonObject } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { Workflow, WorkflowService } from "../../gen/ts/weft/v1/workflow_pb.js";
import { mergeContext } from "./create-request.ts";
import { workflowStateName } from "./run-view.ts";
import { formatProblem, parseContextFile } from "./workflow-file.ts";

type Service = Client<typeof WorkflowService>;

export interface RerunOptions {
  from: string[];
  context: string[];
  contextFile?: string;
  label: string[];
  requestId?: string;
  watch?: boolean;
  output?: "text" | "json";
}

/** What the command borrows from the CLI (src/cli/main.ts). */
export interface RerunDeps {
  client: Service;
  /** An error that ends the command with a usage exit code. */
  usage(message: string): Error;
  /** A failed call as the CLI reports it. */
  serverError(err: unknown): Error;
  parseLabels(pairs: readonly string[]): Record<string, string>;
  follow(client: Service, runId: string, output: "text" | "json", from?: Workflow): Promise<number>;
  out(line: string): void;
  okCode: number;
}

/** --context-file: a YAML or JSON file, or "-" for stdin. */
function contextFromFile(file: string, deps: RerunDeps): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (err) {
    throw deps.usage(`--context-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const parsed = parseContextFile(text);
  if (!parsed.ok) throw deps.usage(parsed.problems.map((p) => formatProblem(file, p)).join("\n"));
  return parsed.context;
}

export async function rerunCommand(deps: RerunDeps, runId: string, o: RerunOptions): Promise<number> {
  if (o.from.length === 0) throw deps.usage("--from: name at least one step to run again (repeatable)");
  if (o.contextFile && o.context.length) throw deps.usage("--context and --context-file exclude each other");
  const { client } = deps;
  let context: Record<string, unknown> | undefined;
  if (o.contextFile) context = contextFromFile(o.contextFile, deps);
  else if (o.context.length) {
    // key=value fields change the original's context.
    const { workflow } = await client.getWorkflow({ id: runId }).catch((err) => Promise.reject(deps.serverError(err)));
    try {
      context = mergeContext(workflow!.context as Record<string, unknown> | undefined, o.context);
    } catch (err) {
      throw deps.usage((err as Error).message);
    }
  }
  const res = await client
    .rerunWorkflow({
      id: runId,
      fromSteps: o.from,
      context: context as JsonObject | undefined,
      labels: o.label.length ? { labels: deps.parseLabels(o.label) } : undefined,
      requestId: o.requestId ?? "",
    })
    .catch((err) => Promise.reject(deps.serverError(err)));
  const run = res.workflow!;
  const output = o.output ?? (o.watch && !process.stdout.isTTY ? "json" : "text");
  if (output === "json") {
    deps.out(JSON.stringify({ type: "created", runId: run.id, workflowId: run.workflowId, state: workflowStateName(run.state), rerunOf: run.rerunOf, deduplicated: res.deduplicated }));
  } else if (!o.watch) deps.out(run.id);
  if (!o.watch) return deps.okCode;
  return deps.follow(client, run.id, output, run);
}
