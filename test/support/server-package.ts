// Where scripts/prepare-server-package-tests.ts leaves what the server's packaging tests use, and
// how a test finds it. The set-up installs from the registry; a test only runs what is there.
//   <dir>/image/   the Dockerfile's stages built as directories (test/support/dockerfile.ts)
//   <dir>/npm/     the `npm pack` tarball, and project/: a fresh project that installed it
//   <dir>/start/   app/: a copy of the repository after `npm ci --omit=dev`
// <dir> is outside the repository (a project inside it would resolve the repository's own
// node_modules and hide a missing dependency), one per clone: $TMPDIR/weft-pkg-test/<hash>/server.
import { createHash } from "node:crypto";
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { it } from "vitest";

export const REPO_ROOT = resolve(fileURLToPath(new URL("../../", import.meta.url)));

export function preparedRoot(repoRoot = REPO_ROOT): string {
  const id = createHash("sha256").update(repoRoot).digest("hex").slice(0, 12);
  return join(tmpdir(), "weft-pkg-test", id, "server");
}

/** What the packaged server is made of: a change to any of these makes a prepared directory stale. */
export const SERVER_SOURCES = ["package.json", "package-lock.json", "Dockerfile", "tsconfig.json", "tsconfig.build.json", "bin", "src", "gen/ts", "console/dist", "console/.npmignore"];

/** sha256 over the files at `paths` (relative to the repository; directories recursively), names and contents. */
export function sourcesDigest(paths: string[] = SERVER_SOURCES, repoRoot = REPO_ROOT): string {
  const hash = createHash("sha256");
  const visit = (rel: string) => {
    const abs = join(repoRoot, rel);
    if (!existsSync(abs)) return;
    if (statSync(abs).isDirectory()) {
      for (const entry of readdirSync(abs).sort()) visit(join(rel, entry));
      return;
    }
    hash.update(rel).update("\0").update(readFileSync(abs)).update("\0");
  };
  for (const p of paths) visit(p);
  return hash.digest("hex");
}

export interface ImagePrepared {
  /** sourcesDigest() when it was prepared. */
  sources: string;
  /** sha256 of the Dockerfile the stages were built from. */
  dockerfile: string;
  /** The last stage's filesystem (its / ). */
  finalRoot: string;
}

export interface NpmPrepared {
  /** sourcesDigest() when it was prepared. */
  sources: string;
  /** sha256 of the tarball installed into the project. */
  tarball: string;
  tarballFile: string;
  project: string;
}

export interface StartPrepared {
  /** sourcesDigest() when it was prepared. */
  sources: string;
  /** sha256 of the package-lock.json installed. */
  lock: string;
  /** The copy of the repository, with its production dependencies installed. */
  app: string;
}

export const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

/** PATH without the repository's node_modules/.bin (npm scripts and scripts/test.sh put it first): the machine's own tools. */
export function systemPath(path = process.env.PATH ?? ""): string {
  return path
    .split(delimiter)
    .filter((dir) => dir !== "" && !resolve(dir).includes(`${join("node_modules", ".bin")}`))
    .join(delimiter);
}

/** The machine's own `node` (not the repository's Node 24), or undefined. */
export function systemNode(): string | undefined {
  for (const dir of systemPath().split(delimiter)) {
    const file = join(dir, "node");
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The prepared manifest `<dir>/<kind>/prepared.json`, or a reason it is missing or stale. Missing,
 * the tests skip loudly, and fail in CI (CI=true).
 */
export function readPrepared<T>(kind: "image" | "npm" | "start", check: (p: T) => string | undefined): { prepared: T } | { missing: string } {
  const file = join(preparedRoot(), kind, "prepared.json");
  const rerun = "run `node scripts/prepare-server-package-tests.ts` (npm test does)";
  if (!existsSync(file)) return { missing: `${file} does not exist: ${rerun}` };
  const prepared = JSON.parse(readFileSync(file, "utf8")) as T & { sources?: string };
  const stale = prepared.sources !== sourcesDigest() ? "the server's files changed since" : check(prepared);
  return stale ? { missing: `${file} is stale (${stale}): ${rerun}` } : { prepared };
}

/** Says loudly that tests are skipped; in CI (CI=true) adds a test that fails, saying why. Call it at a test file's top level. */
export function missingPrepared(what: string, why: string): void {
  if (process.env.CI === "true") {
    it(`${what}: prepared by the set-up`, () => {
      throw new Error(`${what}: ${why}. In CI these tests must run, so they fail.`);
    });
    return;
  }
  const bar = "!".repeat(78);
  console.warn(["", bar, `!!! WARNING: ${what} tests will be SKIPPED`, `!!! ${why}`, bar, ""].join("\n"));
}
