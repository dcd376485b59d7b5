// The console's run actions and filters in a real browser (Debian's Chromium through playwright-core)
// against a real Weft with API keys and real step handlers: Redrive continues a failed run once its
// handler is fixed and the page follows it live to COMPLETED; Delete removes a finished run
// (NOT_FOUND through the API) and returns to the list; Redeliver webhook sends a failed webhook to
// the fixed receiver; a refused action shows its code, reason and message; a read key cannot act;
// labels show as chips and the runs list filters by them (kept in the address); runs and steps
// queued for a concurrency key show as queued. The console's files are the built ones (npm run
// build:console). Every wait polls the page with a generous limit, never a sleep.
import { createClient, type Client, Code, ConnectError } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type CreateWorkflowRequestSchema, StepState, WebhookState, WorkflowService, WorkflowState } from "../../../gen/ts/weft/v1/workflow_pb.js";
import { digestApiKeys } from "../../../src/domain/api-keys.ts";
import { launchChromium, pageErrors, requireBuiltConsole } from "../../support/browser.ts";
import { HandlerServer } from "../../support/handler-server.ts";
import { startWeft, type TestWeft, waitForRun } from "../../support/weft.ts";

const WRITE_KEY = "wk_console_actions_5d20e7b1a9";
const READ_KEY = "rk_console_actions_81c4f3d2e6";
const WAIT_MS = 30_000;

const poll = <T>(query: () => Promise<T>) => expect.poll(query, { timeout: WAIT_MS, interval: 100 });
const attrOf = (l: Locator, name: string) => async () => ((await l.count()) > 0 ? await l.first().getAttribute(name, { timeout: 5000 }) : null);
const textOf = (l: Locator) => async () => ((await l.count()) > 0 ? await l.first().innerText({ timeout: 5000 }) : "");
const countOf = (l: Locator) => () => l.count();
const shown = (l: Locator) => l.first().waitFor({ state: "visible", timeout: WAIT_MS });
const rowOf = (runId: string) => `[data-testid=run-row][data-run-id="${runId}"]`;

let weft: TestWeft;
let handlers: HandlerServer;
let api: Client<typeof WorkflowService>;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let errors: string[];

function gate(): { promise: Promise<void>; release(): void } {
  let release!: () => void;
  const promise = new Promise<void>((r) => (release = r));
  return { promise, release };
}

type CreateRequest = MessageInitShape<typeof CreateWorkflowRequestSchema>;

async function createRun(req: CreateRequest): Promise<string> {
  const { workflow } = await api.createWorkflow(req);
  return workflow!.id;
}

async function openConsole(path: string, key: string = WRITE_KEY): Promise<void> {
  await context.addInitScript((k) => sessionStorage.setItem("weft.apiKey", k), key);
  await page.goto(weft.baseUrl + path);
}

beforeAll(async () => {
  requireBuiltConsole();
  handlers = await HandlerServer.start();
  weft = await startWeft({
    auth: {
      keys: digestApiKeys([
        { scope: "write", key: WRITE_KEY },
        { scope: "read", key: READ_KEY },
      ]),
      reflection: "auth",
      allowUnauthenticated: false,
    },
    watchHeartbeatMs: 500,
    // A failing webhook gives up within a couple of seconds.
    webhook: { retryPeriodMs: 1_500, initialIntervalMs: 50, maxIntervalMs: 200, timeoutMs: 2_000 },
  });
  api = createClient(
    WorkflowService,
    createConnectTransport({ baseUrl: weft.baseUrl, httpVersion: "1.1", interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${WRITE_KEY}`), next(req))] }),
  );
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await weft?.stop();
  await handlers?.close();
});

beforeEach(async () => {
  context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  page = await context.newPage();
  errors = pageErrors(page);
});

afterEach(async () => {
  await context?.close();
  // No script errors and no CSP violation; the refusals the tests provoke are allowed.
  expect(errors.filter((e) => !/Failed to load resource: the server responded with a status of (400|401|403|404|412)/.test(e))).toEqual([]);
});

describe("run actions", () => {
  it("redrives a failed run once its handler is fixed, and the page follows it live to COMPLETED", async () => {
    let fixed = false;
    const hold = gate();
    handlers.on("/redrive/broken", () => (fixed ? hold.promise.then(() => ({ json: { success: true, result: { fixed: true } } })) : { status: 400, json: { error: "bug in the handler" } }));
    const runId = await createRun({
      id: "console-redrive",
      steps: [
        { id: "first", url: handlers.url("/redrive/first") },
        { id: "broken", url: handlers.url("/redrive/broken"), dependsOn: ["first"] },
      ],
    });
    try {
      await waitForRun(api, runId, (w) => w.state === WorkflowState.FAILED, WAIT_MS);
      await openConsole(`/ui/runs/${runId}`);
      await poll(attrOf(page.getByTestId("run-state"), "data-state")).toBe("failed");
      await poll(attrOf(page.getByTestId("node-broken"), "data-state")).toBe("failed");
      // A finished run: no Cancel; Delete is offered; no webhook, so no Redeliver.
      await shown(page.getByTestId("redrive-run"));
      await shown(page.getByTestId("delete-run"));
      expect(await page.getByTestId("cancel-run").count()).toBe(0);
      expect(await page.getByTestId("redeliver-webhook").count()).toBe(0);
      await page.evaluate(() => ((globalThis as unknown as { notReloaded: boolean }).notReloaded = true));

      fixed = true;
      await page.getByTestId("redrive-run").click();
      // Nothing happens before the confirmation.
      await shown(page.getByTestId("redrive-run-confirmation"));
      expect((await api.getWorkflow({ id: runId })).workflow!.state).toBe(WorkflowState.FAILED);
      await page.getByTestId("redrive-run-confirm").click();

      // The page follows the redriven run: the step runs again (held), then completes.
      await poll(attrOf(page.getByTestId("node-broken"), "data-state")).toBe("running");
      await poll(attrOf(page.getByTestId("run-state"), "data-state")).toBe("running");
      await poll(textOf(page.locator(".page-head .live"))).toBe("live");
      hold.release();
      await poll(attrOf(page.getByTestId("node-broken"), "data-state")).toBe("completed");
      await poll(attrOf(page.getByTestId("run-state"), "data-state")).toBe("completed");
      const run = await waitForRun(api, runId, (w) => w.state === WorkflowState.COMPLETED, WAIT_MS);
      // The completed step kept its result and was not called again.
      expect(run.steps.find((s) => s.id === "first")!.attempts).toBe(1);
      expect(handlers.calls.filter((c) => c.path === "/redrive/first")).toHaveLength(1);
      // The redrive's transitions reached the event log on the page, without a reload.
      await page.locator("[data-testid=event-log] summary").click();
      await poll(textOf(page.getByTestId("event-log"))).toContain("run: failed → running");
      expect(await page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
      // Completed: no Redrive any more.
      await poll(countOf(page.getByTestId("redrive-run"))).toBe(0);
    } finally {
      hold.release();
    }
  });

  it("shows a refused redrive's code, reason and message", async () => {
    const hold = gate();
    let broken = true;
    handlers.on("/refused/step", (call) => (broken ? { status: 400, json: { error: "no" } } : hold.promise.then(() => ({ json: { success: true, result: { call: call.body.attempt } } }))));
    const runId = await createRun({ id: "console-refused", steps: [{ id: "s", url: handlers.url("/refused/step") }] });
    try {
      await waitForRun(api, runId, (w) => w.state === WorkflowState.FAILED, WAIT_MS);
      await openConsole(`/ui/runs/${runId}`);
      await poll(attrOf(page.getByTestId("run-state"), "data-state")).toBe("failed");
      // Redriven behind the page's back, after the page was asked to redrive and before its request
      // reaches the server: the page still offered Redrive, the server refuses it. (Redriven any
      // earlier, the page would see the run running again and take the button away before a click.)
      broken = false;
      let redrivenElsewhere = false;
      await page.route("**/weft.v1.WorkflowService/RedriveWorkflow", async (route) => {
        if (!redrivenElsewhere) {
          redrivenElsewhere = true;
          await api.redriveWorkflow({ id: runId });
        }
        await route.continue();
      });
      await page.getByTestId("redrive-run").click();
      await page.getByTestId("redrive-run-confirm").click();
      // The refusal stays shown while the page catches up with the run redriven elsewhere
      // (the Redrive button itself goes away once the run is running again).
      const refusal = page.getByTestId("run-action-problem");
      const problem = refusal.getByTestId("problem");
      await poll(attrOf(refusal, "data-action")).toBe("Redrive");
      await poll(attrOf(problem, "data-code")).toBe("FAILED_PRECONDITION");
      await poll(attrOf(problem, "data-reason")).toBe("RUN_NOT_FINISHED");
      await poll(textOf(problem)).toContain("RUN_NOT_FINISHED");
      await poll(attrOf(page.getByTestId("node-s"), "data-state")).toBe("running");
      expect(await page.getByTestId("redrive-run").count()).toBe(0);
      expect(await textOf(problem)()).toContain("RUN_NOT_FINISHED");
      await page.getByTestId("run-action-problem-dismiss").click();
      await poll(() => refusal.count()).toBe(0);
      expect(redrivenElsewhere).toBe(true);
      hold.release();
      await poll(attrOf(page.getByTestId("run-state"), "data-state")).toBe("completed");
    } finally {
      await page.unroute("**/weft.v1.WorkflowService/RedriveWorkflow");
      hold.release();
    }
  });

  it("deletes a finished run (NOT_FOUND afterwards) and returns to the list; a compensated saga run offers no Redrive", async () => {
    handlers.on("/delete/fail", () => ({ status: 400, json: { error: "no" } }));
    const runId = await createRun({
      id: "console-delete",
      saga: true,
      steps: [
        { id: "reserve", url: handlers.url("/delete/reserve"), compensation: handlers.url("/delete/release") },
        { id: "charge", url: handlers.url("/delete/fail"), dependsOn: ["reserve"] },
      ],
    });
    await waitForRun(api, runId, (w) => w.state === WorkflowState.FAILED, WAIT_MS);
    await openConsole(`/ui/runs/${runId}`);
    await poll(attrOf(page.getByTestId("run-state"), "data-state")).toBe("failed");
    await poll(textOf(page.getByTestId("run-compensations"))).toContain("succeeded");
    await shown(page.getByTestId("delete-run"));
    // Compensated: the server would refuse a redrive (COMPENSATED), so it is not offered.
    expect(await page.getByTestId("redrive-run").count()).toBe(0);

    await page.getByTestId("delete-run").click();
    await shown(page.getByTestId("delete-run-confirmation"));
    expect((await api.getWorkflow({ id: runId })).workflow!.id).toBe(runId);
    await page.getByTestId("delete-run-confirm").click();
    await shown(page.getByTestId("runs-page"));
    expect(new URL(page.url()).pathname).toBe("/ui/");
    const err = await api.getWorkflow({ id: runId }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.NotFound);
  });

  it("redelivers a failed webhook from the page to the fixed receiver", async () => {
    let receiverUp = false;
    handlers.on("/redeliver/hook", () => (receiverUp ? { json: { ok: true } } : { status: 503, json: { error: "down" } }));
    const runId = await createRun({ id: "console-redeliver", steps: [{ id: "s", url: handlers.url("/redeliver/s") }], onComplete: handlers.url("/redeliver/hook") });
    const gaveUp = await waitForRun(api, runId, (w) => w.webhook?.state === WebhookState.FAILED, WAIT_MS);
    await openConsole(`/ui/runs/${runId}`);
    await poll(attrOf(page.getByTestId("webhook-state"), "data-state")).toBe("failed");
    receiverUp = true;
    await page.getByTestId("redeliver-webhook").click();
    await shown(page.getByTestId("redeliver-webhook-confirmation"));
    await page.getByTestId("redeliver-webhook-confirm").click();
    // The page follows the delivery to its end.
    await poll(attrOf(page.getByTestId("webhook-state"), "data-state")).toBe("delivered");
    const run = await waitForRun(api, runId, (w) => w.webhook?.state === WebhookState.DELIVERED, WAIT_MS);
    expect(run.webhook!.attempts).toBe(gaveUp.webhook!.attempts + 1);
    const hooks = handlers.calls.filter((c) => c.path === "/redeliver/hook");
    expect(hooks.at(-1)!.rawBody).toContain(runId);
    // Delivered: it may be sent again, so Redeliver stays.
    await shown(page.getByTestId("redeliver-webhook"));
  });

  it("with a read key, the actions say they need a write key", async () => {
    handlers.on("/read/fail", () => ({ status: 400, json: { error: "no" } }));
    const runId = await createRun({ id: "console-read", steps: [{ id: "s", url: handlers.url("/read/fail") }] });
    await waitForRun(api, runId, (w) => w.state === WorkflowState.FAILED, WAIT_MS);
    await openConsole(`/ui/runs/${runId}`, READ_KEY);
    await poll(attrOf(page.getByTestId("run-state"), "data-state")).toBe("failed");
    for (const id of ["redrive-run", "delete-run"]) {
      await poll(attrOf(page.getByTestId(id), "data-needs-write")).toBe("true");
      expect(await page.getByTestId(id).isDisabled()).toBe(true);
      await poll(textOf(page.getByTestId(id))).toContain("needs a write key");
    }
    expect((await api.getWorkflow({ id: runId })).workflow!.state).toBe(WorkflowState.FAILED);
  });
});

describe("labels", () => {
  it("shows labels as chips and filters the runs list by them, kept in the address", async () => {
    const wf = "console-labels";
    const a = await createRun({ id: wf, steps: [{ id: "s", url: handlers.url("/labels/ok") }], labels: { team: "payments", env: "prod" } });
    const b = await createRun({ id: wf, steps: [{ id: "s", url: handlers.url("/labels/ok") }], labels: { team: "payments", env: "staging" } });
    const c = await createRun({ id: wf, steps: [{ id: "s", url: handlers.url("/labels/ok") }], labels: { team: "search" } });
    for (const id of [a, b, c]) await waitForRun(api, id, (w) => w.state === WorkflowState.COMPLETED, WAIT_MS);

    // The bodies of the page's WatchWorkflows requests (binary protobuf: the label strings are in them).
    const watches: Buffer[] = [];
    page.on("request", (r) => {
      if (r.url().endsWith("/weft.v1.WorkflowService/WatchWorkflows")) watches.push(r.postDataBuffer() ?? Buffer.alloc(0));
    });
    await openConsole(`/ui/?workflow=${wf}`);
    await poll(countOf(page.getByTestId("run-row"))).toBe(3);
    await poll(textOf(page.locator(`${rowOf(a)} [data-testid=run-row-labels]`))).toMatch(/env=prod[\s\S]*team=payments/);

    await page.getByTestId("filter-label").fill("team=payments");
    await page.getByTestId("filter-label-add").click();
    await poll(countOf(page.locator(rowOf(c)))).toBe(0);
    await poll(countOf(page.getByTestId("run-row"))).toBe(2);
    await poll(textOf(page.getByTestId("count-completed-value"))).toBe("2");
    // The stream was reopened with the filter.
    await poll(async () => watches.some((w) => w.includes("team") && w.includes("payments"))).toBe(true);

    // A chip in a row adds its label to the filter.
    await page.locator(`${rowOf(b)} [data-testid=label-chip][data-label="env=staging"]`).click();
    await poll(countOf(page.getByTestId("run-row"))).toBe(1);
    await shown(page.locator(rowOf(b)));
    const url = new URL(page.url());
    expect(url.searchParams.getAll("label").sort()).toEqual(["env=staging", "team=payments"]);
    expect(url.searchParams.get("workflow")).toBe(wf);

    // A reload (or a link) shows the same list.
    await page.reload();
    await shown(page.locator(rowOf(b)));
    await poll(countOf(page.getByTestId("run-row"))).toBe(1);
    expect(await page.getByTestId("label-filter").evaluateAll((l) => l.map((e) => e.getAttribute("data-label")).sort())).toEqual(["env=staging", "team=payments"]);

    // A malformed label is refused in the form, naming what is wrong; the filter is unchanged.
    await page.getByTestId("filter-label").fill("no-equals-sign");
    await page.getByTestId("filter-label-add").click();
    await poll(textOf(page.getByTestId("filter-label-error"))).toContain("key=value");
    expect(await page.getByTestId("label-filter").count()).toBe(2);

    // Removing a filter widens the list again; a new run with the labels appears live.
    await page.locator('[data-testid=label-filter][data-label="env=staging"] [data-testid=label-filter-remove]').click();
    await poll(countOf(page.getByTestId("run-row"))).toBe(2);
    await poll(textOf(page.getByTestId("runs-live"))).toBe("live");
    const d = await createRun({ id: wf, steps: [{ id: "s", url: handlers.url("/labels/ok") }], labels: { team: "payments" } });
    await createRun({ id: wf, steps: [{ id: "s", url: handlers.url("/labels/ok") }], labels: { team: "other" } });
    await shown(page.locator(rowOf(d)));
    await poll(countOf(page.getByTestId("run-row"))).toBe(3);

    // The run page shows the chips.
    await page.locator(`${rowOf(a)} a`).click();
    await poll(textOf(page.getByTestId("run-labels"))).toMatch(/env=prod[\s\S]*team=payments/);
  });
});

describe("queued", () => {
  it("shows a run queued for its workflow concurrency key, and a step queued for its step key", async () => {
    const hold = gate();
    handlers.on("/queued/hold", () => hold.promise.then(() => ({ json: { success: true, result: {} } })));
    try {
      // Run-level key, limit 1: the first run holds the slot, the second waits.
      const runReq: CreateRequest = {
        id: "console-queued-run",
        steps: [{ id: "s", url: handlers.url("/queued/hold") }],
        context: { user: "u1" },
        concurrency: { key: "/context/user", limit: 1 },
      };
      const holder = await createRun(runReq);
      await waitForRun(api, holder, (w) => w.state === WorkflowState.RUNNING, WAIT_MS);
      const queued = await createRun(runReq);
      await waitForRun(api, queued, (w) => w.waitingFor === "concurrency_key", WAIT_MS);

      await openConsole(`/ui/runs/${queued}`);
      await poll(attrOf(page.getByTestId("run-state"), "data-state")).toBe("pending");
      await poll(attrOf(page.getByTestId("run-queued"), "data-waiting-for")).toBe("concurrency_key");
      await page.goto(weft.baseUrl + "/ui/?workflow=console-queued-run");
      await shown(page.locator(`${rowOf(queued)} [data-testid=run-row-queued]`));
      expect(await page.locator(`${rowOf(holder)} [data-testid=run-row-queued]`).count()).toBe(0);

      // Step-level key, limit 1: the second run's step waits for the first's.
      const stepReq: CreateRequest = {
        id: "console-queued-step",
        steps: [
          { id: "prep", url: handlers.url("/queued/prep") },
          { id: "charge", url: handlers.url("/queued/hold"), dependsOn: ["prep"], concurrency: { key: "/context/user", limit: 1 } },
        ],
        context: { user: "u2" },
      };
      const first = await createRun(stepReq);
      await waitForRun(api, first, (w) => w.steps.find((s) => s.id === "charge")?.state === StepState.RUNNING, WAIT_MS);
      const second = await createRun(stepReq);
      await waitForRun(api, second, (w) => w.steps.find((s) => s.id === "charge")?.waitingFor === "concurrency_key", WAIT_MS);

      await page.goto(weft.baseUrl + `/ui/runs/${second}`);
      const node = page.getByTestId("node-charge");
      await poll(attrOf(node, "data-queued")).toBe("true");
      await poll(attrOf(node, "data-state")).toBe("pending");
      await poll(textOf(node.getByTestId("node-queued"))).toBe("queued");
      expect(await page.getByTestId("node-prep").getAttribute("data-queued")).toBeNull();
      expect(await page.getByTestId("run-queued").count()).toBe(0);
      await node.click();
      await poll(attrOf(page.getByTestId("step-queued"), "data-waiting-for")).toBe("concurrency_key");

      // Released: the queued step runs and the badge goes.
      hold.release();
      await poll(attrOf(node, "data-state")).toBe("completed");
      expect(await node.getAttribute("data-queued")).toBeNull();
      expect(await page.getByTestId("step-queued").count()).toBe(0);
    } finally {
      hold.release();
    }
  });
});
