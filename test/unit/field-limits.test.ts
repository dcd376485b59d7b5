import { describe, expect, test } from "vitest";
import { FIELD_LIMITS, isRunId, quoteInput, tooLong, TRUNCATION_MARKER, truncateText } from "../../src/domain/field-limits.ts";
import { RunIdGenerator } from "../../src/domain/run-id.ts";

describe("quoteInput", () => {
  test("short input is JSON-quoted whole", () => {
    expect(quoteInput("charge")).toBe('"charge"');
    expect(quoteInput('a"b')).toBe('"a\\"b"');
  });

  test("long input is cut to the maximum with an ellipsis", () => {
    const q = quoteInput("x".repeat(8_000_000));
    expect(q).toBe(`"${"x".repeat(FIELD_LIMITS.maxQuotedInputLength)}…"`);
    expect(quoteInput("abcdef", 3)).toBe('"abc…"');
  });

  test("never splits a surrogate pair", () => {
    const q = quoteInput("ab😀cd", 3);
    expect(q).toBe('"ab…"');
    expect(encodeURIComponent(q)).toBeTruthy(); // throws URIError on a lone surrogate
  });
});

describe("truncateText", () => {
  test("keeps text within the maximum, marking what was cut", () => {
    expect(truncateText("short")).toBe("short");
    const long = truncateText("e".repeat(1_000_000));
    expect(long).toHaveLength(FIELD_LIMITS.maxErrorMessageLength);
    expect(long.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(truncateText("x".repeat(FIELD_LIMITS.maxErrorMessageLength))).toHaveLength(FIELD_LIMITS.maxErrorMessageLength);
    expect(truncateText("x".repeat(FIELD_LIMITS.maxErrorMessageLength)).endsWith(TRUNCATION_MARKER)).toBe(false);
  });
});

describe("run ids and field maxima", () => {
  test("isRunId accepts generated ids and nothing else", () => {
    const gen = new RunIdGenerator();
    for (let i = 0; i < 100; i++) expect(isRunId(gen.next(Date.now() + i))).toBe(true);
    expect(isRunId("wf_01ARZ3NDEKTSV4RRFFQ69G5FAV")).toBe(true);
    for (const bad of ["", "wf_", "workflow_abc123", "wf_missing", "wf_01ARZ3NDEKTSV4RRFFQ69G5FA", "wf_01ARZ3NDEKTSV4RRFFQ69G5FAVX",
      "wf_01arz3ndektsv4rrffq69g5fav", "wf_01ARZ3NDEKTSV4RRFFQ69G5FAO", "wf_01ARZ3NDEKTSV4RRFFQ69G5FAI", "x".repeat(10_000)]) {
      expect(isRunId(bad), bad.slice(0, 40)).toBe(false);
    }
  });

  test("the documented maxima", () => {
    expect(FIELD_LIMITS).toMatchObject({
      maxIdLength: 128,
      maxUrlLength: 2048,
      maxRequestIdLength: 256,
      maxCancelReasonLength: 1024,
      maxPageTokenLength: 256,
      maxErrorMessageLength: 2048,
      maxConcurrencyKeyLength: 1024,
      maxConcurrencyValueLength: 256,
    });
    expect(tooLong("x".repeat(1024), 1024)).toBeUndefined();
    expect(tooLong("x".repeat(1025), 1024)).toBe("must be at most 1024 characters (got 1025)");
  });
});
