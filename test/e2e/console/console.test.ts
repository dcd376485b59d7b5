// The web console in a real browser (Debian's Chromium through playwright-core) against a real
// Weft with API keys configured and real step handlers: runs move live on the run page (a handler
// held open, then released; a large result collapsed; the webhook delivery), a retry shows on the
// timeline, Cancel cancels the run (checked through the API), the runs list filters, pages and
// shows new runs without a reload, the key form, and a read key cannot cancel. The console's files
// are the built ones (npm run build:console, done by scripts/test.sh's set-up). Every wait polls
// the page (vitest's expect.poll over Playwright locators) with a generous limit, never a sleep.
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { WorkflowService, WorkflowState, type StepDefinition } from "../../../gen/ts/weft/v1/workflow_pb.js";
import { digestApiKeys } from "../../../src/domain/api-keys.ts";
import { launchChromium, pageErrors, requireBuiltConsole } from "../../support/browser.ts";
import { HandlerServer } from "../../support/handler-server.ts";
import { startWeft, type TestWeft, waitForRun } from "../../support/weft.ts";

const WRITE_KEY = "wk_console_e2e_7c1f0a92d4";
const READ_KEY = "rk_console_e2e_3e8b51c6f0";
const WAIT_MS = 30_000;

// Waits for the page, generously: expect.poll retries each query until it matches.
const poll = <T>(query: () => Promise<T>) => expect.poll(query, { timeout: WAIT_MS, interval: 100 });
const attrOf = (l: Locator, name: string) => async () => ((await l.count()) > 0 ? await l.first().getAttribute(name, { timeout: 5000 }) : null);
const textOf = (l: Locator) => async () => ((await l.count()) > 0 ? await l.first().innerText({ timeout: 5000 }) : "");
const countOf = (l: Locator) => () => l.count();
const shown = (l: Locator) => l.first().waitFor({ state: "visible", timeout: WAIT_MS });

let weft: TestWeft;
let handlers: HandlerServer;
let api: Client<typeof WorkflowService>;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let errors: string[];

/** A handler call that stays open until release() (or the run is cancelled). */
function gate(): { promise: Promise<void>; release(): void } {
  let release!: () => void;
  const promise = new Promise<void>((r) => (release = r));
  return { promise, release };
}

async function createRun(id: string, steps: Partial<StepDefinition>[]): Promise<string> {
  const { workflow } = await api.createWorkflow({ id, steps: steps as StepDefinition[], context: { test: id } });
  return workflow!.id;
}

/** A page of the console with the key already in sessionStorage (as the key form leaves it). */
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
    // The runs page is "live" once its WatchWorkflows stream delivers a first message.
    watchHeartbeatMs: 500,
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
  // No script errors and no CSP violation; the failed API answers the tests provoke are allowed.
  expect(errors.filter((e) => !/Failed to load resource: the server responded with a status of (400|401|403|404)/.test(e))).toEqual([]);
});

describe("run page", () => {
  it("shows steps change state live as a held handler is released", async () => {
    const hold = gate();
    handlers.on("/live/hold", () => hold.promise.then(() => ({ json: { success: true, result: { held: true } } })));
    const big = Array.from({ length: 300 }, (_, i) => ({ item: i, sku: `sku-${i}` }));
    handlers.on("/live/last", () => ({ json: { success: true, result: { items: big } } }));
    handlers.on("/live/done", () => ({ json: {} }));
    const { workflow } = await api.createWorkflow({
      id: "console-live",
      steps: [
        { id: "first", url: handlers.url("/live/first") },
        { id: "held", url: handlers.url("/live/hold"), dependsOn: ["first"] },
        { id: "last", url: handlers.url("/live/last"), dependsOn: ["held"] },
      ] as StepDefinition[],
      onComplete: handlers.url("/live/done"),
    });
    const runId = workflow!.id;
    await openConsole(`/ui/runs/${runId}`);
    await poll(attrOf(page.getByTestId("node-first"), "data-state")).toBe("completed");
    await poll(attrOf(page.getByTestId("node-held"), "data-state")).toBe("running");
    await poll(attrOf(page.getByTestId("node-last"), "data-state")).toBe("pending");
    await poll(attrOf(page.getByTestId("run-state"), "data-state")).toBe("running");
    hold.release();
    await poll(attrOf(page.getByTestId("node-held"), "data-state")).toBe("completed");
    await poll(attrOf(page.getByTestId("node-last"), "data-state")).toBe("completed");
    await poll(attrOf(page.getByTestId("run-state"), "data-state")).toBe("completed");
    // The step panel shows the released handler's result.
    await page.getByTestId("node-held").click();
    await poll(textOf(page.getByTestId("step-result"))).toContain('"held": true');
    // A large result is collapsed until opened.
    await page.getByTestId("node-last").click();
    const result = page.locator("details[data-testid=step-result]");
    await poll(textOf(result.locator("summary"))).toMatch(/^JSON, [\d,]+ characters \(show\)$/);
    expect(await result.evaluate((d) => (d as unknown as { open: boolean }).open)).toBe(false);
    await result.locator("summary").click();
    await poll(textOf(result.locator("pre"))).toContain('"sku": "sku-299"');
    // The on_complete webhook's delivery, on the run and on the timeline.
    await poll(attrOf(page.getByTestId("webhook-state"), "data-state")).toBe("delivered");
    await poll(countOf(page.locator("[data-testid=timeline-bar][data-kind=webhook]"))).toBe(1);
  });

  it("shows a failed attempt and its retry wait on the timeline, and the attempt's error in the step panel", async () => {
    handlers.on("/retry/flaky", (call) => (call.body.attempt === 1 ? { status: 503, json: { error: "warming up" } } : { json: { success: true, result: { attempt: call.body.attempt } } }));
    const runId = await createRun("console-retry", [
      { id: "flaky", url: handlers.url("/retry/flaky"), retries: { maxAttempts: 3, initialInterval: durationFromMs(500) } as StepDefinition["retries"] },
    ]);
    await waitForRun(api, runId, (w) => w.state === WorkflowState.COMPLETED, 30_000);
    await openConsole(`/ui/runs/${runId}`);
    const row = page.locator('[data-testid=timeline-row][data-row="flaky"]');
    await poll(attrOf(row.locator('[data-testid=timeline-bar][data-kind=attempt][data-attempt="1"]'), "data-outcome")).toBe("retry_wait");
    await poll(countOf(row.locator("[data-testid=timeline-bar][data-kind=retry_wait]"))).toBe(1);
    await poll(attrOf(row.locator('[data-testid=timeline-bar][data-kind=attempt][data-attempt="2"]'), "data-outcome")).toBe("completed");
    await poll(attrOf(page.getByTestId("node-flaky"), "data-attempts")).toBe("2");
    await row.click();
    await poll(textOf(page.getByTestId("step-attempt-errors"))).toContain("HTTP 503");
    await poll(textOf(page.getByTestId("step-attempts"))).toBe("2 of 3");
  });

  it("cancels a run from the Cancel button after confirmation", async () => {
    const hold = gate();
    handlers.on("/cancel/hold", () => hold.promise.then(() => ({ json: { success: true, result: {} } })));
    const runId = await createRun("console-cancel", [{ id: "slow", url: handlers.url("/cancel/hold") }]);
    try {
      await openConsole(`/ui/runs/${runId}`);
      await poll(attrOf(page.getByTestId("node-slow"), "data-state")).toBe("running");
      await page.getByTestId("cancel-run").click();
      // Nothing happens before the confirmation.
      await shown(page.getByTestId("cancel-confirmation"));
      expect((await api.getWorkflow({ id: runId })).workflow!.state).toBe(WorkflowState.RUNNING);
      await page.getByTestId("cancel-confirm").click();
      await poll(attrOf(page.getByTestId("run-state"), "data-state")).toBe("cancelled");
      const run = await waitForRun(api, runId, (w) => w.state === WorkflowState.CANCELLED, 30_000);
      expect(run.error?.message).toContain("cancelled from the console");
      await poll(attrOf(page.getByTestId("node-slow"), "data-state")).toBe("cancelled");
    } finally {
      hold.release();
    }
  });
});

describe("runs page", () => {
  it("filters by state and workflow id, and opens a run by id", async () => {
    const done = await createRun("console-filter-a", [{ id: "s", url: handlers.url("/filter/ok") }]);
    await waitForRun(api, done, (w) => w.state === WorkflowState.COMPLETED, 30_000);
    handlers.on("/filter/fail", () => ({ status: 400, json: { error: "no" } }));
    const failed = await createRun("console-filter-b", [{ id: "s", url: handlers.url("/filter/fail") }]);
    await waitForRun(api, failed, (w) => w.state === WorkflowState.FAILED, 30_000);

    await openConsole("/ui/");
    await shown(page.locator(`[data-testid=run-row][data-run-id="${done}"]`));
    await shown(page.locator(`[data-testid=run-row][data-run-id="${failed}"]`));

    await page.getByTestId("filter-state").selectOption("failed");
    await poll(countOf(page.locator(`[data-testid=run-row][data-run-id="${done}"]`))).toBe(0);
    await shown(page.locator(`[data-testid=run-row][data-run-id="${failed}"]`));
    for (const state of await page.getByTestId("run-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-state")))) expect(state).toBe("failed");

    await page.getByTestId("filter-state").selectOption("");
    await page.getByTestId("filter-workflow").fill("console-filter-a");
    await page.getByTestId("filter-workflow-apply").click();
    await poll(countOf(page.locator(`[data-testid=run-row][data-run-id="${failed}"]`))).toBe(0);
    await shown(page.locator(`[data-testid=run-row][data-run-id="${done}"]`));
    await poll(countOf(page.getByTestId("run-row"))).toBe(1);
    await poll(textOf(page.getByTestId("count-completed-value"))).toBe("1");
    await poll(textOf(page.getByTestId("count-failed-value"))).toBe("0");
    // The filter is in the address: a reload (or a link) shows the same list.
    expect(new URL(page.url()).searchParams.get("workflow")).toBe("console-filter-a");
    await page.reload();
    await shown(page.locator(`[data-testid=run-row][data-run-id="${done}"]`));
    await poll(countOf(page.getByTestId("run-row"))).toBe(1);
    expect(await page.getByTestId("filter-workflow").inputValue()).toBe("console-filter-a");

    await page.getByTestId("search-run").fill(failed);
    await page.getByTestId("search-run-go").click();
    await poll(attrOf(page.getByTestId("run-page"), "data-run-id")).toBe(failed);
    await poll(textOf(page.getByTestId("run-error"))).toContain("HTTP 400");
  });

  it("pages through the runs, 25 a page", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 27; i++) ids.push(await createRun("console-paging", [{ id: "s", url: handlers.url("/paging/ok") }]));
    await openConsole("/ui/?workflow=console-paging");
    const rows = page.getByTestId("run-row");
    // Newest first.
    await poll(attrOf(rows, "data-run-id")).toBe(ids[26]);
    await poll(countOf(rows)).toBe(25);
    await page.getByTestId("page-next").click();
    await poll(countOf(rows)).toBe(2);
    expect(await rows.evaluateAll((r) => r.map((e) => e.getAttribute("data-run-id")))).toEqual([ids[1], ids[0]]);
    expect(await page.getByTestId("page-next").isDisabled()).toBe(true);
    await page.getByTestId("page-prev").click();
    await poll(countOf(rows)).toBe(25);
    await poll(attrOf(rows, "data-run-id")).toBe(ids[26]);
  });

  it("shows new runs and their state changes without a reload", async () => {
    await openConsole("/ui/");
    await poll(textOf(page.getByTestId("runs-live"))).toBe("live");
    await page.evaluate(() => ((globalThis as unknown as { notReloaded: boolean }).notReloaded = true));
    const hold = gate();
    handlers.on("/new/hold", () => hold.promise.then(() => ({ json: { success: true, result: {} } })));
    const runId = await createRun("console-new", [{ id: "s", url: handlers.url("/new/hold") }]);
    const row = page.locator(`[data-testid=run-row][data-run-id="${runId}"]`);
    await poll(attrOf(row, "data-state")).toBe("running");
    hold.release();
    await poll(attrOf(row, "data-state")).toBe("completed");
    expect(await page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
  });
});

describe("API keys", () => {
  it("asks for a key, refuses a wrong one, and a read key sees runs but cannot cancel", async () => {
    const hold = gate();
    handlers.on("/keys/hold", () => hold.promise.then(() => ({ json: { success: true, result: {} } })));
    const runId = await createRun("console-keys", [{ id: "s", url: handlers.url("/keys/hold") }]);
    try {
      await page.goto(weft.baseUrl + "/ui/");
      await shown(page.getByTestId("key-form"));
      await poll(attrOf(page.getByTestId("problem"), "data-code")).toBe("UNAUTHENTICATED");

      await page.getByTestId("key-input").fill("not-a-key");
      await page.getByTestId("key-submit").click();
      await poll(textOf(page.getByTestId("key-message"))).toContain("invalid API key");

      await page.getByTestId("key-input").fill(READ_KEY);
      await page.getByTestId("key-submit").click();
      await poll(countOf(page.getByTestId("key-form"))).toBe(0);
      await shown(page.locator(`[data-testid=run-row][data-run-id="${runId}"]`));
      expect(await page.evaluate(() => sessionStorage.getItem("weft.apiKey"))).toBe(READ_KEY);

      await page.locator(`[data-testid=run-row][data-run-id="${runId}"] a`).click();
      await poll(attrOf(page.getByTestId("node-s"), "data-state")).toBe("running");
      const cancel = page.getByTestId("cancel-run");
      await poll(attrOf(cancel, "data-needs-write")).toBe("true");
      await poll(() => cancel.isDisabled()).toBe(true);
      await poll(textOf(cancel)).toContain("needs a write key");
      expect((await api.getWorkflow({ id: runId })).workflow!.state).toBe(WorkflowState.RUNNING);

      // A write key (after forgetting the read key) may cancel.
      await page.getByTestId("forget-key").click();
      await page.reload();
      await shown(page.getByTestId("key-form"));
      await page.getByTestId("key-input").fill(WRITE_KEY);
      await page.getByTestId("key-submit").click();
      await poll(() => page.getByTestId("cancel-run").isEnabled()).toBe(true);
      await page.getByTestId("cancel-run").click();
      await page.getByTestId("cancel-confirm").click();
      await waitForRun(api, runId, (w) => w.state === WorkflowState.CANCELLED, 30_000);
    } finally {
      hold.release();
    }
  });
});
