// The console's Pause and Resume in a real browser (Debian's Chromium through playwright-core)
// against a real Weft with API keys and real step handlers: Pause holds a running run (its call
// in flight is recorded, the next step does not start), the page shows PAUSED with its reason,
// Resume lets it complete; the runs list's bulk control counts the runs its filter matches (a dry
// run), then pauses them after a confirmation; a read key cannot pause. The console's files are the built ones
// (npm run build:console). Every wait polls the page with a generous limit, never a sleep.
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BulkAction, WorkflowService, WorkflowState } from "../../../gen/ts/weft/v1/workflow_pb.js";
import { digestApiKeys } from "../../../src/domain/api-keys.ts";
import { launchChromium, pageErrors, requireBuiltConsole } from "../../support/browser.ts";
import { HandlerServer } from "../../support/handler-server.ts";
import { startWeft, type TestWeft, waitForRun } from "../../support/weft.ts";

const WRITE_KEY = "wk_console_pause_6a1f09c3d2";
const READ_KEY = "rk_console_pause_b7e42d18f5";
const WAIT_MS = 30_000;

const poll = <T>(query: () => Promise<T>) => expect.poll(query, { timeout: WAIT_MS, interval: 100 });
const attrOf = (l: Locator, name: string) => async () => ((await l.count()) > 0 ? await l.first().getAttribute(name, { timeout: 5000 }) : null);
const textOf = (l: Locator) => async () => ((await l.count()) > 0 ? await l.first().innerText({ timeout: 5000 }) : "");
const shown = (l: Locator) => l.first().waitFor({ state: "visible", timeout: WAIT_MS });

let weft: TestWeft;
let handlers: HandlerServer;
let api: Client<typeof WorkflowService>;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let errors: string[];

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
  expect(errors.filter((e) => !/Failed to load resource: the server responded with a status of (400|401|403|404|412)/.test(e))).toEqual([]);
});

describe("pause and resume", () => {
  it("pauses a running run from the page (the next step waits), shows it PAUSED, and resumes it to COMPLETED", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    handlers.on("/cpause/a", () => held.then(() => ({ json: { success: true, result: 1 } })));
    const { workflow } = await api.createWorkflow({
      id: "console-pause",
      steps: [
        { id: "a", url: handlers.url("/cpause/a") },
        { id: "b", url: handlers.url("/cpause/b"), dependsOn: ["a"] },
      ],
    });
    const runId = workflow!.id;
    try {
      await handlers.waitForCall((c) => c.body.runId === runId);
      await openConsole(`/ui/runs/${runId}`);
      await poll(attrOf(page.getByTestId("run-state"), "data-state")).toBe("running");
      expect(await page.getByTestId("resume-run").count()).toBe(0);
      await page.getByTestId("pause-run").click();
      await shown(page.getByTestId("pause-run-confirmation"));
      expect((await api.getWorkflow({ id: runId })).workflow!.state).toBe(WorkflowState.RUNNING);
      await page.getByTestId("pause-run-confirm").click();
      await poll(attrOf(page.getByTestId("run-state"), "data-state")).toBe("paused");
      await poll(textOf(page.getByTestId("run-pause-note"))).toContain("paused from the console");
      await shown(page.getByTestId("resume-run"));
      // The call in flight finishes while paused: recorded, and b does not start.
      release();
      await poll(attrOf(page.getByTestId("node-a"), "data-state")).toBe("completed");
      expect(await attrOf(page.getByTestId("run-state"), "data-state")()).toBe("paused");
      expect(handlers.callsFor(runId, "/cpause/b")).toHaveLength(0);
      await page.getByTestId("resume-run").click();
      await page.getByTestId("resume-run-confirm").click();
      await poll(attrOf(page.getByTestId("run-state"), "data-state")).toBe("completed");
      expect((await waitForRun(api, runId, undefined, WAIT_MS)).state).toBe(WorkflowState.COMPLETED);
      expect(handlers.callsFor(runId, "/cpause/b")).toHaveLength(1);
    } finally {
      release();
    }
  });

  it("bulk: the runs list counts the runs its filter matches (dry run), then pauses them after a confirmation", async () => {
    handlers.on("/cbulk/slow", async (call) => {
      while (!call.aborted) await new Promise((r) => setTimeout(r, 20));
      return { json: { success: true, result: null } };
    });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { workflow } = await api.createWorkflow({ id: "console-bulk", labels: { wave: "c1" }, steps: [{ id: "s", url: handlers.url("/cbulk/slow") }] });
      ids.push(workflow!.id);
    }
    await api.createWorkflow({ id: "console-bulk", labels: { wave: "other" }, steps: [{ id: "s", url: handlers.url("/cbulk/slow") }] });
    try {
      // No filter: no bulk control.
      await openConsole("/ui/");
      await shown(page.getByTestId("runs-page"));
      expect(await page.getByTestId("bulk-actions").count()).toBe(0);
      await page.goto(`${weft.baseUrl}/ui/?label=${encodeURIComponent("wave=c1")}`);
      await shown(page.getByTestId("bulk-actions"));
      await page.getByTestId("bulk-action").selectOption("pause");
      await page.getByTestId("bulk-count").click();
      await poll(textOf(page.getByTestId("bulk-confirmation"))).toContain("3 of 3 matching runs would be affected");
      for (const id of ids) expect((await api.getWorkflow({ id })).workflow!.state).toBe(WorkflowState.RUNNING);
      await page.getByTestId("bulk-confirm").click();
      await poll(textOf(page.getByTestId("bulk-done"))).toContain("pause: 3 of 3 runs");
      for (const id of ids) expect((await api.getWorkflow({ id })).workflow!.state).toBe(WorkflowState.PAUSED);
    } finally {
      await api.bulkWorkflowAction({ workflowId: "console-bulk", action: BulkAction.CANCEL });
    }
  });

  it("with a read key, Pause says it needs a write key", async () => {
    handlers.on("/cpause/slow", async (call) => {
      while (!call.aborted) await new Promise((r) => setTimeout(r, 20));
      return { json: { success: true, result: null } };
    });
    const { workflow } = await api.createWorkflow({ id: "console-pause-read", steps: [{ id: "s", url: handlers.url("/cpause/slow") }] });
    const runId = workflow!.id;
    try {
      await openConsole(`/ui/runs/${runId}`, READ_KEY);
      await poll(attrOf(page.getByTestId("run-state"), "data-state")).toBe("running");
      await poll(attrOf(page.getByTestId("pause-run"), "data-needs-write")).toBe("true");
    } finally {
      await api.cancelWorkflow({ id: runId });
    }
  });
});
