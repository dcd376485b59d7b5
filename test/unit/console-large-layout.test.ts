// The console's layout of large run graphs (console/src/graph/large-layout.ts, a pure function):
// every step placed, no two nodes overlapping, every edge read forwards (to the right, or to a
// later row), and the fitted shape about a screen's, neither a long line nor a thin column.
import { describe, expect, it } from "vitest";
import { layoutLarge, type LayoutStep, type Positions } from "../../console/src/graph/large-layout.ts";
import { NODE_HEIGHT, NODE_WIDTH } from "../../console/src/graph/node-size.ts";

const chain = (n: number, prefix = "s"): LayoutStep[] => Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, dependsOn: i === 0 ? [] : [`${prefix}${i - 1}`] }));
const fanOut = (n: number, prefix = ""): LayoutStep[] => {
  const wide = Array.from({ length: n }, (_, i) => ({ id: `${prefix}w${i}`, dependsOn: [`${prefix}start`] }));
  return [{ id: `${prefix}start`, dependsOn: [] }, ...wide, { id: `${prefix}join`, dependsOn: wide.map((w) => w.id) }];
};

function box(positions: Positions): { width: number; height: number } {
  const all = [...positions.values()];
  const width = Math.max(...all.map((p) => p.x)) + NODE_WIDTH - Math.min(...all.map((p) => p.x));
  const height = Math.max(...all.map((p) => p.y)) + NODE_HEIGHT - Math.min(...all.map((p) => p.y));
  return { width, height };
}

function expectReadable(steps: LayoutStep[], positions: Positions): void {
  expect([...positions.keys()].sort()).toEqual(steps.map((s) => s.id).sort());
  const all = [...positions.entries()];
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length; j++) {
      const [a, p] = all[i]!;
      const [b, q] = all[j]!;
      const apart = Math.abs(p.x - q.x) >= NODE_WIDTH || Math.abs(p.y - q.y) >= NODE_HEIGHT;
      if (!apart) expect.fail(`${a} and ${b} overlap`);
    }
  }
  for (const s of steps) {
    for (const d of s.dependsOn) {
      const from = positions.get(d)!;
      const to = positions.get(s.id)!;
      if (!(to.x >= from.x + NODE_WIDTH || to.y >= from.y + NODE_HEIGHT)) expect.fail(`${d} -> ${s.id} goes backwards`);
    }
  }
}

describe("layoutLarge", () => {
  it("wraps a 1000-step chain into rows of about a screen's shape", () => {
    const steps = chain(1000);
    const positions = layoutLarge(steps);
    expectReadable(steps, positions);
    const { width, height } = box(positions);
    expect(width / height).toBeGreaterThan(1);
    expect(width / height).toBeLessThan(3);
    expect(new Set([...positions.values()].map((p) => p.y)).size).toBeGreaterThan(10);
  });

  it("draws a 200-wide fan-out's middle layer as a grid in definition order, not a column", () => {
    const steps = fanOut(200);
    const positions = layoutLarge(steps);
    expectReadable(steps, positions);
    const { width, height } = box(positions);
    expect(width / height).toBeGreaterThan(1 / 3);
    expect(width / height).toBeLessThan(3);
    const wide = Array.from({ length: 200 }, (_, i) => positions.get(`w${i}`)!);
    expect(new Set(wide.map((p) => p.x)).size).toBeGreaterThan(3);
    // Row by row: w0 is top left, w199 in the bottom row.
    expect(wide[0]!.y).toBe(Math.min(...wide.map((p) => p.y)));
    expect(wide[199]!.y).toBe(Math.max(...wide.map((p) => p.y)));
    expect(wide[1]!.x).toBeGreaterThan(wide[0]!.x);
  });

  it("places several unconnected graphs and dependencies on unknown steps", () => {
    const steps = [...chain(100, "a"), ...fanOut(60, "b"), { id: "c", dependsOn: ["a5", "b-unknown"] }];
    const positions = layoutLarge(steps);
    expectReadable(
      steps.map((s) => ({ ...s, dependsOn: s.dependsOn.filter((d) => positions.has(d)) })),
      positions,
    );
  });
});
