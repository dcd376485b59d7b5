// Map steps (for_each: item counts, items) and join policies as the pages show them.
// Pure (no imports: its inputs are the parts of the generated messages it reads), so that the
// server's unit tests run it too.

/** What joinPolicyText reads of a JoinPolicy message. */
export type JoinPolicyLike = { policy: { case: string | undefined; value?: unknown } };
/** What itemCountsView reads of an ItemCounts message. */
export type ItemCountsLike = ItemCountsView;

export interface ItemCountsView {
  total: number;
  pending: number;
  running: number;
  retryWait: number;
  completed: number;
  failed: number;
  cancelled: number;
}

/** A join policy in the words of the workflow file: "all", "all_settled", "at_least: 2", "tolerated_failure_percent: 5", "any". */
export function joinPolicyText(p: JoinPolicyLike | undefined): string | undefined {
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

export function itemCountsView(c: ItemCountsLike | undefined): ItemCountsView | undefined {
  if (!c) return undefined;
  return { total: c.total, pending: c.pending, running: c.running, retryWait: c.retryWait, completed: c.completed, failed: c.failed, cancelled: c.cancelled };
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
