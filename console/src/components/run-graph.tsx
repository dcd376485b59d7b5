import { memo, useEffect, useMemo, useRef, useState } from "react";
import { Background, Controls, getBezierPath, getViewportForBounds, MiniMap, Position, ReactFlow, useStore, ViewportPortal, type Edge, type NodeHandle, type Viewport } from "@xyflow/react";
import { JOIN_OUTCOME_LABELS } from "../api/map-join.ts";
import { STATE_COLOURS } from "../api/states.ts";
import type { StepView } from "../api/view-models.ts";
import { LARGE, layoutDag, NODE_HEIGHT, NODE_WIDTH, type Layout } from "../graph/layout.ts";
import type { Positions } from "../graph/large-layout.ts";
import { GRAPH_PAINTED_EVENT, RUN_DATA_MARK } from "../hooks/use-run.ts";
import { joinOutcome } from "../api/map-join.ts";
import { StepNode, type StepNodeType } from "./step-node.tsx";

const nodeTypes = { step: StepNode };

/** Marks (performance.mark) the graph's first paint after its layout and fit: the end of "render". */
const PAINTED_MARK = "weft:graph-painted";
/** Marks the layout's arrival (between the run's data and the painted graph). */
const LAID_OUT_MARK = "weft:graph-laid-out";
/** Below this zoom a large graph's nodes are drawn as plain boxes (their text would be unreadable). */
const DETAIL_ZOOM = 0.45;
const FIT_VIEW = { maxZoom: 1, padding: 0.12, includeHiddenNodes: true };
const MIN_ZOOM = 0.02;
/** React Flow's default handle is 6 px, centred on the node's left / right edge. */
const HANDLE = 6;
/** Given up front, so that edges are drawn in the first frame (before React Flow measures the nodes). */
const HANDLES: NodeHandle[] = [
  { type: "target", position: Position.Left, x: -HANDLE / 2, y: NODE_HEIGHT / 2 - HANDLE / 2, width: HANDLE, height: HANDLE },
  { type: "source", position: Position.Right, x: NODE_WIDTH - HANDLE / 2, y: NODE_HEIGHT / 2 - HANDLE / 2, width: HANDLE, height: HANDLE },
];

const SIZE = { width: NODE_WIDTH, height: NODE_HEIGHT };

/** What a node shows: a node whose key is unchanged keeps its object, so React Flow skips it. */
function nodeKey(s: StepView, selected: boolean): string {
  const i = s.items;
  return [s.state, s.waitingFor, s.attempts, s.startedAt, s.completedAt, s.error?.reason, selected, i && [i.total, i.completed, i.failed, i.cancelled, i.running, i.retryWait, i.pending].join("/")].join("|");
}

/** The run's DAG with each step's live state; zoom, pan, fit; a click selects a step. */
export const RunGraph = memo(function RunGraph({ steps, selected, onSelect }: { steps: StepView[]; selected?: string; onSelect(id: string): void }) {
  // The layout depends only on the definition, which does not change during a run.
  const shape = useMemo(() => steps.map((s) => `${s.id}<${s.definition.dependsOn.join(",")}`).join(";"), [steps]);
  const [layout, setLayout] = useState<Layout>();
  // For measurements: from the run's data to the first painted frame of the graph, and page start (navigation) to it.
  const [renderedAt, setRenderedAt] = useState<{ ms: number; sinceNavigation: number }>();
  const big = steps.length >= LARGE;
  const [zoomedIn, setZoomedIn] = useState<boolean>();
  useEffect(() => {
    let live = true;
    void layoutDag(steps.map((s) => ({ id: s.id, dependsOn: s.definition.dependsOn }))).then((l) => {
      if (!live) return;
      performance.clearMarks(LAID_OUT_MARK);
      performance.mark(LAID_OUT_MARK);
      setLayout(l);
    });
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape]);
  useEffect(() => {
    if (!layout || renderedAt) return;
    let live = true;
    requestAnimationFrame(() =>
      requestAnimationFrame(() => {
        if (!live) return;
        performance.clearMarks(PAINTED_MARK);
        const painted = performance.mark(PAINTED_MARK).startTime;
        const data = performance.getEntriesByName(RUN_DATA_MARK, "mark").at(-1)?.startTime ?? painted;
        setRenderedAt({ ms: painted - data, sinceNavigation: painted });
        window.dispatchEvent(new Event(GRAPH_PAINTED_EVENT));
      }),
    );
    return () => {
      live = false;
    };
  }, [layout, renderedAt]);

  // The fitted view, computed from the layout and the panel's size, is the first one drawn (React
  // Flow's own fitView would wait for its pan-zoom to be ready and draw an unfitted frame first).
  const box = useRef<HTMLDivElement>(null);
  const viewport = useMemo<Viewport | undefined>(() => {
    if (!layout || !box.current) return undefined;
    let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const { x, y } of layout.positions.values()) {
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x + NODE_WIDTH);
      y1 = Math.max(y1, y + NODE_HEIGHT);
    }
    if (x0 === Infinity) return undefined;
    const { clientWidth, clientHeight } = box.current;
    return getViewportForBounds({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 }, clientWidth, clientHeight, MIN_ZOOM, FIT_VIEW.maxZoom, FIT_VIEW.padding);
  }, [layout]);
  // Large graphs: names and numbers only from DETAIL_ZOOM on (the fitted zoom, then as zoomed).
  const detailed = !big || (zoomedIn ?? (viewport?.zoom ?? 0) >= DETAIL_ZOOM);

  const nodeCache = useRef(new Map<string, { key: string; node: StepNodeType }>());
  const nodes = useMemo<StepNodeType[]>(() => {
    if (!layout) return [];
    const cache = nodeCache.current;
    return steps.map((s) => {
      const key = `${nodeKey(s, s.id === selected)}|${detailed}`;
      const cached = cache.get(s.id);
      if (cached?.key === key) return cached.node;
      const node: StepNodeType = {
        id: s.id,
        type: "step",
        position: layout.positions.get(s.id) ?? { x: 0, y: 0 },
        width: NODE_WIDTH,
        height: NODE_HEIGHT,
        // Sizes and handles as React Flow would measure them: it then has nothing to measure.
        measured: SIZE,
        handles: HANDLES,
        data: { step: s, selected: s.id === selected },
        // Zoomed out, a large graph's steps are drawn by BulkNodes (React Flow keeps them for fitView).
        hidden: !detailed,
        draggable: false,
        connectable: false,
      };
      cache.set(s.id, { key, node });
      return node;
    });
  }, [layout, steps, selected, detailed]);
  const edgeCache = useRef(new Map<string, Edge>());
  const edges = useMemo<Edge[]>(() => {
    if (big) return [];
    const cache = edgeCache.current;
    return steps.flatMap((s) =>
      s.definition.dependsOn.map((d) => {
        const id = `${d}->${s.id}`;
        const animated = s.state === "running";
        const stroke = s.state === "pending" ? "#cbd2d9" : "#7b8794";
        const cached = cache.get(id);
        if (cached && cached.animated === animated && cached.style?.stroke === stroke) return cached;
        const edge: Edge = { id, source: d, target: s.id, animated, style: { stroke } };
        cache.set(id, edge);
        return edge;
      }),
    );
  }, [steps, big]);

  return (
    <div
      className="graph-box"
      data-testid="run-graph"
      data-layout-ms={layout ? Math.round(layout.ms) : undefined}
      data-render-ms={renderedAt === undefined ? undefined : Math.round(renderedAt.ms)}
      data-rendered-at-ms={renderedAt === undefined ? undefined : Math.round(renderedAt.sinceNavigation)}
      data-detail={detailed ? "full" : "boxes"}
    >
      <div className="graph" ref={box}>
        {!layout ? (
          <div className="muted pad">laying out {steps.length} steps…</div>
        ) : (
            <ReactFlow
              nodes={nodes}
              edges={edges}
              nodeTypes={nodeTypes}
              defaultViewport={viewport}
              fitViewOptions={FIT_VIEW}
              minZoom={MIN_ZOOM}
              maxZoom={2}
              onlyRenderVisibleElements={big}
              onMove={big ? (_, moved) => setZoomedIn(moved.zoom >= DETAIL_ZOOM) : undefined}
              nodesDraggable={false}
              nodesFocusable={!big}
              nodesConnectable={false}
              elementsSelectable={false}
              onNodeClick={(_, node) => onSelect(node.id)}
            >
              {big && (
                <ViewportPortal>
                  <BulkEdges steps={steps} positions={layout.positions} />
                  {!detailed && <BulkNodes steps={steps} positions={layout.positions} selected={selected} onSelect={onSelect} />}
                </ViewportPortal>
              )}
              <Background gap={24} />
              <Controls showInteractive={false} />
              {!big && <MiniMap pannable zoomable nodeColor={(n) => STATE_COLOURS[(n as StepNodeType).data.step.state] ?? "#ccc"} />}
            </ReactFlow>
        )}
      </div>
      <GraphLegend />
    </div>
  );
});

/**
 * A large graph's edges, drawn as three SVG paths (to pending, running and other steps) rather than
 * one SVG element per edge as React Flow draws them: a 1,000-step graph paints several times faster.
 * The same curves as React Flow's default edges; under the nodes; not clickable (neither are edges
 * of small graphs).
 */
function BulkEdges({ steps, positions }: { steps: StepView[]; positions: Positions }) {
  const paths = useMemo(() => {
    const d = { pending: [] as string[], running: [] as string[], other: [] as string[] };
    for (const s of steps) {
      const target = positions.get(s.id);
      if (!target) continue;
      const group = s.state === "pending" ? d.pending : s.state === "running" ? d.running : d.other;
      for (const dep of s.definition.dependsOn) {
        const source = positions.get(dep);
        if (!source) continue;
        const [path] = getBezierPath({
          sourceX: source.x + NODE_WIDTH + HANDLE / 2,
          sourceY: source.y + NODE_HEIGHT / 2,
          sourcePosition: Position.Right,
          targetX: target.x - HANDLE / 2,
          targetY: target.y + NODE_HEIGHT / 2,
          targetPosition: Position.Left,
        });
        group.push(path);
      }
    }
    return { pending: d.pending.join(" "), running: d.running.join(" "), other: d.other.join(" ") };
  }, [steps, positions]);
  return (
    <svg className="bulk-edges" data-testid="bulk-edges" aria-hidden>
      <path d={paths.pending} stroke="#cbd2d9" />
      <path d={paths.other} stroke="#7b8794" />
      <path d={paths.running} stroke="#7b8794" className="bulk-edges-running" />
    </svg>
  );
}

/**
 * A large graph's steps when zoomed out (names and numbers unreadable): plain coloured boxes in one
 * SVG element, only those in view, instead of React Flow's nodes (a DOM subtree, a resize observer
 * and store subscriptions each). They carry the nodes' test ids and states; a click selects the step.
 */
function BulkNodes({ steps, positions, selected, onSelect }: { steps: StepView[]; positions: Positions; selected?: string; onSelect(id: string): void }) {
  const [tx, ty, zoom] = useStore((s) => s.transform);
  const width = useStore((s) => s.width);
  const height = useStore((s) => s.height);
  // The part of the graph in view, in graph coordinates.
  const [x0, y0, x1, y1] = [-tx / zoom - NODE_WIDTH, -ty / zoom - NODE_HEIGHT, (width - tx) / zoom, (height - ty) / zoom];
  return (
    <svg className="bulk-nodes" data-testid="bulk-nodes">
      {steps.map((s) => {
        const p = positions.get(s.id);
        if (!p || p.x < x0 || p.x > x1 || p.y < y0 || p.y > y1) return null;
        const outcome = joinOutcome(s.state, s.error?.reason);
        const i = s.items;
        return (
          <rect
            key={s.id}
            x={p.x}
            y={p.y}
            width={NODE_WIDTH}
            height={NODE_HEIGHT}
            rx={4}
            fill={STATE_COLOURS[s.state] ?? STATE_COLOURS.unknown}
            className={`bulk-node${outcome ? ` outcome-${outcome}` : ""}${s.id === selected ? " selected" : ""}`}
            data-testid={`node-${s.id}`}
            data-state={s.state}
            data-queued={s.waitingFor ? "true" : undefined}
            data-attempts={s.attempts}
            data-outcome={outcome}
            data-items-done={i ? i.completed + i.failed + i.cancelled : undefined}
            data-items-total={i?.total}
            data-items-failed={i?.failed}
            onClick={() => onSelect(s.id)}
          />
        );
      })}
    </svg>
  );
}

/** The colours of the states and the marks of join outcomes and map steps. */
function GraphLegend() {
  const states = ["pending", "running", "retry_wait", "completed", "failed", "cancelled", "skipped"];
  return (
    <div className="legend graph-legend" data-testid="graph-legend">
      {states.map((s) => (
        <span key={s}>
          <i style={{ background: STATE_COLOURS[s] }} />
          {s.replace("_", " ")}
        </span>
      ))}
      <span data-testid="legend-join_failed">
        <i className="legend-outcome outcome-join_failed" />
        {JOIN_OUTCOME_LABELS.join_failed} (skipped: its join can no longer be met)
      </span>
      <span data-testid="legend-not_needed">
        <i className="legend-outcome outcome-not_needed" />
        {JOIN_OUTCOME_LABELS.not_needed} (cancelled: its dependents went on without it)
      </span>
      <span data-testid="legend-queued">
        <span className="queued-badge">queued</span> (pending: waiting for a slot of its concurrency key)
      </span>
      <span>
        <b>map</b> 12/30 <b className="node-items-failed">✗3</b>: items done of total, failed
      </span>
    </div>
  );
}
