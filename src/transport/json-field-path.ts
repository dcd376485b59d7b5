// protobuf-es's fromJson says what failed ("cannot decode message
// google.protobuf.Duration from JSON: 300") but not where. locateJsonError walks
// the parsed JSON against the message descriptor and names the deepest field
// that fails on its own, as a path in the proto field names the rest of the
// API's violations use (`steps[1].retries.backoff`).
import { type DescField, type DescMessage, fromJson, type JsonValue, ScalarType } from "@bufbuild/protobuf";
import type { FieldViolation } from "../domain/workflow-spec.ts";

const READ = { ignoreUnknownFields: false } as const;

function fails(desc: DescMessage, json: JsonValue): boolean {
  try {
    fromJson(desc, json, READ);
    return false;
  } catch {
    return true;
  }
}

/** Messages with their own JSON form (Duration "300s", Struct, Value, …) are checked whole, not walked. */
function hasOwnJsonForm(desc: DescMessage): boolean {
  return desc.typeName.startsWith("google.protobuf.");
}

function isObject(v: JsonValue): v is { [k: string]: JsonValue } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const SCALAR_NAMES: Record<number, string> = {
  [ScalarType.STRING]: "a string",
  [ScalarType.BOOL]: "true or false",
  [ScalarType.BYTES]: "base64 bytes",
  [ScalarType.DOUBLE]: "a number",
  [ScalarType.FLOAT]: "a number",
};

const WKT_NAMES: Record<string, string> = {
  "google.protobuf.Duration": 'a duration such as "300s" or "0.5s"',
  "google.protobuf.Timestamp": 'an RFC 3339 timestamp such as "2026-01-02T15:04:05Z"',
  "google.protobuf.Struct": "a JSON object",
  "google.protobuf.ListValue": "a JSON array",
};

function expected(field: DescField): string {
  switch (field.fieldKind) {
    case "enum":
      return `one of ${field.enum.values.map((v) => v.name).join(", ")}`;
    case "message":
      return WKT_NAMES[field.message.typeName] ?? "a JSON object";
    case "scalar":
      return SCALAR_NAMES[field.scalar] ?? "an integer";
    case "list":
      return "a JSON array";
    case "map":
      return "a JSON object";
  }
}

/** What a single element of a list or map value must be. */
function expectedElement(field: DescField): string {
  if (field.fieldKind === "list" || field.fieldKind === "map") {
    if (field.message) return WKT_NAMES[field.message.typeName] ?? "a JSON object";
    if (field.enum) return `one of ${field.enum.values.map((v) => v.name).join(", ")}`;
    return SCALAR_NAMES[field.scalar] ?? "an integer";
  }
  return expected(field);
}

function findField(desc: DescMessage, key: string): DescField | undefined {
  return desc.fields.find((f) => f.jsonName === key || f.name === key);
}

function shortKey(key: string): string {
  return key.length > 40 ? JSON.stringify(key.slice(0, 40) + "…") : JSON.stringify(key);
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

/**
 * The field that makes fromJson(desc, json) fail, or undefined if none can be
 * singled out (or json is accepted). Only called after a failure, so its cost
 * does not matter for valid requests.
 */
export function locateJsonError(desc: DescMessage, json: JsonValue, path = ""): FieldViolation | undefined {
  if (hasOwnJsonForm(desc) || !isObject(json)) {
    if (!fails(desc, json)) return undefined;
    return { field: path || "(request)", description: `must be ${WKT_NAMES[desc.typeName] ?? "a JSON object"}` };
  }
  for (const [key, value] of Object.entries(json)) {
    const field = findField(desc, key);
    if (!field) {
      return { field: join(path, key.length > 40 ? key.slice(0, 40) + "…" : key), description: `unknown field ${shortKey(key)}` };
    }
    const here = join(path, field.name);
    if (!fails(desc, { [key]: value })) continue;
    if (field.fieldKind === "message" && value !== null) {
      const inner = locateJsonError(field.message, value, here);
      if (inner) return inner;
    }
    if (field.fieldKind === "list" && Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item = value[i];
        if (field.message && !hasOwnJsonForm(field.message) && isObject(item)) {
          const inner = locateJsonError(field.message, item, `${here}[${i}]`);
          if (inner) return inner;
        } else if (fails(desc, { [key]: [item] })) {
          return { field: `${here}[${i}]`, description: `must be ${expectedElement(field)}` };
        }
      }
    }
    if (field.fieldKind === "map" && isObject(value)) {
      for (const [k, item] of Object.entries(value)) {
        const at = `${here}[${shortKey(k)}]`;
        if (field.message && !hasOwnJsonForm(field.message) && isObject(item)) {
          const inner = locateJsonError(field.message, item, at);
          if (inner) return inner;
        } else if (fails(desc, { [key]: { [k]: item } })) {
          return { field: at, description: `must be ${expectedElement(field)}` };
        }
      }
    }
    return { field: here, description: `must be ${expected(field)}` };
  }
  return undefined;
}
