// `weft run --label`, `weft list --label/--since/--before` and `weft delete`, spawned as a user
// runs them, against a real server and real handlers (traffic only to 127.0.0.1).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { REPO_ROOT, systemPath } from "../support/server-package.ts";
import { HandlerServer } from "../support/handler-server.ts";
import { startWeft, type TestWeft, waitForRun } from "../support/weft.ts";

const BIN = join(REPO_ROOT, "bin", "weft.js");
const NODE = join(REPO_ROOT, "node_modules", ".bin", "node");

let handlers: HandlerServer;
let weft: TestWeft;
let dir: string;

function weftCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(NODE, [BIN, ...args], { cwd: REPO_ROOT, env: { PATH: systemPath(), HOME: process.env.HOME ?? "/", WEFT_URL: weft.baseUrl }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  handlers = await HandlerServer.start();
  weft = await startWeft();
  dir = mkdtempSync(join(tmpdir(), "weft-cli-labels-"));
});
afterAll(async () => {
  await weft?.stop();
  await handlers?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("run --label labels a run; list --label --since finds it; delete removes it once finished", async () => {
  const wf = join(dir, "wf.yaml");
  writeFileSync(wf, `id: cli-labels\nsteps:\n  - id: a\n    url: ${handlers.url("/a")}\n`);
  const made = await weftCli(["run", wf, "--label", "team=ops", "--label", "ticket=T-1"]);
  expect(made.stderr).toBe("");
  expect(made.code).toBe(0);
  const runId = made.stdout.trim();
  const other = (await weftCli(["run", wf, "--label", "team=web"])).stdout.trim();
  await waitForRun(weft.client, runId);
  await waitForRun(weft.client, other);
  expect((await weft.client.getWorkflow({ id: runId })).workflow!.labels).toEqual({ team: "ops", ticket: "T-1" });

  const listed = await weftCli(["list", "--label", "team=ops", "--since", "1h", "--output", "json"]);
  expect(listed.stderr).toBe("");
  expect(listed.stdout.trim().split("\n").map((l) => JSON.parse(l).id)).toEqual([runId]);
  const both = await weftCli(["list", "--label", "team=ops", "--label", "ticket=T-1", "--output", "json"]);
  expect(both.stdout.trim().split("\n").map((l) => JSON.parse(l).id)).toEqual([runId]);
  // Nothing was created before an hour ago, nor after a time in the future.
  expect((await weftCli(["list", "--label", "team=ops", "--before", "1h", "--output", "json"])).stdout).toBe("");
  expect((await weftCli(["list", "--label", "team=ops", "--since", "2999-01-01T00:00:00Z", "--output", "json"])).stdout).toBe("");

  const bad = await weftCli(["list", "--label", "nokey"]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/--label: expected key=value/);
  const badTime = await weftCli(["list", "--since", "yesterday"]);
  expect(badTime.code).toBe(2);
  expect(badTime.stderr).toMatch(/--since: expected a duration/);

  const deleted = await weftCli(["delete", runId]);
  expect(deleted.stderr).toBe("");
  expect(deleted.stdout.trim()).toBe(`${runId} deleted`);
  const again = await weftCli(["delete", runId]);
  expect(again.code).toBe(2);
  expect(again.stderr).toMatch(/not_found/);
  expect((await weftCli(["list", "--label", "team=ops", "--output", "json"])).stdout).toBe("");
  expect((await weftCli(["list", "--label", "team=web", "--output", "json"])).stdout.trim().split("\n").map((l) => JSON.parse(l).id)).toEqual([other]);
});
