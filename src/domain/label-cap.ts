// Bounds the distinct values of a metric label that comes from user data
// (workflow ids): the first `limit` distinct values keep their own label value,
// every later one is reported as OTHER_LABEL.

export const OTHER_LABEL = "other";

export class LabelCap {
  readonly limit: number;
  readonly #seen = new Set<string>();

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`label limit must be a non-negative integer, got ${limit}`);
    this.limit = limit;
  }

  /** The label value for `value`: itself while there is room (or it already has one), else "other". */
  label(value: string): string {
    if (this.#seen.has(value)) return value;
    if (this.#seen.size >= this.limit) return OTHER_LABEL;
    this.#seen.add(value);
    return value;
  }

  /** Distinct values that got their own label value. */
  get size(): number {
    return this.#seen.size;
  }
}
