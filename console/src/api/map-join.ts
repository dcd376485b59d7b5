// Map steps (for_each: item counts, items) and join policies as the pages show them.
import { toJson, type JsonValue } from "@bufbuild/protobuf";
import { timestampMs, ValueSchema } from "@bufbuild/protobuf/wkt";
import type { ItemCounts, ItemStatus, JoinPolicy } from "@gen/weft/v1/workflow_pb.js";
import { stepStateName, type StepStateName } from "./states.ts";

export interface ItemCountsView {
  total: number;
  pending: number;
  running: number;
  retryWait: number;
  completed: number;
  failed: number;
  cancelled: number;
}

export interface ItemView {
  index: number;
  state: StepStateName;
  attempts: number;
  error?: { message: string; reason: string; httpStatus: number; attempt: number; retryable: boolean; stepId: string };
  result?: JsonValue;
  startedAt?: number;
  completedAt?: number;
  nextAttemptAt?: number;
}

/** A join policy in the words of the workflow file: "all", "all_settled", "at_least: 2", "tolerated_failure_percent: 5", "any". */
export function joinPolicyText(p: JoinPolicy | undefined): string | undefined {
  switch (p?.policy.case) {
    case "all":
      return "all";
    case "allSettled":
      return "all_settled";
    case "any":
      return "any";
    case "atLeast":
      return `at_least: ${p.policy.value}`;
    case "toleratedFailurePercent":
      return `tolerated_failure_percent: ${p.policy.value}`;
    default:
      return undefined;
  }
}

export function itemCountsView(c: ItemCounts | undefined): ItemCountsView | undefined {
  if (!c) return undefined;
  return { total: c.total, pending: c.pending, running: c.running, retryWait: c.retryWait, completed: c.completed, failed: c.failed, cancelled: c.cancelled };
}

export function itemView(i: ItemStatus): ItemView {
  const ms = (t: Parameters<typeof timestampMs>[0] | undefined) => (t ? timestampMs(t) : undefined);
  const e = i.error;
  return {
    index: i.index,
    state: stepStateName(i.state),
    attempts: i.attempts,
    error: e && { message: e.message, reason: e.reason, httpStatus: e.httpStatus, attempt: e.attempt, retryable: e.retryable, stepId: e.stepId },
    result: i.result ? toJson(ValueSchema, i.result) : undefined,
    startedAt: ms(i.startedAt),
    completedAt: ms(i.completedAt),
    nextAttemptAt: ms(i.nextAttemptAt),
  };
}

/** Items that finished (completed, failed or cancelled). */
export function itemsSettled(c: ItemCountsView): number {
  return c.completed + c.failed + c.cancelled;
}

/**
 * How a join or item_failures policy showed in a step's outcome: "join_failed" (a SKIPPED step
 * whose join could no longer be met), "not_needed" (a step CANCELLED because the steps waiting for
 * it went on without it), "items_failed" (a map step whose item_failures policy failed), else none.
 */
export type JoinOutcome = "join_failed" | "not_needed" | "items_failed" | undefined;

export function joinOutcome(state: string, reason: string | undefined): JoinOutcome {
  if (state === "skipped" && reason === "join_failed") return "join_failed";
  if (state === "cancelled" && reason === "not_needed") return "not_needed";
  if (state === "failed" && reason === "items_failed") return "items_failed";
  return undefined;
}

export const JOIN_OUTCOME_LABELS: Record<NonNullable<JoinOutcome>, string> = {
  join_failed: "join failed",
  not_needed: "not needed",
  items_failed: "items failed",
};
