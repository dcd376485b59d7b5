// The engine's gate for concurrency keys over the real embedded store's slots:
// waiters start as slots free up, in the admission model's order, and a slot
// whose holder settled without giving it back is reclaimed.
import { pino } from "pino";
import { afterEach, describe, expect, test } from "vitest";
import { ConcurrencyGate } from "../../src/engine/concurrency-gate.ts";
import { systemClock } from "../../src/ports/clock.ts";
import { SqliteWorkflowStore } from "../../src/store/sqlite-store.ts";

const stores: SqliteWorkflowStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

function setup(stillHolds: (holder: string) => Promise<boolean> = async () => true, batch?: number) {
  const slots = new SqliteWorkflowStore({ dataDir: ":memory:" });
  stores.push(slots);
  const gate = new ConcurrencyGate({ slots, clock: systemClock, log: pino({ level: "silent" }), stillHolds, pollMs: 20, staleCheckMs: 0, batch });
  const granted: string[] = [];
  const ask = (holder: string, priority = 0, queuedAt = Date.now(), key = "k", limit = 1) =>
    gate.request({ key, limit, holder, priority, queuedAt, grant: () => granted.push(holder) });
  return { slots, gate, granted, ask };
}

async function until(pred: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 30_000;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("ConcurrencyGate", () => {
  test("waiters start one at a time as slots are given back, by priority then arrival", async () => {
    const { gate, granted, ask } = setup();
    ask("wf_a", 0, 1);
    await until(() => granted.length === 1, "the first is admitted");
    ask("wf_b", 0, 2);
    ask("wf_c", 5, 3);
    ask("wf_d", 0, 4);
    await new Promise((r) => setTimeout(r, 100));
    expect(granted).toEqual(["wf_a"]);
    for (const [held, next] of [["wf_a", "wf_c"], ["wf_c", "wf_b"], ["wf_b", "wf_d"]]) {
      await gate.release("k", held);
      await until(() => granted.at(-1) === next, `${next} is admitted`);
    }
    expect(granted).toEqual(["wf_a", "wf_c", "wf_b", "wf_d"]);
    gate.stop();
  });

  test("a slot whose holder has settled (never given back) is reclaimed for a waiter; a live holder's is not", async () => {
    const { slots, gate, granted, ask } = setup(async (holder) => holder !== "wf_dead#1");
    await slots.holdSlot("k", "wf_dead#1");
    ask("wf_waiting#0");
    await until(() => granted.length === 1, "the waiter gets the settled holder's slot");
    expect((await slots.slotHolders(["k"])).get("k")).toEqual(["wf_waiting#0"]);
    ask("wf_next#0");
    await new Promise((r) => setTimeout(r, 150));
    expect(granted).toEqual(["wf_waiting#0"]);
    gate.stop();
  });

  test("keys take turns: a key that queued 200 waiters first does not hold back one with 10 (2 admissions per pass)", async () => {
    const { gate, granted, ask } = setup(async () => true, 2);
    // Queued in one turn, big first: all in the gate before its first pass.
    for (let i = 0; i < 200; i++) ask(`big_${i}`, 0, i, "big", 1000);
    for (let i = 0; i < 10; i++) ask(`small_${i}`, 0, 1000 + i, "small", 1000);
    await until(() => granted.length === 210, "every waiter is admitted");
    const lastSmall = granted.findLastIndex((h) => h.startsWith("small_"));
    expect(lastSmall).toBeLessThan(25);
    // FIFO within each key.
    expect(granted.filter((h) => h.startsWith("small_"))).toEqual(Array.from({ length: 10 }, (_, i) => `small_${i}`));
    gate.stop();
  });

  test("a waiter forgotten while its slot was being taken gives the slot back", async () => {
    const { slots, gate, ask, granted } = setup();
    ask("wf_x");
    gate.forget("wf_x");
    await new Promise((r) => setTimeout(r, 100));
    expect(granted).toEqual([]);
    expect((await slots.slotHolders(["k"])).get("k") ?? []).toEqual([]);
    gate.stop();
  });
});
