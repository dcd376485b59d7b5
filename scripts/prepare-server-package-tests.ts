// Set-up of the server's packaging tests (scripts/test.sh runs it before the test runners; it is
// the only part that reaches the npm registry):
//   image: builds the Dockerfile's stages as directories (test/support/dockerfile.ts): its
//     install step (npm ci --omit=dev ...) runs for real, in a clean directory, on the machine's
//     own Node and npm; test/e2e/container-image.test.ts then starts the server as the image does.
//     The install is redone only when its inputs (the stage's instructions and files) change.
//   start: the README's `npm ci --omit=dev && npm start` in a copy of the repository (a fresh
//     clone), on the machine's own Node and npm; test/e2e/server-package.test.ts runs npm start.
//   npm: `npm pack` of the repository (its prepack compiles the server), installed with the
//     machine's own npm into a fresh project; test/e2e/server-package.test.ts runs `weft` there.
// Both go to a directory outside the repository (test/support/server-package.ts: preparedRoot).
// Usage: node scripts/prepare-server-package-tests.ts [image|npm|start]...
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { buildStages, readDockerfile, stageRoot } from "../test/support/dockerfile.ts";
import { type ImagePrepared, type NpmPrepared, type StartPrepared, preparedRoot, REPO_ROOT, sha256, sourcesDigest, systemPath } from "../test/support/server-package.ts";

const root = preparedRoot();
// Taken before anything is prepared: a change made meanwhile makes the result stale.
const sources = sourcesDigest();
const env = { ...process.env, PATH: systemPath(), npm_config_update_notifier: "false" };
const log = (m: string) => console.log(`prepare-server-package-tests: ${m}`);

function prepareImage(): void {
  const dir = join(root, "image");
  // The image's RUN steps run on its base image's Node (node:24-slim): here this Node 24, alone
  // in a directory put first on the machine's PATH (npm is the machine's).
  const nodeBin = join(dir, "node-bin");
  rmSync(nodeBin, { recursive: true, force: true });
  mkdirSync(nodeBin, { recursive: true });
  symlinkSync(process.execPath, join(nodeBin, "node"));
  const runEnv = { ...env, PATH: `${nodeBin}${delimiter}${env.PATH}` };
  const { text, stages } = readDockerfile(REPO_ROOT);
  // A stage that copies only from the build context is kept while its instructions and files are unchanged.
  const skip = new Set<number>();
  const stamps: Record<number, string> = {};
  stages.forEach((stage, index) => {
    const copies = stage.instructions.filter((i) => i.keyword === "COPY");
    if (copies.some((c) => c.args.includes("--from="))) return;
    const files = copies.flatMap((c) => c.args.split(/\s+/).filter((w) => !w.startsWith("--")).slice(0, -1));
    if (!files.every((f) => existsSync(join(REPO_ROOT, f)) && statSync(join(REPO_ROOT, f)).isFile())) return;
    const stamp = sha256(JSON.stringify([stage, files.map((f) => sha256(readFileSync(join(REPO_ROOT, f))))]));
    stamps[index] = stamp;
    const stampFile = join(dir, `stage-${index}.stamp`);
    if (existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) skip.add(index);
  });
  for (let i = 0; i < stages.length; i++) {
    if (skip.has(i)) log(`image: stage ${i} (${stages[i].name ?? "final"}) unchanged, kept`);
    else {
      rmSync(stageRoot(dir, i), { recursive: true, force: true });
      rmSync(join(dir, `stage-${i}.stamp`), { force: true });
    }
  }
  rmSync(join(dir, "prepared.json"), { force: true });
  log(`image: building ${stages.length} stages in ${dir}`);
  buildStages(stages, { context: REPO_ROOT, root: dir, env: runEnv, skip });
  for (const [index, stamp] of Object.entries(stamps)) writeFileSync(join(dir, `stage-${index}.stamp`), stamp);
  const prepared: ImagePrepared = { sources, dockerfile: sha256(text), finalRoot: stageRoot(dir, stages.length - 1) };
  writeFileSync(join(dir, "prepared.json"), JSON.stringify(prepared, null, 2));
}

function prepareNpm(): void {
  const dir = join(root, "npm");
  mkdirSync(dir, { recursive: true });
  rmSync(join(dir, "prepared.json"), { force: true });
  log("npm: npm pack (its prepack compiles the server)");
  // With the repository's tools on PATH (prepack runs tsc), as a maintainer publishing would.
  const out = execFileSync("npm", ["pack", "--json", "--pack-destination", dir], { cwd: REPO_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const [{ filename }] = JSON.parse(out) as { filename: string }[];
  const tarballFile = join(dir, filename);
  const tarball = sha256(readFileSync(tarballFile));
  const project = join(dir, "project");
  const stampFile = join(dir, "project.stamp");
  if (existsSync(stampFile) && readFileSync(stampFile, "utf8") === tarball && existsSync(join(project, "node_modules"))) {
    log("npm: the project has this tarball installed already");
  } else {
    rmSync(project, { recursive: true, force: true });
    rmSync(stampFile, { force: true });
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "weft-server-try", version: "1.0.0", private: true }, null, 2));
    log(`npm: npm install ${filename} into a fresh project, with the machine's own Node and npm`);
    execFileSync("npm", ["install", "--no-audit", "--no-fund", tarballFile], { cwd: project, env, stdio: "inherit" });
    writeFileSync(stampFile, tarball);
  }
  const prepared: NpmPrepared = { sources, tarball, tarballFile, project };
  writeFileSync(join(dir, "prepared.json"), JSON.stringify(prepared, null, 2));
}

function prepareStart(): void {
  // A fresh clone: the repository's files (tracked, or new and not ignored), then the README's
  // `npm ci --omit=dev` on the machine's own Node and npm, redone only when the lock file changes.
  const dir = join(root, "start");
  const app = join(dir, "app");
  rmSync(join(dir, "prepared.json"), { force: true });
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: REPO_ROOT, encoding: "utf8" })
    .split("\0")
    .filter((f) => f !== "" && existsSync(join(REPO_ROOT, f)));
  for (const entry of existsSync(app) ? readdirSync(app) : []) if (entry !== "node_modules") rmSync(join(app, entry), { recursive: true, force: true });
  for (const f of files) cpSync(join(REPO_ROOT, f), join(app, f), { verbatimSymlinks: true });
  const stamp = sha256(readFileSync(join(app, "package-lock.json")));
  const stampFile = join(dir, "install.stamp");
  if (existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp && existsSync(join(app, "node_modules"))) {
    log("start: dependencies unchanged, kept");
  } else {
    rmSync(join(app, "node_modules"), { recursive: true, force: true });
    rmSync(stampFile, { force: true });
    log(`start: npm ci --omit=dev in ${app}, with the machine's own Node and npm`);
    execFileSync("npm", ["ci", "--omit=dev", "--no-audit", "--no-fund"], { cwd: app, env, stdio: "inherit" });
    writeFileSync(stampFile, stamp);
  }
  const prepared: StartPrepared = { sources, lock: stamp, app };
  writeFileSync(join(dir, "prepared.json"), JSON.stringify(prepared, null, 2));
}

const wanted = process.argv.slice(2);
const all = wanted.length === 0;
mkdirSync(root, { recursive: true });
if (all || wanted.includes("image")) prepareImage();
if (all || wanted.includes("npm")) prepareNpm();
if (all || wanted.includes("start")) prepareStart();
log(`ready in ${root}`);
