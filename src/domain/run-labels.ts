// Run labels (CreateWorkflow `labels`) and the filters that find runs by them
// (ListWorkflows, WatchWorkflows). Pure: no I/O.
//
// README "Labels and search" and "Limits" state these rules; change them together.
import { FIELD_LIMITS, quoteInput } from "./field-limits.ts";
import type { FieldViolation } from "./workflow-spec.ts";

export type Labels = Record<string, string>;

/** A label key: lower-case letters, digits, '_', '.', '-', '/'; starts with a letter or digit. */
const LABEL_KEY = /^[a-z0-9][a-z0-9_.\/-]*$/;

/** A label key as it may appear in a field path: quoted, and cut (keys over the limit are refused anyway). */
function keyField(field: string, key: string): string {
  return `${field}[${quoteInput(key, FIELD_LIMITS.maxLabelKeyLength)}]`;
}

/**
 * Checks a label map (of a create or of a filter); `field` is the proto field
 * ("labels"). Violations name the key: `labels["team"]`.
 */
export function checkLabels(labels: Labels, field: string, violations: FieldViolation[]): void {
  const keys = Object.keys(labels);
  if (keys.length > FIELD_LIMITS.maxLabels) {
    violations.push({ field, description: `at most ${FIELD_LIMITS.maxLabels} labels (got ${keys.length})` });
    return;
  }
  for (const key of keys) {
    const f = keyField(field, key);
    if (key.length === 0) violations.push({ field: f, description: "key must not be empty" });
    else if (key.length > FIELD_LIMITS.maxLabelKeyLength) {
      violations.push({ field: f, description: `key must be at most ${FIELD_LIMITS.maxLabelKeyLength} characters (got ${key.length})` });
    } else if (!LABEL_KEY.test(key)) {
      violations.push({ field: f, description: "key must be lower-case letters, digits, '_', '.', '-' or '/', starting with a letter or digit" });
    }
    const value = labels[key];
    if (value.length > FIELD_LIMITS.maxLabelValueLength) {
      violations.push({ field: f, description: `value must be at most ${FIELD_LIMITS.maxLabelValueLength} characters (got ${value.length})` });
    }
  }
}

/** The labels as sorted [key, value] pairs (stores index them this way). */
export function labelPairs(labels: Labels | undefined): [string, string][] {
  return Object.entries(labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** What ListWorkflows and WatchWorkflows filter runs by, besides states and workflow id. */
export interface RunFilter {
  /** Every pair must be among the run's labels. */
  labels?: [string, string][];
  /** Created at or after (ms since the epoch). */
  createdAfter?: number;
  /** Created before (ms since the epoch). */
  createdBefore?: number;
}

/** Whether a run with these labels and creation time passes the filter. */
export function matchesFilter(filter: RunFilter, labels: Labels | undefined, createdAt: number): boolean {
  if (filter.createdAfter !== undefined && createdAt < filter.createdAfter) return false;
  if (filter.createdBefore !== undefined && createdAt >= filter.createdBefore) return false;
  for (const [k, v] of filter.labels ?? []) {
    if (!labels || !Object.hasOwn(labels, k) || labels[k] !== v) return false;
  }
  return true;
}

/** Parses `key=value` (CLI `--label`); undefined when there is no '='. */
export function parseLabelArg(arg: string): [string, string] | undefined {
  const eq = arg.indexOf("=");
  if (eq < 0) return undefined;
  return [arg.slice(0, eq), arg.slice(eq + 1)];
}
