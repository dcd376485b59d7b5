// The operator CLI as a user runs it: `node bin/weft.js <command>` spawned on the machine's own
// Node (20 in CI; bin/weft.js re-executes the CLI on the bundled Node 24) and on the bundled Node,
// against real Weft servers (one with API keys, one without) and real step handlers. The live
// terminal view runs under a pseudo-terminal (`script` from util-linux). Traffic only to 127.0.0.1.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkflowService, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { loadConfig } from "../../src/config.ts";
import { HandlerServer } from "../support/handler-server.ts";
import { makeTestCerts } from "../support/tls-certs.ts";
import { REPO_ROOT, systemNode, systemPath } from "../support/server-package.ts";
import { startWeft, type TestWeft, waitForRun } from "../support/weft.ts";

const KEY = "wk_cli_5f0c2a9e71d4b8e3";
const BIN = join(REPO_ROOT, "bin", "weft.js");
const BUNDLED_NODE = join(REPO_ROOT, "node_modules", ".bin", "node");
const SYSTEM_NODE = systemNode();
const NODES = [...(SYSTEM_NODE ? [["system Node", SYSTEM_NODE]] : []), ["bundled Node 24", BUNDLED_NODE]] as const;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The user's shell: the machine's tools, no WEFT_* variables unless given. */
function userEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: systemPath(), HOME: process.env.HOME ?? "/", ...extra };
}

function spawnResult(command: string, args: string[], env: Record<string, string>, input?: string): Promise<Result> {
  const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
  if (input !== undefined) child.stdin!.end(input);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const weftCli = (node: string, args: string[], env = userEnv()) => spawnResult(node, [BIN, ...args], env);
const jsonLines = (s: string) => s.trim().split("\n").map((l) => JSON.parse(l) as Record<string, any>);

describe("weft CLI", () => {
  let handlers: HandlerServer;
  let open: TestWeft;
  let keyed: TestWeft;
  let dir: string;
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  let flakyCalls = 0;

  beforeAll(async () => {
    handlers = await HandlerServer.start();
    // Fails its first call (per run), then succeeds.
    handlers.on("/flaky", (call, calls) =>
      calls.filter((c) => c.path === "/flaky" && c.body.runId === call.body.runId).length === 1
        ? (flakyCalls++, { status: 503, text: "busy" })
        : { json: { ok: true } },
    );
    handlers.on("/boom", () => ({ status: 500, text: "boom" }));
    handlers.on("/slow", () => ({ json: {}, delayMs: 120_000 }));
    open = await startWeft();
    keyed = await startWeft({ auth: loadConfig(["--api-keys", `write:${KEY}`], {})!.auth });
    dir = mkdtempSync(join(tmpdir(), "weft-cli-"));
  });
  afterAll(async () => {
    await open?.stop();
    await keyed?.stop();
    await handlers?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const fanOut = (id: string) => `# a fan-out with a retry
id: ${id}
baseUrl: ${handlers.baseUrl}
context:
  batch: b1
steps:
  - id: prepare
    url: /prepare
  - id: flaky
    url: /flaky
    dependsOn: [prepare]
    parallel: true
    retries: {maxAttempts: 3, backoff: fixed, initialInterval: 3}
  - id: other
    url: /other
    depends_on: [prepare]
    parallel: true
  - id: finalize
    url: /finalize
    dependsOn: [flaky, other]
`;

  for (const [label, node] of NODES) {
    it(`run --watch --output json on the ${label}: a retry and a parallel fan-out complete, exit 0`, async () => {
      const wf = file(`fan-${label.replace(/\W/g, "")}.yaml`, fanOut(`fan-${label.replace(/\W/g, "")}`));
      const r = await weftCli(node, ["run", wf, "--watch", "--output", "json", "--context", "user=u1", "--context", "n=3"], userEnv({ WEFT_URL: keyed.baseUrl, WEFT_API_KEY: KEY }));
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const lines = jsonLines(r.stdout);
      expect(lines[0]).toMatchObject({ type: "created", state: "pending" });
      const runId = lines[0].runId as string;
      const events = lines.filter((l) => l.type === "event");
      // The retry: attempt 1 of flaky went to retry_wait with its error and when the next attempt is due.
      const retry = events.find((e) => e.stepId === "flaky" && e.to === "retry_wait");
      expect(retry).toMatchObject({ attempt: 1, from: "running", error: { reason: "http_status", httpStatus: 503, retryable: true } });
      // Fetched while the step waits (3 s, far longer than a GetWorkflow takes).
      expect(Date.parse(retry!.nextAttemptAt)).toBeGreaterThan(Date.parse(retry!.time));
      expect(events.some((e) => e.stepId === "flaky" && e.to === "completed" && e.attempt === 2)).toBe(true);
      expect(events.at(-1)).toMatchObject({ kind: "run", to: "completed" });
      // Every event from the run's creation on, in order and without gaps, however soon it came.
      expect(lines[1]).toMatchObject({ type: "snapshot", runId, state: "pending", sequence: 1 });
      expect(events[0]).toMatchObject({ kind: "run", from: "pending", to: "running" });
      expect(events.map((e) => e.sequence as number)).toEqual(events.map((_, i) => i + 2));
      const summary = lines.at(-1)!;
      expect(summary).toMatchObject({ type: "summary", runId, state: "completed" });
      expect(summary.steps.map((s: { id: string; state: string }) => [s.id, s.state])).toEqual([
        ["prepare", "completed"],
        ["flaky", "completed"],
        ["other", "completed"],
        ["finalize", "completed"],
      ]);
      expect(summary.steps.find((s: { id: string }) => s.id === "flaky").attempts).toBe(2);
      // --context merged over the file's context, values read as JSON where they are JSON.
      const [call] = handlers.callsFor(runId, "/prepare");
      expect(call.body.context).toEqual({ batch: "b1", user: "u1", n: 3 });
      expect(call.headers.authorization).toBeUndefined();
    }, 180_000);
  }

  it("off a terminal, run --watch writes JSON lines by default; a failing run exits 1", async () => {
    const wf = file("fails.yaml", `id: fails\nsteps:\n  - id: a\n    url: ${handlers.url("/boom")}\n`);
    const r = await weftCli(BUNDLED_NODE, ["run", wf, "--watch", "--url", open.baseUrl]);
    expect(r.code).toBe(1);
    const lines = jsonLines(r.stdout);
    expect(lines.at(-1)).toMatchObject({ type: "summary", state: "failed", steps: [{ id: "a", state: "failed" }] });
    expect(lines.at(-1)!.error).toContain("boom");
  }, 180_000);

  it("run without --watch prints the run id; cancel cancels it; watch then exits 3", async () => {
    const wf = file("slow.json", JSON.stringify({ id: "slow", steps: [{ id: "wait", url: handlers.url("/slow") }] }));
    const env = userEnv({ WEFT_URL: keyed.baseUrl, WEFT_API_KEY: KEY });
    const started = await weftCli(BUNDLED_NODE, ["run", wf], env);
    expect(started.code).toBe(0);
    const runId = started.stdout.trim();
    expect(runId).toMatch(/^wf_[0-9A-Z]{26}$/);
    await handlers.waitForCall((c) => c.body.runId === runId, 30_000);

    const cancel = await weftCli(SYSTEM_NODE ?? BUNDLED_NODE, ["cancel", runId, "--reason", "operator said so"], env);
    expect(cancel.stderr).toBe("");
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain(`${runId} cancelled`);
    const client = createClient(WorkflowService, createConnectTransport({ baseUrl: keyed.baseUrl, httpVersion: "1.1", interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${KEY}`), next(req))] }));
    const run = await waitForRun(client, runId);
    expect(run.state).toBe(WorkflowState.CANCELLED);
    expect(run.error?.message).toContain("operator said so");

    const watched = await weftCli(BUNDLED_NODE, ["watch", runId, "--output", "json"], env);
    expect(watched.code).toBe(3);
    expect(jsonLines(watched.stdout).at(-1)).toMatchObject({ type: "summary", state: "cancelled" });

    // Cancelling a finished run: the server's FAILED_PRECONDITION, exit 1.
    const again = await weftCli(BUNDLED_NODE, ["cancel", runId], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("failed_precondition");
  }, 180_000);

  it("get, list and events print the run, the runs and the event log", async () => {
    const wf = file("listed.yaml", `id: listed\nsteps:\n  - id: one\n    url: ${handlers.url("/one")}\n  - {id: two, url: "${handlers.url("/two")}", dependsOn: [one]}\n`);
    const ctx = file("ctx.json", '{\n  "orderId": "o1",\n  "qty": 2\n}\n');
    const created = await weftCli(BUNDLED_NODE, ["run", wf, "--url", open.baseUrl, "--context-file", ctx]);
    const runId = created.stdout.trim();
    const client = createClient(WorkflowService, createConnectTransport({ baseUrl: open.baseUrl, httpVersion: "1.1" }));
    const done = await waitForRun(client, runId);
    expect(done.state).toBe(WorkflowState.COMPLETED);
    // "-": the workflow file, or the context file, from stdin (not both).
    const workflowText = `id: listed-stdin\nsteps:\n  - id: one\n    url: ${handlers.url("/one")}\n`;
    const fromStdin = await spawnResult(BUNDLED_NODE, [BIN, "run", "-", "--url", open.baseUrl, "--context-file", ctx], userEnv(), workflowText);
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    expect((await waitForRun(client, fromStdin.stdout.trim())).context).toEqual({ orderId: "o1", qty: 2 });
    const stdinWf = file("listed-stdin.yaml", workflowText);
    const ctxFromStdin = await spawnResult(BUNDLED_NODE, [BIN, "run", stdinWf, "--url", open.baseUrl, "--context-file", "-"], userEnv(), '{"orderId": "o2"}');
    expect(ctxFromStdin.code, ctxFromStdin.stderr).toBe(0);
    expect((await waitForRun(client, ctxFromStdin.stdout.trim())).context).toEqual({ orderId: "o2" });
    const both = await spawnResult(BUNDLED_NODE, [BIN, "run", "-", "--url", open.baseUrl, "--context-file", "-"], userEnv(), workflowText);
    expect([both.code, both.stderr.trim()]).toEqual([2, "weft: the workflow file and --context-file cannot both be stdin (-)"]);
    const badStdin = await spawnResult(BUNDLED_NODE, [BIN, "run", "-", "--url", open.baseUrl], userEnv(), "id: x\nsteps: 3\n");
    expect(badStdin.code).toBe(2);
    expect(badStdin.stderr).toMatch(/^weft: stdin:2: steps/m);
    const env = userEnv({ WEFT_URL: open.baseUrl });

    const get = await weftCli(BUNDLED_NODE, ["get", runId], env);
    expect(get.code).toBe(0);
    expect(get.stdout).toContain(`listed ${runId}  completed`);
    expect(get.stdout).toContain("2/2 steps done");
    expect(get.stdout).toMatch(/✔ one\s+completed in/);
    expect(get.stdout).toMatch(/✔ two\s+completed in/);
    const getJson = await weftCli(BUNDLED_NODE, ["get", runId, "--output", "json"], env);
    expect(JSON.parse(getJson.stdout)).toMatchObject({ id: runId, workflowId: "listed", state: "WORKFLOW_STATE_COMPLETED", results: { one: { step: "one" } }, context: { orderId: "o1", qty: 2 } });

    const list = await weftCli(BUNDLED_NODE, ["list", "--workflow", "listed"], env);
    expect(list.code).toBe(0);
    const rows = list.stdout.trim().split("\n");
    expect(rows[0]).toMatch(/^RUN\s+WORKFLOW\s+STATE\s+CREATED\s+DURATION$/);
    expect(rows.slice(1).map((r) => r.split(/\s+/).slice(0, 3))).toEqual([[runId, "listed", "completed"]]);
    const failedOnly = await weftCli(BUNDLED_NODE, ["list", "--state", "failed", "--all", "--output", "json"], env);
    expect(failedOnly.code).toBe(0);
    const failedRuns = failedOnly.stdout.trim() ? jsonLines(failedOnly.stdout) : [];
    expect(failedRuns.every((w) => w.state === "WORKFLOW_STATE_FAILED")).toBe(true);
    expect(failedRuns.some((w) => w.id === runId)).toBe(false);
    const badState = await weftCli(BUNDLED_NODE, ["list", "--state", "done"], env);
    expect(badState.code).toBe(2);
    expect(badState.stderr).toContain("--state: unknown state");

    const events = await weftCli(BUNDLED_NODE, ["events", runId], env);
    expect(events.code).toBe(0);
    const lines = events.stdout.trim().split("\n");
    expect(lines).toHaveLength(Number(done.lastSequence));
    expect(lines[0]).toMatch(/^#1 /);
    expect(lines.at(-1)).toContain("run: running -> completed");
    expect(lines.some((l) => l.includes("step two: running -> completed") && l.includes("attempt 1"))).toBe(true);
    const eventsJson = jsonLines((await weftCli(BUNDLED_NODE, ["events", runId, "--output", "json"], env)).stdout);
    expect(eventsJson.map((e) => Number(e.sequence))).toEqual(lines.map((_, i) => i + 1));

    const missing = await weftCli(BUNDLED_NODE, ["get", "wf_00000000000000000000000000"], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("not_found");
  }, 180_000);

  it("a YAML file with a bad field: the line and the field, exit 2, no run", async () => {
    const wf = file(
      "bad.yaml",
      [
        "id: bad-file", //           1
        "steps:", //                 2
        "  - id: a", //              3
        `    url: ${handlers.url("/a")}`, // 4
        "    retries:", //           5
        "      maxAttempts: 3", //   6
        "      backof: linear", //   7
        "  - id: b", //              8
        "    url: 42", //            9
        "    timeout: soon", //     10
        "",
      ].join("\n"),
    );
    const r = await weftCli(SYSTEM_NODE ?? BUNDLED_NODE, ["run", wf, "--url", open.baseUrl]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const errors = r.stderr.trim().split("\n");
    expect(errors[0]).toBe(`weft: ${wf}:7: steps[0].retries.backof: unknown field "backof" of retries (known: maxAttempts, backoff, initialInterval, maxInterval, jitter)`);
    expect(errors[1]).toBe(`${wf}:9: steps[1].url: must be a string, not number`);
    expect(errors[2]).toBe(`${wf}:10: steps[1].timeout: must be a number of seconds (e.g. 300 or 0.5), not a string`);

    const syntax = file("syntax.yaml", "id: x\nsteps:\n  - id: a\n     url: b\n");
    const s = await weftCli(BUNDLED_NODE, ["run", syntax, "--url", open.baseUrl]);
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(new RegExp(`^weft: ${syntax.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3:\\d+: Nested mappings are not allowed`));

    const client = createClient(WorkflowService, createConnectTransport({ baseUrl: open.baseUrl, httpVersion: "1.1" }));
    const { workflows } = await client.listWorkflows({ workflowId: "bad-file" });
    expect(workflows).toEqual([]);
  }, 180_000);

  it("the server's INVALID_ARGUMENT: one field violation per line, with the file's line; exit 2", async () => {
    const wf = file(
      "unknown-dep.yaml",
      ["id: unknown-dep", "steps:", "  - id: a", `    url: ${handlers.url("/a")}`, "  - id: b", `    url: ${handlers.url("/b")}`, "    depends_on: [charge]", "    retries: {maxAttempts: 1000}", ""].join("\n"),
    );
    const r = await weftCli(BUNDLED_NODE, ["run", wf, "--url", open.baseUrl]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines[0]).toBe("weft: the server refused the request (invalid_argument):");
    expect(lines).toContain(`${wf}:7: steps[1].depends_on[0]: unknown step "charge"`);
    expect(lines.some((l) => l.startsWith(`${wf}:8: steps[1].retries.max_attempts: `))).toBe(true);
  }, 180_000);

  it("a server with API keys: no key or a wrong key exits 4; an unreachable server exits 4", async () => {
    const noKey = await weftCli(BUNDLED_NODE, ["list", "--url", keyed.baseUrl]);
    expect(noKey.code).toBe(4);
    expect(noKey.stderr).toContain("unauthenticated");
    const wrong = await weftCli(BUNDLED_NODE, ["list", "--url", keyed.baseUrl, "--api-key", "wk_wrong_0000000000000"]);
    expect(wrong.code).toBe(4);
    const ok = await weftCli(BUNDLED_NODE, ["list", "--url", keyed.baseUrl, "--api-key", KEY]);
    expect(ok.code).toBe(0);
    // A port nothing listens on (the handler server's port, closed once this test file ends, is not
    // guaranteed free; a server that stopped is).
    const stopped = await startWeft();
    const url = stopped.baseUrl;
    await stopped.stop();
    const down = await weftCli(BUNDLED_NODE, ["list", "--url", url]);
    expect(down.code).toBe(4);
    expect(down.stderr).toContain("unavailable");
    const usage = await weftCli(BUNDLED_NODE, ["list", "--url", "ftp://127.0.0.1/"]);
    expect(usage.code).toBe(2);
    const unknownFlag = await weftCli(BUNDLED_NODE, ["get", "--nope"]);
    expect(unknownFlag.code).toBe(2);
  }, 180_000);

  it("https:// reaches a server with TLS (its CA from NODE_EXTRA_CA_CERTS); an untrusted certificate exits 4", async () => {
    const certs = makeTestCerts();
    const tlsWeft = await startWeft({ tls: { certFile: certs.files.cert, keyFile: certs.files.key, clientCaFile: undefined, cert: certs.cert, key: certs.key, clientCa: undefined } });
    try {
      const url = tlsWeft.baseUrl.replace("http://", "https://");
      const wf = file("tls.yaml", `id: over-tls\nsteps:\n  - id: a\n    url: ${handlers.url("/tls-a")}\n`);
      const r = await weftCli(SYSTEM_NODE ?? BUNDLED_NODE, ["run", wf, "--watch", "--url", url], userEnv({ NODE_EXTRA_CA_CERTS: certs.files.ca }));
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(jsonLines(r.stdout).at(-1)).toMatchObject({ type: "summary", state: "completed" });
      const untrusted = await weftCli(BUNDLED_NODE, ["list", "--url", url]);
      expect(untrusted.code).toBe(4);
    } finally {
      await tlsWeft.stop();
      certs.remove();
    }
  }, 180_000);

  it.skipIf(!existsSync("/usr/bin/script"))("on a terminal, run --watch shows the live view and the final summary", async () => {
    const wf = file("tty.yaml", fanOut("tty"));
    // A sized terminal; `script -e` exits with the command's code.
    const command = `stty cols 120 rows 40; exec ${BUNDLED_NODE} ${BIN} run ${wf} --watch --url ${open.baseUrl}`;
    const r = await spawnResult("script", ["-qfec", command, "/dev/null"], userEnv({ TERM: "xterm" }));
    expect(r.code).toBe(0);
    const text = r.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
    expect(text).toMatch(/4\/4 steps done, 0 running, 0 retrying, 0 failed/);
    expect(text).toMatch(/✔ flaky\s+completed in \S+ \(2 attempts\)/);
    expect(text).toMatch(/Run wf_[0-9A-Z]{26} \(tty\) completed in \S+: 4\/4 steps completed/);
  }, 180_000);
});
