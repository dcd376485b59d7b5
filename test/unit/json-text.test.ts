// A result's text is made once and spliced into what carries it; what is
// written parses back to the same record.
import { describe, expect, test } from "vitest";
import { jsonText, stringifyWithResult } from "../../src/domain/json-text.ts";
import { mapResult, mapResultText } from "../../src/domain/map-step.ts";
import type { ItemRecord } from "../../src/domain/run-record.ts";

describe("jsonText", () => {
  test("is JSON.stringify, made once per result object", () => {
    const result = { order: "o-1", lines: [1, 2, { sku: "a\"b", note: "é\u2028" }] };
    const text = jsonText(result);
    expect(text).toBe(JSON.stringify(result));
    expect(jsonText(result)).toBe(text);
    // The same object gives the text it gave before: results are never changed in place.
    (result.lines as unknown[]).push(3);
    expect(jsonText(result)).toBe(text);
    expect(jsonText({ ...result })).toBe(JSON.stringify(result));
  });

  test("primitives, null and a missing value", () => {
    expect(jsonText(null)).toBe("null");
    expect(jsonText(undefined)).toBe("null");
    expect(jsonText("x\"y")).toBe('"x\\"y"');
    expect(jsonText(12.5)).toBe("12.5");
    expect(jsonText(false)).toBe("false");
  });
});

describe("stringifyWithResult", () => {
  const cases: [string, Record<string, unknown>][] = [
    ["a step record with an object result", { id: "a", state: "completed", attempts: 2, result: { ok: true, n: [1, 2] }, completedAt: 5 }],
    ["an array result", { id: "b", result: [1, "two", null] }],
    ["only a result", { result: { x: 1 } }],
    ["undefined fields are left out, as JSON.stringify does", { error: undefined, result: { y: 2 }, item: undefined, redriven: true }],
    ["a primitive result", { id: "c", result: "text" }],
    ["no result", { id: "d", state: "failed", error: { reason: "timeout" } }],
    ["a null result", { id: "e", result: null }],
  ];
  for (const [name, record] of cases) {
    test(`${name}: parses back to the same record`, () => {
      const text = stringifyWithResult(record);
      expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(record)));
    });
  }

  test("the result's text is the one jsonText made (not serialized again)", () => {
    const result = { big: "x".repeat(10_000) };
    const first = jsonText(result);
    const text = stringifyWithResult({ id: "a", result });
    expect(text.endsWith(`,"result":${first}}`)).toBe(true);
  });
});

describe("mapResultText", () => {
  test("is JSON.stringify(mapResult(items)), completed items' texts made once", () => {
    const done = { big: "x".repeat(50), n: [1, 2] };
    const items = [
      { state: "completed", attempts: 1, result: done },
      { state: "completed", attempts: 1 },
      { state: "failed", attempts: 3, error: { reason: "http_error", message: "500", httpStatus: 500 } },
      { state: "cancelled", attempts: 0 },
      { state: "completed", attempts: 2, result: "plain" },
    ] as unknown as ItemRecord[];
    expect(mapResultText(items)).toBe(JSON.stringify(mapResult(items)));
    expect(mapResultText([])).toBe("[]");
    // The completed item's text is the one jsonText keeps for it.
    expect(mapResultText(items)).toContain(jsonText(done));
  });
});
