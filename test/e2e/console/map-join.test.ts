// Map steps and joins in the console, in a real browser (Debian's Chromium through playwright-core)
// against a real Weft and real step handlers: a map step of 60 items (every 7th from item 20 on failing, tolerated
// by item_failures all_settled) shows its item counts on its node, changing live while the page is
// open (items held by the handler, then released in two parts: items that complete are not events,
// so the page must re-read the run to see them); its step panel lists the items a page at a time
// (ListStepItems, 50 a page) with state, attempts, error and result, and pages forward and back.
// Joins: a step whose join (at_least 2) can no longer be met is drawn as "join failed", the loser
// of an `any` join as "not needed", each distinct and in the graph's legend, and the step panel
// names the policy. Every wait polls the page with a generous limit, never a sleep.
import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StepDefinition } from "../../../gen/ts/weft/v1/workflow_pb.js";
import { launchChromium, pageErrors, requireBuiltConsole } from "../../support/browser.ts";
import { HandlerServer } from "../../support/handler-server.ts";
import { startWeft, type TestWeft, waitForRun } from "../../support/weft.ts";

const WAIT_MS = 60_000;
const poll = <T>(query: () => Promise<T>) => expect.poll(query, { timeout: WAIT_MS, interval: 100 });
const attrOf = (l: Locator, name: string) => async () => ((await l.count()) > 0 ? await l.first().getAttribute(name, { timeout: 5000 }) : null);
const textOf = (l: Locator) => async () => ((await l.count()) > 0 ? await l.first().innerText({ timeout: 5000 }) : "");

let weft: TestWeft;
let handlers: HandlerServer;
let browser: Browser;

beforeAll(async () => {
  requireBuiltConsole();
  handlers = await HandlerServer.start();
  weft = await startWeft();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await weft?.stop();
  await handlers?.close();
});

function gate(): { promise: Promise<void>; release(): void } {
  let release!: () => void;
  const promise = new Promise<void>((r) => (release = r));
  return { promise, release };
}

async function openRun(runId: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = pageErrors(page);
  await page.goto(`${weft.baseUrl}/ui/runs/${runId}`);
  return { page, errors };
}

const ITEMS = 60;
/** Items below this index are released first (and none of them fails: a failed attempt is an event). */
const FIRST = 20;
const failing = (index: number) => index >= FIRST && index % 7 === 3;
const FAILED = Array.from({ length: ITEMS }, (_, i) => i).filter(failing).length;

describe("map steps and joins in the console", () => {
  it("a map step's item counts change live on its node, and its panel pages through its items", async () => {
    const hold = gate();
    const holdRest = gate();
    handlers.on("/map/prepare", () => ({ json: { success: true, result: { items: Array.from({ length: ITEMS }, (_, i) => ({ sku: `sku-${i}` })) } } }));
    handlers.on("/map/item", async (call) => {
      const { index } = call.body as unknown as { index: number };
      await (index < FIRST ? hold.promise : holdRest.promise);
      const { item } = call.body as unknown as { item: { sku: string } };
      return failing(index) ? { status: 422, json: { error: `out of stock: ${item.sku}` } } : { json: { success: true, result: { packed: item.sku } } };
    });
    handlers.on("/map/finalize", () => ({ json: { success: true, result: { done: true } } }));
    const steps: Partial<StepDefinition>[] = [
      { id: "prepare", url: handlers.url("/map/prepare") },
      {
        id: "process",
        url: handlers.url("/map/item"),
        dependsOn: ["prepare"],
        forEach: "/prepare/result/items",
        maxConcurrency: 10,
        itemFailures: { policy: { case: "allSettled", value: {} } } as StepDefinition["itemFailures"],
      },
      { id: "finalize", url: handlers.url("/map/finalize"), dependsOn: ["process"] },
    ];
    const { workflow } = await weft.client.createWorkflow({ id: "console-map", steps: steps as StepDefinition[] });
    const runId = workflow!.id;
    const { page, errors } = await openRun(runId);
    const node = page.getByTestId("node-process");

    // Held by the handler: the node knows the 60 items, none done yet.
    await poll(attrOf(node, "data-items-total")).toBe(String(ITEMS));
    expect(await node.getAttribute("data-items-done")).toBe("0");
    expect(await node.getAttribute("data-state")).toBe("running");
    await poll(textOf(node.getByTestId("node-items"))).toMatch(new RegExp(`^0/${ITEMS}`));

    // The panel: the map's definition, its counts and the first page of items (none finished).
    await node.click();
    const panel = page.getByTestId("step-panel");
    await poll(textOf(panel.getByTestId("step-for-each"))).toBe("/prepare/result/items");
    await poll(textOf(panel.getByTestId("step-item-failures"))).toBe("all_settled");
    await poll(() => panel.getByTestId("item-row").count()).toBe(50);
    expect(await panel.getByTestId("item-row").first().getAttribute("data-index")).toBe("0");
    expect(await panel.locator("[data-testid=item-row][data-state=completed]").count()).toBe(0);

    // The first 20 released: the step is still running and no event has happened (items that
    // complete are not events), yet the same page (no reload) shows them done, node and panel.
    hold.release();
    await poll(attrOf(node, "data-items-done")).toBe(String(FIRST));
    expect(await node.getAttribute("data-state")).toBe("running");
    expect(await node.getAttribute("data-items-failed")).toBe("0");
    await poll(() => panel.locator("[data-testid=item-row][data-state=completed]").count()).toBe(FIRST);
    await poll(attrOf(panel.getByTestId("items-completed"), "data-count")).toBe(String(FIRST));

    // All released: every item settled and the failures counted.
    holdRest.release();
    await poll(attrOf(node, "data-items-done")).toBe(String(ITEMS));
    expect(await node.getAttribute("data-items-failed")).toBe(String(FAILED));
    await poll(textOf(node.getByTestId("node-items"))).toBe(`${ITEMS}/${ITEMS} ✗${FAILED}`);
    await poll(attrOf(node, "data-state")).toBe("completed");
    await poll(attrOf(page.getByTestId("node-finalize"), "data-state")).toBe("completed");
    await poll(attrOf(panel.getByTestId("items-failed"), "data-count")).toBe(String(FAILED));
    await poll(attrOf(panel.getByTestId("items-completed"), "data-count")).toBe(String(ITEMS - FAILED));

    // Page 1 (items 0–49), live: completed items with their result, failed ones with their error.
    await poll(() => panel.locator("[data-testid=item-row][data-state=completed]").count()).toBe(50 - Array.from({ length: 50 }, (_, i) => i).filter(failing).length);
    await poll(textOf(panel.locator("[data-testid=item-row][data-index='0']"))).toContain('{"packed":"sku-0"}');
    const failedRow = panel.locator("[data-testid=item-row][data-index='24']");
    expect(await failedRow.getAttribute("data-state")).toBe("failed");
    expect(await failedRow.innerText()).toContain("HTTP 422");
    expect(await panel.getByTestId("items-range").innerText()).toContain(`items 0–49 of ${ITEMS} (page 1 of 2)`);

    // Page 2 (items 50–59), and back.
    await panel.getByTestId("items-next").click();
    await poll(attrOf(panel.getByTestId("item-row"), "data-index")).toBe("50");
    expect(await panel.getByTestId("item-row").count()).toBe(ITEMS - 50);
    expect(await panel.getByTestId("items-next").isDisabled()).toBe(true);
    expect(await panel.locator("[data-testid=item-row][data-index='52']").getAttribute("data-state")).toBe("failed");
    await panel.getByTestId("items-prev").click();
    await poll(attrOf(panel.getByTestId("item-row"), "data-index")).toBe("0");
    expect(await panel.getByTestId("item-row").count()).toBe(50);

    const done = await waitForRun(weft.client, runId);
    expect(done.steps.find((s) => s.id === "process")?.items?.failed).toBe(FAILED);
    expect(errors.filter((e) => !/status of 400/.test(e))).toEqual([]); // 400: the page's write-access probe (CancelWorkflow without an id)
    await page.close();
  });

  it("join outcomes: a join that failed and a branch no longer needed are drawn distinctly, with a legend", async () => {
    const slow = gate();
    handlers.on("/join/ok", () => ({ json: { success: true, result: { ok: true } } }));
    handlers.on("/join/first", () => ({ json: { success: true, result: { first: true } } }));
    // Fails only once "first" was called: by then "any" has cancelled "slow" as not needed (the
    // run's failure, which needs-two's failed join causes, would otherwise cancel it first).
    handlers.on("/join/broken", async (call) => {
      await handlers.waitForCall((c) => c.path === "/join/first" && c.body.runId === call.body.runId, WAIT_MS);
      return { status: 400, json: { error: "bad input" } };
    });
    handlers.on("/join/slow", () => slow.promise.then(() => ({ json: { success: true, result: { late: true } } })));
    const steps: Partial<StepDefinition>[] = [
      { id: "fast", url: handlers.url("/join/ok"), parallel: true },
      { id: "slow", url: handlers.url("/join/slow"), parallel: true },
      { id: "broken", url: handlers.url("/join/broken"), parallel: true },
      { id: "first", url: handlers.url("/join/first"), dependsOn: ["fast", "slow"], join: { policy: { case: "any", value: {} } } as StepDefinition["join"] },
      { id: "needs-two", url: handlers.url("/join/ok"), dependsOn: ["broken", "fast"], join: { policy: { case: "atLeast", value: 2 } } as StepDefinition["join"] },
    ];
    const { workflow } = await weft.client.createWorkflow({ id: "console-joins", steps: steps as StepDefinition[] });
    const runId = workflow!.id;
    try {
      await waitForRun(weft.client, runId);
    } finally {
      slow.release();
    }
    const { page, errors } = await openRun(runId);

    const needsTwo = page.getByTestId("node-needs-two");
    await poll(attrOf(needsTwo, "data-outcome")).toBe("join_failed");
    expect(await needsTwo.getAttribute("data-state")).toBe("skipped");
    expect(await needsTwo.getByTestId("node-state").innerText()).toBe("join failed");
    const slowNode = page.getByTestId("node-slow");
    await poll(attrOf(slowNode, "data-outcome")).toBe("not_needed");
    expect(await slowNode.getAttribute("data-state")).toBe("cancelled");
    expect(await slowNode.getByTestId("node-state").innerText()).toBe("not needed");
    // A plain failure is not a join outcome.
    expect(await page.getByTestId("node-broken").getAttribute("data-outcome")).toBeNull();
    // Drawn distinctly: the border of a join outcome is not the solid border of other steps.
    const border = (l: Locator) => l.evaluate((el) => el.ownerDocument.defaultView!.getComputedStyle(el).borderTopStyle);
    expect(await border(needsTwo)).toBe("dashed");
    expect(await border(slowNode)).toBe("dotted");
    expect(await border(page.getByTestId("node-broken"))).toBe("solid");
    await expect.poll(() => page.getByTestId("legend-join_failed").isVisible()).toBe(true);
    expect(await page.getByTestId("legend-not_needed").innerText()).toContain("not needed");

    // The panel names the policy and the outcome.
    await needsTwo.click();
    const panel = page.getByTestId("step-panel");
    await poll(textOf(panel.getByTestId("step-join"))).toBe("at_least: 2");
    expect(await panel.getByTestId("step-outcome").getAttribute("data-outcome")).toBe("join_failed");
    expect(await panel.getByTestId("step-error").innerText()).toContain("join_failed");
    await page.getByTestId("node-first").click();
    await poll(textOf(panel.getByTestId("step-join"))).toBe("any");
    await page.getByTestId("node-slow").click();
    await poll(attrOf(panel.getByTestId("step-outcome"), "data-outcome")).toBe("not_needed");
    expect(errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
    await page.close();
  });
});
