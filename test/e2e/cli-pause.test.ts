// `weft pause`, `weft resume` and `weft bulk`, spawned as a user runs them,
// against a real server and real handlers (traffic only to 127.0.0.1).
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { REPO_ROOT, systemPath } from "../support/server-package.ts";
import { HandlerServer } from "../support/handler-server.ts";
import { sleep } from "../support/run-observer.ts";
import { startWeft, type TestWeft, waitForRun } from "../support/weft.ts";

const BIN = join(REPO_ROOT, "bin", "weft.js");
const NODE = join(REPO_ROOT, "node_modules", ".bin", "node");

let handlers: HandlerServer;
let weft: TestWeft;

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
});
afterAll(async () => {
  await weft?.stop();
  await handlers?.close();
});

test("pause --reason --hold-deadline, resume; refusals exit non-zero with the reason", async () => {
  let release = false;
  handlers.on("/cp/a", async () => {
    while (!release) await sleep(20);
    return { json: { success: true, result: 1 } };
  });
  const { workflow } = await weft.client.createWorkflow({ id: "cli-pause", steps: [{ id: "a", url: handlers.url("/cp/a") }, { id: "b", url: handlers.url("/cp/b"), dependsOn: ["a"] }] });
  const id = workflow!.id;
  await handlers.waitForCall((c) => c.body.runId === id);
  const paused = await weftCli(["pause", id, "--reason", "deploy", "--hold-deadline"]);
  expect(paused.stderr).toBe("");
  expect([paused.code, paused.stdout.trim()]).toEqual([0, `${id} paused (deadline held)`]);
  const w = (await weft.client.getWorkflow({ id })).workflow!;
  expect([w.state, w.pauseReason, w.deadlineHeld]).toEqual([WorkflowState.PAUSED, "deploy", true]);
  const again = await weftCli(["pause", id]);
  expect(again.code).toBe(1);
  expect(again.stderr).toContain("already paused");
  const listed = await weftCli(["list", "--state", "paused", "--output", "json"]);
  expect(listed.stdout.trim().split("\n").map((l) => JSON.parse(l).id)).toContain(id);
  release = true;
  const resumed = await weftCli(["resume", id, "--output", "json"]);
  expect(resumed.code).toBe(0);
  expect(JSON.parse(resumed.stdout).state).toBe("WORKFLOW_STATE_RUNNING");
  expect((await waitForRun(weft.client, id)).state).toBe(WorkflowState.COMPLETED);
  const notPaused = await weftCli(["resume", id]);
  expect(notPaused.code).toBe(1);
  expect(notPaused.stderr).toContain("not paused");
});

test("bulk cancel: --dry-run counts, without --yes it refuses, with --yes it cancels; no filter needs --all", async () => {
  handlers.on("/cb/slow", async (call) => {
    while (!call.aborted) await sleep(20);
    return { json: { success: true, result: null } };
  });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const { workflow } = await weft.client.createWorkflow({ id: "cli-bulk", labels: { wave: "w1" }, steps: [{ id: "s", url: handlers.url("/cb/slow") }] });
    ids.push(workflow!.id);
  }
  const dry = await weftCli(["bulk", "cancel", "--label", "wave=w1", "--dry-run"]);
  expect([dry.code, dry.stdout.trim()]).toEqual([0, "cancel: 3 matched, 3 would be affected, 0 skipped"]);
  const noYes = await weftCli(["bulk", "cancel", "--label", "wave=w1"]);
  expect(noYes.code).toBe(2);
  expect(noYes.stderr).toContain("--yes");
  const noFilter = await weftCli(["bulk", "cancel", "--yes"]);
  expect(noFilter.code).toBe(2);
  expect(noFilter.stderr).toContain("all");
  for (const id of ids) expect((await weft.client.getWorkflow({ id })).workflow!.state).toBe(WorkflowState.RUNNING);
  const real = await weftCli(["bulk", "cancel", "--label", "wave=w1", "--reason", "cleanup", "--yes", "--output", "json"]);
  expect(real.code).toBe(0);
  expect(JSON.parse(real.stdout)).toEqual({ action: "cancel", dryRun: false, matched: 3, affected: 3, skipped: 0 });
  for (const id of ids) expect((await weft.client.getWorkflow({ id })).workflow!.state).toBe(WorkflowState.CANCELLED);
});
