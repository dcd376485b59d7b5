// The CLI on map steps and joins, as a user runs it: `node bin/weft.js <command>` against a real
// Weft server and real step handlers. `weft items` pages through a map step's items; `get`, the
// live view (under a pseudo-terminal, `script` from util-linux) and the summary show item counts
// and what a join decided. Traffic only to 127.0.0.1.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { HandlerServer } from "../support/handler-server.ts";
import { sleep } from "../support/run-observer.ts";
import { REPO_ROOT, systemPath } from "../support/server-package.ts";
import { startWeft, type TestWeft, waitForRun } from "../support/weft.ts";

const BIN = join(REPO_ROOT, "bin", "weft.js");
const NODE = join(REPO_ROOT, "node_modules", ".bin", "node");

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function spawnResult(command: string, args: string[], env: Record<string, string>): Promise<Result> {
  const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const jsonLines = (s: string) => s.trim().split("\n").map((l) => JSON.parse(l) as Record<string, any>);
const ITEMS = 250;
const FAILING = new Set([3, 7]);

describe("weft CLI: map steps and joins", () => {
  let handlers: HandlerServer;
  let weft: TestWeft;
  let dir: string;
  let env: Record<string, string>;
  const cli = (args: string[]) => spawnResult(NODE, [BIN, ...args], env);
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  beforeAll(async () => {
    handlers = await HandlerServer.start();
    // Items 3 and 7 fail for good (a 400 is not retried); the others answer their item doubled, a little later.
    handlers.on("/item", async (call) => {
      const { item, index } = call.body as unknown as { item: number; index: number };
      await sleep(20);
      return FAILING.has(index) ? { status: 400, json: { success: false, error: `item ${index} is corrupt` } } : { json: { success: true, result: item * 2 } };
    });
    handlers.on("/boom", () => ({ status: 400, json: { success: false, error: "boom" } }));
    handlers.on("/slow", () => ({ json: { success: true, result: "late" }, delayMs: 120_000 }));
    weft = await startWeft();
    dir = mkdtempSync(join(tmpdir(), "weft-cli-map-"));
    env = { PATH: systemPath(), HOME: process.env.HOME ?? "/", WEFT_URL: weft.baseUrl };
  });
  afterAll(async () => {
    await weft?.stop();
    await handlers?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const mapFile = (id: string) =>
    file(
      `${id}.yaml`,
      `id: ${id}
baseUrl: ${handlers.baseUrl}
context:
  list: [${Array.from({ length: ITEMS }, (_, i) => i).join(", ")}]
steps:
  - id: process
    url: /item
    forEach: /context/list
    maxConcurrency: 5
    itemFailures: all_settled
  - id: finalize
    url: /finalize
    dependsOn: [process]
`,
    );

  it.skipIf(!existsSync("/usr/bin/script"))("run --watch on a terminal: the map step's item counts move, the summary sums them up", async () => {
    const wf = mapFile("map-tty");
    const command = `stty cols 120 rows 40; exec ${NODE} ${BIN} run ${wf} --watch --url ${weft.baseUrl}`;
    const r = await spawnResult("script", ["-qfec", command, "/dev/null"], { ...env, TERM: "xterm" });
    expect(r.code).toBe(0);
    const text = r.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
    // Counts while the items ran (250 items at 5 at a time take seconds; the view polls every second).
    const seen = [...text.matchAll(/▶ process\s+running \S+\s+(\d+)\/250 items/g)].map((m) => Number(m[1]));
    expect(seen.some((n) => n > 0 && n < ITEMS)).toBe(true);
    expect(text).toMatch(/✔ process\s+completed in \S+\s+250\/250 items, 2 failed/);
    expect(text).toMatch(/Run wf_[0-9A-Z]{26} \(map-tty\) completed in \S+: 2\/2 steps completed\r?\n {2}process: 250\/250 items, 2 failed/);
  }, 180_000);

  it("get shows the counts; items pages through the items, filters by state, prints JSON lines", async () => {
    const created = await cli(["run", mapFile("map-items")]);
    expect(created.code).toBe(0);
    const runId = created.stdout.trim();
    const done = await waitForRun(weft.client, runId, undefined, 120_000);
    expect(done.state).toBe(WorkflowState.COMPLETED);

    const get = await cli(["get", runId]);
    expect(get.code).toBe(0);
    expect(get.stdout).toMatch(/✔ process\s+completed in \S+\s+250\/250 items, 2 failed\n/);

    // Default: the first 100 items, and a word on stderr that there are more.
    const first = await cli(["items", runId, "process"]);
    expect(first.code).toBe(0);
    const rows = first.stdout.trim().split("\n");
    expect(rows[0]).toMatch(/^INDEX\s+STATE\s+ATTEMPTS\s+DURATION\s+RESULT \/ ERROR$/);
    expect(rows).toHaveLength(101);
    expect(rows[1]).toMatch(/^0\s+completed\s+1\s+\S+\s+0$/);
    expect(rows[3]).toMatch(/^2\s+completed\s+1\s+\S+\s+4$/);
    expect(rows[4]).toMatch(/^3\s+failed\s+1\s+\S+\s+http_status \(HTTP 400\): .*item 3 is corrupt/);
    expect(first.stderr).toContain("more items: --limit or --all");

    const failed = await cli(["items", runId, "process", "--state", "failed", "--output", "json"]);
    expect(failed.code).toBe(0);
    expect(failed.stderr).toBe("");
    const lines = jsonLines(failed.stdout);
    expect(lines.map((l) => [l.index ?? 0, l.state])).toEqual([
      [3, "STEP_STATE_FAILED"],
      [7, "STEP_STATE_FAILED"],
    ]);
    expect(lines[0]).toMatchObject({ attempts: 1, error: { reason: "http_status", httpStatus: 400 } });

    const all = await cli(["items", runId, "process", "--all", "--output", "json"]);
    const every = jsonLines(all.stdout);
    expect(every).toHaveLength(ITEMS);
    expect(every.map((l) => l.index ?? 0)).toEqual(Array.from({ length: ITEMS }, (_, i) => i));
    expect(every[249]).toMatchObject({ index: 249, state: "STEP_STATE_COMPLETED", result: 498 });

    const some = await cli(["items", runId, "process", "--limit", "3", "--state", "completed,failed"]);
    expect(some.stdout.trim().split("\n").slice(1).map((r) => r.split(/\s+/).slice(0, 2))).toEqual([
      ["0", "completed"],
      ["1", "completed"],
      ["2", "completed"],
    ]);

    const notMap = await cli(["items", runId, "finalize"]);
    expect(notMap.code).toBe(2);
    expect(notMap.stderr).toContain('step_id: step "finalize" is not a map step');
    const unknown = await cli(["items", runId, "nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("step_id: no step");
    const badState = await cli(["items", runId, "process", "--state", "done"]);
    expect(badState.code).toBe(2);
    expect(badState.stderr).toContain("--state: unknown item state");
  }, 180_000);

  it("what a join decided: a branch cancelled as not needed, a step skipped because its join failed", async () => {
    const wf = file(
      "joins.yaml",
      `id: joins
baseUrl: ${handlers.baseUrl}
steps:
  - {id: fast, url: /fast, parallel: true}
  - {id: slow, url: /slow, parallel: true}
  - {id: first, url: /first, dependsOn: [fast, slow], join: any}
  - {id: bad, url: /boom, parallel: true}
  - {id: quorum, url: /quorum, dependsOn: [fast, bad], join: {at_least: 2}}
`,
    );
    const r = await cli(["run", wf, "--watch", "--output", "json"]);
    expect(r.code).toBe(1);
    const summary = jsonLines(r.stdout).at(-1)!;
    expect(summary).toMatchObject({ type: "summary", state: "failed" });
    const step = (id: string) => (summary.steps as { id: string }[]).find((s) => s.id === id);
    expect(step("slow")).toMatchObject({ state: "cancelled", reason: "not_needed" });
    expect(step("quorum")).toMatchObject({ state: "skipped", reason: "join_failed" });

    const get = await cli(["get", summary.runId]);
    expect(get.stdout).toMatch(/■ slow\s+cancelled in \S+: not needed\n\s+not needed: step "first"/);
    expect(get.stdout).toMatch(/- quorum\s+skipped: join failed\n\s+step "quorum" cannot run \(join at_least 2\)/);
  }, 180_000);
});
