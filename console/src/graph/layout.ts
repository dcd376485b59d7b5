// Node positions of a run's DAG (depends_on edges), laid out by ELK's layered algorithm in a Web
// Worker (ELK is about 1.5 MB and a 1000-step layout takes seconds: the page stays responsive).
// Long graphs are wrapped into several rows so that they stay readable when fitted.
import type { ELK as Elk, ElkNode, LayoutOptions } from "elkjs/lib/elk-api.js";

export const NODE_WIDTH = 190;
export const NODE_HEIGHT = 62;

export interface LayoutStep {
  id: string;
  dependsOn: string[];
}

export interface Layout {
  positions: Map<string, { x: number; y: number }>;
  /** How long ELK took, in ms. */
  ms: number;
}

/** From this many steps on, the cheaper placement and the wrapping are used. */
const LARGE = 150;

const OPTIONS: LayoutOptions = {
  "elk.algorithm": "layered",
  "elk.direction": "RIGHT",
  "elk.layered.spacing.nodeNodeBetweenLayers": "70",
  "elk.spacing.nodeNode": "18",
  "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
};

const LARGE_OPTIONS: LayoutOptions = {
  ...OPTIONS,
  "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
  "elk.layered.thoroughness": "1",
  "elk.layered.crossingMinimization.greedySwitch.type": "OFF",
  "elk.edgeRouting": "POLYLINE",
  "elk.layered.wrapping.strategy": "SINGLE_EDGE",
  "elk.aspectRatio": "1.6",
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
  const ids = new Set(steps.map((s) => s.id));
  const graph: ElkNode = {
    id: "root",
    layoutOptions: steps.length >= LARGE ? LARGE_OPTIONS : { ...OPTIONS, "elk.layered.nodePlacement.strategy": "NETWORK_SIMPLEX" },
    children: steps.map((s) => ({ id: s.id, width: NODE_WIDTH, height: NODE_HEIGHT })),
    edges: steps.flatMap((s) => s.dependsOn.filter((d) => ids.has(d)).map((d) => ({ id: `${d}->${s.id}`, sources: [d], targets: [s.id] }))),
  };
  const out = await (await loadElk()).layout(graph);
  const positions = new Map<string, { x: number; y: number }>();
  for (const c of out.children ?? []) positions.set(c.id, { x: c.x ?? 0, y: c.y ?? 0 });
  return { positions, ms: performance.now() - started };
}
