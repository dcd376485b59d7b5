import { describe, expect, it } from "vitest";
import { compareWaiters, type KeyState, planAdmissions, type Waiter } from "../../src/domain/concurrency-admission.ts";
import { checkPriority, compileConcurrency, concurrencyScope } from "../../src/domain/concurrency-key.ts";

const waiters = (prefix: string, n: number, priority = 0, from = 0): Waiter[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, priority, queuedAt: 1000 + from + i, seq: from + i }));

describe("planAdmissions", () => {
  it("admits no more than the limit of a key, minus the slots held", () => {
    const { admit } = planAdmissions([{ key: "a", limit: 3, holding: 1, waiters: waiters("a", 5) }]);
    expect(admit.map((x) => x.waiter.id)).toEqual(["a0", "a1"]);
    expect(planAdmissions([{ key: "a", limit: 2, holding: 2, waiters: waiters("a", 5) }]).admit).toEqual([]);
  });

  it("within a key: higher priority first, FIFO within a priority", () => {
    const w: Waiter[] = [
      { id: "low-early", priority: 0, queuedAt: 1, seq: 1 },
      { id: "high-late", priority: 5, queuedAt: 9, seq: 9 },
      { id: "low-late", priority: 0, queuedAt: 5, seq: 5 },
      { id: "high-early", priority: 5, queuedAt: 2, seq: 2 },
      { id: "negative", priority: -3, queuedAt: 0, seq: 0 },
    ];
    const { admit } = planAdmissions([{ key: "k", limit: 10, holding: 0, waiters: w }]);
    expect(admit.map((x) => x.waiter.id)).toEqual(["high-early", "high-late", "low-early", "low-late", "negative"]);
    expect(compareWaiters(w[0], { ...w[0], id: "same-time", seq: 2 })).toBeLessThan(0);
  });

  it("fairness: a key with 1,000 waiters does not starve one with 10 (round-robin, one per key per round)", () => {
    const keys: KeyState[] = [
      { key: "big", limit: 1000, holding: 0, waiters: waiters("big", 1000) },
      { key: "small", limit: 1000, holding: 0, waiters: waiters("small", 10) },
    ];
    const { admit } = planAdmissions(keys, undefined, 20);
    expect(admit.filter((x) => x.key === "small")).toHaveLength(10);
    expect(admit.filter((x) => x.key === "big")).toHaveLength(10);
    // Interleaved, not one key's batch after the other's.
    expect(admit.slice(0, 4).map((x) => x.key)).toEqual(["big", "small", "big", "small"]);
  });

  it("fairness over passes: round-robin resumes after the key served last", () => {
    const keys: KeyState[] = [
      { key: "a", limit: 100, holding: 0, waiters: waiters("a", 1000) },
      { key: "b", limit: 100, holding: 0, waiters: waiters("b", 10) },
      { key: "c", limit: 100, holding: 0, waiters: waiters("c", 10) },
    ];
    const first = planAdmissions(keys, undefined, 1);
    expect(first.admit.map((x) => x.key)).toEqual(["a"]);
    const second = planAdmissions(keys, first.last, 1);
    expect(second.admit.map((x) => x.key)).toEqual(["b"]);
    const third = planAdmissions(keys, second.last, 1);
    expect(third.admit.map((x) => x.key)).toEqual(["c"]);
    expect(planAdmissions(keys, third.last, 1).admit.map((x) => x.key)).toEqual(["a"]);
  });

  it("all of a small key is admitted while the big key still has hundreds waiting, pass after pass", () => {
    // Each pass: the store has room for 2 admissions in all (e.g. a batch bound); small finishes in 10 passes.
    const big = waiters("big", 1000);
    const small = waiters("small", 10);
    let last: string | undefined;
    let smallDone = -1;
    for (let pass = 0; pass < 20 && smallDone < 0; pass++) {
      const { admit, last: l } = planAdmissions(
        [
          { key: "big", limit: 1000, holding: 0, waiters: big },
          { key: "small", limit: 1000, holding: 0, waiters: small },
        ],
        last,
        2,
      );
      last = l;
      for (const a of admit) (a.key === "big" ? big : small).splice((a.key === "big" ? big : small).indexOf(a.waiter), 1);
      if (small.length === 0) smallDone = pass;
    }
    expect(smallDone).toBe(9);
    expect(big.length).toBe(990);
  });
});

describe("compileConcurrency", () => {
  const ctx = { userId: "u1", n: 42, flag: true, obj: { a: 1 }, list: [1], nothing: null, "a/b": "slash" };

  it("resolves a pointer into the context to a scoped key", () => {
    const c = compileConcurrency({ key: "/context/userId", limit: 1 }, ctx, "orders");
    expect(c).toEqual({ key: "/context/userId", limit: 1, value: "u1", scope: concurrencyScope("orders", "u1") });
    expect(compileConcurrency({ key: "/context/n", limit: 2 }, ctx, "orders", "charge")).toMatchObject({ value: "42" });
    expect(compileConcurrency({ key: "/context/flag", limit: 2 }, ctx, "orders")).toMatchObject({ value: "true" });
    expect(compileConcurrency({ key: "/context/a~1b", limit: 2 }, ctx, "orders")).toMatchObject({ value: "slash" });
  });

  it("keeps workflow-level and step-level keys, and different workflows, apart", () => {
    const scopes = new Set([
      concurrencyScope("orders", "u1"),
      concurrencyScope("orders", "u1", "charge"),
      concurrencyScope("orders", "u1", "ship"),
      concurrencyScope("refunds", "u1"),
      concurrencyScope("orders:x", "u1"),
      concurrencyScope("orders", "x:u1"),
    ]);
    expect(scopes.size).toBe(6);
  });

  it("explains a bad key or limit", () => {
    const bad = (key: string, limit = 1) => compileConcurrency({ key, limit }, ctx, "w") as [string, string][];
    expect(bad("")).toEqual([[".key", expect.stringContaining("is required")]]);
    expect(bad("userId")[0][1]).toContain("starting with /context");
    expect(bad("/prepare/result/x")[0][1]).toContain("starting with /context");
    expect(bad("/context/missing")[0][1]).toBe("the context has no value at /context/missing");
    expect(bad("/context/nothing")[0][1]).toContain("no value");
    expect(bad("/context/obj")[0][1]).toContain("found an object");
    expect(bad("/context/list")[0][1]).toContain("found an array");
    expect(bad("/context/userId", 0)).toEqual([[".limit", "must be between 1 and 1000 (got 0)"]]);
    expect(bad("/context/userId", 1001)[0][0]).toBe(".limit");
    const long = compileConcurrency({ key: "/context/v", limit: 1 }, { v: "x".repeat(257) }, "w") as [string, string][];
    expect(long[0][1]).toContain("at most 256 characters");
    expect(bad(`/context/${"k".repeat(2000)}`)[0][1]).toContain("at most 1024 characters");
  });

  it("checks the priority range", () => {
    expect(checkPriority(0)).toBeUndefined();
    expect(checkPriority(-1000)).toBeUndefined();
    expect(checkPriority(1001)).toContain("between -1000 and 1000");
    expect(checkPriority(1.5)).toContain("integer");
  });
});
