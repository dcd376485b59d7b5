// @weftflow/server as a user gets it: scripts/prepare-server-package-tests.ts packed the
// repository (`npm pack`) and installed the tarball into a fresh project outside it, with the
// machine's own Node (20 in CI) and npm. Here `weft` runs there on that Node: it answers --help,
// refuses unknown commands, `weft server` serves (on the bundled Node 24) and stops on SIGTERM, and
// the operator commands (`weft run`, `weft get`: the compiled CLI) work against a server.
// Traffic goes only to 127.0.0.1.
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkflowService, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { HandlerServer } from "../support/handler-server.ts";
import { expectSigned } from "../support/run-observer.ts";
import { missingPrepared, type NpmPrepared, readPrepared, REPO_ROOT, sha256, type StartPrepared, systemNode, systemPath } from "../support/server-package.ts";
import { loadConfig } from "../../src/config.ts";
import { startWeft, TEST_SECRET, waitForRun } from "../support/weft.ts";

const WRITE_KEY = "wk_package_93b1d07e4c2a58f6";

const node = systemNode();
const state = readPrepared<NpmPrepared>("npm", (p) => (existsSync(p.tarballFile) && sha256(readFileSync(p.tarballFile)) === p.tarball ? undefined : "the tarball changed"));
if ("missing" in state) missingPrepared("npm package (@weftflow/server)", state.missing);
else if (!node) missingPrepared("npm package (@weftflow/server)", "no `node` on PATH besides the repository's own");

describe.skipIf("missing" in state || !node)("the @weftflow/server package, installed in a fresh project, on the machine's own Node", () => {
  const project = "prepared" in state ? state.prepared.project : "";
  // The user's shell: the machine's Node first, nothing from the repository.
  const env = { PATH: `${dirname(node ?? "/")}${delimiter}${systemPath()}`, HOME: process.env.HOME ?? "/" };
  const weft = join(project, "node_modules", ".bin", "weft");
  const run = (args: string[]) => runWith(args, env);
  const runWith = (args: string[], env: Record<string, string>) => {
    const child = spawn(weft, args, { cwd: project, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  };

  let handlers: HandlerServer;
  const dirs: string[] = [];
  beforeAll(async () => {
    handlers = await HandlerServer.start();
  });
  afterAll(async () => {
    await handlers?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("runs on the machine's Node, which is older than the server's 24", () => {
    const version = execFileSync(node!, ["--version"], { encoding: "utf8" }).trim();
    console.log(`system Node: ${version}`);
    // In CI (a machine with only Node 20) this is the point of the test: `weft` must start on it.
    if (process.env.CI === "true") expect(Number(version.slice(1).split(".")[0])).toBeLessThan(24);
  });

  it("ships the compiled server and the bin, not the sources; installs no dev dependencies", () => {
    const pkg = join(project, "node_modules", "@weftflow", "server");
    expect(existsSync(join(pkg, "dist", "main.js"))).toBe(true);
    expect(existsSync(join(pkg, "dist", "store", "sqlite-checkpointer.js"))).toBe(true);
    expect(existsSync(join(pkg, "dist", "cli", "main.js"))).toBe(true);
    // The built web console (served at /ui/).
    expect(readFileSync(join(pkg, "console", "dist", "index.html"), "utf8")).toContain('<div id="root">');
    expect(existsSync(join(pkg, "console", "src"))).toBe(false);
    expect(existsSync(join(pkg, "src"))).toBe(false);
    expect(readFileSync(join(pkg, "LICENSE"), "utf8")).toBe(readFileSync(join(REPO_ROOT, "LICENSE"), "utf8"));
    for (const dev of ["vitest", "typescript", "@bufbuild/buf", "testcontainers"]) expect(existsSync(join(project, "node_modules", dev)), dev).toBe(false);
    // The `node` package brought its Node 24.
    expect(existsSync(join(project, "node_modules", "node", "bin", "node"))).toBe(true);
  });

  it("weft --help and weft server --help print usage; an unknown command exits 2 with usage", async () => {
    const help = await run(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: weft <command>");
    expect(help.stdout).toContain("server");

    const serverHelp = await run(["server", "--help"]);
    expect(serverHelp.code).toBe(0);
    expect(serverHelp.stdout).toContain("Usage: weft server [options]");
    expect(serverHelp.stdout).toContain("WEFT_API_KEYS");
    expect(serverHelp.stderr).toBe("");

    const unknown = await run(["serve"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "serve"');
    expect(unknown.stderr).toContain("Usage: weft <command>");
    expect((await run([])).code).toBe(2);
  });

  it("the operator commands run from the package: weft run --watch, weft get (compiled CLI, bundled Node 24)", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "weft-pkg-cli-"));
    dirs.push(dataDir);
    const weftServer = await startWeft({ dataDir: join(dataDir, "data"), auth: loadConfig(["--api-keys", `write:${WRITE_KEY}`], {})!.auth });
    try {
      const file = join(dataDir, "wf.yaml");
      writeFileSync(file, `id: from-package\nsteps:\n  - id: a\n    url: ${handlers.url("/pkg-cli/a")}\n  - id: b\n    url: ${handlers.url("/pkg-cli/b")}\n    dependsOn: [a]\n`);
      const cliEnv = { ...env, WEFT_URL: weftServer.baseUrl, WEFT_API_KEY: WRITE_KEY };
      const watched = await runWith(["run", file, "--watch"], cliEnv);
      expect(watched.stderr).toBe("");
      expect(watched.code).toBe(0);
      const lines = watched.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; runId: string; state?: string });
      expect(lines.at(-1)).toMatchObject({ type: "summary", state: "completed" });
      const get = await runWith(["get", lines[0].runId], cliEnv);
      expect(get.code).toBe(0);
      expect(get.stdout).toContain("2/2 steps done");
      const help = await run(["run", "--help"]);
      expect(help.stdout).toContain("Usage: weft run [options] <file>");
    } finally {
      await weftServer.stop();
    }
  }, 120_000);

  it("npx weft server --help works as the README says", () => {
    const out = execFileSync("npx", ["weft", "server", "--help"], { cwd: project, env, encoding: "utf8" });
    expect(out).toContain("Usage: weft server [options]");
  });

  it("weft server --help needs no Node 24: it prints the options when the `node` package is missing (install scripts off)", async () => {
    // The package as `npm install --ignore-scripts` leaves it for this: no node/bin/node beside it.
    const bare = mkdtempSync(join(tmpdir(), "weft-pkg-noruntime-"));
    dirs.push(bare);
    const pkg = join(project, "node_modules", "@weftflow", "server");
    for (const f of ["bin", "dist", "package.json"]) cpSync(join(pkg, f), join(bare, f), { recursive: true });
    const runBare = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile(node!, [join(bare, "bin", "weft.js"), ...args], { cwd: bare, env }, (err, stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr }),
        );
      });
    const help = await runBare(["server", "--help"]);
    expect(help.stderr).toBe("");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: weft server [options]");
    expect(help.stdout).toContain("WEFT_API_KEYS_FILE");
    const nodeMajor = Number(execFileSync(node!, ["-p", "process.versions.node"], { encoding: "utf8" }).split(".")[0]);
    if (nodeMajor < 24) {
      // Serving still needs it, and says so.
      const serve = await runBare(["server", "--port", "0"]);
      expect(serve.code).toBe(1);
      expect(serve.stderr).toContain("it is not installed");
    }
  });

  it.runIf(process.platform === "linux")("SIGKILL to weft (e.g. a process manager giving up): the server it started on Node 24 shuts down", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "weft-pkg-orphan-"));
    dirs.push(dataDir);
    const wrapper = spawn(weft, ["server", ...serverArgs(join(dataDir, "data"))], { cwd: project, env: { ...env, WEFT_API_KEYS: `write:${WRITE_KEY}` }, stdio: ["ignore", "pipe", "pipe"], detached: true });
    // "close": weft has exited and so has everything that shares its output (the server).
    const closed = new Promise((resolve) => wrapper.on("close", resolve));
    const lines: string[] = [];
    let serverPid = 0;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`weft did not start the server:\n${lines.join("\n")}`)), 60_000);
        createInterface({ input: wrapper.stdout! }).on("line", (line) => {
          lines.push(line);
          if (line.includes('"weft listening"')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      // The server is weft's child process (the machine's Node is not 24), or weft itself.
      const children = readFileSync(`/proc/${wrapper.pid}/task/${wrapper.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
      serverPid = children[0] ?? wrapper.pid!;
      const alive = (pid: number) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      process.kill(wrapper.pid!, "SIGKILL");
      for (let i = 0; i < 600 && alive(serverPid); i++) await new Promise((r) => setTimeout(r, 100));
      expect(alive(serverPid)).toBe(false);
      await closed;
      // The server (weft's child) stopped the graceful way, as on SIGTERM.
      if (serverPid !== wrapper.pid) expect(lines.filter((l) => /"shutting down"|"weft stopped"/.test(l))).toHaveLength(2);
    } finally {
      try {
        process.kill(-wrapper.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }, 180_000);

  it("weft server serves a workflow; SIGTERM to weft stops the server with 0; nothing on stderr", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "weft-pkg-server-"));
    dirs.push(dataDir);
    await serveOneRunAndStop(weft, ["server", ...serverArgs(join(dataDir, "data"))], project, env, handlers);
  }, 180_000);
});

// The README's "Two commands", first half, on a machine with only its own Node (20 in CI) and npm.
const startState = readPrepared<StartPrepared>("start", (p) => (existsSync(join(p.app, "package-lock.json")) ? undefined : "no copy of the repository"));
if ("missing" in startState) missingPrepared("npm ci --omit=dev && npm start", startState.missing);

describe.skipIf("missing" in startState || !node)("npm ci --omit=dev && npm start in a fresh clone, on the machine's own Node", () => {
  const app = "prepared" in startState ? startState.prepared.app : "";
  const env = { PATH: `${dirname(node ?? "/")}${delimiter}${systemPath()}`, HOME: process.env.HOME ?? "/" };
  let handlers: HandlerServer;
  let dataDir: string;
  beforeAll(async () => {
    handlers = await HandlerServer.start();
    dataDir = mkdtempSync(join(tmpdir(), "weft-npm-start-"));
  });
  afterAll(async () => {
    await handlers?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("has no dev dependencies, and the Node 24 runtime", () => {
    for (const dev of ["vitest", "typescript", "@bufbuild/buf", "testcontainers"]) expect(existsSync(join(app, "node_modules", dev)), dev).toBe(false);
    expect(existsSync(join(app, "node_modules", "node", "bin", "node"))).toBe(true);
  });

  it("npm start serves a workflow; SIGTERM to npm stops the server gracefully; nothing on stderr", async () => {
    await serveOneRunAndStop("npm", ["start", "--silent", "--", ...serverArgs(join(dataDir, "data"))], app, env, handlers, "SIGTERM");
  }, 180_000);
});

function serverArgs(dataDir: string): string[] {
  // The key comes from WEFT_API_KEYS (see serveOneRunAndStop), as the README advises: on the command line it
  // would be visible in the process list, and the server warns about that.
  return ["--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir, "--signing-secrets", TEST_SECRET];
}

/**
 * Starts `command args` (a Weft server), runs a one-step workflow on it, sends SIGTERM to the
 * command and expects a clean stop: exit code 0, or (npm, which passes the signal on to the script
 * and then ends by it itself) `signalExit`, after the server logged that it stopped.
 */
async function serveOneRunAndStop(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
  handlers: HandlerServer,
  signalExit?: NodeJS.Signals,
): Promise<void> {
  // Its own process group, so that whatever it leaves behind can be ended (see below).
  const child: ChildProcess = spawn(command, args, { cwd, env: { ...env, WEFT_API_KEYS: `write:${WRITE_KEY}` }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  // "close": the command has exited and so has everything that shares its output (the server npm started).
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.on("close", (code, signal) => resolve(code ?? signal)));
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const lines: string[] = [];
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${command} did not start the server:\n${lines.join("\n")}\n${stderr}`)), 60_000);
      createInterface({ input: child.stdout! }).on("line", (line) => {
        lines.push(line);
        if (!line.startsWith("{")) return;
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === "weft listening" && entry.port) {
          clearTimeout(timer);
          resolve(entry.port);
        }
      });
      void exited.then((code) => reject(new Error(`${command} exited with ${code}:\n${lines.join("\n")}\n${stderr}`)));
    });
    const client = createClient(
      WorkflowService,
      createGrpcTransport({
        baseUrl: `http://127.0.0.1:${port}`,
        interceptors: [
          (next) => (req) => {
            req.header.set("authorization", `Bearer ${WRITE_KEY}`);
            return next(req);
          },
        ],
      }),
    );
    const id = `run-${Math.random().toString(36).slice(2, 10)}`;
    const { workflow } = await client.createWorkflow({ id, steps: [{ id: "a", url: handlers.url(`/${id}/a`) }] });
    const done = await waitForRun(client, workflow!.id, undefined, 60_000);
    expect(done.state).toBe(WorkflowState.COMPLETED);
    const [call] = handlers.callsFor(workflow!.id);
    expectSigned(call);
  } finally {
    // To the command (weft, npm), which passes it on to the server it started.
    if (child.exitCode === null) child.kill("SIGTERM");
  }
  const exit = await Promise.race([exited, new Promise<"running">((resolve) => setTimeout(() => resolve("running"), 45_000).unref())]);
  if (exit === "running") {
    // The server outlived the signal (e.g. a shell between npm and node did not pass it on): end it.
    process.kill(-child.pid!, "SIGKILL");
    expect.fail(`45 s after SIGTERM to ${command}, the server it started still runs:\n${lines.join("\n")}\n${stderr}`);
  }
  if (exit !== signalExit) expect(exit).toBe(0);
  const logs = lines.filter((l) => l.startsWith("{"));
  expect(logs.some((l) => l.includes('"msg":"weft stopped"'))).toBe(true);
  // Configured fully, it has nothing to warn about (e.g. no "WAL checkpointer stopped": its thread loaded).
  expect(logs.filter((l) => (JSON.parse(l) as { level: number }).level >= 40)).toEqual([]);
  expect(stderr).not.toMatch(/Warning/);
  expect(stderr).toBe("");
}
