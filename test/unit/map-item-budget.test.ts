// On MongoDB a run is one document (16 MiB) and map items live in their own
// collection: a commit's item changes travel in the run document when small
// and are staged in chunks of their own when large, so the run document's size
// does not grow with its items.
import { BSON } from "mongodb";
import { describe, expect, test } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { MAX_MAP_ITEMS, MONGODB_INLINE_ITEM_BYTES, MONGODB_ITEM_BYTES } from "../../src/domain/map-step.ts";
import { MAX_ITEM_ERROR_LENGTH, RunMachine } from "../../src/domain/run-machine.ts";
import { newRunRecord, type RunPatch } from "../../src/domain/run-record.ts";
import { itemToDoc } from "../../src/store/mongo/mongo-documents.ts";
import { itemChangeBytes, MongoItems } from "../../src/store/mongo/mongo-items.ts";
import { testWorkflow } from "../support/test-workflow.ts";

const failure = (message: string) => ({ error: { reason: "http_status", message, httpStatus: 500 }, retryable: false });

/** prepare → map over its result (all_settled), started with `n` items. */
function mapRun(n: number): RunMachine {
  const m = new RunMachine(
    newRunRecord(
      "wf_TEST",
      testWorkflow([
        { id: "prepare" },
        { id: "map", dependsOn: ["prepare"], forEach: "/prepare/result", maxConcurrency: 1000, itemFailures: { kind: "all_settled" } },
      ]),
      1000,
    ),
  );
  m.start(1);
  m.attemptSucceeded(0, 1, Array.from({ length: n }, (_, i) => i), 2);
  return m;
}

/** prepare() only reads the patch: no collections are touched. */
const items = new MongoItems(undefined as never, undefined as never, () => {});

describe("map items on MongoDB", () => {
  test("the largest item a run machine stores (no result) fits MONGODB_ITEM_BYTES as BSON, as a change in a commit's outbox", () => {
    const m = mapRun(2);
    // Three-byte characters in UTF-8, far more than the stored length.
    m.itemFailed(1, 0, 1, { error: { reason: "destination_denied", message: "€".repeat(5000), httpStatus: 599 }, retryable: false }, 3);
    const item = m.run.items![1][0];
    expect(item.state).toBe("failed");
    expect(item.error!.message.length).toBeLessThanOrEqual(MAX_ITEM_ERROR_LENGTH);
    const d = { ...itemToDoc(item), attempts: 1_000_000, nextAttemptAt: Date.now() };
    // Keyed by a large array index, as in the outbox's list of changes.
    const change = { s: 999, i: MAX_MAP_ITEMS - 1, d };
    expect(BSON.calculateObjectSize({ [String(10 * MAX_MAP_ITEMS)]: change })).toBeLessThanOrEqual(MONGODB_ITEM_BYTES);
    // The estimate that decides between the run document and staged chunks is an upper bound,
    // for this item, for one with a result, and for one that just started.
    expect(itemChangeBytes(change)).toBeGreaterThanOrEqual(BSON.calculateObjectSize({ [String(10 * MAX_MAP_ITEMS)]: change }));
    const withResult = { ...change, d: { ...d, error: undefined, resultJson: JSON.stringify({ text: "€".repeat(300) }) } };
    expect(itemChangeBytes(withResult)).toBeGreaterThanOrEqual(BSON.calculateObjectSize({ [String(10 * MAX_MAP_ITEMS)]: withResult }));
    const running = { s: 999, i: MAX_MAP_ITEMS - 1, d: { state: "running" as const, attempts: 1_000_000, startedAt: Date.now() } };
    expect(itemChangeBytes(running)).toBeGreaterThanOrEqual(BSON.calculateObjectSize({ [String(10 * MAX_MAP_ITEMS)]: running }));
  });

  test("the default limits start on MongoDB; limits that leave a run document no room for a commit's item changes refuse to start", () => {
    const uri = ["--mongodb-uri", "mongodb://db"];
    expect(loadConfig(uri, {})).toBeDefined();
    expect(() => loadConfig([...uri, "--max-run-results-bytes", String(8 * 1024 * 1024)], {})).toThrow(
      new RegExp(`max-run-results-bytes \\+ max-result-bytes \\+ ${MONGODB_INLINE_ITEM_BYTES} bytes`),
    );
  });

  test("a map step starting writes its list's length, not its 10,000 unstarted items", () => {
    const m = mapRun(MAX_MAP_ITEMS);
    const patch = m.takePatch()!;
    expect(patch.itemLists).toHaveLength(1);
    const prepared = items.prepare(patch);
    expect(prepared.set["itemLists.1"]).toEqual({ n: MAX_MAP_ITEMS, v: patch.version });
    // The items it started in the same commit (up to max_concurrency) are the only changes.
    expect(prepared.outbox!.items).toHaveLength(1000);
    expect(prepared.outbox!.items!.every((c) => c.d.state === "running")).toBe(true);
    expect(prepared.outbox!.resets).toEqual([1]);
    expect(prepared.chunks).toEqual([]);
  });

  test("an item's completion is a one-item change in the run document", () => {
    const m = mapRun(3);
    m.takePatch();
    m.itemSucceeded(1, 2, 1, { value: "x".repeat(1000) }, 3);
    const prepared = items.prepare(m.takePatch()!);
    expect(prepared.outbox!.items).toEqual([{ s: 1, i: 2, d: expect.objectContaining({ state: "completed", resultJson: JSON.stringify({ value: "x".repeat(1000) }) }) }]);
    expect(prepared.outbox!.staged).toBeUndefined();
  });

  test("cancelling 10,000 items stages the changes in chunks under 16 MiB; the run document gets a small reference", () => {
    const m = mapRun(MAX_MAP_ITEMS);
    m.takePatch();
    m.cancel(3, "stop ".repeat(200));
    const patch: RunPatch = m.takePatch()!;
    expect(patch.items!.length).toBe(MAX_MAP_ITEMS);
    const prepared = items.prepare(patch);
    expect(prepared.outbox!.items).toBeUndefined();
    expect(prepared.outbox!.staged).toEqual({ key: expect.stringMatching(/^\d+:[0-9a-f]{12}$/), chunks: prepared.chunks.length });
    expect(BSON.calculateObjectSize({ itemOutbox: prepared.outbox })).toBeLessThan(200);
    expect(prepared.chunks.reduce((n, c) => n + c.items.length, 0)).toBe(MAX_MAP_ITEMS);
    for (const c of prepared.chunks) {
      expect(c._id.startsWith(`${patch.runId}:${prepared.outbox!.staged!.key}:`)).toBe(true);
      expect(BSON.calculateObjectSize(c)).toBeLessThan(16 * 1024 * 1024);
    }
  });

  test("a redrive writes only the items it reopens, not the whole list", () => {
    // A map that fails when one of its 100 items fails (item_failures all).
    const f = new RunMachine(
      newRunRecord("wf_TEST", testWorkflow([{ id: "prepare" }, { id: "map", dependsOn: ["prepare"], forEach: "/prepare/result", maxConcurrency: 1000 }]), 1000),
    );
    f.start(1);
    f.attemptSucceeded(0, 1, Array.from({ length: 100 }, (_, i) => i), 2);
    for (let i = 0; i < 99; i++) f.itemSucceeded(1, i, 1, i, 3);
    f.itemFailed(1, 99, 1, failure("no"), 4);
    expect(f.run.state).toBe("failed");
    f.takePatch();
    f.redrive(10);
    const patch = f.takePatch()!;
    expect(patch.itemLists ?? []).toEqual([]);
    // The reopened item (started again at once, in the same commit).
    expect(patch.items!.map((c) => c.index)).toEqual([99]);
    expect(patch.items![0].record).toMatchObject({ state: "running", attempts: 2 });
  });
});
