// The layout of large run graphs (from about 150 steps): d3-dag's Sugiyama layout with its cheap
// operators (longest-path layering, depth-first ordering, centred coordinates) orders the steps
// into layers in a few hundred ms where ELK's layered algorithm takes seconds (and when no layer
// needs its crossing reduction, only its layering runs, in tens of ms). Its layers are then
// arranged so that the fitted graph stays readable: a wide layer (a fan-out) becomes a grid block
// rather than a tall column, and the sequence of layers is wrapped into rows (like lines of text)
// so that a long chain fills a screen-shaped box rather than one very long line.
import { coordCenter, decrossDfs, graphStratify, layeringLongestPath, sugiyama } from "d3-dag";
import { NODE_HEIGHT, NODE_WIDTH } from "./node-size.ts";

export interface LayoutStep {
  id: string;
  dependsOn: string[];
}

export type Positions = Map<string, { x: number; y: number }>;

/** Horizontal gap between layers (as ELK's layered spacing), between nodes in a layer, between rows. */
const LAYER_GAP = 70;
const NODE_GAP = 18;
const ROW_GAP = 90;
/** A layer with more nodes than this is drawn as a grid block, not a single column. */
const MAX_COLUMN = 12;
/** Width / height of the whole graph that the wrapping aims at (about the graph panel's shape). */
const ASPECT = 2;

interface Block {
  ids: string[];
  columns: number;
  width: number;
  height: number;
}

export function layoutLarge(steps: LayoutStep[]): Positions {
  const ids = new Set(steps.map((s) => s.id));
  const index = new Map(steps.map((s, i) => [s.id, i]));
  const dag = graphStratify()(steps.map((s) => ({ id: s.id, parentIds: s.dependsOn.filter((d) => ids.has(d)) })));
  // Layers along y (longest-path layering, cheap on its own). The order within a layer matters only
  // for a layer drawn as a column of 2..MAX_COLUMN steps; only then does the full Sugiyama layout
  // run (its crossing reduction and coordinates cost most of the time: a long chain, whose layers
  // hold one step each, or a fan-out drawn as grid blocks, skip it).
  layeringLongestPath()(dag, () => 1);
  const sizes = new Map<number, number>();
  for (const node of dag.nodes()) sizes.set(node.y, (sizes.get(node.y) ?? 0) + 1);
  if ([...sizes.values()].some((n) => n > 1 && n <= MAX_COLUMN)) {
    // Layers along y, order within a layer along x (node size 1, so only the order matters).
    sugiyama().layering(layeringLongestPath()).decross(decrossDfs()).coord(coordCenter()).nodeSize([1, 1]).gap([1, 1])(dag);
  } else {
    for (const node of dag.nodes()) node.x = 0;
  }

  const layers = new Map<number, { id: string; x: number }[]>();
  for (const node of dag.nodes()) {
    const layer = layers.get(node.y) ?? [];
    layer.push({ id: node.data.id, x: node.x });
    layers.set(node.y, layer);
  }
  const blocks: Block[] = [...layers.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, layer]) => {
      const n = layer.length;
      // A roughly square block: columns × (NODE_WIDTH + gap) ≈ rows × (NODE_HEIGHT + gap).
      const columns = n <= MAX_COLUMN ? 1 : Math.ceil(Math.sqrt((n * (NODE_HEIGHT + NODE_GAP)) / (NODE_WIDTH + NODE_GAP)));
      const rows = Math.ceil(n / columns);
      // A column keeps the crossing-reducing order; a grid block (whose edges cross anyway) the
      // definition's order, so that its steps read like a list.
      layer.sort(columns === 1 ? (a, b) => a.x - b.x : (a, b) => index.get(a.id)! - index.get(b.id)!);
      return {
        ids: layer.map((l) => l.id),
        columns,
        width: columns * (NODE_WIDTH + NODE_GAP) - NODE_GAP,
        height: rows * (NODE_HEIGHT + NODE_GAP) - NODE_GAP,
      };
    });

  // Wrap the layers into rows no wider than a width that makes the whole about ASPECT wide.
  const area = blocks.reduce((sum, b) => sum + (b.width + LAYER_GAP) * (b.height + ROW_GAP), 0);
  const maxWidth = Math.max(Math.sqrt(area * ASPECT), ...blocks.map((b) => b.width));
  const rows: Block[][] = [[]];
  let rowWidth = 0;
  for (const block of blocks) {
    const row = rows[rows.length - 1]!;
    if (row.length > 0 && rowWidth + LAYER_GAP + block.width > maxWidth) {
      rows.push([block]);
      rowWidth = block.width;
    } else {
      rowWidth += (row.length > 0 ? LAYER_GAP : 0) + block.width;
      row.push(block);
    }
  }

  const positions: Positions = new Map();
  let top = 0;
  for (const row of rows) {
    const height = Math.max(...row.map((b) => b.height));
    let left = 0;
    for (const block of row) {
      // Each block is centred vertically in its row; its nodes fill it row by row.
      const blockTop = top + (height - block.height) / 2;
      block.ids.forEach((id, i) => {
        positions.set(id, {
          x: left + (i % block.columns) * (NODE_WIDTH + NODE_GAP),
          y: blockTop + Math.floor(i / block.columns) * (NODE_HEIGHT + NODE_GAP),
        });
      });
      left += block.width + LAYER_GAP;
    }
    top += height + ROW_GAP;
  }
  return positions;
}
