// The item bodies of a map step are written from pieces serialized once: their
// bytes must be exactly those of the body serialized whole, as before.
import { describe, expect, it } from "vitest";
import { bodyHead, bodyMiddle, ItemBodies, stepBody } from "../../src/engine/step-body.ts";

/** The body as the engine wrote it before: one JSON text, keys in this order. */
function whole(o: { workflowId: string; runId: string; stepId: string; attempt: number; context: unknown; previousSteps: Record<string, unknown>; item: unknown; index: number }): Buffer {
  return Buffer.from(
    JSON.stringify({
      workflowId: o.workflowId,
      runId: o.runId,
      workflow: o.workflowId,
      stepId: o.stepId,
      attempt: o.attempt,
      context: o.context,
      previousSteps: o.previousSteps,
      item: o.item,
      index: o.index,
    }),
    "utf8",
  );
}

const entry = (id: string, value: unknown) => `${JSON.stringify(id)}:${JSON.stringify(value)}`;

const TRICKY_ITEMS: unknown[] = [
  0,
  -0,
  1e21,
  0.1,
  -123.456e-7,
  Number.MAX_SAFE_INTEGER,
  null,
  true,
  "",
  "plain",
  "ünïcødé ✓ 日本語 🚀 \u{1F600}",
  "\u2028\u2029 line separators",
  'quotes " and \\ backslash and \n\t\r\b\f controls \u0000\u001f',
  "\ud800 lone surrogate \udfff",
  [],
  {},
  [1, [2, [3, [4, { deep: [null, { "k\"ey": "v" }] }]]]],
  { "": "empty key", "ключ": { "🔑": [1.5, "x"] }, __proto__x: 1 },
];

describe("ItemBodies", () => {
  const context = { batchId: "batch_ü", nested: { list: [1, "two", null, { three: 3 }] }, emoji: "🎉", n: -0.5 };
  const previousSteps = {
    prepare: { result: { items: TRICKY_ITEMS }, completedAt: "2026-12-01T10:00:00.000Z", attempts: 1 },
    "side \"branch\"": { state: "failed", error: { reason: "http_status", message: "HTTP 500: ✗" }, completedAt: "2026-12-01T10:00:01.000Z", attempts: 3 },
  };
  const entries = Object.entries(previousSteps).map(([k, v]) => entry(k, v));
  const base = { workflowId: "wf-ü \"quoted\"", runId: "wf_01JDQ", stepId: "process 🚀" };
  const bodies = new ItemBodies(bodyHead(base.workflowId, base.runId, base.stepId), JSON.stringify(context), entries);

  it("writes the bytes of the whole JSON body, for every kind of item value", () => {
    TRICKY_ITEMS.forEach((item, index) => {
      for (const attempt of [1, 2, 10]) {
        const got = bodies.body(attempt, JSON.stringify(item), index);
        const want = whole({ ...base, attempt, context, previousSteps, item, index });
        expect(got.equals(want), `item ${index} attempt ${attempt}: ${got.toString()} vs ${want.toString()}`).toBe(true);
        // And it is a JSON text that reads back to the same values.
        expect(JSON.parse(got.toString("utf8"))).toEqual(JSON.parse(want.toString("utf8")));
      }
    });
  });

  it("writes the same bytes as the string form of a step body", () => {
    const head = bodyHead(base.workflowId, base.runId, base.stepId);
    const middle = bodyMiddle(JSON.stringify(context), entries);
    const text = stepBody(head, 4, middle, `,"item":${JSON.stringify("🚀")},"index":7`);
    expect(bodies.body(4, JSON.stringify("🚀"), 7).equals(Buffer.from(text, "utf8"))).toBe(true);
  });

  it("with no previous steps and an empty context", () => {
    const b = new ItemBodies(bodyHead("w", "r", "s"), "{}", []);
    expect(b.body(1, "[1,2]", 0).toString("utf8")).toBe(
      '{"workflowId":"w","runId":"r","workflow":"w","stepId":"s","attempt":1,"context":{},"previousSteps":{},"item":[1,2],"index":0}',
    );
  });

  it("holds only for the same entries in the same order", () => {
    expect(bodies.holds(entries)).toBe(true);
    expect(bodies.holds([...entries])).toBe(true);
    expect(bodies.holds(entries.slice(0, 1))).toBe(false);
    expect(bodies.holds([...entries].reverse())).toBe(false);
    expect(bodies.holds([...entries, entry("late", { result: 1 })])).toBe(false);
    // An entry rebuilt with other content (a different string) does not hold.
    expect(bodies.holds([entries[0], entry("side \"branch\"", { result: 2 })])).toBe(false);
  });
});
