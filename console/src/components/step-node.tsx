import { memo } from "react";
import { Handle, Position, type Node, type NodeProps } from "@xyflow/react";
import { itemsSettled, JOIN_OUTCOME_LABELS, joinOutcome } from "../api/map-join.ts";
import { STATE_COLOURS } from "../api/states.ts";
import type { StepView } from "../api/view-models.ts";
import { durationBetween, formatDuration } from "../format.ts";
import { NODE_HEIGHT, NODE_WIDTH } from "../graph/node-size.ts";
import { useNow } from "../hooks/use-now.ts";

export type StepNodeData = { step: StepView; selected: boolean };
export type StepNodeType = Node<StepNodeData, "step">;

/** A running step's duration, ticking on its own (the graph is not re-rendered on every tick). */
function RunningFor({ since }: { since: number }) {
  const now = useNow(500);
  return <>{formatDuration(now - since)}</>;
}

/** A map step's items: done of total, failed, and a bar of completed / failed / cancelled. */
function ItemsLine({ step }: { step: StepView }) {
  const c = step.items!;
  const pct = (n: number) => `${c.total ? (n / c.total) * 100 : 0}%`;
  return (
    <>
      <span data-testid="node-items" title={`items: ${c.completed} completed, ${c.failed} failed, ${c.cancelled} cancelled, ${c.running + c.retryWait} in flight, ${c.pending} pending`}>
        {itemsSettled(c)}/{c.total}
        {c.failed > 0 && <b className="node-items-failed"> ✗{c.failed}</b>}
      </span>
      <span className="node-items-bar" aria-hidden>
        <i style={{ width: pct(c.completed), background: STATE_COLOURS.completed }} />
        <i style={{ width: pct(c.failed), background: STATE_COLOURS.failed }} />
        <i style={{ width: pct(c.cancelled), background: STATE_COLOURS.cancelled }} />
      </span>
    </>
  );
}

/** A step in the DAG: its state (colour), attempts and duration; a map step's item counts. */
export const StepNode = memo(function StepNode({ data }: NodeProps<StepNodeType>) {
  const { step, selected } = data;
  const colour = STATE_COLOURS[step.state] ?? STATE_COLOURS.unknown;
  const outcome = joinOutcome(step.state, step.error?.reason);
  const items = step.items;
  const className = `step-node${selected ? " selected" : ""}${outcome ? ` outcome-${outcome}` : ""}`;
  const attrs = {
    "data-testid": `node-${step.id}`,
    "data-state": step.state,
    "data-queued": step.waitingFor ? "true" : undefined,
    "data-attempts": step.attempts,
    "data-outcome": outcome,
    "data-items-done": items ? itemsSettled(items) : undefined,
    "data-items-total": items?.total,
    "data-items-failed": items?.failed,
  };
  return (
    <div className={className} {...attrs} style={{ width: NODE_WIDTH, height: NODE_HEIGHT, borderColor: colour }}>
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <div className="step-node-head" style={{ background: colour }}>
        <span className="step-node-id" title={step.id}>{step.id}</span>
        {step.definition.forEach && <span className="step-node-tag" title={`map step: for_each ${step.definition.forEach}`}>map</span>}
        {step.waitingFor && (
          <span className="step-node-tag queued-tag" data-testid="node-queued" title="ready, waiting for a slot of its concurrency key">queued</span>
        )}
      </div>
      <div className="step-node-body">
        <span data-testid="node-state">{outcome ? JOIN_OUTCOME_LABELS[outcome] : step.waitingFor ? "queued" : step.state.replace("_", " ")}</span>
        {items ? <ItemsLine step={step} /> : <span title="attempts">×{step.attempts}</span>}
        <span>
          {step.startedAt !== undefined && step.completedAt === undefined && (step.state === "running" || step.state === "retry_wait") ? (
            <RunningFor since={step.startedAt} />
          ) : step.completedAt === undefined ? (
            "—"
          ) : (
            formatDuration(durationBetween(step.startedAt, step.completedAt, step.completedAt))
          )}
        </span>
      </div>
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
});
