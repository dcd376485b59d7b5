// How deeply a JSON value nests, measured without recursion (a value nested
// 100,000 levels cannot overflow the stack), and the one nesting limit that
// `context` and step results share. Pure: no I/O.
//
// Why 30: every client must decode a run in every protocol. As protobuf, one
// JSON object level is three message levels (Value -> Struct -> map entry ->
// Value), one array level two (Value -> ListValue -> Value). The deepest place
// a value sits is a step result in a response (WatchWorkflowResponse or
// ListWorkflowsResponse -> Workflow -> StepStatus -> Value): 3 + 1 + 3 x depth
// message levels. grpc's and Python's (upb) limit of 100 then allows 32;
// protobuf-es (which does not count map entries) allows 48. 30 keeps two
// levels of room. README "Limits" states it.

/** Deepest nesting accepted in `context` and in a step result: `{"a":{"b":1}}` is 2 levels. */
export const MAX_JSON_DEPTH = 30;

/**
 * The nesting depth of a JSON value: 0 for a scalar, 1 for an object or array
 * of scalars (or an empty one), and so on. Stops counting once it passes
 * `limit`, returning limit + 1, so the work is bounded by the limit too.
 */
export function jsonDepth(value: unknown, limit: number = Number.MAX_SAFE_INTEGER): number {
  if (!isContainer(value)) return 0;
  let deepest = 1;
  const stack: { v: object; depth: number }[] = [{ v: value, depth: 1 }];
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!;
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return limit + 1;
    const children: unknown[] = Array.isArray(v) ? v : Object.values(v);
    for (const c of children) if (isContainer(c)) stack.push({ v: c, depth: depth + 1 });
  }
  return deepest;
}

/** True when `value` nests more than `limit` levels. */
export function nestedTooDeep(value: unknown, limit: number = MAX_JSON_DEPTH): boolean {
  return jsonDepth(value, limit) > limit;
}

/** The violation text for a value over the limit. */
export function tooDeepMessage(limit: number = MAX_JSON_DEPTH): string {
  return `nested more than ${limit} levels`;
}

function isContainer(v: unknown): v is object {
  return typeof v === "object" && v !== null;
}
