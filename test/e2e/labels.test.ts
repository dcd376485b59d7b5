// Labels, list and watch filters, and DeleteWorkflow against the real server
// through real clients (gRPC and Connect), with real HTTP handlers.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { expect, test } from "vitest";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { ListWorkflowsRequestSchema, WorkflowState, WorkflowView } from "../../gen/ts/weft/v1/workflow_pb.js";
import type { HandlerServer } from "../support/handler-server.ts";
import { fieldViolations, rejection } from "../support/rejection.ts";
import { Gate, gated } from "../support/watch.ts";
import { type TestWeft, useWeft, waitForRun } from "../support/weft.ts";

let weft: TestWeft;
let handlers: HandlerServer;
useWeft((w, h) => {
  weft = w;
  handlers = h;
});

function create(labels: Record<string, string>, id = "labelled", path = "/ok") {
  return weft.client.createWorkflow({ id, labels, steps: [{ id: "a", url: handlers.url(path) }] });
}

/** Every run id a ListWorkflows query answers, following page tokens. */
async function listAll(req: MessageInitShape<typeof ListWorkflowsRequestSchema>, pageSize = 3): Promise<string[]> {
  const out: string[] = [];
  let pageToken = "";
  for (;;) {
    const res = await weft.connectClient().listWorkflows({ ...req, pageSize, pageToken });
    out.push(...res.workflows.map((w) => w.id));
    if (!res.nextPageToken) return out;
    pageToken = res.nextPageToken;
  }
}

test("labels are returned by GetWorkflow and in both list views", async () => {
  const { workflow } = await create({ team: "payments", "k8s.io/region": "eu-west-1" });
  expect(workflow!.labels).toEqual({ team: "payments", "k8s.io/region": "eu-west-1" });
  const got = await waitForRun(weft.client, workflow!.id);
  expect(got.labels).toEqual({ team: "payments", "k8s.io/region": "eu-west-1" });
  for (const view of [WorkflowView.BASIC, WorkflowView.FULL]) {
    const { workflows } = await weft.client.listWorkflows({ labels: { team: "payments" }, view });
    expect(workflows.map((w) => [w.id, w.labels])).toEqual([[workflow!.id, { team: "payments", "k8s.io/region": "eu-west-1" }]]);
  }
});

test("bad labels are refused with INVALID_ARGUMENT naming the label, without echoing what was sent", async () => {
  const long = "x".repeat(5000);
  const err = await rejection(create({ "Bad Key": "v", ok: long, [`k${long}`]: "v", "": "v" }));
  expect(err?.code).toBe(Code.InvalidArgument);
  const fields = fieldViolations(err).map(([f]) => f);
  expect(fields).toContain('labels["Bad Key"]');
  expect(fields).toContain('labels["ok"]');
  expect(fields).toContain('labels[""]');
  expect(fields.some((f) => f.startsWith('labels["kxxx') && f.length < 100)).toBe(true);
  expect(err!.rawMessage.length).toBeLessThan(1000);
  expect(err!.rawMessage).not.toContain("x".repeat(200));

  const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, "v"]));
  const tooMany = await rejection(create(many));
  expect(fieldViolations(tooMany)).toEqual([["labels", "at most 32 labels (got 33)"]]);
  // The same bounds apply to filters.
  const filter = await rejection(weft.client.listWorkflows({ labels: { "UPPER": "v" } }));
  expect(fieldViolations(filter).map(([f]) => f)).toEqual(['labels["UPPER"]']);
  const watch = await rejection((async () => {
    for await (const _ of weft.client.watchWorkflows({ labels: many })) break;
  })());
  expect(fieldViolations(watch)).toEqual([["labels", "at most 32 labels (got 33)"]]);
  const time = await rejection(weft.client.listWorkflows({ createdAfter: { seconds: -5n, nanos: 0 } }));
  expect(fieldViolations(time).map(([f]) => f)).toEqual(["created_after"]);
});

test("ListWorkflows filters by labels, creation time, workflow id and state together, page after page", async () => {
  const batch = `b${Date.now()}`;
  const made: { id: string; color: string; at: number; workflowId: string }[] = [];
  for (let i = 0; i < 18; i++) {
    const color = i % 3 === 0 ? "red" : "blue";
    const workflowId = i % 2 === 0 ? "even" : "odd";
    const { workflow } = await create({ batch, color }, workflowId);
    made.push({ id: workflow!.id, color, at: Number(workflow!.createdAt!.seconds) * 1000 + Math.floor(workflow!.createdAt!.nanos / 1e6), workflowId });
  }
  for (const m of made) await waitForRun(weft.client, m.id);
  const newestFirst = (xs: typeof made) => xs.map((m) => m.id).reverse();
  expect(await listAll({ labels: { batch } })).toEqual(newestFirst(made));
  expect(await listAll({ labels: { batch, color: "red" } })).toEqual(newestFirst(made.filter((m) => m.color === "red")));
  expect(await listAll({ labels: { batch, color: "red" }, workflowId: "even", states: [WorkflowState.COMPLETED] })).toEqual(
    newestFirst(made.filter((m) => m.color === "red" && m.workflowId === "even")),
  );
  expect(await listAll({ labels: { batch }, states: [WorkflowState.FAILED] })).toEqual([]);
  const from = made[5].at;
  const to = made[12].at;
  expect(await listAll({ labels: { batch }, createdAfter: timestampFromMs(from), createdBefore: timestampFromMs(to) })).toEqual(
    newestFirst(made.filter((m) => m.at >= from && m.at < to)),
  );
  expect(await listAll({ labels: { batch: "none" } })).toEqual([]);
});

test("WatchWorkflows sends only the transitions of runs with the given labels", async () => {
  const tag = `w${Date.now()}`;
  const ac = new AbortController();
  const seen: string[] = [];
  const watching = (async () => {
    for await (const m of weft.client.watchWorkflows({ labels: { watch: tag, color: "red" } }, { signal: ac.signal })) {
      if (m.kind.case !== "event") continue;
      seen.push(`${m.kind.value.runId}:${m.kind.value.transition.case === "run" ? WorkflowState[m.kind.value.transition.value.toState] : "?"}`);
    }
  })().catch(() => {});
  // The stream is open once a heartbeat-free create shows up; create until the first red run is seen.
  const red: string[] = [];
  const others: string[] = [];
  await expect
    .poll(async () => {
      const r = await create({ watch: tag, color: "red" });
      red.push(r.workflow!.id);
      others.push((await create({ watch: tag, color: "blue" })).workflow!.id);
      others.push((await create({ color: "red" })).workflow!.id);
      return seen.length;
    }, { timeout: 30_000, interval: 200 })
    .toBeGreaterThan(0);
  for (const id of [...red, ...others]) await waitForRun(weft.client, id);
  const last = red.at(-1)!;
  await expect.poll(() => seen.includes(`${last}:COMPLETED`), { timeout: 30_000 }).toBe(true);
  ac.abort();
  await watching;
  const runsSeen = new Set(seen.map((s) => s.split(":")[0]));
  for (const id of runsSeen) expect(red).toContain(id);
  for (const id of others) expect(runsSeen.has(id)).toBe(false);
});

test("DeleteWorkflow deletes a finished run with its events; a running run is refused; unknown is NOT_FOUND", async () => {
  const gate = new Gate();
  gated(handlers, "/held", gate);
  const { workflow: held } = await create({ del: "1" }, "deletable", "/held");
  await waitForRun(weft.client, held!.id, (w) => w.state === WorkflowState.RUNNING);
  const running = await rejection(weft.client.deleteWorkflow({ id: held!.id }));
  expect(running?.code).toBe(Code.FailedPrecondition);
  expect(running?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("RUN_NOT_FINISHED");
  expect(running?.rawMessage).toMatch(/has not finished \(running\)/);
  gate.open();
  await waitForRun(weft.client, held!.id);
  await expect.poll(async () => (await rejection(weft.client.deleteWorkflow({ id: held!.id })))?.code, { timeout: 10_000 }).toBeUndefined();
  expect((await rejection(weft.client.getWorkflow({ id: held!.id })))?.code).toBe(Code.NotFound);
  expect((await rejection(weft.client.listWorkflowEvents({ id: held!.id })))?.code).toBe(Code.NotFound);
  expect((await weft.client.listWorkflows({ labels: { del: "1" } })).workflows).toEqual([]);
  expect((await rejection(weft.client.deleteWorkflow({ id: held!.id })))?.code).toBe(Code.NotFound);
  expect(fieldViolations(await rejection(weft.client.deleteWorkflow({ id: "nope" })))).toEqual([["id", "not a run id"]]);
});
