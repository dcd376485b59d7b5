// Large runs stay readable in the console: a 1000-step chain and a 200-wide fan-out are laid out
// and drawn, fitted they fill a screen-shaped box (the chain is wrapped into rows, the fan-out's
// wide layer is a grid, not a column), zooming in draws only the nodes in view
// (onlyRenderVisibleElements; zoomed out, the boxes in view), a box can be clicked, the timeline
// draws only the rows in view, and a step can be
// selected. The layout and render times are printed (measured in the browser), never asserted.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StepDefinition } from "../../../gen/ts/weft/v1/workflow_pb.js";
import { launchChromium, pageErrors, requireBuiltConsole } from "../../support/browser.ts";
import { HandlerServer } from "../../support/handler-server.ts";
import { startWeft, type TestWeft } from "../../support/weft.ts";

const WAIT_MS = 120_000;
const poll = <T>(query: () => Promise<T>) => expect.poll(query, { timeout: WAIT_MS, interval: 250 });

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

const pad = (i: number) => String(i).padStart(4, "0");

/** The box around every drawn node, on screen (fitted: all of them), and how many there are. */
function drawnBox(page: Page): Promise<{ count: number; width: number; height: number }> {
  // A node is a React Flow node, or zoomed out a box of the large graph's bulk drawing: both carry the test id and state.
  return page.locator("[data-testid^=node-][data-state]").evaluateAll((nodes) => {
    const rects = nodes.map((n) => n.getBoundingClientRect());
    const left = Math.min(...rects.map((r) => r.left));
    const top = Math.min(...rects.map((r) => r.top));
    return { count: rects.length, width: Math.max(...rects.map((r) => r.right)) - left, height: Math.max(...rects.map((r) => r.bottom)) - top };
  });
}

async function measure(page: Page, runId: string, label: string, steps: number, first: string, last: string): Promise<void> {
  const errors = pageErrors(page);
  await page.goto(`${weft.baseUrl}/ui/runs/${runId}`);
  const graph = page.getByTestId("run-graph");
  await poll(() => graph.getAttribute("data-render-ms")).not.toBeNull();
  const layoutMs = await graph.getAttribute("data-layout-ms");
  const renderMs = await graph.getAttribute("data-render-ms");
  const sinceNavigation = await graph.getAttribute("data-rendered-at-ms");
  console.log(`console ${label} (${steps} steps): layout ${layoutMs} ms, render (run data to graph painted) ${renderMs} ms, page start to graph painted ${sinceNavigation} ms`);

  // Fitted, every node is in view, in a box of about a screen's shape (neither a long line nor a
  // thin column), and the last step is below the first (the graph is wrapped into rows or blocks).
  const drawn = () => page.locator("[data-testid^=node-][data-state]").count();
  await poll(drawn).toBe(steps);
  const box = await drawnBox(page);
  expect(box.count).toBe(steps);
  expect(box.width / box.height).toBeGreaterThan(1 / 3);
  expect(box.width / box.height).toBeLessThan(3);
  const firstBox = await page.getByTestId(`node-${first}`).boundingBox();
  const lastBox = await page.getByTestId(`node-${last}`).boundingBox();
  expect(lastBox!.y).toBeGreaterThan(firstBox!.y + firstBox!.height);
  // Zoomed out, a step is picked by clicking its box.
  await page.getByTestId(`node-${last}`).click();
  await poll(() => page.getByTestId("step-panel").getAttribute("data-step")).toBe(last);
  for (let i = 0; i < 8; i++) await page.locator(".react-flow__controls-zoomin").click();
  await poll(drawn).toBeLessThan(steps / 2);
  await page.locator(".react-flow__controls-fitview").click();

  // The timeline draws the rows in view only.
  const rows = await page.getByTestId("timeline-row").count();
  expect(rows).toBeGreaterThan(0);
  expect(rows).toBeLessThan(100);
  // A step can be picked from the timeline.
  await page.getByTestId("timeline-row").first().click();
  await page.getByTestId("step-panel").waitFor({ state: "visible", timeout: WAIT_MS });
  expect(errors.filter((e) => !/status of (400|404)/.test(e))).toEqual([]);
}

describe("large runs in the console", () => {
  it("a 1000-step chain", async () => {
    const steps = Array.from({ length: 1000 }, (_, i) => ({ id: `s${pad(i)}`, url: handlers.url("/chain"), dependsOn: i === 0 ? [] : [`s${pad(i - 1)}`] }));
    const { workflow } = await weft.client.createWorkflow({ id: "console-chain", steps: steps as StepDefinition[] });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await measure(page, workflow!.id, "1000-step chain", 1000, "s0000", "s0999");
    await page.close();
  });

  it("a 200-wide fan-out", async () => {
    const wide = Array.from({ length: 200 }, (_, i) => ({ id: `w${pad(i)}`, url: handlers.url("/wide"), dependsOn: ["start"], parallel: true }));
    const steps = [{ id: "start", url: handlers.url("/start") }, ...wide, { id: "join", url: handlers.url("/join"), dependsOn: wide.map((w) => w.id) }];
    const { workflow } = await weft.client.createWorkflow({ id: "console-fan-out", steps: steps as StepDefinition[] });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await measure(page, workflow!.id, "200-wide fan-out", 202, "w0000", "w0199");
    await page.close();
  });
});
