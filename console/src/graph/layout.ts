// Node positions of a run's DAG (depends_on edges). Small graphs are laid out by ELK's layered
// algorithm, large ones (from LARGE steps) by layoutLarge (d3-dag, with wide layers as grids and
// wrapped rows: ELK takes seconds there); each in a Web Worker so that the page stays responsive.
import type { ELK as Elk, ElkNode, LayoutOptions } from "elkjs/lib/elk-api.js";
import type { LayoutStep, Positions } from "./large-layout.ts";
import { NODE_HEIGHT, NODE_WIDTH } from "./node-size.ts";

export { NODE_HEIGHT, NODE_WIDTH };
export type { LayoutStep };

export interface Layout {
  positions: Positions;
  /** How long the layout took, in ms. */
  ms: number;
}

/** From this many steps on, layoutLarge is used. */
export const LARGE = 150;

const OPTIONS: LayoutOptions = {
  "elk.algorithm": "layered",
  "elk.direction": "RIGHT",
  "elk.layered.spacing.nodeNodeBetweenLayers": "70",
  "elk.spacing.nodeNode": "18",
  "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
  "elk.layered.nodePlacement.strategy": "NETWORK_SIMPLEX",
};

let elk: Promise<Elk> | undefined;

function loadElk(): Promise<Elk> {
  elk ??= Promise.all([import("elkjs/lib/elk-api.js"), import("elkjs/lib/elk-worker.min.js?url")]).then(
    ([{ default: ELK }, { default: workerUrl }]) => new ELK({ workerUrl }),
  );
  return elk;
}

/** Layouts of the graphs seen on this page (by shape), so that going back to a run is instant. */
const cache = new Map<string, Promise<Layout>>();
const CACHE_SIZE = 20;

export function layoutDag(steps: LayoutStep[]): Promise<Layout> {
  const shape = JSON.stringify(steps.map((s) => [s.id, s.dependsOn]));
  let layout = cache.get(shape);
  if (!layout) {
    layout = computeLayout(steps);
    layout.catch(() => cache.delete(shape));
    cache.set(shape, layout);
    if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
  }
  return layout;
}

async function computeLayout(steps: LayoutStep[]): Promise<Layout> {
  const started = performance.now();
  const positions = steps.length >= LARGE ? await layoutInWorker(steps) : await layoutWithElk(steps);
  return { positions, ms: performance.now() - started };
}

let worker: Worker | undefined;
let requests = 0;
const pending = new Map<number, { resolve(p: Positions): void; reject(e: Error): void }>();

/** Starts the large-layout worker ahead of need (a run page does, while it loads the run). */
export function prewarmLayout(): void {
  layoutWorker();
}

function layoutWorker(): Worker {
  if (!worker) {
    worker = new Worker(new URL("./large-layout-worker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (event: MessageEvent<{ id: number; positions?: Positions; error?: string }>) => {
      const { id, positions, error } = event.data;
      const request = pending.get(id);
      pending.delete(id);
      if (positions) request?.resolve(positions);
      else request?.reject(new Error(`layout failed: ${error}`));
    };
  }
  return worker;
}

function layoutInWorker(steps: LayoutStep[]): Promise<Positions> {
  const w = layoutWorker();
  const id = ++requests;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    w.postMessage({ id, steps });
  });
}

async function layoutWithElk(steps: LayoutStep[]): Promise<Positions> {
  const ids = new Set(steps.map((s) => s.id));
  const graph: ElkNode = {
    id: "root",
    layoutOptions: OPTIONS,
    children: steps.map((s) => ({ id: s.id, width: NODE_WIDTH, height: NODE_HEIGHT })),
    edges: steps.flatMap((s) => s.dependsOn.filter((d) => ids.has(d)).map((d) => ({ id: `${d}->${s.id}`, sources: [d], targets: [s.id] }))),
  };
  const out = await (await loadElk()).layout(graph);
  const positions = new Map<string, { x: number; y: number }>();
  for (const c of out.children ?? []) positions.set(c.id, { x: c.x ?? 0, y: c.y ?? 0 });
  return positions;
}
