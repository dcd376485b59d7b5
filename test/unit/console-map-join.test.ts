// How the console names join policies and join outcomes and counts a map step's items
// (console/src/api/map-join.ts, pure functions over the generated messages).
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { itemCountsView, itemsSettled, joinOutcome, joinPolicyText } from "../../console/src/api/map-join.ts";
import { ItemCountsSchema, JoinPolicySchema } from "../../gen/ts/weft/v1/workflow_pb.js";

describe("joinPolicyText", () => {
  it("names each policy as a workflow file writes it", () => {
    expect(joinPolicyText(undefined)).toBeUndefined();
    expect(joinPolicyText(create(JoinPolicySchema, {}))).toBeUndefined();
    expect(joinPolicyText(create(JoinPolicySchema, { policy: { case: "all", value: {} } }))).toBe("all");
    expect(joinPolicyText(create(JoinPolicySchema, { policy: { case: "allSettled", value: {} } }))).toBe("all_settled");
    expect(joinPolicyText(create(JoinPolicySchema, { policy: { case: "any", value: {} } }))).toBe("any");
    expect(joinPolicyText(create(JoinPolicySchema, { policy: { case: "atLeast", value: 3 } }))).toBe("at_least: 3");
    expect(joinPolicyText(create(JoinPolicySchema, { policy: { case: "toleratedFailurePercent", value: 12.5 } }))).toBe("tolerated_failure_percent: 12.5");
  });
});

describe("joinOutcome", () => {
  it("tells a failed join, a branch no longer needed and failed items from other outcomes", () => {
    expect(joinOutcome("skipped", "join_failed")).toBe("join_failed");
    expect(joinOutcome("cancelled", "not_needed")).toBe("not_needed");
    expect(joinOutcome("failed", "items_failed")).toBe("items_failed");
    expect(joinOutcome("skipped", undefined)).toBeUndefined(); // the run ended first
    expect(joinOutcome("cancelled", "cancelled")).toBeUndefined();
    expect(joinOutcome("failed", "http_status")).toBeUndefined();
    expect(joinOutcome("some_future_state", "join_failed")).toBeUndefined();
  });
});

describe("items", () => {
  it("counts settled items", () => {
    const counts = itemCountsView(create(ItemCountsSchema, { total: 30, pending: 5, running: 4, retryWait: 1, completed: 16, failed: 3, cancelled: 1 }))!;
    expect(itemsSettled(counts)).toBe(20);
    expect(itemCountsView(undefined)).toBeUndefined();
  });
});
