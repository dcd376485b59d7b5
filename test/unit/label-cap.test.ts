import { describe, expect, it } from "vitest";
import { LabelCap, OTHER_LABEL } from "../../src/domain/label-cap.ts";

describe("LabelCap", () => {
  it("gives the first `limit` distinct values their own label and the rest 'other'", () => {
    const cap = new LabelCap(3);
    expect(["a", "b", "a", "c", "d", "e", "b"].map((v) => cap.label(v))).toEqual(["a", "b", "a", "c", OTHER_LABEL, OTHER_LABEL, "b"]);
    expect(cap.size).toBe(3);
  });

  it("keeps a value's label once it has one, however many others come later", () => {
    const cap = new LabelCap(2);
    cap.label("x");
    for (let i = 0; i < 1000; i++) cap.label(`w${i}`);
    expect(cap.label("x")).toBe("x");
    expect(cap.label("w0")).toBe("w0");
    expect(cap.label("w1")).toBe(OTHER_LABEL);
    expect(cap.size).toBe(2);
  });

  it("with limit 0 reports everything as 'other'", () => {
    expect(new LabelCap(0).label("a")).toBe(OTHER_LABEL);
  });

  it("refuses a negative or fractional limit", () => {
    expect(() => new LabelCap(-1)).toThrow(RangeError);
    expect(() => new LabelCap(1.5)).toThrow(RangeError);
  });
});
