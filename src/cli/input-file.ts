// The files a `weft` command reads (a workflow file, --context-file): a path,
// or "-" for stdin (at most one of them per command).
import { readFileSync } from "node:fs";
import { CliError, EXIT } from "./cli-error.ts";
import { formatProblem, parseContextFile } from "./workflow-file.ts";

/** The text of `file` ("-": stdin); `what` names it in the error (a usage error) when it cannot be read. */
export function readText(file: string, what: string): string {
  try {
    return readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (err) {
    throw new CliError(`${what}: cannot read ${file === "-" ? "stdin" : file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, EXIT.usage);
  }
}

/** --context-file: a YAML or JSON object, from a file or stdin ("-"). */
export function contextFromFile(file: string): Record<string, unknown> {
  const parsed = parseContextFile(readText(file, "--context-file"));
  if (!parsed.ok) throw new CliError(parsed.problems.map((p) => formatProblem(file === "-" ? "stdin" : file, p)).join("\n"), EXIT.usage);
  return parsed.context;
}
