import { describe, expect, test } from "vitest";
import { checkJoin, decideJoin, describeJoin, type JoinCounts, type JoinPolicy } from "../../src/domain/join-policy.ts";

const c = (completed: number, failed: number, unfinished: number): JoinCounts => ({ completed, failed, unfinished });
const decision = (p: JoinPolicy, counts: JoinCounts) => decideJoin(p, counts).decision;

/** Every (completed, failed, unfinished) with completed + failed + unfinished = n, for n = 0..maxN. */
function allCounts(maxN: number): JoinCounts[] {
  const out: JoinCounts[] = [];
  for (let n = 0; n <= maxN; n++) {
    for (let done = 0; done <= n; done++) {
      for (let failed = 0; failed <= n - done; failed++) out.push(c(done, failed, n - done - failed));
    }
  }
  return out;
}

/** The policies worth checking for n dependencies (every k, percents on and between the steps). */
function policies(n: number): JoinPolicy[] {
  const out: JoinPolicy[] = [{ kind: "all" }, { kind: "all_settled" }, { kind: "any" }];
  for (let k = 1; k <= Math.max(n, 1); k++) out.push({ kind: "at_least", count: k });
  for (const percent of [0, 10, 25, 33.3, 33.34, 50, 66.7, 99.9, 100]) out.push({ kind: "tolerated_failure_percent", percent });
  return out;
}

/** The rule of each policy, stated independently of the implementation. */
function expected(p: JoinPolicy, { completed, failed, unfinished }: JoinCounts): "wait" | "run" | "fail" {
  const n = completed + failed + unfinished;
  const settled = unfinished === 0;
  switch (p.kind) {
    case "all":
      return failed > 0 ? "fail" : settled ? "run" : "wait";
    case "all_settled":
      return settled ? "run" : "wait";
    case "at_least":
      // Even if every unfinished one completed, k would not be reached.
      return completed + unfinished < p.count ? "fail" : settled ? "run" : "wait";
    case "tolerated_failure_percent":
      return failed / n > p.percent / 100 + 1e-12 ? "fail" : settled ? "run" : "wait";
    case "any":
      return completed > 0 ? "run" : settled ? "fail" : "wait";
  }
}

describe("decideJoin", () => {
  test("matches each policy's rule for every count of up to 7 dependencies", () => {
    let checked = 0;
    for (const counts of allCounts(7)) {
      const n = counts.completed + counts.failed + counts.unfinished;
      for (const p of policies(n)) {
        if (n === 0 && p.kind === "tolerated_failure_percent") continue; // 0/0: see the empty-list test
        expect(decision(p, counts), `${describeJoin(p)} ${JSON.stringify(counts)}`).toBe(expected(p, counts));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  test("a decision, once taken, holds whatever the unfinished ones do next", () => {
    // Settling one more unfinished dependency (as completed or failed) never turns run into fail or back.
    for (const counts of allCounts(6)) {
      const n = counts.completed + counts.failed + counts.unfinished;
      if (counts.unfinished === 0 || n === 0) continue;
      for (const p of policies(n)) {
        const now = decision(p, counts);
        if (now === "wait") continue;
        for (const next of [c(counts.completed + 1, counts.failed, counts.unfinished - 1), c(counts.completed, counts.failed + 1, counts.unfinished - 1)]) {
          // `all` may fail later after running? No: it runs only when nothing is unfinished.
          expect(decision(p, next), `${describeJoin(p)} ${JSON.stringify(counts)} -> ${JSON.stringify(next)}`).toBe(now);
        }
      }
    }
  });

  test("every policy decides once nothing is unfinished", () => {
    for (const counts of allCounts(6)) {
      if (counts.unfinished !== 0) continue;
      const n = counts.completed + counts.failed;
      for (const p of policies(n)) expect(decision(p, counts)).not.toBe("wait");
    }
  });

  test("the product document's fan-in: one of three failed", () => {
    expect(decision({ kind: "all" }, c(2, 1, 0))).toBe("fail");
    expect(decision({ kind: "all_settled" }, c(2, 1, 0))).toBe("run");
    expect(decision({ kind: "at_least", count: 2 }, c(2, 1, 0))).toBe("run");
    expect(decision({ kind: "at_least", count: 3 }, c(2, 1, 0))).toBe("fail");
    expect(decision({ kind: "tolerated_failure_percent", percent: 34 }, c(2, 1, 0))).toBe("run");
    expect(decision({ kind: "tolerated_failure_percent", percent: 33 }, c(2, 1, 0))).toBe("fail");
    expect(decision({ kind: "any" }, c(2, 1, 0))).toBe("run");
  });

  test("early decisions: at_least and tolerated_failure_percent fail while branches are unfinished, any runs at the first completion", () => {
    expect(decideJoin({ kind: "at_least", count: 2 }, c(0, 2, 1))).toEqual({
      decision: "fail",
      cancelUnfinished: true,
      message: "needs at least 2 of 3 to complete; 2 failed",
    });
    expect(decideJoin({ kind: "tolerated_failure_percent", percent: 10 }, c(3, 3, 14))).toEqual({
      decision: "fail",
      cancelUnfinished: true,
      message: "3 of 20 failed, more than the tolerated 10%",
    });
    expect(decision({ kind: "tolerated_failure_percent", percent: 10 }, c(3, 2, 15))).toBe("wait"); // 2 of 20 = 10%
    expect(decideJoin({ kind: "any" }, c(1, 1, 3))).toEqual({ decision: "run", cancelUnfinished: true });
    expect(decideJoin({ kind: "any" }, c(1, 2, 0))).toEqual({ decision: "run", cancelUnfinished: false });
    expect(decideJoin({ kind: "any" }, c(0, 3, 0))).toEqual({ decision: "fail", cancelUnfinished: false, message: "all 3 failed" });
  });

  test("cancelUnfinished: only when a decision leaves unfinished ones behind, never under all", () => {
    for (const counts of allCounts(6)) {
      const n = counts.completed + counts.failed + counts.unfinished;
      for (const p of policies(n)) {
        const d = decideJoin(p, counts);
        if (d.decision === "wait") continue;
        if (p.kind === "all" || p.kind === "all_settled") expect(d.cancelUnfinished).toBe(false);
        if (d.decision === "run" && counts.unfinished === 0) expect(d.cancelUnfinished).toBe(false);
        if (p.kind === "any" && d.decision === "run") expect(d.cancelUnfinished).toBe(counts.unfinished > 0);
      }
    }
    // all: a failure lets the calls in flight finish (as before join policies).
    expect(decideJoin({ kind: "all" }, c(0, 1, 2))).toMatchObject({ decision: "fail", cancelUnfinished: false });
  });

  test("tolerated_failure_percent compares exactly at the boundary", () => {
    expect(decision({ kind: "tolerated_failure_percent", percent: 10 }, c(9, 1, 0))).toBe("run"); // 10% of 10
    expect(decision({ kind: "tolerated_failure_percent", percent: 10 }, c(8, 2, 0))).toBe("fail");
    expect(decision({ kind: "tolerated_failure_percent", percent: 0 }, c(3, 0, 0))).toBe("run");
    expect(decision({ kind: "tolerated_failure_percent", percent: 0 }, c(2, 1, 5))).toBe("fail");
    expect(decision({ kind: "tolerated_failure_percent", percent: 100 }, c(0, 3, 0))).toBe("run");
    // Map steps: counts of 10,000 items.
    expect(decision({ kind: "tolerated_failure_percent", percent: 1 }, c(9_900, 100, 0))).toBe("run");
    expect(decision({ kind: "tolerated_failure_percent", percent: 1 }, c(5_000, 101, 4_899))).toBe("fail");
    expect(decision({ kind: "at_least", count: 9_000 }, c(8_000, 1_001, 999))).toBe("fail");
  });

  test("an empty list (a map step over no items): any and at_least fail, the others run", () => {
    const none = c(0, 0, 0);
    expect(decision({ kind: "all" }, none)).toBe("run");
    expect(decision({ kind: "all_settled" }, none)).toBe("run");
    expect(decision({ kind: "tolerated_failure_percent", percent: 0 }, none)).toBe("run");
    expect(decision({ kind: "at_least", count: 1 }, none)).toBe("fail");
    expect(decideJoin({ kind: "any" }, none)).toMatchObject({ decision: "fail", message: "nothing to wait for" });
  });
});

describe("checkJoin", () => {
  test("valid policies", () => {
    expect(checkJoin({ kind: "all" }, 1)).toEqual([]);
    expect(checkJoin({ kind: "all_settled" }, 3)).toEqual([]);
    expect(checkJoin({ kind: "any" }, 2)).toEqual([]);
    expect(checkJoin({ kind: "at_least", count: 1 }, 3)).toEqual([]);
    expect(checkJoin({ kind: "at_least", count: 3 }, 3)).toEqual([]);
    expect(checkJoin({ kind: "tolerated_failure_percent", percent: 0 }, 3)).toEqual([]);
    expect(checkJoin({ kind: "tolerated_failure_percent", percent: 12.5 }, 3)).toEqual([]);
    expect(checkJoin({ kind: "tolerated_failure_percent", percent: 100 }, 3)).toEqual([]);
  });

  test("impossible settings are explained", () => {
    expect(checkJoin({ kind: "all_settled" }, 0)).toEqual([["", "only a step with depends_on can have a join policy"]]);
    expect(checkJoin({ kind: "none" }, 2)).toEqual([
      ["", "no policy set: expected one of all, all_settled, at_least, tolerated_failure_percent, any"],
    ]);
    expect(checkJoin({ kind: "at_least", count: 0 }, 3)).toEqual([[".at_least", "must be at least 1 (got 0)"]]);
    expect(checkJoin({ kind: "at_least", count: -2 }, 3)).toEqual([[".at_least", "must be at least 1 (got -2)"]]);
    expect(checkJoin({ kind: "at_least", count: 4 }, 3)).toEqual([
      [".at_least", "must be at most 3, the number of dependencies (got 4)"],
    ]);
    expect(checkJoin({ kind: "at_least", count: 1.5 }, 3)).toEqual([[".at_least", "must be a whole number"]]);
    expect(checkJoin({ kind: "tolerated_failure_percent", percent: -1 }, 3)).toEqual([
      [".tolerated_failure_percent", "must be between 0 and 100 (got -1)"],
    ]);
    expect(checkJoin({ kind: "tolerated_failure_percent", percent: 100.5 }, 3)).toEqual([
      [".tolerated_failure_percent", "must be between 0 and 100 (got 100.5)"],
    ]);
    for (const percent of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(checkJoin({ kind: "tolerated_failure_percent", percent }, 3)).toEqual([[".tolerated_failure_percent", "must be a finite number"]]);
    }
  });
});
