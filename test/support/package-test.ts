// Where the package tests find the projects that the set-up phase
// (scripts/prepare-package-tests-*.sh) prepared outside the repository, and
// what they do when one is missing: fail in CI (CI=true), skip loudly elsewhere.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** $WEFT_PKG_TEST_DIR, else a directory in the system temp dir named after this checkout. */
export function packageTestDir(): string {
  if (process.env.WEFT_PKG_TEST_DIR) return process.env.WEFT_PKG_TEST_DIR;
  const id = createHash("sha256").update(realpathSync(REPO_ROOT)).digest("hex").slice(0, 12);
  return join(tmpdir(), `weft-pkg-test-${id}`);
}

export type Prepared = { ok: true; dir: string } | { ok: false; why: string };

/** The prepared project `name` (e.g. "ts"), if the set-up phase made it. */
export function preparedProject(name: string, marker: string): Prepared {
  const dir = join(packageTestDir(), name);
  if (!existsSync(join(dir, marker))) {
    return { ok: false, why: `no prepared project at ${dir}: run scripts/prepare-package-tests-${name}.sh first` };
  }
  return { ok: true, dir };
}

/** In CI a missing prerequisite is a failure; elsewhere the tests are skipped with a warning. */
export function missing(why: string): "fail" | "skip" {
  if (process.env.CI === "true") return "fail";
  console.warn(`SKIPPED package tests: ${why}`);
  return "skip";
}

/**
 * The system's Node (not the project's Node 24 in node_modules/.bin): the first
 * `node` on PATH outside node_modules, else /usr/bin/node. Its version is returned too.
 */
export function systemNode(): { path: string; version: string } | undefined {
  const candidates = (process.env.PATH ?? "")
    .split(":")
    .filter((d) => d && !d.includes("node_modules"))
    .map((d) => join(d, "node"))
    .concat("/usr/bin/node");
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    try {
      const version = execFileSync(path, ["--version"], { encoding: "utf8" }).trim();
      return { path, version };
    } catch {
      // not runnable: try the next one
    }
  }
  return undefined;
}
