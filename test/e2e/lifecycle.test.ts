// Server lifecycle and configuration: --help, SIGTERM, the run deadline, and
// signing-key rotation as a handler sees it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, expect, test } from "vitest";
import { StepState, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { OPTIONS } from "../../src/config.ts";
import { verifySignature } from "../../src/signing/verify.ts";
import { HandlerServer } from "../support/handler-server.ts";
import { kill9, REPO_ROOT, spawnWeft } from "../support/weft-process.ts";
import { startWeft, waitForRun } from "../support/weft.ts";

let handlers: HandlerServer;
const dirs: string[] = [];
beforeAll(async () => {
  handlers = await HandlerServer.start();
});
afterAll(async () => {
  await handlers?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("--help lists every option with its environment variable; a bad value is refused", () => {
  const help = spawnSync(process.execPath, ["src/main.ts", "--help"], { cwd: REPO_ROOT, encoding: "utf8" });
  expect(help.status).toBe(0);
  for (const o of OPTIONS) {
    expect(help.stdout).toContain(`--${o.flag}`);
    expect(help.stdout).toContain(o.env);
  }
  const bad = spawnSync(process.execPath, ["src/main.ts", "--port", "http"], { cwd: REPO_ROOT, encoding: "utf8" });
  expect(bad.status).toBe(2);
  expect(bad.stderr).toContain('port: "http" is not a whole number');
});

test("SIGTERM: the server finishes in-flight work within the grace period and exits 0; the run resumes on restart", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-term-"));
  dirs.push(dir);
  handlers.on("/term/short", () => ({ json: { success: true, result: "short" }, delayMs: 300 }));
  const first = await spawnWeft(dir, ["--shutdown-grace-ms", "3000"]);
  const { workflow } = await first.client.createWorkflow({
    id: "graceful",
    steps: [
      { id: "short", url: handlers.url("/term/short") },
      { id: "next", url: handlers.url("/term/next"), dependsOn: ["short"] },
    ],
  });
  const runId = workflow!.id;
  await handlers.waitForCall((c) => c.body.runId === runId && c.path === "/term/short");
  const t0 = Date.now();
  first.child.kill("SIGTERM");
  expect(await first.exited).toBe(0);
  // Bounded, not instant: a shutdown that waited for something unbounded would miss this by far.
  expect(Date.now() - t0).toBeLessThan(60_000);
  // The in-flight attempt finished and was recorded; nothing new started while stopping.
  expect(handlers.callsFor(runId, "/term/next")).toHaveLength(0);

  const second = await spawnWeft(dir);
  const done = await waitForRun(second.client, runId);
  expect(done.state).toBe(WorkflowState.COMPLETED);
  expect(handlers.callsFor(runId, "/term/short")).toHaveLength(1);
  expect(handlers.callsFor(runId, "/term/next")).toHaveLength(1);
  await kill9(second);
});

test("a second server on a data directory in use exits with a clear error; once the first is killed (-9) it starts", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-lock-"));
  dirs.push(dir);
  const first = await spawnWeft(dir);
  await expect(spawnWeft(dir)).rejects.toThrow(/is locked: another Weft server is using it/);
  const { workflow } = await first.client.createWorkflow({ id: "locked-dir", steps: [{ id: "a", url: handlers.url("/lock/a") }] });
  await waitForRun(first.client, workflow!.id);
  await kill9(first);
  const second = await spawnWeft(dir);
  expect((await second.client.getWorkflow({ id: workflow!.id })).workflow?.state).toBe(WorkflowState.COMPLETED);
  await kill9(second);
});

test("the workflow timeout aborts the step in flight and fails the run as timed_out", async () => {
  const weft = await startWeft();
  try {
    handlers.on("/deadline/slow", () => ({ json: { success: true }, delayMs: 120_000 }));
    const { workflow } = await weft.client.createWorkflow({
      id: "deadline",
      // Long enough for the step to be sent first on a loaded machine, on either store.
      timeout: durationFromMs(4000),
      steps: [
        { id: "slow", url: handlers.url("/deadline/slow") },
        { id: "after", url: handlers.url("/deadline/after"), dependsOn: ["slow"] },
      ],
    });
    const done = await waitForRun(weft.client, workflow!.id);
    expect(done.state).toBe(WorkflowState.FAILED);
    expect(done.error).toMatchObject({ reason: "timed_out" });
    expect(done.steps.map((s) => s.state)).toEqual([StepState.CANCELLED, StepState.SKIPPED]);
    const call = handlers.callsFor(workflow!.id, "/deadline/slow")[0];
    await expect.poll(() => call.aborted).toBe(true);
  } finally {
    await weft.stop();
  }
});

test("with two signing secrets configured, a handler holding only one of them verifies every call", async () => {
  const oldSecret = "whsec_b2xkLXNlY3JldC1vbGQtc2VjcmV0LW9sZA==";
  const newSecret = "whsec_bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldw==";
  const weft = await startWeft({ signingSecrets: [oldSecret, newSecret] });
  try {
    const { workflow } = await weft.client.createWorkflow({ id: "rotation", steps: [{ id: "a", url: handlers.url("/rot/a") }] });
    await waitForRun(weft.client, workflow!.id);
    const call = handlers.callsFor(workflow!.id)[0];
    expect(String(call.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    for (const secrets of [[oldSecret], [newSecret]]) {
      expect(verifySignature({ headers: call.headers as Record<string, string>, body: call.rawBody, secrets })).toEqual({ ok: true });
    }
    const other = "whsec_b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA==";
    expect(verifySignature({ headers: call.headers as Record<string, string>, body: call.rawBody, secrets: [other] })).toEqual({ ok: false, reason: "bad_signature" });
    const tampered = call.rawBody.replace('"attempt":1', '"attempt":2');
    expect(verifySignature({ headers: call.headers as Record<string, string>, body: tampered, secrets: [newSecret] })).toEqual({ ok: false, reason: "bad_signature" });
  } finally {
    await weft.stop();
  }
});
