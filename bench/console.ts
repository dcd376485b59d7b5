// `npm run bench:console`: how long the console takes to draw a large run's graph, in a real
// browser (Debian's Chromium through playwright-core) against a real Weft and real step handlers.
// It runs a 1,000-step chain and a 200-wide fan-out (start → 200 parallel steps → join) to the end,
// then opens each run's page N times, each time in a fresh browser context (no cache, no layout
// cached by an earlier load), and prints the median, minimum and maximum of:
//   render:  from the page having the run's data (its first WatchWorkflow snapshot decoded,
//            performance mark "weft:run-data") to the graph painted and interactive (the second
//            animation frame after the laid-out, fitted graph was committed: "weft:graph-painted");
//   layout:  the layout computation alone (part of render);
//   paint:   from the layout's arrival to the painted graph (React, React Flow, the browser; part of render);
//   page:    from navigation start to the graph painted (loading the console's files, the
//            stream, the layout and the paint).
// A benchmark, not a test: it asserts nothing. Build the console first (npm run build:console).
// Environment: BENCH_CONSOLE_LOADS (default 7) loads per run; WEFT_CHROMIUM (default /usr/bin/chromium);
// BENCH_CONSOLE_DIRS=dirA,dirB compares built consoles (e.g. a build of another commit), interleaved.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import type { StepDefinition } from "../gen/ts/weft/v1/workflow_pb.js";
import { DEFAULT_CONSOLE_DIR } from "../src/server/console-assets.ts";
import { launchChromium } from "../test/support/browser.ts";
import { HandlerServer } from "../test/support/handler-server.ts";
import { startWeft, waitForRun, type TestWeft } from "../test/support/weft.ts";

const LOADS = Number(process.env.BENCH_CONSOLE_LOADS ?? 7);
const VIEWPORT = { width: 1400, height: 1000 };

if (!existsSync(join(DEFAULT_CONSOLE_DIR, "index.html"))) {
  console.error(`the console is not built (${DEFAULT_CONSOLE_DIR}): run npm run build:console`);
  process.exit(1);
}

interface Load {
  render: number;
  layout: number;
  paint: number;
  page: number;
}

const pad = (i: number) => String(i).padStart(4, "0");
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function load(browser: Browser, weft: TestWeft, runId: string): Promise<Load> {
  const context = await browser.newContext({ viewport: VIEWPORT });
  try {
    const page = await context.newPage();
    await page.goto(`${weft.baseUrl}/ui/runs/${runId}`);
    const graph = page.getByTestId("run-graph");
    await graph.and(page.locator("[data-render-ms]")).waitFor({ timeout: 120_000 });
    const attr = async (name: string) => Number(await graph.getAttribute(name));
    const paint = await page.evaluate(() => {
      const mark = (name: string) => performance.getEntriesByName(name, "mark").at(-1)?.startTime ?? NaN;
      return Math.round(mark("weft:graph-painted") - mark("weft:graph-laid-out"));
    });
    return { render: await attr("data-render-ms"), layout: await attr("data-layout-ms"), paint, page: await attr("data-rendered-at-ms") };
  } finally {
    await context.close();
  }
}

// Built consoles to compare (each served by its own Weft): BENCH_CONSOLE_DIRS=dirA,dirB loads them
// in turn (A, B, A, B, …) so that both see the same machine load.
const dirs = (process.env.BENCH_CONSOLE_DIRS ?? DEFAULT_CONSOLE_DIR).split(",").filter(Boolean);
const handlers = await HandlerServer.start();
handlers.on("/step", () => ({ json: { success: true, result: { ok: true } } }));
const wefts: TestWeft[] = [];
for (const dir of dirs) wefts.push(await startWeft({ console: { enabled: true, assetsDir: dir } }));
const browser = await launchChromium();
try {
  const chain = Array.from({ length: 1000 }, (_, i) => ({ id: `s${pad(i)}`, url: handlers.url("/step"), dependsOn: i === 0 ? [] : [`s${pad(i - 1)}`] }));
  const wide = Array.from({ length: 200 }, (_, i) => ({ id: `w${pad(i)}`, url: handlers.url("/step"), dependsOn: ["start"], parallel: true }));
  const fanOut = [{ id: "start", url: handlers.url("/step") }, ...wide, { id: "join", url: handlers.url("/step"), dependsOn: wide.map((w) => w.id) }];
  const scenarios: [string, Partial<StepDefinition>[]][] = [
    ["1,000-step chain", chain],
    ["200-wide fan-out", fanOut],
  ];
  const results: Record<string, Record<string, { render: number; layout: number; paint: number; page: number; loads: Load[] }>> = {};
  for (const [label, steps] of scenarios) {
    const runs: string[] = [];
    for (const weft of wefts) {
      const { workflow } = await weft.client.createWorkflow({ id: "console-bench", steps: steps as StepDefinition[] });
      await waitForRun(weft.client, workflow!.id, undefined, 300_000);
      runs.push(workflow!.id);
      await load(browser, weft, workflow!.id); // warm-up (server caches, browser start)
    }
    const loads: Load[][] = dirs.map(() => []);
    for (let i = 0; i < LOADS; i++) for (const [k, weft] of wefts.entries()) loads[k]!.push(await load(browser, weft, runs[k]!));
    results[label] = {};
    for (const [k, dir] of dirs.entries()) {
      const ls = loads[k]!;
      const stat = (key: keyof Load) => {
        const xs = ls.map((l) => l[key]).filter((x) => Number.isFinite(x));
        return xs.length ? `${Math.round(median(xs))} ms (${Math.min(...xs)}–${Math.max(...xs)})` : "—";
      };
      const name = dirs.length > 1 ? ` [${dir}]` : "";
      console.log(`${label}${name}: render ${stat("render")}, layout ${stat("layout")}, paint ${stat("paint")}, page start to painted ${stat("page")}  [median (min–max) of ${LOADS} loads]`);
      results[label]![dir] = { render: median(ls.map((l) => l.render)), layout: median(ls.map((l) => l.layout)), paint: median(ls.map((l) => l.paint)), page: median(ls.map((l) => l.page)), loads: ls };
    }
  }
  console.log(JSON.stringify(results));
} finally {
  await browser.close();
  for (const weft of wefts) await weft.stop();
  await handlers.close();
}
