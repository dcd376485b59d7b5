// Pure parts of request decoding: the JSON field locator, the unknown-enum
// check, the strict JSON decoder, and the INTERNAL policy interceptor.
import { create, type DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { BadRequestSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import {
  type Backoff,
  CreateWorkflowRequestSchema,
  ListWorkflowsRequestSchema,
  WorkflowService,
  type WorkflowState,
} from "../../gen/ts/weft/v1/workflow_pb.js";
import { internalErrorInterceptor } from "../../src/server/internal-errors.ts";
import { decodeFailureMessage } from "../../src/server/request-decode-errors.ts";
import { locateJsonError } from "../../src/transport/json-field-path.ts";
import { strictJsonDecoder } from "../../src/transport/strict-json-decoder.ts";
import { unknownEnumViolations } from "../../src/transport/unknown-enums.ts";

const C = CreateWorkflowRequestSchema;
const step = { id: "a", url: "http://127.0.0.1:1/a" };

describe("locateJsonError", () => {
  it("names the deepest failing field in proto names", () => {
    expect(locateJsonError(C, { steps: [step, { ...step, timeout: 300 }] })).toEqual({
      field: "steps[1].timeout",
      description: 'must be a duration such as "300s" or "0.5s"',
    });
    expect(locateJsonError(C, { steps: [{ ...step, retries: { initialInterval: "1 s" } }] })?.field).toBe("steps[0].retries.initial_interval");
    expect(locateJsonError(C, { steps: [{ ...step, dependsOn: ["x", 3] }] })?.field).toBe("steps[0].depends_on[1]");
    expect(locateJsonError(C, { baseUrl: 5 })).toEqual({ field: "base_url", description: "must be a string" });
    expect(locateJsonError(C, { context: [1] })).toEqual({ field: "context", description: "must be a JSON object" });
    expect(locateJsonError(C, { saga: "yes" })?.description).toBe("must be true or false");
  });

  it("names unknown fields and unknown enum names with the valid names", () => {
    expect(locateJsonError(C, { steps: [{ ...step, dependOn: ["b"] }] })).toEqual({ field: "steps[0].dependOn", description: 'unknown field "dependOn"' });
    const v = locateJsonError(C, { steps: [{ ...step, retries: { backoff: "linear" } }] });
    expect(v?.field).toBe("steps[0].retries.backoff");
    expect(v?.description).toContain("BACKOFF_LINEAR");
  });

  it("accepts what fromJson accepts, and says (request) for a body that is not an object", () => {
    expect(locateJsonError(C, { id: "w", steps: [step], timeout: "60s", context: { a: [1, { b: null }] } })).toBeUndefined();
    expect(locateJsonError(C, [1, 2])?.field).toBe("(request)");
  });

  it("clips a long unknown key", () => {
    const v = locateJsonError(C, { ["k".repeat(10_000)]: 1 })!;
    expect(v.field.length + v.description.length).toBeLessThan(120);
  });
});

describe("strictJsonDecoder", () => {
  const decoder = strictJsonDecoder(C);
  const reason = (data: Uint8Array) => {
    try {
      decoder.decode(data);
    } catch (e) {
      return e as ConnectError;
    }
    throw new Error("accepted");
  };

  it("passes a valid body through unchanged", () => {
    const text = JSON.stringify({ id: "w", steps: [step] });
    expect(decoder.decode(new TextEncoder().encode(text))).toBe(text);
  });

  it("refuses invalid UTF-8 (no U+FFFD), bad JSON and a wrong type, with INVALID_ARGUMENT", () => {
    const utf8 = reason(new Uint8Array([0x7b, 0x22, 0x69, 0x64, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]));
    expect(utf8.code).toBe(Code.InvalidArgument);
    expect(utf8.rawMessage).toBe("request body is not valid UTF-8");
    expect(reason(new TextEncoder().encode("{")).code).toBe(Code.InvalidArgument);
    const typed = reason(new TextEncoder().encode(JSON.stringify({ steps: [{ ...step, timeout: 300 }] })));
    expect(typed.code).toBe(Code.InvalidArgument);
    expect(typed.findDetails(BadRequestSchema)[0].fieldViolations[0].field).toBe("steps[0].timeout");
  });
});

describe("unknownEnumViolations", () => {
  it("finds unknown numbers in nested messages and lists", () => {
    const req = create(C, { steps: [step, { ...step, retries: { backoff: 7 as Backoff } }] });
    expect(unknownEnumViolations(C, req)).toEqual([{ field: "steps[1].retries.backoff", description: "unknown weft.v1.Backoff value 7" }]);
    const list = create(ListWorkflowsRequestSchema, { states: [1, 99 as WorkflowState] });
    expect(unknownEnumViolations(ListWorkflowsRequestSchema, list)).toEqual([{ field: "states[1]", description: "unknown weft.v1.WorkflowState value 99" }]);
    expect(unknownEnumViolations(C, create(C, { steps: [{ ...step, retries: { backoff: 2 } }] }))).toEqual([]);
  });
});

describe("decodeFailureMessage", () => {
  it("recognises only connect-es's request parse failure, and clips it", () => {
    expect(decodeFailureMessage("parse binary: premature EOF")).toBe("malformed request message: premature EOF");
    expect(decodeFailureMessage("serialize binary: x")).toBeUndefined();
    expect(decodeFailureMessage("parse binary: " + "x".repeat(1000))!.length).toBeLessThan(140);
  });
});

describe("internalErrorInterceptor", () => {
  const method = WorkflowService.method.getWorkflow;
  const stream = WorkflowService.method.watchWorkflows;
  function call(interceptor: Interceptor, next: () => Promise<unknown>, m: DescMethod = method) {
    const fn = interceptor(next as never);
    return fn({ service: WorkflowService, method: m, stream: m === stream } as never);
  }
  function capture() {
    const logged: { obj: Record<string, unknown>; msg: string }[] = [];
    return { logged, logger: { error: (obj: Record<string, unknown>, msg: string) => logged.push({ obj, msg }) } as never };
  }

  it("logs a non-ConnectError with its stack and the RPC, and answers a bare INTERNAL", async () => {
    const { logged, logger } = capture();
    const bug = new TypeError("cannot read properties of undefined (secret internals)");
    const err = (await call(internalErrorInterceptor(logger), () => Promise.reject(bug)).catch((e: unknown) => e)) as ConnectError;
    expect(err).toBeInstanceOf(ConnectError);
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).toBe("internal error");
    expect(logged).toHaveLength(1);
    expect(logged[0].obj.rpc).toBe("weft.v1.WorkflowService/GetWorkflow");
    expect((logged[0].obj.err as Error).stack).toContain("secret internals");
    expect(Object.keys(logged[0].obj).sort()).toEqual(["err", "rpc"]);
  });

  it("passes other ConnectErrors through unlogged, and maps a stream's parse failure to INVALID_ARGUMENT", async () => {
    const { logged, logger } = capture();
    const notFound = new ConnectError("nope", Code.NotFound);
    expect(await call(internalErrorInterceptor(logger), () => Promise.reject(notFound)).catch((e: unknown) => e)).toBe(notFound);
    const res = (await call(
      internalErrorInterceptor(logger),
      async () => ({
        stream: true,
        message: (async function* () {
          throw new ConnectError("parse binary: premature EOF", Code.Internal);
        })(),
      }),
      stream,
    )) as { message: AsyncIterable<unknown> };
    let thrown: ConnectError | undefined;
    try {
      for await (const _ of res.message) void _;
    } catch (e) {
      thrown = e as ConnectError;
    }
    expect(thrown?.code).toBe(Code.InvalidArgument);
    expect(thrown?.rawMessage).toBe("malformed request message: premature EOF");
    expect(logged).toHaveLength(0);
  });

  it("logs and masks an INTERNAL ConnectError too", async () => {
    const { logged, logger } = capture();
    const err = (await call(internalErrorInterceptor(logger), () => Promise.reject(new ConnectError("db path /var/x", Code.Internal))).catch((e: unknown) => e)) as ConnectError;
    expect(err.rawMessage).toBe("internal error");
    expect(logged).toHaveLength(1);
  });
});
