// "Rerun from this step" in a real browser (Debian's Chromium through playwright-core) against a
// real Weft with API keys and real step handlers: on a finished run's step panel the action asks
// for a confirmation, starts the rerun (RerunWorkflow) and goes to the new run, which shows
// "rerun of <original>" and its copied steps; only the step and what follows it are called. A read
// key cannot rerun; a run that has not finished offers no rerun. The console's files are the built
// ones (npm run build:console). Every wait polls the page with a generous limit, never a sleep.
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { WorkflowService, WorkflowState } from "../../../gen/ts/weft/v1/workflow_pb.js";
import { digestApiKeys } from "../../../src/domain/api-keys.ts";
import { launchChromium, pageErrors, requireBuiltConsole } from "../../support/browser.ts";
import { HandlerServer } from "../../support/handler-server.ts";
import { hangUntilAborted } from "../../support/run-observer.ts";
import { startWeft, type TestWeft, waitForRun } from "../../support/weft.ts";

const WRITE_KEY = "wk_console_rerun_3b9e0f7c1d";
const READ_KEY = "rk_console_rerun_6a2d8c4e0f";
const WAIT_MS = 30_000;

const poll = <T>(query: () => Promise<T>) => expect.poll(query, { timeout: WAIT_MS, interval: 100 });
const attrOf = (l: Locator, name: string) => async () => ((await l.count()) > 0 ? await l.first().getAttribute(name, { timeout: 5000 }) : null);
const countOf = (l: Locator) => () => l.count();
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

async function completedChain(workflowId: string): Promise<string> {
  const { workflow } = await api.createWorkflow({
    id: workflowId,
    steps: ["a", "b", "c"].map((id, i) => ({ id, url: handlers.url(`/${workflowId}/${id}`), dependsOn: i === 0 ? [] : [["a", "b"][i - 1]] })),
  });
  await waitForRun(api, workflow!.id, (w) => w.state === WorkflowState.COMPLETED, WAIT_MS);
  return workflow!.id;
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

describe("rerun from a step", () => {
  it("starts a new run from the selected step after a confirmation and shows it: rerun of the original, copied steps", async () => {
    const original = await completedChain("console-rerun");
    await openConsole(`/ui/runs/${original}`);
    await poll(attrOf(page.getByTestId("run-state"), "data-state")).toBe("completed");
    expect(await page.getByTestId("run-rerun-of").count()).toBe(0);
    await page.getByTestId("node-b").click();
    await shown(page.locator("[data-testid=step-panel][data-step=b]"));
    await page.getByTestId("rerun-step").click();
    // Nothing happens before the confirmation.
    await shown(page.getByTestId("rerun-step-confirmation"));
    expect((await api.listWorkflows({ workflowId: "console-rerun" })).workflows).toHaveLength(1);
    await page.getByTestId("rerun-step-confirm").click();

    // The page goes to the new run, which links to the original.
    // (Mid-navigation the page may have no run id at all: wait for a run id that is not the original's.)
    const shownRun = attrOf(page.getByTestId("run-page"), "data-run-id");
    const newRun = async () => {
      const id = await shownRun();
      return id !== null && /^wf_/.test(id) && id !== original ? id : null;
    };
    await poll(newRun).toMatch(/^wf_/);
    const rerunId = (await newRun())!;
    expect(rerunId).toMatch(/^wf_/);
    expect(rerunId).not.toBe(original);
    await poll(attrOf(page.getByTestId("run-rerun-of"), "data-run-id")).toBe(original);
    await poll(attrOf(page.getByTestId("run-state"), "data-state")).toBe("completed");
    const run = await waitForRun(api, rerunId, (w) => w.state === WorkflowState.COMPLETED, WAIT_MS);
    expect(run.rerunOf).toBe(original);
    expect(run.steps.map((s) => s.copiedFrom)).toEqual([original, "", ""]);
    // Only b and c were called for the new run.
    expect(["a", "b", "c"].map((s) => handlers.callsFor(rerunId, `/console-rerun/${s}`).length)).toEqual([0, 1, 1]);
    // A copied step says where it came from.
    await page.getByTestId("node-a").click();
    await poll(attrOf(page.getByTestId("step-copied-from"), "data-run-id")).toBe(original);
    // The link goes back to the original.
    await page.locator("[data-testid=run-rerun-of] a").click();
    await poll(attrOf(page.getByTestId("run-page"), "data-run-id")).toBe(original);
  });

  it("needs a write key; a run that has not finished offers no rerun", async () => {
    const finished = await completedChain("console-rerun-read");
    await openConsole(`/ui/runs/${finished}`, READ_KEY);
    await poll(attrOf(page.getByTestId("run-state"), "data-state")).toBe("completed");
    await page.getByTestId("node-b").click();
    await poll(attrOf(page.getByTestId("rerun-step"), "data-needs-write")).toBe("true");
    // The server holds the line too: a read key is PERMISSION_DENIED (required: write).
    const reader = createClient(
      WorkflowService,
      createConnectTransport({ baseUrl: weft.baseUrl, httpVersion: "1.1", interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${READ_KEY}`), next(req))] }),
    );
    const denied = await reader.rerunWorkflow({ id: finished, fromSteps: ["b"] }).then(
      () => undefined,
      (err: unknown) => ConnectError.from(err),
    );
    expect(denied?.code).toBe(Code.PermissionDenied);
    expect((await api.listWorkflows({ workflowId: "console-rerun-read" })).workflows).toHaveLength(1);

    handlers.on("/console-rerun-running/slow", hangUntilAborted(60_000));
    const { workflow } = await api.createWorkflow({ id: "console-rerun-running", steps: [{ id: "slow", url: handlers.url("/console-rerun-running/slow") }] });
    await handlers.waitForCall((c) => c.path === "/console-rerun-running/slow");
    await page.goto(`${weft.baseUrl}/ui/runs/${workflow!.id}`);
    await poll(attrOf(page.getByTestId("run-state"), "data-state")).toBe("running");
    await page.getByTestId("node-slow").click();
    await shown(page.locator("[data-testid=step-panel][data-step=slow]"));
    expect(await countOf(page.getByTestId("rerun-step"))()).toBe(0);
    await api.cancelWorkflow({ id: workflow!.id });
  });
});
