// The Dockerfile, read the way Docker reads it (continuation lines, comments, stages, exec-form
// JSON arrays), and its build carried out without Docker: each stage's filesystem is a directory,
// COPY copies, RUN runs. No Docker engine exists where the tests run; this lets CI run the image's
// own install step (scripts/prepare-server-package-tests.ts) and start command
// (test/e2e/container-image.test.ts), so neither can drift from the file.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, posix } from "node:path";

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trimEnd();
    if (/^\s*#/.test(line) || (line.trim() === "" && pending === "")) continue;
    if (line.endsWith("\\")) {
      pending += line.slice(0, -1) + " ";
      continue;
    }
    logical.push((pending + line).trim());
    pending = "";
  }
  if (pending.trim() !== "") logical.push(pending.trim());
  const stages: Stage[] = [];
  for (const line of logical) {
    if (line === "") continue;
    const m = /^(\S+)\s*(.*)$/.exec(line)!;
    const keyword = m[1].toUpperCase();
    const args = m[2];
    if (keyword === "FROM") {
      const from = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!from) throw new Error(`Dockerfile: cannot read FROM ${args}`);
      stages.push({ image: from[1], name: from[2], instructions: [] });
      continue;
    }
    if (stages.length === 0) {
      if (keyword === "ARG") continue;
      throw new Error(`Dockerfile: ${keyword} before FROM`);
    }
    stages.at(-1)!.instructions.push({ keyword, args });
  }
  return stages;
}

/** An exec-form (JSON array) argument, e.g. of CMD or ENTRYPOINT; shell form is refused (the image must use exec form). */
export function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === "string")) throw new Error(`Dockerfile: not an exec-form array: ${args}`);
  return parsed as string[];
}

/** The variables that ENV instructions of the stage set (KEY=value pairs; quotes removed). */
export function stageEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { keyword, args } of stage.instructions) {
    if (keyword !== "ENV") continue;
    for (const pair of args.match(/\S+="[^"]*"|\S+='[^']*'|\S+/g) ?? []) {
      const eq = pair.indexOf("=");
      if (eq < 1) throw new Error(`Dockerfile: ENV ${args}: use KEY=value`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1).replace(/^(["'])(.*)\1$/, "$2");
    }
  }
  return env;
}

/** The last value of a single-valued instruction (WORKDIR, USER, ENTRYPOINT, CMD, HEALTHCHECK, ...). */
export function lastOf(stage: Stage, keyword: string): string | undefined {
  return stage.instructions.filter((i) => i.keyword === keyword).at(-1)?.args;
}

/** The command of `HEALTHCHECK [--options] CMD [...]`, in exec form. */
export function healthcheckCommand(stage: Stage): string[] | undefined {
  const args = lastOf(stage, "HEALTHCHECK");
  if (args === undefined) return undefined;
  const m = /^(?:--\S+\s+)*CMD\s+(.*)$/.exec(args);
  if (!m) throw new Error(`Dockerfile: HEALTHCHECK ${args}: expected [options] CMD [...]`);
  return execForm(m[1]);
}

export interface BuildOptions {
  /** The build context (the repository). */
  context: string;
  /** Where each stage's filesystem goes: <root>/stage-<index>. */
  root: string;
  /** Environment for RUN steps (besides the stage's ENV). */
  env: NodeJS.ProcessEnv;
  /** Stages (by index) that are already built and are not built again. */
  skip?: Set<number>;
}

export function stageRoot(root: string, index: number): string {
  return join(root, `stage-${index}`);
}

/**
 * Builds the stages as directories. COPY (from the context or --from a stage) copies; RUN runs
 * with `sh -c` in the stage's WORKDIR, except `mkdir -p <dir> && chown <user> <dir>`, which
 * creates <dir> inside the stage's directory (the build runs as the current user here, so
 * there is nothing to chown). Any other RUN naming an absolute path is refused: it would reach
 * outside the stage's directory.
 */
export function buildStages(stages: Stage[], options: BuildOptions): void {
  const byName = new Map(stages.map((s, i) => [s.name, i] as const));
  stages.forEach((stage, index) => {
    if (options.skip?.has(index)) return;
    const fsRoot = stageRoot(options.root, index);
    mkdirSync(fsRoot, { recursive: true });
    let workdir = "/";
    const env: Record<string, string> = {};
    for (const { keyword, args } of stage.instructions) {
      const inStage = (p: string) => join(fsRoot, posix.resolve(workdir, p));
      switch (keyword) {
        case "WORKDIR":
          workdir = posix.resolve(workdir, args);
          mkdirSync(inStage("."), { recursive: true });
          break;
        case "ENV":
          Object.assign(env, stageEnv({ ...stage, instructions: [{ keyword, args }] }));
          break;
        case "COPY": {
          const words = args.split(/\s+/);
          const flags = words.filter((w) => w.startsWith("--"));
          const paths = words.filter((w) => !w.startsWith("--"));
          const from = flags.find((f) => f.startsWith("--from="))?.slice("--from=".length);
          const unknown = flags.filter((f) => !/^--(from|chown|chmod)=/.test(f));
          if (unknown.length > 0) throw new Error(`Dockerfile: COPY ${args}: flags ${unknown.join(" ")} not supported here`);
          const dest = paths.pop()!;
          for (const src of paths) {
            let source: string;
            if (from === undefined) source = join(options.context, src);
            else {
              const fromIndex = byName.get(from) ?? Number(from);
              if (!(fromIndex >= 0 && fromIndex < index)) throw new Error(`Dockerfile: COPY --from=${from}: no such earlier stage`);
              source = join(stageRoot(options.root, fromIndex), src);
            }
            // A file into a directory (dest ends with "/") keeps its name; a directory's contents go into dest.
            const target = dest.endsWith("/") && statSync(source).isFile() ? join(inStage(dest), posix.basename(src)) : inStage(dest);
            mkdirSync(dirname(target), { recursive: true });
            cpSync(source, target, { recursive: true, verbatimSymlinks: true });
          }
          break;
        }
        case "RUN": {
          const mkdir = /^mkdir -p (\/\S+) && chown \S+ \1$/.exec(args);
          if (mkdir) {
            mkdirSync(join(fsRoot, mkdir[1]), { recursive: true });
            break;
          }
          if (/(^|\s)\//.test(args)) throw new Error(`Dockerfile: RUN ${args}: an absolute path cannot be run outside a container`);
          execFileSync("sh", ["-c", args], { cwd: inStage("."), env: { ...options.env, ...env }, stdio: "inherit" });
          break;
        }
        default:
          // Metadata (ENTRYPOINT, CMD, HEALTHCHECK, USER, VOLUME, EXPOSE, ...): read by the test.
          break;
      }
    }
  });
}

export function readDockerfile(repoRoot: string): { text: string; stages: Stage[] } {
  const text = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
  return { text, stages: parseDockerfile(text) };
}
