// Map steps (README "Map steps"): a step with for_each runs once per item of
// an array found by a JSON pointer (RFC 6901) into the context or into a
// dependency's result. Pure: pointer syntax, resolution, item results.
import type { ItemRecord } from "./run-record.ts";
import type { JsonValue } from "./workflow-spec.ts";
import { jsonText } from "./json-text.ts";

/** Items one map step may have; a longer array fails the step (not retried). */
export const MAX_MAP_ITEMS = 10_000;

/**
 * What one item record takes as BSON at most, leaving out its result: state,
 * attempts, times and an error whose message is at most MAX_ITEM_ERROR_LENGTH
 * characters (3 bytes each in UTF-8). Checked against real BSON sizes in
 * test/unit/map-item-budget.test.ts.
 */
export const MONGODB_ITEM_BYTES = 640;
/**
 * On MongoDB items live in their own collection; the item changes of one commit
 * travel in the run document (its outbox) when they take at most this much,
 * each counted at an upper bound of its BSON size (mongo-items.ts itemChangeBytes); larger ones
 * (a cancel or redrive of thousands of items) are staged in documents of their own.
 */
export const MONGODB_INLINE_ITEM_BYTES = 512 * 1024;
/** max_concurrency when unset, and the largest accepted. */
export const DEFAULT_MAX_CONCURRENCY = 10;
export const MAX_MAX_CONCURRENCY = 1_000;
/** The reason of a map step whose for_each does not name an array it may run over. */
export const INVALID_FOR_EACH = "invalid_for_each";
/** The reason of a map step whose item failures its item_failures policy does not tolerate. */
export const ITEMS_FAILED = "items_failed";

export type ForEachSource = { kind: "context" } | { kind: "step"; stepId: string };

export interface ForEachPointer {
  source: ForEachSource;
  /** Reference tokens after `/context` or `/<step>/result`, unescaped. */
  path: string[];
}

/** Parses `/context/...` or `/<stepId>/result/...`; a string describing the problem when it is not one. */
export function parseForEach(pointer: string): ForEachPointer | string {
  if (!pointer.startsWith("/")) return "must be a JSON pointer starting with / (e.g. /context/items or /prepare/result/items)";
  const tokens: string[] = [];
  for (const raw of pointer.slice(1).split("/")) {
    if (/~(?![01])/.test(raw)) return "invalid JSON pointer: ~ must be followed by 0 or 1";
    tokens.push(raw.replaceAll("~1", "/").replaceAll("~0", "~"));
  }
  if (tokens[0] === "context") return { source: { kind: "context" }, path: tokens.slice(1) };
  if (tokens.length < 2 || tokens[1] !== "result") {
    return "must start with /context or /<step id>/result (a step in depends_on)";
  }
  return { source: { kind: "step", stepId: tokens[0] }, path: tokens.slice(2) };
}

/** The value at `path` in `root`, or undefined. Array indexes are decimal without leading zeros. */
export function resolvePath(root: JsonValue | undefined, path: string[]): JsonValue | undefined {
  let v: JsonValue | undefined = root;
  for (const t of path) {
    if (Array.isArray(v)) {
      if (!/^(0|[1-9][0-9]*)$/.test(t)) return undefined;
      v = v[Number(t)];
    } else if (v !== null && typeof v === "object") {
      v = Object.hasOwn(v, t) ? v[t] : undefined;
    } else {
      return undefined;
    }
  }
  return v;
}

/** The items to run over, or why there are none to run over. */
export function forEachItems(value: JsonValue | undefined, pointer: string): { items: JsonValue[] } | { message: string } {
  const shown = pointer.length > 100 ? `${pointer.slice(0, 100)}…` : pointer;
  if (value === undefined) return { message: `for_each ${shown}: nothing there` };
  if (!Array.isArray(value)) return { message: `for_each ${shown}: not an array (${value === null ? "null" : typeof value})` };
  if (value.length > MAX_MAP_ITEMS) {
    return { message: `for_each ${shown}: ${value.length} items, more than the maximum of ${MAX_MAP_ITEMS}` };
  }
  return { items: value };
}

/** The map step's result as dependents see it: item results in item order, `{state, error}` for the others. */
export function mapResult(items: readonly ItemRecord[]): JsonValue[] {
  return items.map((it) =>
    it.state === "completed" ? (it.result ?? null) : ({ state: it.state, error: (it.error ?? null) as unknown as JsonValue } as JsonValue),
  );
}

/** JSON.stringify(mapResult(items)), with each completed item's result text made once (jsonText). */
export function mapResultText(items: readonly ItemRecord[]): string {
  const parts = new Array<string>(items.length);
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    parts[i] = it.state === "completed" ? jsonText(it.result) : JSON.stringify({ state: it.state, error: it.error ?? null });
  }
  return `[${parts.join(",")}]`;
}

export interface ItemCounts {
  total: number;
  pending: number;
  running: number;
  retryWait: number;
  completed: number;
  failed: number;
  cancelled: number;
}

export function countItems(items: readonly ItemRecord[]): ItemCounts {
  const c: ItemCounts = { total: items.length, pending: 0, running: 0, retryWait: 0, completed: 0, failed: 0, cancelled: 0 };
  for (const it of items) {
    if (it.state === "retry_wait") c.retryWait++;
    else c[it.state]++;
  }
  return c;
}
