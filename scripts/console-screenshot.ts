// `npm run screenshot:console`: starts Weft and step handlers on loopback, runs a small fan-out
// workflow whose one step fails once and is retried, with a map step over 8 items (one failing,
// tolerated), and saves the console's run page, the map step selected, as
// docs/console-run.png (Debian's Chromium through playwright-core; the console must be built:
// npm run build:console).
import { join } from "node:path";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { StepDefinition } from "../gen/ts/weft/v1/workflow_pb.js";
import { launchChromium } from "../test/support/browser.ts";
import { HandlerServer } from "../test/support/handler-server.ts";
import { REPO_ROOT } from "../test/support/server-package.ts";
import { startWeft, waitForRun } from "../test/support/weft.ts";

const out = join(REPO_ROOT, "docs", "console-run.png");
const handlers = await HandlerServer.start();
const weft = await startWeft();
try {
  const ok = (ms: number) => () => ({ delayMs: ms, json: { success: true, result: { ok: true } } });
  handlers.on("/validate", ok(120));
  handlers.on("/charge", () => ({ delayMs: 260, json: { success: true, result: { chargeId: "ch_3Pq8", amount: 4200, currency: "EUR" } } }));
  handlers.on("/reserve", ok(180));
  handlers.on("/notify", (call) => (call.body.attempt === 1 ? { delayMs: 90, status: 503, json: { error: "warehouse busy" } } : { delayMs: 150, json: { success: true, result: { notified: true } } }));
  handlers.on("/ship", ok(200));
  handlers.on("/pack", (call) => {
    const { index, item } = call.body as unknown as { index: number; item: string };
    return index === 5 ? { delayMs: 60, status: 409, json: { error: `${item}: out of stock` } } : { delayMs: 40 + index * 15, json: { success: true, result: { packed: item } } };
  });
  handlers.on("/done", () => ({ json: {} }));
  const steps: Partial<StepDefinition>[] = [
    { id: "validate", url: handlers.url("/validate") },
    { id: "charge-card", url: handlers.url("/charge"), dependsOn: ["validate"], parallel: true },
    { id: "reserve-stock", url: handlers.url("/reserve"), dependsOn: ["validate"], parallel: true },
    {
      id: "notify-warehouse",
      url: handlers.url("/notify"),
      dependsOn: ["validate"],
      parallel: true,
      retries: { maxAttempts: 3, initialInterval: durationFromMs(600) } as StepDefinition["retries"],
    },
    {
      id: "pack-items",
      url: handlers.url("/pack"),
      dependsOn: ["validate"],
      parallel: true,
      forEach: "/context/items",
      maxConcurrency: 4,
      itemFailures: { policy: { case: "allSettled", value: {} } } as StepDefinition["itemFailures"],
    },
    { id: "ship", url: handlers.url("/ship"), dependsOn: ["charge-card", "reserve-stock", "notify-warehouse", "pack-items"] },
  ];
  const { workflow } = await weft.client.createWorkflow({
    id: "order-processing",
    steps: steps as StepDefinition[],
    context: { orderId: "ord_1042", customer: "ada@example.com", items: ["sku-104", "sku-221", "sku-318", "sku-407", "sku-512", "sku-630", "sku-744", "sku-851"] },
    onComplete: handlers.url("/done"),
  });
  await waitForRun(weft.client, workflow!.id, (w) => w.webhook?.deliveredAt !== undefined, 60_000);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1360, height: 980 } });
    await page.goto(`${weft.baseUrl}/ui/runs/${workflow!.id}`);
    await page.locator("[data-testid=node-ship][data-state=completed]").waitFor({ timeout: 60_000 });
    await page.locator("[data-testid=webhook-state][data-state=delivered]").waitFor({ timeout: 60_000 });
    await page.getByTestId("node-pack-items").click();
    await page.getByTestId("step-panel").waitFor();
    await page.locator("[data-testid=item-row][data-index='7']").waitFor({ timeout: 60_000 });
    await page.waitForTimeout(500); // the graph's fit animation
    await page.screenshot({ path: out, fullPage: true });
    console.log(`saved ${out}`);
  } finally {
    await browser.close();
  }
} finally {
  await weft.stop();
  await handlers.close();
}
