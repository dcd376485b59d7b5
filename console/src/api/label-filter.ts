// The runs list's label filter: "key=value" pairs, as typed and as kept in the address
// (?label=team%3Dpayments&label=…), to the map ListWorkflows and WatchWorkflows take. Pure.

/** The server's bound on a filter's pairs. */
export const MAX_LABEL_FILTERS = 32;
const MAX_KEY = 63;
const MAX_VALUE = 256;

export type LabelParse = { ok: true; label: string } | { ok: false; error: string };

/** One "key=value" (split at the first "="; the value may be empty, the key may not). */
export function parseLabel(text: string): LabelParse {
  const t = text.trim();
  const eq = t.indexOf("=");
  if (eq < 0) return { ok: false, error: "write a label as key=value" };
  const key = t.slice(0, eq).trim();
  const value = t.slice(eq + 1).trim();
  if (!key) return { ok: false, error: "the label's key is empty" };
  if (key.length > MAX_KEY) return { ok: false, error: `a label key has at most ${MAX_KEY} characters` };
  if (value.length > MAX_VALUE) return { ok: false, error: `a label value has at most ${MAX_VALUE} characters` };
  return { ok: true, label: `${key}=${value}` };
}

/** The well-formed labels of the address's label parameters, one per key (the last wins), at most 32. */
export function labelsFromParams(values: string[]): string[] {
  const byKey = new Map<string, string>();
  for (const v of values) {
    const p = parseLabel(v);
    if (p.ok) {
      const key = p.label.slice(0, p.label.indexOf("="));
      byKey.delete(key);
      byKey.set(key, p.label);
    }
  }
  return [...byKey.values()].slice(-MAX_LABEL_FILTERS);
}

/** Adds a label to the filter, replacing one with the same key (a run has one value per key). */
export function withLabel(labels: string[], label: string): string[] {
  return labelsFromParams([...labels, label]);
}

/** The filter as the request's labels map. */
export function labelMap(labels: string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const l of labels) {
    const eq = l.indexOf("=");
    map[l.slice(0, eq)] = l.slice(eq + 1);
  }
  return map;
}
