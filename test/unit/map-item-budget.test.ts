// On MongoDB a run is one document (16 MiB): its map steps' items are bounded in
// number (by what the other size limits leave) and in size (MONGODB_ITEM_BYTES).
import { BSON } from "mongodb";
import { describe, expect, test } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { MAX_MAP_ITEMS, MONGODB_ITEM_BYTES } from "../../src/domain/map-step.ts";
import { MAX_ITEM_ERROR_LENGTH, RunMachine } from "../../src/domain/run-machine.ts";
import { newRunRecord } from "../../src/domain/run-record.ts";
import { itemToDoc } from "../../src/store/mongo/mongo-documents.ts";
import { testWorkflow } from "../support/test-workflow.ts";

describe("map items in a MongoDB run document", () => {
  test("the largest item a run machine stores (no result) fits MONGODB_ITEM_BYTES as BSON", () => {
    const m = new RunMachine(
      newRunRecord(
        "wf_TEST",
        testWorkflow([{ id: "prepare" }, { id: "map", dependsOn: ["prepare"], forEach: "/prepare/result", itemFailures: { kind: "all_settled" } }]),
        1000,
      ),
    );
    m.start(1);
    m.attemptSucceeded(0, 1, [1, 2], 2);
    // Three-byte characters in UTF-8, far more than the stored length.
    m.itemFailed(1, 0, 1, { error: { reason: "destination_denied", message: "€".repeat(5000), httpStatus: 599 }, retryable: false }, 3);
    const item = m.run.items![1][0];
    expect(item.state).toBe("failed");
    expect(item.error!.message.length).toBeLessThanOrEqual(MAX_ITEM_ERROR_LENGTH);
    const doc = { ...itemToDoc(item), attempts: 1_000_000, nextAttemptAt: Date.now() };
    // Keyed by the largest index, as in the stored list.
    expect(BSON.calculateObjectSize({ [String(MAX_MAP_ITEMS - 1)]: doc })).toBeLessThanOrEqual(MONGODB_ITEM_BYTES);
  });

  test("a run's items get the room the other limits leave: 4,915 by default, 10,000 with 1 MiB requests; too little refuses to start", () => {
    const uri = ["--mongodb-uri", "mongodb://db"];
    expect(loadConfig(uri, {})!.limits.maxRunItems).toBe(4_915);
    expect(loadConfig([...uri, "--max-request-bytes", String(1024 * 1024)], {})!.limits.maxRunItems).toBe(10_000);
    expect(() => loadConfig([...uri, "--max-run-results-bytes", String(8 * 1024 * 1024)], {})).toThrow(/room for 1000 map items/);
    // The embedded store keeps items in their own table.
    expect(loadConfig([], {})!.limits.maxRunItems).toBeUndefined();
  });

  test("a map step that would take the run past maxRunItems fails with invalid_for_each, naming the limit; within it, it runs", () => {
    const m = new RunMachine(
      newRunRecord(
        "wf_TEST",
        testWorkflow([
          { id: "prepare" },
          { id: "first", dependsOn: ["prepare"], forEach: "/prepare/result" },
          { id: "second", dependsOn: ["prepare", "first"], forEach: "/prepare/result" },
        ]),
        1000,
      ),
      { maxRunItems: 5 },
    );
    m.start(1);
    m.attemptSucceeded(0, 1, [1, 2, 3], 2);
    expect(m.run.steps[1].state).toBe("running");
    for (let i = 0; i < 3; i++) m.itemSucceeded(1, i, 1, i, 3 + i);
    expect(m.run.steps[1].state).toBe("completed");
    expect(m.run.steps[2].state).toBe("failed");
    expect(m.run.steps[2].error).toMatchObject({ reason: "invalid_for_each", retryable: false });
    expect(m.run.steps[2].error!.message).toContain("more than the store's maximum of 5 per run");
    expect(m.run.state).toBe("failed");
  });
});
