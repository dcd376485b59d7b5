// Refuses a request carrying an enum number the API does not define, for every
// RPC, with INVALID_ARGUMENT naming the field (see transport/unknown-enums.ts).
import type { DescMessage, Message } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import { unknownEnumViolations } from "../transport/unknown-enums.ts";
import { invalidArgument } from "../transport/workflow-service.ts";

function check<T extends Message>(desc: DescMessage, message: T): T {
  const violations = unknownEnumViolations(desc, message);
  if (violations.length > 0) throw invalidArgument(violations);
  return message;
}

async function* checkEach<T extends Message>(desc: DescMessage, messages: AsyncIterable<T>): AsyncIterable<T> {
  for await (const m of messages) yield check(desc, m);
}

export const unknownEnumInterceptor: Interceptor = (next) => async (req) => {
  const desc = req.method.input;
  if (req.stream) return next({ ...req, message: checkEach(desc, req.message) });
  return next({ ...req, message: check(desc, req.message) });
};
