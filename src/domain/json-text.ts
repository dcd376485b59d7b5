// A step result's JSON text, made once. A result is counted against the run's
// results budget, stored with its step record and its event, and listed in the
// previousSteps of later calls: four serializations of the same value, which
// for a 10 KB result cost more than the rest of the step. Results are never
// changed in place (a record that changes gets a new result, or none), so the
// text of one result object stays right for as long as the object lives.
import type { JsonValue } from "./workflow-spec.ts";

const texts = new WeakMap<object, string>();

/** JSON.stringify(value ?? null), kept with the object for the next time. */
export function jsonText(value: JsonValue | undefined): string {
  if (value === null || value === undefined || typeof value !== "object") return JSON.stringify(value ?? null);
  let text = texts.get(value);
  if (text === undefined) {
    text = JSON.stringify(value);
    texts.set(value, text);
  }
  return text;
}

/**
 * JSON.stringify(record), with `result` last and its text from jsonText (the
 * rest is serialized as usual). A record without a result, or with a
 * primitive one, is serialized as it is.
 */
export function stringifyWithResult<T extends { readonly result?: JsonValue }>(record: T): string {
  const result = record.result;
  if (result === null || result === undefined || typeof result !== "object") return JSON.stringify(record);
  const rest = JSON.stringify({ ...record, result: undefined });
  const text = jsonText(result);
  return rest === "{}" ? `{"result":${text}}` : `${rest.slice(0, -1)},"result":${text}}`;
}
