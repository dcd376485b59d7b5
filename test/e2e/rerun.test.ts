// Rerun from a step end to end (README "Recovering runs"), on the embedded
// store and on MongoDB, through real clients (gRPC, Connect, the TS SDK)
// against a real server and real handlers: a new run linked to the original
// calls only the given steps and their dependents, copies the rest with their
// results, takes a new context; refusals; idempotent request ids.
import { create, toBinary, toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { type Client, Code, type ConnectError } from "@connectrpc/connect";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createPlatform, WeftError } from "../../clients/ts/src/index.ts";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { CreateWorkflowRequestSchema, StepState, type Workflow, type WorkflowEvent, WorkflowService, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { loadConfig } from "../../src/config.ts";
import { HandlerServer, type RecordedCall } from "../support/handler-server.ts";
import { mongoPreflight } from "../support/mongo-server.ts";
import { embedded, mongodb } from "../support/store-setups.ts";
import { allEvents, hangUntilAborted } from "../support/run-observer.ts";
import { refusal } from "../support/rejection.ts";
import { waitUntil } from "../support/wait-until.ts";
import { startWeft, type TestWeft, waitForRun } from "../support/weft.ts";

type WeftClient = Client<typeof WorkflowService>;

/** A step's result in a Workflow, as JSON. */
const result = (w: Workflow, step: string) => toJson(ValueSchema, w.results[step]);
const reasonOf = (err: ConnectError) => err.findDetails(ErrorInfoSchema)[0]?.reason;
const fieldsOf = (err: ConnectError) => err.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field);

const mongoSkip = mongoPreflight();
if ("skip" in mongoSkip) console.warn(`\n*** SKIPPED rerun on MongoDB: ${mongoSkip.skip}\n`);

for (const setup of [embedded(), mongodb()]) {
  describe.skipIf(setup.name === "mongodb" && "skip" in mongoSkip)(`rerun from a step (${setup.name} store)`, () => {
    let weft: TestWeft;
    let client: WeftClient;
    let handlers: HandlerServer;
    let seq = 0;
    const path = (name: string) => `/r${++seq}/${name}`;

    beforeAll(async () => {
      await setup.start();
      weftUrl = () => weft.baseUrl;
      handlers = await HandlerServer.start();
      weft = await startWeft(setup.overrides());
      client = weft.client;
    });

    afterAll(async () => {
      await weft?.stop();
      await handlers?.close();
      await setup.stop();
    });

    const calls = (p: string, runId: string, step: string): RecordedCall[] => handlers.callsFor(runId, `${p}/${step}`);
    /** Handlers answering with their step, run and context, and the previousSteps they saw. */
    const echo = (p: string, ids: string[]) => {
      for (const id of ids) {
        handlers.on(`${p}/${id}`, (c) => ({
          json: { success: true, result: { step: c.body.stepId, run: c.body.runId, context: c.body.context, seen: Object.keys(c.body.previousSteps as object).sort() } },
        }));
      }
    };
    const chain = (p: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({ id: `s${i + 1}`, url: handlers.url(`${p}/s${i + 1}`), dependsOn: i === 0 ? [] : [`s${i}`] }));

    test("a completed 5-step chain rerun from step 3: only steps 3-5 are called; steps 1-2 are copied with their results", async () => {
      const p = path("chain");
      echo(p, ["s1", "s2", "s3", "s4", "s5"]);
      const { workflow } = await client.createWorkflow({ id: "rerun-chain", steps: chain(p, 5), context: { v: 1 }, labels: { team: "pay" } });
      const id = workflow!.id;
      const original = await waitForRun(client, id);
      expect(original.state).toBe(WorkflowState.COMPLETED);

      // A watcher of all runs of the workflow, open before the rerun.
      const abort = new AbortController();
      const seen: WorkflowEvent[] = [];
      const watching = (async () => {
        try {
          for await (const msg of client.watchWorkflows({ workflowId: "rerun-chain" }, { signal: abort.signal })) {
            if (msg.kind.case === "event") seen.push(msg.kind.value);
          }
        } catch {
          // aborted
        }
      })();
      const probe = await client.createWorkflow({ id: "rerun-chain", steps: [{ id: "probe", url: handlers.url(`${p}/s1`) }] });
      await waitUntil(() => seen.some((e) => e.runId === probe.workflow!.id));

      const { workflow: made, deduplicated } = await client.rerunWorkflow({ id, fromSteps: ["s3"] });
      expect(deduplicated).toBe(false);
      const newId = made!.id;
      expect(newId).not.toBe(id);
      expect(made!.rerunOf).toBe(id);
      expect(made!.labels).toEqual({ team: "pay" });
      expect(made!.context).toEqual({ v: 1 });
      const done = await waitForRun(client, newId);
      expect(done.state).toBe(WorkflowState.COMPLETED);
      expect(done.rerunOf).toBe(id);

      // Handler calls: the new run called steps 3-5 once each, never steps 1-2.
      expect(["s1", "s2", "s3", "s4", "s5"].map((s) => calls(p, newId, s).length)).toEqual([0, 0, 1, 1, 1]);
      expect(["s1", "s2", "s3", "s4", "s5"].map((s) => calls(p, id, s).length)).toEqual([1, 1, 1, 1, 1]);
      // Steps 1-2 copied: the original's results, attempts and times, copied_from set.
      expect(done.steps.map((s) => [s.id, StepState[s.state], s.copiedFrom, s.attempts])).toEqual([
        ["s1", "COMPLETED", id, 1],
        ["s2", "COMPLETED", id, 1],
        ["s3", "COMPLETED", "", 1],
        ["s4", "COMPLETED", "", 1],
        ["s5", "COMPLETED", "", 1],
      ]);
      expect(done.steps[0].completedAt).toEqual(original.steps[0].completedAt);
      expect(result(done, "s1")).toEqual(result(original, "s1"));
      expect(result(done, "s1")).toMatchObject({ run: id });
      expect(result(done, "s3")).toMatchObject({ run: newId });
      // Step 3 saw the copied steps 1-2 in previousSteps, with the original's results.
      const [s3] = calls(p, newId, "s3");
      const prev = s3.body.previousSteps as Record<string, { result: unknown; attempts: number }>;
      expect(Object.keys(prev).sort()).toEqual(["s1", "s2"]);
      expect(prev.s2.result).toEqual(result(original, "s2"));

      // The log starts as a created run's, its first transition naming the original; no copied step has events.
      const events = await allEvents(client, newId);
      const first = events[0].transition;
      expect(first.case).toBe("run");
      expect(first.value).toMatchObject({ fromState: WorkflowState.UNSPECIFIED, toState: WorkflowState.PENDING, rerunOf: id });
      expect(events.filter((e) => e.stepId === "s1" || e.stepId === "s2")).toEqual([]);
      expect(new Set(events.filter((e) => e.stepId).map((e) => e.stepId))).toEqual(new Set(["s3", "s4", "s5"]));

      // The watcher of all runs saw the new run, from its creation.
      await waitUntil(() => seen.some((e) => e.runId === newId && e.transition.case === "run" && e.transition.value.toState === WorkflowState.COMPLETED));
      abort.abort();
      await watching;
      const created = seen.find((e) => e.runId === newId && e.sequence === 1n);
      expect(created?.transition.value).toMatchObject({ rerunOf: id });

      // rerun_of in the basic list view, and in a watch's snapshot.
      const { workflows } = await client.listWorkflows({ workflowId: "rerun-chain" });
      expect(workflows.find((w) => w.id === newId)?.rerunOf).toBe(id);
      expect(workflows.find((w) => w.id === id)?.rerunOf).toBe("");
      let snapshot: Workflow | undefined;
      for await (const msg of client.watchWorkflow({ id: newId })) {
        expect(msg.kind.case).toBe("snapshot");
        if (msg.kind.case === "snapshot") snapshot = msg.kind.value;
        break;
      }
      expect(snapshot?.rerunOf).toBe(id);
      expect(snapshot?.steps[1].copiedFrom).toBe(id);
      // The original is unchanged.
      const after = (await client.getWorkflow({ id })).workflow!;
      expect(after.lastSequence).toBe(original.lastSequence);
      expect(after.rerunOf).toBe("");
    });

    test("a diamond rerun from one branch calls only that branch and the join", async () => {
      const p = path("diamond");
      echo(p, ["a", "b", "c", "d"]);
      const { workflow } = await client.createWorkflow({
        id: "rerun-diamond",
        steps: [
          { id: "a", url: handlers.url(`${p}/a`) },
          { id: "b", url: handlers.url(`${p}/b`), dependsOn: ["a"], parallel: true },
          { id: "c", url: handlers.url(`${p}/c`), dependsOn: ["a"], parallel: true },
          { id: "d", url: handlers.url(`${p}/d`), dependsOn: ["b", "c"] },
        ],
      });
      const id = workflow!.id;
      expect((await waitForRun(client, id)).state).toBe(WorkflowState.COMPLETED);
      // Over Connect this time.
      const connect = weft.connectClient();
      const { workflow: made } = await connect.rerunWorkflow({ id, fromSteps: ["b"] });
      const done = await waitForRun(client, made!.id);
      expect(done.state).toBe(WorkflowState.COMPLETED);
      expect(["a", "b", "c", "d"].map((s) => calls(p, made!.id, s).length)).toEqual([0, 1, 0, 1]);
      expect(done.steps.map((s) => s.copiedFrom)).toEqual([id, "", id, ""]);
      // The join saw both branches: c copied, b new.
      const [d] = calls(p, made!.id, "d");
      const prev = d.body.previousSteps as Record<string, { result: { run: string } }>;
      expect([prev.b.result.run, prev.c.result.run]).toEqual([made!.id, id]);
    });

    test("the loser of an any join is copied as it was: a rerun after the join neither calls it nor waits for it", async () => {
      const p = path("any");
      echo(p, ["b", "e"]);
      // c never answers by itself: the original cancels it (not_needed) once b completed.
      handlers.on(`${p}/c`, hangUntilAborted(60_000));
      const { workflow } = await client.createWorkflow({
        id: "rerun-any",
        steps: [
          { id: "b", url: handlers.url(`${p}/b`), parallel: true },
          { id: "c", url: handlers.url(`${p}/c`), parallel: true },
          { id: "d", url: handlers.url(`${p}/b`), dependsOn: ["b", "c"], join: { policy: { case: "any", value: {} } } },
          { id: "e", url: handlers.url(`${p}/e`), dependsOn: ["d"] },
        ],
      });
      const id = workflow!.id;
      const original = await waitForRun(client, id);
      expect(original.state).toBe(WorkflowState.COMPLETED);
      expect(original.steps.map((s) => StepState[s.state])).toEqual(["COMPLETED", "CANCELLED", "COMPLETED", "COMPLETED"]);
      const { workflow: made } = await client.rerunWorkflow({ id, fromSteps: ["e"] });
      const done = await waitForRun(client, made!.id);
      expect(done.state).toBe(WorkflowState.COMPLETED);
      expect(calls(p, made!.id, "c")).toEqual([]);
      expect(calls(p, made!.id, "e")).toHaveLength(1);
      expect(done.steps.map((s) => [StepState[s.state], s.copiedFrom])).toEqual([
        ["COMPLETED", id],
        ["CANCELLED", id],
        ["COMPLETED", id],
        ["COMPLETED", ""],
      ]);
      expect(done.steps[1].error?.reason).toBe("not_needed");
    });

    test("a failed run rerun from its failed step completes; a new context reaches the steps that run", async () => {
      const p = path("failed");
      echo(p, ["s1", "s2", "s4"]);
      handlers.on(`${p}/s3`, (c) =>
        (c.body.context as { fixed?: boolean }).fixed ? { json: { success: true, result: "fixed" } } : { status: 422, json: { error: "bug in handler" } },
      );
      const { workflow } = await client.createWorkflow({ id: "rerun-failed", steps: chain(p, 4), context: { fixed: false } });
      const id = workflow!.id;
      const failed = await waitForRun(client, id);
      expect(failed.state).toBe(WorkflowState.FAILED);
      expect(failed.steps.map((s) => StepState[s.state])).toEqual(["COMPLETED", "COMPLETED", "FAILED", "SKIPPED"]);
      const { workflow: made } = await client.rerunWorkflow({ id, fromSteps: ["s3"], context: { fixed: true, n: 2 } });
      expect(made!.context).toEqual({ fixed: true, n: 2 });
      const done = await waitForRun(client, made!.id);
      expect(done.state).toBe(WorkflowState.COMPLETED);
      expect(["s1", "s2", "s3", "s4"].map((s) => calls(p, made!.id, s).length)).toEqual([0, 0, 1, 1]);
      expect(calls(p, made!.id, "s4")[0].body.context).toEqual({ fixed: true, n: 2 });
      // The copied results keep the context they were made with.
      expect(result(done, "s1")).toMatchObject({ context: { fixed: false } });
      // The failed original stays failed.
      expect((await client.getWorkflow({ id })).workflow!.state).toBe(WorkflowState.FAILED);
    });

    test("refusals: a running original, unknown or duplicate steps, no steps, a missing run, a bad context", async () => {
      const p = path("refused");
      handlers.on(`${p}/slow`, hangUntilAborted(60_000));
      const { workflow } = await client.createWorkflow({ id: "rerun-refused", steps: [{ id: "slow", url: handlers.url(`${p}/slow`) }] });
      const id = workflow!.id;
      await handlers.waitForCall((c) => c.path === `${p}/slow`);
      const running = await refusal(client.rerunWorkflow({ id, fromSteps: ["slow"] }));
      expect([running.code, reasonOf(running)]).toEqual([Code.FailedPrecondition, "RUN_NOT_FINISHED"]);
      expect(running.rawMessage).toMatch(/has not finished \(running\)/);

      await client.cancelWorkflow({ id });
      await waitForRun(client, id);
      const unknown = await refusal(client.rerunWorkflow({ id, fromSteps: ["nope".repeat(30)] }));
      expect(unknown.code).toBe(Code.InvalidArgument);
      expect(fieldsOf(unknown)).toEqual(["from_steps[0]"]);
      expect(unknown.rawMessage.length).toBeLessThan(250);
      const duplicate = await refusal(client.rerunWorkflow({ id, fromSteps: ["slow", "slow"] }));
      expect([duplicate.code, fieldsOf(duplicate)]).toEqual([Code.InvalidArgument, ["from_steps[1]"]]);
      const none = await refusal(client.rerunWorkflow({ id, fromSteps: [] }));
      expect([none.code, fieldsOf(none)]).toEqual([Code.InvalidArgument, ["from_steps"]]);
      const badId = await refusal(client.rerunWorkflow({ id: "x".repeat(5000), fromSteps: ["slow"] }));
      expect([badId.code, fieldsOf(badId)]).toEqual([Code.InvalidArgument, ["id"]]);
      expect(badId.rawMessage.length).toBeLessThan(250);
      const missing = await refusal(client.rerunWorkflow({ id: "wf_01JDQ000000000000000000000", fromSteps: ["slow"] }));
      expect([missing.code, reasonOf(missing)]).toEqual([Code.NotFound, "RUN_NOT_FOUND"]);
      const tooBig = await refusal(client.rerunWorkflow({ id, fromSteps: ["slow"], context: { s: "x".repeat(1_100_000) } }));
      expect([tooBig.code, fieldsOf(tooBig)]).toEqual([Code.InvalidArgument, ["context"]]);
      // Nothing was created by the refused calls.
      const { workflows } = await client.listWorkflows({ workflowId: "rerun-refused" });
      expect(workflows.map((w) => w.id)).toEqual([id]);
      // A cancelled run can be rerun.
      handlers.on(`${p}/slow`, () => ({ json: { success: true, result: "quick" } }));
      const { workflow: made } = await client.rerunWorkflow({ id, fromSteps: ["slow"] });
      expect((await waitForRun(client, made!.id)).state).toBe(WorkflowState.COMPLETED);
    });

    test("request_id: the same rerun again returns the same new run; a different request with the key is IDEMPOTENCY_KEY_REUSED", async () => {
      const p = path("idem");
      echo(p, ["s1", "s2"]);
      const { workflow } = await client.createWorkflow({ id: "rerun-idem", steps: chain(p, 2), requestId: `create-${p}` });
      const id = workflow!.id;
      await waitForRun(client, id);
      const key = `rerun-${p}`;
      const first = await client.rerunWorkflow({ id, fromSteps: ["s2"], requestId: key, labels: { labels: { try: "1" } } });
      expect(first.deduplicated).toBe(false);
      expect(first.workflow!.requestId).toBe(key);
      expect(first.workflow!.labels).toEqual({ try: "1" });
      const again = await client.rerunWorkflow({ id, fromSteps: ["s2"], requestId: key, labels: { labels: { try: "1" } } });
      expect(again.deduplicated).toBe(true);
      expect(again.workflow!.id).toBe(first.workflow!.id);
      const other = await refusal(client.rerunWorkflow({ id, fromSteps: ["s1"], requestId: key }));
      expect([other.code, reasonOf(other)]).toEqual([Code.AlreadyExists, "IDEMPOTENCY_KEY_REUSED"]);
      // A create's key is not a rerun's.
      const create = await refusal(client.rerunWorkflow({ id, fromSteps: ["s2"], requestId: `create-${p}` }));
      expect(reasonOf(create)).toBe("IDEMPOTENCY_KEY_REUSED");
      await waitForRun(client, first.workflow!.id);
      expect(calls(p, first.workflow!.id, "s2")).toHaveLength(1);
      // Labels: an empty map drops them; unset keeps the original's (none here).
      const { workflow: bare } = await client.rerunWorkflow({ id, fromSteps: ["s2"], labels: { labels: {} } });
      expect(bare!.labels).toEqual({});
      // A repeated request is answered from its key even once the original is gone.
      await waitForRun(client, bare!.id);
      await client.deleteWorkflow({ id });
      const late = await client.rerunWorkflow({ id, fromSteps: ["s2"], requestId: key, labels: { labels: { try: "1" } } });
      expect([late.workflow!.id, late.deduplicated]).toEqual([first.workflow!.id, true]);
      const gone = await refusal(client.rerunWorkflow({ id, fromSteps: ["s2"] }));
      expect(reasonOf(gone)).toBe("RUN_NOT_FOUND");
    });

    test("the CLI: weft rerun prints the new run's id, or follows it with --watch; weft get shows the link", async () => {
      const p = path("cli");
      echo(p, ["s1", "s2", "s3"]);
      const { workflow } = await client.createWorkflow({ id: "rerun-cli", steps: chain(p, 3), context: { a: 1 } });
      const id = workflow!.id;
      await waitForRun(client, id);
      const made = await weftCli(["rerun", id, "--from", "s2", "--context", "b=2", "--label", "via=cli"]);
      expect([made.code, made.stderr]).toEqual([0, ""]);
      const newId = made.stdout.trim();
      expect(newId).toMatch(/^wf_/);
      const done = await waitForRun(client, newId);
      expect([done.rerunOf, done.labels, done.context]).toEqual([id, { via: "cli" }, { a: 1, b: 2 }]);
      expect(calls(p, newId, "s1")).toHaveLength(0);
      const shown = await weftCli(["get", newId]);
      expect(shown.stdout).toContain(`rerun of ${id}; copied from it: s1`);

      const dir = mkdtempSync(join(tmpdir(), "weft-rerun-"));
      try {
        writeFileSync(join(dir, "ctx.yaml"), "fresh: true\n");
        const watched = await weftCli(["rerun", id, "--from", "s3", "--context-file", join(dir, "ctx.yaml"), "--watch", "--output", "json"]);
        expect(watched.code).toBe(0);
        const first = JSON.parse(watched.stdout.split("\n")[0]) as { type: string; runId: string; rerunOf: string };
        expect([first.type, first.rerunOf]).toEqual(["created", id]);
        expect(calls(p, first.runId, "s3")[0].body.context).toEqual({ fresh: true });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      const noFrom = await weftCli(["rerun", id]);
      expect([noFrom.code, noFrom.stderr]).toEqual([2, "weft: --from: name at least one step to run again (repeatable)\n"]);
      const unknown = await weftCli(["rerun", id, "--from", "nope"]);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('from_steps[0]: no step "nope" in this run');
    });

    test("the TypeScript SDK's rerun()", async () => {
      const platform = createPlatform({ baseUrl: weft.baseUrl, transport: "grpc" });
      const p = path("sdk");
      echo(p, ["s1", "s2", "s3"]);
      const created = await platform.workflows.create({ id: "rerun-sdk", steps: chain(p, 3), labels: { team: "sdk" } });
      await waitForRun(client, created.id);
      const made = await platform.workflows.rerun(created.id, { fromSteps: ["s2"], context: { sdk: true }, requestId: `sdk-${p}` });
      expect(made.rerunOf).toBe(created.id);
      expect(made.deduplicated).toBe(false);
      expect(made.labels).toEqual({ team: "sdk" });
      expect(made.steps[0].copiedFrom).toBe(created.id);
      expect(made.steps[1].copiedFrom).toBeUndefined();
      const again = await platform.workflows.rerun(created.id, { fromSteps: ["s2"], context: { sdk: true }, requestId: `sdk-${p}` });
      expect([again.id, again.deduplicated]).toEqual([made.id, true]);
      for await (const msg of platform.workflows.watch(made.id)) {
        expect(msg.type).toBe("snapshot");
        if (msg.type === "snapshot") expect([msg.status.rerunOf, msg.status.steps[0].copiedFrom]).toEqual([created.id, created.id]);
        break;
      }
      await waitForRun(client, made.id);
      const status = await platform.workflows.getStatus(made.id);
      expect(status.state).toBe("completed");
      expect(calls(p, made.id, "s1")).toHaveLength(0);
      expect(calls(p, made.id, "s2")[0].body.context).toEqual({ sdk: true });
      const err = await platform.workflows.rerun(created.id, { fromSteps: ["zz"] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WeftError);
      expect((err as WeftError).code).toBe("invalid_argument");
    });
  });
}

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
let weftUrl = () => "";

/** `node bin/weft.js <args>` on the bundled Node against the test's server. */
function weftCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(join(REPO_ROOT, "node_modules", ".bin", "node"), [join(REPO_ROOT, "bin", "weft.js"), ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/", WEFT_URL: weftUrl() },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("rerun with a new context is held to the create request limit", () => {
  let weft: TestWeft;
  let handlers: HandlerServer;
  beforeAll(async () => {
    handlers = await HandlerServer.start();
    weft = await startWeft({ limits: { ...loadConfig([], {})!.limits, maxRequestBytes: 8192, maxContextBytes: 4096 } });
  });
  afterAll(async () => {
    await weft?.stop();
    await handlers?.close();
  });

  test("a context that makes the run's definition larger than --max-request-bytes is refused, naming context", async () => {
    const client = weft.client;
    // About 6 KB of definition: under the limit with a small context, over it with a 3 KB one.
    const steps = ["a", "b", "c"].map((id, i) => ({ id, url: `${handlers.url("/size/")}${id}?${"q".repeat(2000)}`, dependsOn: i === 0 ? [] : [["a", "b"][i - 1]] }));
    const { workflow } = await client.createWorkflow({ id: "rerun-size", steps, context: { n: 1 } });
    const id = workflow!.id;
    await waitForRun(client, id);
    const big = await refusal(client.rerunWorkflow({ id, fromSteps: ["b"], context: { s: "x".repeat(3000) } }));
    expect([big.code, fieldsOf(big)]).toEqual([Code.InvalidArgument, ["context"]]);
    expect(big.rawMessage).toMatch(/over the limit of 8192/);
    const { workflow: made } = await client.rerunWorkflow({ id, fromSteps: ["b"], context: { s: "x".repeat(500) } });
    expect((await waitForRun(client, made!.id)).state).toBe(WorkflowState.COMPLETED);
    // Without a new context the original's definition, which fitted, is kept.
    await client.rerunWorkflow({ id, fromSteps: ["c"] });
  });

  test("labels or a request id that make the run's definition larger than --max-request-bytes are refused, naming the field; no run is stored", async () => {
    const client = weft.client;
    const steps = ["a", "b"].map((id, i) => ({ id, url: `${handlers.url("/size/")}${id}?${"q".repeat(2000)}`, dependsOn: i === 0 ? [] : ["a"] }));
    // An original whose CreateWorkflow request is 250 bytes under the limit (the stored definition is a few dozen bytes more: defaults).
    const request = (pad: number) => create(CreateWorkflowRequestSchema, { id: "rerun-size-fields", steps, context: { pad: "p".repeat(pad) } });
    let pad = 0;
    while (toBinary(CreateWorkflowRequestSchema, request(pad + 1)).byteLength <= 8192 - 250) pad++;
    expect(toBinary(CreateWorkflowRequestSchema, request(pad)).byteLength).toBeGreaterThan(8192 - 260);
    const { workflow } = await client.createWorkflow(request(pad));
    const id = workflow!.id;
    await waitForRun(client, id);
    const runs = async () => (await client.listWorkflows({ workflowId: "rerun-size-fields" })).workflows.length;
    expect(await runs()).toBe(1);

    const labels = await refusal(client.rerunWorkflow({ id, fromSteps: ["b"], labels: { labels: { note: "n".repeat(256), more: "m".repeat(256) } } }));
    expect([labels.code, fieldsOf(labels)]).toEqual([Code.InvalidArgument, ["labels"]]);
    expect(labels.rawMessage).toMatch(/over the limit of 8192/);
    const requestId = await refusal(client.rerunWorkflow({ id, fromSteps: ["b"], requestId: "r".repeat(256) }));
    expect([requestId.code, fieldsOf(requestId)]).toEqual([Code.InvalidArgument, ["request_id"]]);
    // Each alone fits; together the request id takes it over.
    const both = await refusal(client.rerunWorkflow({ id, fromSteps: ["b"], labels: { labels: { note: "n".repeat(120) } }, requestId: "r".repeat(120) }));
    expect(fieldsOf(both)).toEqual(["request_id"]);
    expect(await runs()).toBe(1);

    const { workflow: labelled } = await client.rerunWorkflow({ id, fromSteps: ["b"], labels: { labels: { note: "n".repeat(120) } } });
    const { workflow: keyed } = await client.rerunWorkflow({ id, fromSteps: ["b"], requestId: "r".repeat(120) });
    expect((await waitForRun(client, labelled!.id)).labels).toEqual({ note: "n".repeat(120) });
    expect((await waitForRun(client, keyed!.id)).state).toBe(WorkflowState.COMPLETED);
    expect(await runs()).toBe(3);
  });
});
