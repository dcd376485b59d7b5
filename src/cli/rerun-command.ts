// `weft rerun <runId> --from <step>…`: RerunWorkflow (README "Recovering runs").
// Prints the new run's id, or follows it with --watch as `weft run` does.
import type { JsonObject } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { Workflow, WorkflowService } from "../../gen/ts/weft/v1/workflow_pb.js";
import { CliError, EXIT } from "./cli-error.ts";
import { mergeContext } from "./create-request.ts";
import { contextFromFile } from "./input-file.ts";
import { reportStartedRun } from "./started-run.ts";

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
  /** A failed call as the CLI reports it. */
  serverError(err: unknown): Error;
  parseLabels(pairs: readonly string[]): Record<string, string>;
  follow(client: Service, runId: string, output: "text" | "json", from?: Workflow): Promise<number>;
  out(line: string): void;
}

export async function rerunCommand(deps: RerunDeps, runId: string, o: RerunOptions): Promise<number> {
  const usage = (message: string) => new CliError(message, EXIT.usage);
  if (o.from.length === 0) throw usage("--from: name at least one step to run again (repeatable)");
  if (o.contextFile && o.context.length) throw usage("--context and --context-file exclude each other");
  const { client } = deps;
  let context: Record<string, unknown> | undefined;
  if (o.contextFile) context = contextFromFile(o.contextFile);
  else if (o.context.length) {
    // key=value fields change the original's context.
    const { workflow } = await client.getWorkflow({ id: runId }).catch((err) => Promise.reject(deps.serverError(err)));
    try {
      context = mergeContext(workflow!.context as Record<string, unknown> | undefined, o.context);
    } catch (err) {
      throw usage((err as Error).message);
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
  return reportStartedRun(run, {
    watch: o.watch,
    output: o.output,
    deduplicated: res.deduplicated,
    extra: { rerunOf: run.rerunOf },
    out: deps.out,
    follow: (id, output, from) => deps.follow(client, id, output, from),
  });
}
