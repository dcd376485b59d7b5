import { useEffect, useMemo, useState } from "react";
import { Background, Controls, MiniMap, ReactFlow, type Edge } from "@xyflow/react";
import { STATE_COLOURS } from "../api/states.ts";
import type { StepView } from "../api/view-models.ts";
import { layoutDag, NODE_HEIGHT, NODE_WIDTH, type Layout } from "../graph/layout.ts";
import { StepNode, type StepNodeType } from "./step-node.tsx";
import { RUN_DATA_MARK } from "../hooks/use-run.ts";

const PAINTED_MARK = "weft:graph-painted";

const nodeTypes = { step: StepNode };

/** The run's DAG with each step's live state; zoom, pan, fit; a click selects a step. */
export function RunGraph({ steps, now, selected, onSelect }: { steps: StepView[]; now: number; selected?: string; onSelect(id: string): void }) {
  // The layout depends only on the definition, which does not change during a run.
  const shape = useMemo(() => steps.map((s) => `${s.id}<${s.definition.dependsOn.join(",")}`).join(";"), [steps]);
  const [layout, setLayout] = useState<Layout>();
  // For measurements: layout start to the first painted frame, and page start (navigation) to it.
  const [renderedAt, setRenderedAt] = useState<{ ms: number; sinceNavigation: number }>();
  useEffect(() => {
    let live = true;
    const started = performance.now();
    void layoutDag(steps.map((s) => ({ id: s.id, dependsOn: s.definition.dependsOn }))).then((l) => {
      if (!live) return;
      setLayout(l);
      requestAnimationFrame(() =>
        requestAnimationFrame(() => {
          if (!live) return;
          performance.clearMarks(PAINTED_MARK);
          const painted = performance.mark(PAINTED_MARK).startTime;
          const data = performance.getEntriesByName(RUN_DATA_MARK, "mark").at(-1)?.startTime ?? started;
          setRenderedAt({ ms: painted - data, sinceNavigation: painted });
        }),
      );
    });
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape]);

  const nodes = useMemo<StepNodeType[]>(() => {
    if (!layout) return [];
    return steps.map((s) => ({
      id: s.id,
      type: "step",
      position: layout.positions.get(s.id) ?? { x: 0, y: 0 },
      width: NODE_WIDTH,
      height: NODE_HEIGHT,
      data: { step: s, now, selected: s.id === selected },
      draggable: false,
      connectable: false,
    }));
  }, [layout, steps, now, selected]);
  const edges = useMemo<Edge[]>(
    () =>
      steps.flatMap((s) =>
        s.definition.dependsOn.map((d) => ({
          id: `${d}->${s.id}`,
          source: d,
          target: s.id,
          animated: s.state === "running",
          style: { stroke: s.state === "pending" ? "#cbd2d9" : "#7b8794" },
        })),
      ),
    [steps],
  );
  const big = steps.length > 150;

  return (
    <div
      className="graph"
      data-testid="run-graph"
      data-layout-ms={layout ? Math.round(layout.ms) : undefined}
      data-render-ms={renderedAt === undefined ? undefined : Math.round(renderedAt.ms)}
      data-rendered-at-ms={renderedAt === undefined ? undefined : Math.round(renderedAt.sinceNavigation)}
    >
      {!layout ? (
        <div className="muted pad">laying out {steps.length} steps…</div>
      ) : (
        <ReactFlow
          nodes={nodes}
          edges={edges}
          nodeTypes={nodeTypes}
          fitView
          fitViewOptions={{ maxZoom: 1, padding: 0.12 }}
          minZoom={0.02}
          maxZoom={2}
          onlyRenderVisibleElements={big}
          nodesDraggable={false}
          nodesConnectable={false}
          elementsSelectable={false}
          onNodeClick={(_, node) => onSelect(node.id)}
        >
          <Background gap={24} />
          <Controls showInteractive={false} />
          <MiniMap pannable zoomable nodeColor={(n) => STATE_COLOURS[(n as StepNodeType).data.step.state] ?? "#ccc"} />
        </ReactFlow>
      )}
    </div>
  );
}
