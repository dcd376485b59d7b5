// A workflow file (YAML or JSON, in the product document's shape) read into a CreateWorkflow
// request. Pure: text in, request or problems out. JSON is read by the YAML parser too (JSON is
// YAML), so both get line numbers. Keys are camelCase as in the product document; the proto's
// snake_case names are accepted as well. Durations are seconds (numbers).
import { type Document, isMap, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { isPreviousStepsMode, type PreviousStepsMode } from "../domain/previous-steps.ts";

export interface FileProblem {
  /** Path of the field, in the file's own key names, e.g. "steps[2].retries.backoff"; "" for the file. */
  path: string;
  /** 1-based line, when known. */
  line?: number;
  column?: number;
  message: string;
}

export type Backoff = "exponential" | "linear" | "fixed";

/** The request, in the shape of the generated CreateWorkflowRequest's init (Duration as seconds). */
export interface WorkflowRequest {
  id: string;
  steps: StepRequest[];
  context?: Record<string, unknown>;
  onComplete?: string;
  onError?: string;
  timeout?: number;
  saga?: boolean;
  baseUrl?: string;
  requestId?: string;
  /** `concurrency: { key: /context/userId, limit: 1 }`: at most limit runs with the same key at once. */
  concurrency?: ConcurrencyRequest;
  priority?: number;
  /** `previous_steps: dependencies`: what previousSteps carries in each step call (all, dependencies, ancestors, none). */
  previousSteps?: PreviousStepsMode;
}

/** A concurrency key: a JSON pointer into the context, and how many may hold it at once. */
export interface ConcurrencyRequest {
  key?: string;
  limit?: number;
}

export interface StepRequest {
  id: string;
  url: string;
  dependsOn?: string[];
  parallel?: boolean;
  retries?: {
    maxAttempts?: number;
    backoff?: Backoff;
    initialInterval?: number;
    maxInterval?: number;
    jitter?: number;
  };
  timeout?: number;
  compensation?: string;
  join?: JoinRequest;
  /** Map steps: the JSON pointer to the array (`for_each: /prepare/result/items`). */
  forEach?: string;
  maxConcurrency?: number;
  /** Map steps: the join policy applied to the items. */
  itemFailures?: JoinRequest;
  /** At most limit steps with this id and key at once, across runs. */
  concurrency?: ConcurrencyRequest;
  /** What previousSteps carries in this step's calls; absent: the workflow's. */
  previousSteps?: PreviousStepsMode;
}

/** `join: all_settled` (or all, any), `join: { at_least: 2 }`, `join: { tolerated_failure_percent: 10 }`. */
export type JoinRequest = "all" | "all_settled" | "any" | { atLeast: number } | { toleratedFailurePercent: number };

export type ParseResult = { ok: true; request: WorkflowRequest } | { ok: false; problems: FileProblem[] };

type Kind = "string" | "boolean" | "seconds" | "integer" | "number" | "strings" | "object";

const WORKFLOW_FIELDS: Record<string, Kind | "steps" | "concurrency" | "previousSteps"> = {
  id: "string",
  steps: "steps",
  context: "object",
  onComplete: "string",
  onError: "string",
  timeout: "seconds",
  saga: "boolean",
  baseUrl: "string",
  requestId: "string",
  concurrency: "concurrency",
  priority: "integer",
  previousSteps: "previousSteps",
};
const CONCURRENCY_FIELDS: Record<string, Kind> = { key: "string", limit: "integer" };
const STEP_FIELDS: Record<string, Kind | "retries" | "join" | "concurrency" | "previousSteps"> = {
  id: "string",
  url: "string",
  dependsOn: "strings",
  parallel: "boolean",
  retries: "retries",
  timeout: "seconds",
  compensation: "string",
  join: "join",
  forEach: "string",
  maxConcurrency: "integer",
  itemFailures: "join",
  concurrency: "concurrency",
  previousSteps: "previousSteps",
};
/** The join policies written as a name; at_least and tolerated_failure_percent take a number, as a mapping. */
const JOIN_NAMES = ["all", "all_settled", "any"] as const;
const JOIN_FIELDS: Record<string, Kind> = { atLeast: "integer", toleratedFailurePercent: "number" };
const RETRY_FIELDS: Record<string, Kind | "backoff"> = {
  maxAttempts: "integer",
  backoff: "backoff",
  initialInterval: "seconds",
  maxInterval: "seconds",
  jitter: "number",
};
const BACKOFFS: readonly Backoff[] = ["exponential", "linear", "fixed"];

/** "depends_on" -> "dependsOn"; camelCase names are returned as they are. */
export function camelKey(key: string): string {
  return key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** At most `n` characters of client text in a message. */
function clip(s: string, n = 60): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return "a string";
  return `${typeof v}`;
}

/** Reads a workflow file's text. `name` decides nothing (YAML and JSON are read alike); it is for messages. */
export function parseWorkflowFile(text: string): ParseResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: false });
  const problems: FileProblem[] = [];
  for (const err of doc.errors) {
    const pos = err.linePos?.[0] ?? lineCounter.linePos(err.pos[0]);
    problems.push({ path: "", line: pos?.line, column: pos?.col, message: err.message.split("\n")[0] });
  }
  if (problems.length) return { ok: false, problems };
  const lineAt = (path: (string | number)[]): number | undefined => lineOf(doc, lineCounter, path);
  let root: unknown;
  try {
    // No aliases (*ref): a workflow has no use for them, and they can multiply a small file.
    root = doc.toJS({ maxAliasCount: 0 });
  } catch (err) {
    return { ok: false, problems: [{ path: "", message: clip((err as Error).message, 100) }] };
  }
  const checker = new Checker(lineAt, problems);
  const request = checker.workflow(root);
  if (problems.length || !request) {
    // In the file's order.
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    return { ok: false, problems: problems.length ? problems : [{ path: "", message: "not a workflow" }] };
  }
  return { ok: true, request };
}

/** The line of the node at `path` (keys as written in the file), if the document has it. */
function lineOf(doc: Document, lineCounter: LineCounter, path: (string | number)[]): number | undefined {
  let node: unknown = doc.contents;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
      if (!pair) return undefined;
      // The key's line: a missing or null value has no range of its own.
      const target = (pair.value ?? pair.key) as Node | null;
      node = target;
      if (key === path[path.length - 1] && pair.key && (pair.key as Node).range) {
        return lineCounter.linePos((pair.key as Node).range![0]).line;
      }
    } else if (isSeq(node) && typeof key === "number") {
      node = node.items[key];
    } else return undefined;
  }
  const range = (node as Node | null)?.range;
  return range ? lineCounter.linePos(range[0]).line : undefined;
}

class Checker {
  private readonly lineAt: (path: (string | number)[]) => number | undefined;
  private readonly problems: FileProblem[];
  constructor(lineAt: (path: (string | number)[]) => number | undefined, problems: FileProblem[]) {
    this.lineAt = lineAt;
    this.problems = problems;
  }

  private fail(path: (string | number)[], message: string): void {
    this.problems.push({ path: formatPath(path), line: this.lineAt(path), message });
  }

  /** The mapping at `path` with its keys camelCased; unknown and repeated (camel and snake) keys are reported. */
  private fields<K extends string>(value: unknown, path: (string | number)[], known: Record<K, unknown>, what: string): Map<K, [unknown, string]> | undefined {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      this.fail(path, `must be a mapping (${what}), not ${typeName(value)}`);
      return undefined;
    }
    const out = new Map<K, [unknown, string]>();
    for (const [raw, v] of Object.entries(value as Record<string, unknown>)) {
      const key = camelKey(raw);
      if (!Object.hasOwn(known, key)) {
        this.fail([...path, raw], `unknown field "${clip(raw, 40)}" of ${what} (known: ${Object.keys(known).join(", ")})`);
        continue;
      }
      if (out.has(key as K)) {
        this.fail([...path, raw], `"${clip(raw, 40)}" repeats "${out.get(key as K)![1]}"`);
        continue;
      }
      out.set(key as K, [v, raw]);
    }
    return out;
  }

  private scalar(kind: Kind, v: unknown, path: (string | number)[]): unknown {
    switch (kind) {
      case "string":
        if (typeof v === "string") return v;
        this.fail(path, `must be a string, not ${typeName(v)}`);
        return undefined;
      case "boolean":
        if (typeof v === "boolean") return v;
        this.fail(path, `must be true or false, not ${typeName(v)}`);
        return undefined;
      case "seconds":
        if (typeof v === "number" && Number.isFinite(v) && v >= 0) return v;
        this.fail(path, `must be a number of seconds (e.g. 300 or 0.5), not ${typeof v === "number" ? String(v) : typeName(v)}`);
        return undefined;
      case "integer":
        if (typeof v === "number" && Number.isInteger(v) && Math.abs(v) <= 2 ** 31 - 1) return v;
        this.fail(path, `must be a whole number, not ${typeof v === "number" ? String(v) : typeName(v)}`);
        return undefined;
      case "number":
        if (typeof v === "number" && Number.isFinite(v)) return v;
        this.fail(path, `must be a number, not ${typeName(v)}`);
        return undefined;
      case "strings":
        if (!Array.isArray(v)) {
          this.fail(path, `must be a list of step ids, not ${typeName(v)}`);
          return undefined;
        }
        v.forEach((s, i) => typeof s !== "string" && this.fail([...path, i], `must be a string, not ${typeName(s)}`));
        return v;
      case "object":
        if (v !== null && typeof v === "object" && !Array.isArray(v)) return v;
        this.fail(path, `must be a mapping, not ${typeName(v)}`);
        return undefined;
    }
  }

  workflow(value: unknown): WorkflowRequest | undefined {
    const fields = this.fields(value, [], WORKFLOW_FIELDS, "a workflow");
    if (!fields) return undefined;
    const out: Record<string, unknown> = {};
    for (const name of ["id", "steps"] as const) if (!fields.has(name)) this.fail([], `missing field "${name}"`);
    for (const [key, [v, raw]] of fields) {
      const kind = WORKFLOW_FIELDS[key];
      if (kind === "steps") {
        if (!Array.isArray(v)) this.fail([raw], `must be a list of steps, not ${typeName(v)}`);
        else out.steps = v.map((s, i) => this.step(s, [raw, i]));
      } else if (kind === "concurrency") out[key] = this.concurrency(v, [raw]);
      else if (kind === "previousSteps") out[key] = this.previousSteps(v, [raw]);
      else out[key] = this.scalar(kind, v, [raw]);
    }
    return out as unknown as WorkflowRequest;
  }

  private step(value: unknown, path: (string | number)[]): StepRequest | undefined {
    const fields = this.fields(value, path, STEP_FIELDS, "a step");
    if (!fields) return undefined;
    const out: Record<string, unknown> = {};
    for (const name of ["id", "url"] as const) if (!fields.has(name)) this.fail(path, `missing field "${name}"`);
    for (const [key, [v, raw]] of fields) {
      const kind = STEP_FIELDS[key];
      out[key] =
        kind === "retries"
          ? this.retries(v, [...path, raw])
          : kind === "join"
            ? this.join(v, [...path, raw])
            : kind === "concurrency"
              ? this.concurrency(v, [...path, raw])
              : kind === "previousSteps"
                ? this.previousSteps(v, [...path, raw])
                : this.scalar(kind, v, [...path, raw]);
    }
    return out as unknown as StepRequest;
  }

  /** `previous_steps: dependencies` (all, dependencies, ancestors, none). */
  private previousSteps(v: unknown, path: (string | number)[]): PreviousStepsMode | undefined {
    if (typeof v === "string" && isPreviousStepsMode(v)) return v;
    this.fail(path, `must be all, dependencies, ancestors or none, not ${typeof v === "string" ? JSON.stringify(clip(v, 40)) : typeName(v)}`);
    return undefined;
  }

  /** `{ key: /context/userId, limit: 1 }` (the server checks the pointer and the range). */
  private concurrency(value: unknown, path: (string | number)[]): ConcurrencyRequest | undefined {
    const fields = this.fields(value, path, CONCURRENCY_FIELDS, "a concurrency key");
    if (!fields) return undefined;
    const out: Record<string, unknown> = {};
    for (const name of ["key", "limit"] as const) if (!fields.has(name)) this.fail(path, `missing field "${name}"`);
    for (const [key, [v, raw]] of fields) out[key] = this.scalar(CONCURRENCY_FIELDS[key], v, [...path, raw]);
    return out as ConcurrencyRequest;
  }

  private join(value: unknown, path: (string | number)[]): JoinRequest | undefined {
    const expected = `${JOIN_NAMES.join(", ")}, { at_least: <k> } or { tolerated_failure_percent: <p> }`;
    if (typeof value === "string") {
      const name = camelKey(value) === "allSettled" ? "all_settled" : value;
      if ((JOIN_NAMES as readonly string[]).includes(name)) return name as JoinRequest;
      this.fail(path, `must be one of ${expected}, not ${JSON.stringify(clip(value, 40))}`);
      return undefined;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      this.fail(path, `must be one of ${expected}, not ${typeName(value)}`);
      return undefined;
    }
    const fields = this.fields(value, path, JOIN_FIELDS, "a join");
    if (!fields) return undefined;
    if (fields.size !== 1) {
      if (fields.size > 1 || Object.keys(value).length === 0) this.fail(path, `must name one policy: ${expected}`);
      return undefined;
    }
    const [[key, [v, raw]]] = fields;
    const n = this.scalar(JOIN_FIELDS[key], v, [...path, raw]) as number | undefined;
    if (n === undefined) return undefined;
    return key === "atLeast" ? { atLeast: n } : { toleratedFailurePercent: n };
  }

  private retries(value: unknown, path: (string | number)[]): StepRequest["retries"] {
    const fields = this.fields(value, path, RETRY_FIELDS, "retries");
    if (!fields) return undefined;
    const out: Record<string, unknown> = {};
    for (const [key, [v, raw]] of fields) {
      const kind = RETRY_FIELDS[key];
      if (kind === "backoff") {
        if (typeof v === "string" && (BACKOFFS as readonly string[]).includes(v)) out.backoff = v;
        else this.fail([...path, raw], `must be one of ${BACKOFFS.join(", ")}, not ${typeof v === "string" ? JSON.stringify(clip(v, 40)) : typeName(v)}`);
      } else out[key] = this.scalar(kind, v, [...path, raw]);
    }
    return out as StepRequest["retries"];
  }
}

/** ["steps", 2, "url"] -> "steps[2].url". */
export function formatPath(path: readonly (string | number)[]): string {
  let s = "";
  for (const p of path) s += typeof p === "number" ? `[${p}]` : s === "" ? p : `.${p}`;
  return s;
}

/** A context file (`--context-file`): a YAML or JSON mapping. */
export function parseContextFile(text: string): { ok: true; context: Record<string, unknown> } | { ok: false; problems: FileProblem[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, merge: false });
  if (doc.errors.length) {
    return {
      ok: false,
      problems: doc.errors.map((err) => {
        const pos = err.linePos?.[0] ?? lineCounter.linePos(err.pos[0]);
        return { path: "", line: pos.line, column: pos.col, message: err.message.split("\n")[0] };
      }),
    };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 0 });
  } catch (err) {
    return { ok: false, problems: [{ path: "", message: clip((err as Error).message, 100) }] };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { ok: false, problems: [{ path: "", line: 1, message: `must be a mapping (the context), not ${typeName(value)}` }] };
  }
  return { ok: true, context: value as Record<string, unknown> };
}

/** "file.yaml:12: steps[2].url: must be a string" (the file's name first, the line if known). */
export function formatProblem(file: string, p: FileProblem): string {
  const where = p.line ? `${file}:${p.line}${p.column ? `:${p.column}` : ""}` : file;
  return `${where}: ${p.path ? `${p.path}: ` : ""}${p.message}`;
}

/**
 * The line in a workflow file of a field the server named (proto field names, e.g.
 * "steps[2].depends_on[0]"), matching the file's keys in either spelling; undefined if not found.
 */
export function lineForField(text: string, field: string): number | undefined {
  const path: (string | number)[] = [];
  for (const m of field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) path.push(m[2] !== undefined ? Number(m[2]) : m[1]);
  if (path.length === 0) return undefined;
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  if (doc.errors.length) return undefined;
  let node: unknown = doc.contents;
  let line: number | undefined;
  for (const key of path) {
    if (isMap(node) && typeof key === "string") {
      const pair = node.items.find((p) => {
        const k = (p.key as { value?: unknown } | null)?.value;
        return typeof k === "string" && camelKey(k) === camelKey(key);
      });
      if (!pair) break;
      const keyRange = (pair.key as Node | null)?.range;
      if (keyRange) line = lineCounter.linePos(keyRange[0]).line;
      node = pair.value;
    } else if (isSeq(node) && typeof key === "number" && node.items[key]) {
      node = node.items[key];
      const range = (node as Node).range;
      if (range) line = lineCounter.linePos(range[0]).line;
    } else break;
  }
  return line;
}
