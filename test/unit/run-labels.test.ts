import { describe, expect, test } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { compileWorkflow } from "../../src/domain/compile-workflow.ts";
import { parseDurationText } from "../../src/domain/duration-text.ts";
import { runIdLowerBound, RunIdGenerator, runIdTime } from "../../src/domain/run-id.ts";
import { checkLabels, matchesFilter, parseLabelArg } from "../../src/domain/run-labels.ts";
import { DEFAULT_LIMITS, type FieldViolation } from "../../src/domain/workflow-spec.ts";
import { retentionSweepInterval } from "../../src/engine/retention-sweeper.ts";

const check = (labels: Record<string, string>) => {
  const v: FieldViolation[] = [];
  checkLabels(labels, "labels", v);
  return v;
};

describe("labels", () => {
  test("keys: 1..63 of a-z 0-9 _ . - /, starting with a letter or digit; values up to 256; at most 32", () => {
    expect(check({ team: "a", "app.kubernetes.io/name": "x", "0-x_y": "", v: "v".repeat(256) })).toEqual([]);
    expect(check({ Team: "a" })).toEqual([{ field: 'labels["Team"]', description: expect.stringMatching(/lower-case/) }]);
    expect(check({ "-x": "a", "a b": "c", "": "" }).map((v) => v.field)).toEqual(['labels["-x"]', 'labels["a b"]', 'labels[""]']);
    expect(check({ ["k".repeat(64)]: "a" })[0].description).toBe("key must be at most 63 characters (got 64)");
    expect(check({ k: "v".repeat(257) })).toEqual([{ field: 'labels["k"]', description: "value must be at most 256 characters (got 257)" }]);
    expect(check(Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, ""])))).toEqual([{ field: "labels", description: "at most 32 labels (got 33)" }]);
    // A long key is quoted cut short in the field path.
    const [long] = check({ ["k".repeat(5000)]: "a" });
    expect(long.field.length).toBeLessThan(80);
  });

  test("a workflow's labels are validated with it and kept in its spec, sorted by key", () => {
    const input = { id: "w", steps: [{ id: "a", url: "https://h.test/a", dependsOn: [], parallel: false, compensation: "" }], onComplete: "", onError: "", saga: false, baseUrl: "", requestId: "" };
    const ok = compileWorkflow({ ...input, labels: { z: "1", a: "2" } }, DEFAULT_LIMITS);
    expect(ok.ok && Object.keys(ok.spec.labels!)).toEqual(["a", "z"]);
    const none = compileWorkflow({ ...input, labels: {} }, DEFAULT_LIMITS);
    expect(none.ok && none.spec.labels).toBeUndefined();
    const bad = compileWorkflow({ ...input, labels: { "B": "1" } }, DEFAULT_LIMITS);
    expect(!bad.ok && bad.violations.map((v) => v.field)).toEqual(['labels["B"]']);
  });

  test("a filter matches runs with every given pair and a creation time in [after, before)", () => {
    expect(matchesFilter({ labels: [["a", "1"], ["b", "2"]] }, { a: "1", b: "2", c: "3" }, 5)).toBe(true);
    expect(matchesFilter({ labels: [["a", "1"], ["b", "2"]] }, { a: "1" }, 5)).toBe(false);
    expect(matchesFilter({ labels: [["a", ""]] }, undefined, 5)).toBe(false);
    expect(matchesFilter({ labels: [["constructor", ""]] }, {}, 5)).toBe(false);
    expect(matchesFilter({ createdAfter: 5, createdBefore: 6 }, undefined, 5)).toBe(true);
    expect(matchesFilter({ createdAfter: 5, createdBefore: 6 }, undefined, 6)).toBe(false);
    expect(matchesFilter({ createdAfter: 5 }, undefined, 4)).toBe(false);
    expect(parseLabelArg("a=b=c")).toEqual(["a", "b=c"]);
    expect(parseLabelArg("ab")).toBeUndefined();
  });

  test("creation times map onto run-id ranges: a run created at t sorts at or after the bound of t and before that of t+1", () => {
    const gen = new RunIdGenerator();
    for (const t of [0, 1, Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 1) + 999, 2 ** 48 - 2]) {
      const id = gen.next(t);
      expect(runIdTime(id)).toBe(t);
      expect(id >= runIdLowerBound(t)).toBe(true);
      expect(id < runIdLowerBound(t + 1)).toBe(true);
    }
    expect(runIdLowerBound(-5)).toBe(runIdLowerBound(0));
    expect(runIdLowerBound(2 ** 60)).toBe(runIdLowerBound(2 ** 48 - 1));
  });
});

describe("retention", () => {
  test("durations: 30d, 12h, 90m, 45s, 1500ms, 1h30m, 0; anything else is refused", () => {
    expect(parseDurationText("30d")).toBe(30 * 86_400_000);
    expect(parseDurationText("12h")).toBe(12 * 3_600_000);
    expect(parseDurationText("1h30m")).toBe(90 * 60_000);
    expect(parseDurationText(" 1500ms ")).toBe(1500);
    expect(parseDurationText("2w")).toBe(14 * 86_400_000);
    expect(parseDurationText("0")).toBe(0);
    for (const bad of ["", "30", "d", "1.5h", "-1d", "1h 30m", "1y", "9".repeat(80) + "d"]) expect(parseDurationText(bad), bad).toBeUndefined();
  });

  test("--retention / WEFT_RETENTION: default 30 days, 0 keeps runs, bad values refused with the option's name", () => {
    expect(loadConfig([], {})!.retentionMs).toBe(30 * 86_400_000);
    expect(loadConfig([], { WEFT_RETENTION: "12h" })!.retentionMs).toBe(12 * 3_600_000);
    expect(loadConfig(["--retention", "0"], { WEFT_RETENTION: "12h" })!.retentionMs).toBe(0);
    expect(() => loadConfig(["--retention", "forever"], {})).toThrow(/retention: "forever" must be a duration/);
  });

  test("sweeps run every quarter of the retention, between once a second and once a minute", () => {
    expect(retentionSweepInterval(2000)).toBe(1000);
    expect(retentionSweepInterval(120_000)).toBe(30_000);
    expect(retentionSweepInterval(30 * 86_400_000)).toBe(60_000);
  });
});
