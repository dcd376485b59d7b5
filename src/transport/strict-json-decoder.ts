// Connect's JSON serialization decodes request bodies with a TextDecoder it
// takes from the handler's jsonOptions. This one, given per RPC, is strict:
// invalid UTF-8 is refused (instead of becoming U+FFFD), and a body that
// protobuf-es would refuse is refused here first with INVALID_ARGUMENT and a
// BadRequest naming the field (protobuf-es's own error names neither the
// field nor its path).
// A body that passes is parsed again by connect-es from the returned text: the
// decoder can only hand back a string, and the JSON serialization cannot be
// replaced per router. bench/create-json-micro.ts measures what that costs.
import { type DescMessage, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { MAX_JSON_DEPTH, nestedTooDeep, tooDeepMessage } from "../domain/json-depth.ts";
import type { FieldViolation } from "../domain/workflow-spec.ts";
import { locateJsonError } from "./json-field-path.ts";
import { invalidArgument } from "./workflow-service.ts";

/** At most this much of a parser's message (it may quote the input). */
function clip(message: string): string {
  return message.length > 100 ? message.slice(0, 100) + "…" : message;
}

export interface JsonTextDecoder {
  decode(data: Uint8Array): string;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * jsonOptions for a Connect handler: unknown fields refused, and with a
 * message descriptor, a decoder that checks the body and names the failing field.
 * (connect-es's JSON serialization reads `textDecoder` from jsonOptions, though the
 * handler options' type does not list it.)
 */
export function strictJsonOptions(desc?: DescMessage): { ignoreUnknownFields: false } {
  const options = { ignoreUnknownFields: false as const, textDecoder: desc ? strictJsonDecoder(desc) : utf8OnlyDecoder };
  return options;
}

const utf8OnlyDecoder: JsonTextDecoder = {
  decode(data: Uint8Array): string {
    try {
      return utf8.decode(data);
    } catch {
      throw new ConnectError("request body is not valid UTF-8", Code.InvalidArgument);
    }
  },
};

export function strictJsonDecoder(desc: DescMessage): JsonTextDecoder {
  return {
    decode(data: Uint8Array): string {
      const text = utf8OnlyDecoder.decode(data);
      let json: JsonValue;
      try {
        json = JSON.parse(text) as JsonValue;
      } catch (err) {
        throw new ConnectError(`request body is not valid JSON: ${clip((err as Error).message)}`, Code.InvalidArgument);
      }
      const deep = tooDeepField(desc, json);
      if (deep) throw invalidArgument([deep]);
      try {
        fromJson(desc, json, { ignoreUnknownFields: false });
      } catch (err) {
        const violation = locateJsonError(desc, json);
        if (violation) throw invalidArgument([violation]);
        throw new ConnectError(`invalid request: ${clip((err as Error).message)}`, Code.InvalidArgument);
      }
      return text;
    },
  };
}

/**
 * A JSON-valued field (google.protobuf.Struct or Value, e.g. `context`) nested
 * more than MAX_JSON_DEPTH levels: named with its own message, before
 * protobuf-es's recursion limit would refuse it with a vaguer one.
 */
function tooDeepField(desc: DescMessage, json: JsonValue): FieldViolation | undefined {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined;
  for (const f of desc.fields) {
    if (f.fieldKind !== "message") continue;
    const type = f.message.typeName;
    if (type !== "google.protobuf.Struct" && type !== "google.protobuf.Value") continue;
    const v = Object.hasOwn(json, f.jsonName) ? json[f.jsonName] : Object.hasOwn(json, f.name) ? json[f.name] : undefined;
    // A Struct field's value is the object itself: its own level counts as one.
    if (v !== undefined && nestedTooDeep(v, MAX_JSON_DEPTH)) return { field: f.name, description: tooDeepMessage(MAX_JSON_DEPTH) };
  }
  return undefined;
}
