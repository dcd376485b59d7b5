// The container image without Docker: scripts/prepare-server-package-tests.ts built the
// Dockerfile's stages as directories (its `npm ci --omit=dev ...` ran for real, in a clean
// directory); here the server starts the way the image starts it: the final stage's
// ENTRYPOINT + CMD, in its WORKDIR, with its ENV (WEFT_DATA_DIR moved into the stage's directory,
// WEFT_PORT 0), on Node 24 as in the base image. All read from the Dockerfile, so they cannot
// drift apart. Not covered: USER node (the test runs as whoever runs it) and Docker itself.
// Traffic goes only to 127.0.0.1 (the server listens on 0.0.0.0, as in the image).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkflowService, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { execForm, healthcheckCommand, lastOf, readDockerfile, stageEnv } from "../support/dockerfile.ts";
import { HandlerServer } from "../support/handler-server.ts";
import { type ImagePrepared, missingPrepared, readPrepared, REPO_ROOT, sha256 } from "../support/server-package.ts";
import { expectSigned } from "../support/run-observer.ts";
import { TEST_SECRET, waitForRun } from "../support/weft.ts";

const WRITE_KEY = "wk_image_5d0c8e2a7b19f364";

const { text, stages } = readDockerfile(REPO_ROOT);
const final = stages.at(-1)!;
const state = readPrepared<ImagePrepared>("image", (p) => (p.dockerfile === sha256(text) ? undefined : "the Dockerfile changed since"));
if ("missing" in state) missingPrepared("container image", state.missing);

/** What the image runs: its ENTRYPOINT + CMD, with its ENV, in its WORKDIR. */
function imageCommand() {
  const entrypoint = execForm(lastOf(final, "ENTRYPOINT") ?? "[]");
  const cmd = execForm(lastOf(final, "CMD") ?? "[]");
  const workdir = lastOf(final, "WORKDIR") ?? "/";
  return { argv: [...entrypoint, ...cmd], workdir, env: stageEnv(final) };
}

/** The base image's major Node version, from its tag (node:24-slim -> 24). */
function baseNodeMajor(): number {
  const m = /^node:(\d+)/.exec(final.image);
  if (!m) throw new Error(`the final stage's base image ${final.image} is not a node:<major> image`);
  return Number(m[1]);
}

/** Runs an exec-form command of the image: its `node` is this Node 24 (the base image's). */
function spawnInImage(argv: string[], cwd: string, env: Record<string, string>): ChildProcess {
  const [program, ...args] = argv;
  if (program !== "node") throw new Error(`the image runs ${program}, expected node`);
  // A clean environment: the image's variables, not this process's.
  return spawn(process.execPath, args, { cwd, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/", ...env }, stdio: ["ignore", "pipe", "pipe"] });
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });
}

describe.skipIf("missing" in state)("the container image's install and start steps, outside Docker", () => {
  // (The body runs even when the suite is skipped: nothing here may need the prepared directory.)
  const finalRoot = "prepared" in state ? state.prepared.finalRoot : "/nonexistent";
  const inStage = (p: string) => join(finalRoot, p);
  const { argv, workdir, env: imageEnv } = imageCommand();
  const cwd = inStage(workdir);
  const dataDir = inStage(imageEnv.WEFT_DATA_DIR ?? "/data");

  let handlers: HandlerServer;
  beforeAll(async () => {
    handlers = await HandlerServer.start();
  });
  afterAll(async () => {
    await handlers?.close();
  });

  it("the base image's Node is the one this test runs (24), and the image's settings are the documented ones", () => {
    expect(Number(process.versions.node.split(".")[0])).toBe(baseNodeMajor());
    expect(imageEnv).toMatchObject({ WEFT_HOST: "0.0.0.0", WEFT_DATA_DIR: "/data" });
    expect(lastOf(final, "USER")).toBe("node");
    expect(lastOf(final, "VOLUME")).toBe("/data");
    expect(argv).toEqual(["node", "bin/weft.js", "server"]);
  });

  it("has the production dependencies only", () => {
    const modules = inStage(join(workdir, "node_modules"));
    for (const dep of Object.keys(JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).dependencies as Record<string, string>)) {
      expect(existsSync(join(modules, dep, "package.json")), dep).toBe(true);
    }
    for (const dev of ["vitest", "typescript", "@bufbuild/buf", "@bufbuild/protoc-gen-es", "testcontainers"]) {
      expect(existsSync(join(modules, dev)), dev).toBe(false);
    }
    // No second Node: the `node` package's download (an install script) is skipped; the base image has Node 24.
    expect(existsSync(join(modules, "node", "bin", "node"))).toBe(false);
  });

  it("refuses to start without API keys (it listens on 0.0.0.0)", async () => {
    const child = spawnInImage(argv, cwd, { ...imageEnv, WEFT_DATA_DIR: dataDir, WEFT_PORT: "0" });
    let stderr = "";
    let stdout = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes("weft listening")) child.kill("SIGKILL");
    });
    const code = await exitOf(child);
    expect(stdout).not.toContain("weft listening");
    expect(code).not.toBe(0);
    expect(stderr).toContain("WEFT_API_KEYS");
  });

  it("starts as the image does: the health check passes, a workflow runs, SIGTERM stops it with 0, nothing on stderr", async () => {
    const child = spawnInImage(argv, cwd, {
      ...imageEnv,
      WEFT_DATA_DIR: dataDir,
      WEFT_PORT: "0",
      WEFT_API_KEYS: `write:${WRITE_KEY}`,
      WEFT_SIGNING_SECRETS: TEST_SECRET,
    });
    const exited = exitOf(child);
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const lines: string[] = [];
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the server did not start:\n${lines.join("\n")}\n${stderr}`)), 60_000);
        createInterface({ input: child.stdout! }).on("line", (line) => {
          lines.push(line);
          const entry = JSON.parse(line) as { msg?: string; port?: number; host?: string };
          if (entry.msg === "weft listening" && entry.port) {
            clearTimeout(timer);
            expect(entry.host).toBe("0.0.0.0");
            resolve(entry.port);
          }
        });
        void exited.then((code) => reject(new Error(`the server exited with ${code}:\n${lines.join("\n")}\n${stderr}`)));
      });

      // The HEALTHCHECK command, with the container's environment (the port it listens on).
      const health = spawnInImage(healthcheckCommand(final)!, cwd, { ...imageEnv, WEFT_PORT: String(port) });
      expect(await exitOf(health)).toBe(0);

      const client = keyedClient(port);
      const { workflow } = await client.createWorkflow({
        id: "image-run",
        steps: [
          { id: "a", url: handlers.url("/image/a") },
          { id: "b", url: handlers.url("/image/b"), dependsOn: ["a"] },
        ],
      });
      const run = await waitForRun(client, workflow!.id, undefined, 60_000);
      expect(run.state).toBe(WorkflowState.COMPLETED);
      const calls = handlers.callsFor(workflow!.id);
      expect(calls.map((c) => c.path)).toEqual(["/image/a", "/image/b"]);
      for (const call of calls) expectSigned(call);
      // The image ships the built web console.
      const ui = await fetch(`http://127.0.0.1:${port}/ui/`);
      expect(ui.status).toBe(200);
      expect(await ui.text()).toContain('<div id="root">');
    } finally {
      if (child.exitCode === null) child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    expect(lines.some((l) => l.includes('"msg":"weft stopped"'))).toBe(true);
    // Configured fully, it has nothing to warn about (e.g. no "WAL checkpointer stopped": its thread loaded).
    expect(lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 40)).toEqual([]);
    expect(stderr).toBe("");
  }, 180_000);
});

/** A client on 127.0.0.1:port that sends the write key with every call. */
function keyedClient(port: number): Client<typeof WorkflowService> {
  return createClient(
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
}
