import { Handle, Position, type Node, type NodeProps } from "@xyflow/react";
import { STATE_COLOURS } from "../api/states.ts";
import type { StepView } from "../api/view-models.ts";
import { durationBetween, formatDuration } from "../format.ts";
import { NODE_HEIGHT, NODE_WIDTH } from "../graph/node-size.ts";

export type StepNodeData = { step: StepView; now: number; selected: boolean };
export type StepNodeType = Node<StepNodeData, "step">;

/** A step in the DAG: its state (colour), attempts and duration. */
export function StepNode({ data }: NodeProps<StepNodeType>) {
  const { step, now } = data;
  const colour = STATE_COLOURS[step.state] ?? STATE_COLOURS.unknown;
  return (
    <div
      className={`step-node${data.selected ? " selected" : ""}`}
      data-testid={`node-${step.id}`}
      data-state={step.state}
      data-attempts={step.attempts}
      style={{ width: NODE_WIDTH, height: NODE_HEIGHT, borderColor: colour }}
    >
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <div className="step-node-head" style={{ background: colour }}>
        <span className="step-node-id" title={step.id}>{step.id}</span>
      </div>
      <div className="step-node-body">
        <span data-testid="node-state">{step.state.replace("_", " ")}</span>
        <span title="attempts">×{step.attempts}</span>
        <span>{formatDuration(durationBetween(step.startedAt, step.completedAt, now))}</span>
      </div>
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
}
