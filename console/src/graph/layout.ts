// Node positions of a run's DAG (depends_on edges), laid out by ELK's layered algorithm.
// ELK (about 1.5 MB) is loaded on first use, in a chunk of its own.
import type { ELK as Elk, ElkNode } from "elkjs/lib/elk.bundled.js";

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

let elk: Promise<Elk> | undefined;

function loadElk(): Promise<Elk> {
  elk ??= import("elkjs/lib/elk.bundled.js").then(({ default: ELK }) => new ELK());
  return elk;
}

export async function layoutDag(steps: LayoutStep[]): Promise<Layout> {
  const started = performance.now();
  const ids = new Set(steps.map((s) => s.id));
  const graph: ElkNode = {
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "RIGHT",
      "elk.layered.spacing.nodeNodeBetweenLayers": "70",
      "elk.spacing.nodeNode": "18",
      "elk.layered.nodePlacement.strategy": "NETWORK_SIMPLEX",
      "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
    },
    children: steps.map((s) => ({ id: s.id, width: NODE_WIDTH, height: NODE_HEIGHT })),
    edges: steps.flatMap((s) => s.dependsOn.filter((d) => ids.has(d)).map((d) => ({ id: `${d}->${s.id}`, sources: [d], targets: [s.id] }))),
  };
  const out = await (await loadElk()).layout(graph);
  const positions = new Map<string, { x: number; y: number }>();
  for (const c of out.children ?? []) positions.set(c.id, { x: c.x ?? 0, y: c.y ?? 0 });
  return { positions, ms: performance.now() - started };
}
