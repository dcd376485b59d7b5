// Locates (or builds) grpcurl for end-to-end tests against the real wire
// protocol. Lookup order: `grpcurl` on PATH, then <repo>/.tools/bin/grpcurl
// (git-ignored), then `go install` into <repo>/.tools/bin. When none works,
// a loud warning is printed and tests relying on it must skip themselves.

import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

/** Pinned grpcurl release (its go.mod needs Go >= 1.25; built here with Go 1.26). */
export const GRPCURL_VERSION = "v1.9.4";
const GRPCURL_MODULE = "github.com/fullstorydev/grpcurl/cmd/grpcurl";
const INSTALL_TIMEOUT_MS = 15 * 60_000;
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

function warnLoudly(lines: string[]): void {
  const bar = "!".repeat(78);
  console.warn(["", bar, "!!! WARNING: grpcurl is NOT available; grpcurl tests will be SKIPPED", ...lines.map((l) => "!!! " + l), bar, ""].join("\n"));
}

async function locate(): Promise<string | null> {
  const fromPath = await onPath("grpcurl");
  if (fromPath !== null) return fromPath;

  const local = path.join(toolsBin, "grpcurl");
  if (await isExecutable(local)) return local;

  const go = await onPath("go");
  if (go === null) {
    warnLoudly([
      "not on PATH, not in .tools/bin, and no Go toolchain to build it.",
      `Install it with: GOBIN=${toolsBin} go install ${GRPCURL_MODULE}@${GRPCURL_VERSION}`,
    ]);
    return null;
  }
  console.warn(`[grpcurl] building ${GRPCURL_MODULE}@${GRPCURL_VERSION} into ${toolsBin} (one-off, may take minutes)`);
  const result = await run(go, ["install", `${GRPCURL_MODULE}@${GRPCURL_VERSION}`], {
    env: { ...process.env, GOBIN: toolsBin },
    timeoutMs: INSTALL_TIMEOUT_MS,
  });
  if (result.code === 0 && (await isExecutable(local))) return local;
  warnLoudly([
    `\`go install ${GRPCURL_MODULE}@${GRPCURL_VERSION}\` failed (exit ${result.code}):`,
    ...result.stderr.trim().split("\n").slice(-15),
  ]);
  return null;
}

/** Path of a usable grpcurl binary, or null (after a loud warning). Cached per process. */
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
