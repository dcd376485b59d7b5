// Concurrency keys (README "Concurrency keys"): `concurrency: {key, limit}` on a
// workflow or a step. The key is a JSON pointer into the run's context
// (`/context/userId`), resolved once when the run is created (the context never
// changes); the value there must be a string, a number or a boolean. Pure.
import { parseForEach, resolvePath } from "./map-step.ts";
import type { JsonObject } from "./workflow-spec.ts";
import { FIELD_LIMITS } from "./field-limits.ts";

/** limit: 1..MAX_CONCURRENCY_LIMIT. */
export const MAX_CONCURRENCY_LIMIT = 1_000;
/** The key pointer, in characters. */
export const MAX_CONCURRENCY_KEY_LENGTH = FIELD_LIMITS.maxConcurrencyKeyLength;
/** The value the key resolves to, in characters (as text). */
export const MAX_CONCURRENCY_VALUE_LENGTH = FIELD_LIMITS.maxConcurrencyValueLength;
/** Run priority: MIN_PRIORITY..MAX_PRIORITY, default 0; higher goes first. */
export const MIN_PRIORITY = -1000;
export const MAX_PRIORITY = 1000;
/** What a queued run or step waits for (Workflow.waiting_for, StepStatus.waiting_for). */
export const WAITING_FOR_CONCURRENCY_KEY = "concurrency_key";

export interface ConcurrencyInput {
  key: string;
  limit: number;
}

/** A validated concurrency setting, with its key resolved and scoped. */
export interface Concurrency {
  /** The pointer as submitted. */
  key: string;
  limit: number;
  /** The value the pointer found in the context, as text (what GetWorkflow shows). */
  value: string;
  /** The slot name: workflow id (+ step id) + value, so that workflows and steps never share a key by accident. */
  scope: string;
}

function shorten(s: string, max = 80): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/**
 * Checks a concurrency setting and resolves its key against the context.
 * Returns problems as [field suffix, description] (suffix "" for the message
 * itself, ".key", ".limit"), or the resolved setting.
 */
export function compileConcurrency(
  input: ConcurrencyInput,
  context: JsonObject,
  workflowId: string,
  stepId?: string,
): Concurrency | [string, string][] {
  const problems: [string, string][] = [];
  let value: string | undefined;
  if (input.key === "") {
    problems.push([".key", "is required (a JSON pointer into the context, e.g. /context/userId)"]);
  } else if (input.key.length > MAX_CONCURRENCY_KEY_LENGTH) {
    problems.push([".key", `must be at most ${MAX_CONCURRENCY_KEY_LENGTH} characters (got ${input.key.length})`]);
  } else {
    const parsed = parseForEach(input.key);
    if (typeof parsed === "string" || parsed.source.kind !== "context") {
      problems.push([".key", "must be a JSON pointer into the context starting with /context (e.g. /context/userId)"]);
    } else {
      const v = resolvePath(context, parsed.path);
      if (v === undefined || v === null) {
        problems.push([".key", `the context has no value at ${shorten(input.key)}`]);
      } else if (typeof v === "object") {
        problems.push([".key", `${shorten(input.key)} must name a string, number or boolean in the context (found ${Array.isArray(v) ? "an array" : "an object"})`]);
      } else {
        value = typeof v === "string" ? v : JSON.stringify(v);
        if (value.length > MAX_CONCURRENCY_VALUE_LENGTH) {
          problems.push([".key", `the value at ${shorten(input.key)} must be at most ${MAX_CONCURRENCY_VALUE_LENGTH} characters (got ${value.length})`]);
        }
      }
    }
  }
  if (!Number.isInteger(input.limit) || input.limit < 1 || input.limit > MAX_CONCURRENCY_LIMIT) {
    problems.push([".limit", `must be between 1 and ${MAX_CONCURRENCY_LIMIT} (got ${input.limit})`]);
  }
  if (problems.length > 0 || value === undefined) return problems;
  return { key: input.key, limit: input.limit, value, scope: concurrencyScope(workflowId, value, stepId) };
}

/** The slot name of a key: workflow-level and step-level keys never collide, nor do keys of different workflows. */
export function concurrencyScope(workflowId: string, value: string, stepId?: string): string {
  return JSON.stringify(stepId === undefined ? ["run", workflowId, value] : ["step", workflowId, stepId, value]);
}

/** A priority problem, or undefined. */
export function checkPriority(priority: number): string | undefined {
  if (!Number.isInteger(priority) || priority < MIN_PRIORITY || priority > MAX_PRIORITY) {
    return `must be an integer between ${MIN_PRIORITY} and ${MAX_PRIORITY} (got ${priority})`;
  }
  return undefined;
}
