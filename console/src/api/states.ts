// State names and colours of runs, steps, compensations and webhooks.
import { CompensationState, StepState, WebhookState, WorkflowState } from "@gen/weft/v1/workflow_pb.js";

export type RunStateName = "pending" | "running" | "completed" | "failed" | "cancelled" | "compensating" | "paused" | "unknown";
export type StepStateName = "pending" | "running" | "retry_wait" | "completed" | "failed" | "cancelled" | "skipped" | "unknown";

export const RUN_STATES: { state: WorkflowState; name: RunStateName }[] = [
  { state: WorkflowState.PENDING, name: "pending" },
  { state: WorkflowState.RUNNING, name: "running" },
  { state: WorkflowState.PAUSED, name: "paused" },
  { state: WorkflowState.COMPENSATING, name: "compensating" },
  { state: WorkflowState.COMPLETED, name: "completed" },
  { state: WorkflowState.FAILED, name: "failed" },
  { state: WorkflowState.CANCELLED, name: "cancelled" },
];

export function runStateName(s: WorkflowState): RunStateName {
  return RUN_STATES.find((r) => r.state === s)?.name ?? "unknown";
}

export function runStateOf(name: string): WorkflowState | undefined {
  return RUN_STATES.find((r) => r.name === name)?.state;
}

export function isTerminalRun(s: WorkflowState): boolean {
  return s === WorkflowState.COMPLETED || s === WorkflowState.FAILED || s === WorkflowState.CANCELLED;
}

const STEP_NAMES: Record<number, StepStateName> = {
  [StepState.PENDING]: "pending",
  [StepState.RUNNING]: "running",
  [StepState.RETRY_WAIT]: "retry_wait",
  [StepState.COMPLETED]: "completed",
  [StepState.FAILED]: "failed",
  [StepState.CANCELLED]: "cancelled",
  [StepState.SKIPPED]: "skipped",
};

export function stepStateName(s: StepState): StepStateName {
  return STEP_NAMES[s] ?? "unknown";
}

const COMPENSATION_NAMES: Record<number, string> = {
  [CompensationState.UNSPECIFIED]: "none",
  [CompensationState.PENDING]: "pending",
  [CompensationState.RUNNING]: "running",
  [CompensationState.RETRY_WAIT]: "retry_wait",
  [CompensationState.SUCCEEDED]: "succeeded",
  [CompensationState.FAILED]: "failed",
};

export function compensationStateName(s: CompensationState): string {
  return COMPENSATION_NAMES[s] ?? "unknown";
}

const WEBHOOK_NAMES: Record<number, string> = {
  [WebhookState.UNSPECIFIED]: "none",
  [WebhookState.PENDING]: "pending",
  [WebhookState.DELIVERING]: "delivering",
  [WebhookState.RETRY_WAIT]: "retry_wait",
  [WebhookState.DELIVERED]: "delivered",
  [WebhookState.FAILED]: "failed",
};

export function webhookStateName(s: WebhookState): string {
  return WEBHOOK_NAMES[s] ?? "unknown";
}

/** Colours by state name (runs, steps, compensations, webhooks share them). */
export const STATE_COLOURS: Record<string, string> = {
  pending: "#9aa5b1",
  running: "#2f80ed",
  retry_wait: "#f2994a",
  delivering: "#2f80ed",
  compensating: "#9b51e0",
  paused: "#d4a72c",
  completed: "#27ae60",
  succeeded: "#27ae60",
  delivered: "#27ae60",
  failed: "#eb5757",
  cancelled: "#6b7280",
  skipped: "#cbd2d9",
  none: "#cbd2d9",
  unknown: "#cbd2d9",
};
