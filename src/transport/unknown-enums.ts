// proto3 enums are open: binary protobuf (and JSON, as a number) may carry any
// enum number, and protobuf-es keeps it. A request enum number the API does
// not define is refused, naming the field, instead of being read as a default
// (`"backoff": 7` must not become exponential).
import type { DescEnum, DescMessage, Message } from "@bufbuild/protobuf";
import { isMessage } from "@bufbuild/protobuf";
import type { FieldViolation } from "../domain/workflow-spec.ts";

function known(e: DescEnum, n: unknown): boolean {
  return typeof n === "number" && e.values.some((v) => v.number === n);
}

function violation(field: string, e: DescEnum, n: unknown): FieldViolation {
  return { field, description: `unknown ${e.typeName} value ${String(n)}` };
}

/** A oneof member's value, if it is the one set. */
function oneofValue(oneof: unknown, localName: string): unknown {
  const o = oneof as { case?: string; value?: unknown } | undefined;
  return o?.case === localName ? o.value : undefined;
}

/** Every enum field (also in lists, maps and nested messages) holding a number its enum does not define. */
export function unknownEnumViolations(desc: DescMessage, message: Message, path = "", out: FieldViolation[] = []): FieldViolation[] {
  const m = message as unknown as Record<string, unknown>;
  for (const field of desc.fields) {
    const name = path ? `${path}.${field.name}` : field.name;
    const value = field.oneof ? oneofValue(m[field.oneof.localName], field.localName) : m[field.localName];
    if (value === undefined || value === null) continue;
    switch (field.fieldKind) {
      case "enum":
        if (!known(field.enum, value)) out.push(violation(name, field.enum, value));
        break;
      case "message":
        if (isMessage(value, field.message)) unknownEnumViolations(field.message, value, name, out);
        break;
      case "list":
        (value as unknown[]).forEach((item, i) => {
          if (field.listKind === "enum" && !known(field.enum, item)) out.push(violation(`${name}[${i}]`, field.enum, item));
          if (field.listKind === "message" && isMessage(item, field.message)) unknownEnumViolations(field.message, item, `${name}[${i}]`, out);
        });
        break;
      case "map":
        for (const [k, item] of Object.entries(value as Record<string, unknown>)) {
          const at = `${name}[${JSON.stringify(k.length > 40 ? k.slice(0, 40) + "…" : k)}]`;
          if (field.mapKind === "enum" && !known(field.enum, item)) out.push(violation(at, field.enum, item));
          if (field.mapKind === "message" && isMessage(item, field.message)) unknownEnumViolations(field.message, item, at, out);
        }
        break;
    }
    if (out.length >= 20) break;
  }
  return out;
}
