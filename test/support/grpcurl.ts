// Locates grpcurl for end-to-end tests against the real wire protocol:
// `grpcurl` on PATH, else <repo>/.tools/bin/grpcurl, which
// scripts/install-tools.sh builds (pinned) before the tests run. Nothing is
// installed here: a test must not spend its time limit building a tool.
// Missing, it is a loud skip, or a failure in CI (CI=true).

import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const RUN_TIMEOUT_MS = 60_000;

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const toolsBin = path.join(repoRoot, ".tools", "bin");

let cached: Promise<string | null> | undefined;

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function onPath(name: string): Promise<string | null> {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir === "") continue;
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return null;
}

async function locate(): Promise<string | null> {
  const fromPath = await onPath("grpcurl");
  if (fromPath !== null) return fromPath;
  const local = path.join(toolsBin, "grpcurl");
  if (await isExecutable(local)) return local;
  const why = "grpcurl is not on PATH nor in .tools/bin: run `bash scripts/install-tools.sh` (npm test does) to build it";
  if (process.env.CI === "true") throw new Error(`${why}. In CI the grpcurl tests must run, so they fail.`);
  const bar = "!".repeat(78);
  console.warn(["", bar, "!!! WARNING: grpcurl tests will be SKIPPED", `!!! ${why}`, bar, ""].join("\n"));
  return null;
}

/**
 * Path of grpcurl, or null (after a loud warning) when it is not installed;
 * in CI (CI=true) a missing grpcurl rejects, so that the test fails. Cached per process.
 */
export function findGrpcurl(): Promise<string | null> {
  cached ??= locate();
  return cached;
}

export interface RunResult {
  /** Exit code; -1 when killed by a signal or the timeout. */
  code: number;
  stdout: string;
  stderr: string;
}

function run(
  bin: string,
  args: string[],
  options: { stdin?: string; env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { env: options.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${options.timeoutMs} ms]`;
      child.kill("SIGKILL");
    }, options.timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: stderr + String(err) });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.on("error", () => {}); // EPIPE if the process exits early
    child.stdin.end(options.stdin ?? "");
  });
}

/** Runs grpcurl (60 s timeout), feeding `stdin` (e.g. for `-d @`). */
export function runGrpcurl(bin: string, args: string[], stdin?: string): Promise<RunResult> {
  return run(bin, args, { stdin, timeoutMs: RUN_TIMEOUT_MS });
}
