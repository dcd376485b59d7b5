// Connect's JSON serialization decodes request bodies with a TextDecoder it
// takes from the handler's jsonOptions. This one, given per RPC, is strict:
// invalid UTF-8 is refused (instead of becoming U+FFFD), and a body that
// protobuf-es would refuse is refused here first with INVALID_ARGUMENT and a
// BadRequest naming the field (protobuf-es's own error names neither the
// field nor its path).
import { type DescMessage, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
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
