import { Code } from "@connectrpc/connect";
import { describe, expect, test } from "vitest";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { Health } from "../../gen/ts/health/v1/health_pb.js";
import { WorkflowService } from "../../gen/ts/weft/v1/workflow_pb.js";
import { digestApiKeys, isLoopbackHost, parseApiKeyFile, parseApiKeyList } from "../../src/domain/api-keys.ts";
import { ApiKeyRing, checkAuthorization, requirementOf, WORKFLOW_SERVICE_SCOPES } from "../../src/server/api-key-auth.ts";
import { ServerReflectionV1, ServerReflectionV1alpha } from "../../src/server/reflection-service.ts";

const W = "write-key-0123456789";
const R = "read-key-0123456789a";

describe("the RPC scope table", () => {
  test("every WorkflowService method has a scope, and the table names no other method", () => {
    const methods = WorkflowService.methods.map((m) => m.name).sort();
    expect(Object.keys(WORKFLOW_SERVICE_SCOPES).sort()).toEqual(methods);
    for (const name of methods) expect(requirementOf(WorkflowService.typeName, name, "auth")).toMatch(/^(read|write)$/);
  });

  test("read covers reading and watching; write covers creating and cancelling", () => {
    for (const m of ["GetWorkflow", "ListWorkflows", "WatchWorkflow", "WatchWorkflows", "ListWorkflowEvents", "ListStepItems"]) expect(WORKFLOW_SERVICE_SCOPES[m]).toBe("read");
    for (const m of ["CreateWorkflow", "CancelWorkflow", "RedriveWorkflow", "RedeliverWebhook", "DeleteWorkflow", "RerunWorkflow"]) expect(WORKFLOW_SERVICE_SCOPES[m]).toBe("write");
  });

  test("an RPC missing from the table is denied to every key (fail closed); health is open; reflection per setting", () => {
    expect(requirementOf(WorkflowService.typeName, "DeleteEverything", "auth")).toBeUndefined();
    expect(requirementOf(WorkflowService.typeName, "toString", "auth")).toBeUndefined();
    expect(requirementOf("other.v1.Service", "Get", "open")).toBeUndefined();
    const ring = new ApiKeyRing(digestApiKeys([{ scope: "write", key: W }]));
    const err = checkAuthorization(ring, `Bearer ${W}`, undefined)!;
    expect(err.code).toBe(Code.PermissionDenied);
    expect(requirementOf(Health.typeName, "Check", "off")).toBe("none");
    for (const svc of [ServerReflectionV1.typeName, ServerReflectionV1alpha.typeName]) {
      expect(requirementOf(svc, "ServerReflectionInfo", "auth")).toBe("read");
      expect(requirementOf(svc, "ServerReflectionInfo", "open")).toBe("none");
      expect(requirementOf(svc, "ServerReflectionInfo", "off")).toBeUndefined();
    }
  });
});

describe("checking a bearer token", () => {
  const ring = new ApiKeyRing(digestApiKeys([{ scope: "write", key: W }, { scope: "read", key: R }]));
  const reason = (header: string | null, needs: "read" | "write") => {
    const err = checkAuthorization(ring, header, needs);
    return err ? [err.code, err.findDetails(ErrorInfoSchema)[0]?.reason, err.findDetails(ErrorInfoSchema)[0]?.metadata] : "ok";
  };

  test("valid keys by scope; write includes read", () => {
    expect(reason(`Bearer ${W}`, "write")).toBe("ok");
    expect(reason(`Bearer ${W}`, "read")).toBe("ok");
    expect(reason(`bearer ${R}`, "read")).toBe("ok");
    expect(reason(`Bearer ${R}`, "write")).toEqual([Code.PermissionDenied, "API_KEY_SCOPE", { required: "write" }]);
  });

  test("missing, blank, malformed, unknown and oversized headers are UNAUTHENTICATED", () => {
    expect(reason(null, "read")).toEqual([Code.Unauthenticated, "API_KEY_MISSING", {}]);
    expect(reason("   ", "read")).toEqual([Code.Unauthenticated, "API_KEY_MISSING", {}]);
    expect(reason(W, "read")).toEqual([Code.Unauthenticated, "API_KEY_INVALID", {}]);
    expect(reason(`Basic ${W}`, "read")).toEqual([Code.Unauthenticated, "API_KEY_INVALID", {}]);
    expect(reason(`Bearer ${W} extra`, "read")).toEqual([Code.Unauthenticated, "API_KEY_INVALID", {}]);
    expect(reason(`Bearer ${W}x`, "read")).toEqual([Code.Unauthenticated, "API_KEY_INVALID", {}]);
    expect(reason(`Bearer ${"a".repeat(600)}`, "read")).toEqual([Code.Unauthenticated, "API_KEY_INVALID", {}]);
    expect(checkAuthorization(ring, `Bearer ${W}x`, "read")!.message).not.toContain(W);
  });

  test("the ring keeps digests only and finds a key wherever it is in the list", () => {
    const many = new ApiKeyRing(digestApiKeys(Array.from({ length: 5 }, (_, i) => ({ scope: "read" as const, key: `key-number-${i}-abcdefgh` }))));
    expect(many.scopeOf("key-number-4-abcdefgh")).toBe("read");
    expect(many.scopeOf("key-number-0-abcdefgh")).toBe("read");
    expect(many.scopeOf("key-number-5-abcdefgh")).toBeUndefined();
    expect(many.counts()).toEqual({ read: 5, write: 0 });
    expect(JSON.stringify(digestApiKeys([{ scope: "read", key: R }]))).not.toContain(R);
  });
});

describe("parsing keys", () => {
  test("the list form", () => {
    expect(parseApiKeyList(`write:${W}, read:${R},`)).toEqual([{ scope: "write", key: W }, { scope: "read", key: R }]);
    expect(parseApiKeyList("")).toEqual([]);
    expect(parseApiKeyList(`write:abc:${W}`)[0]!.key).toBe(`abc:${W}`);
  });

  test("bad entries are refused, naming the entry but never the key", () => {
    const cases: [string, RegExp][] = [
      [`${W}`, /entry 1: expected <scope>:<key>/],
      [`write:${W},admin:${R}`, /entry 2: scope "admin" must be read or write/],
      ["read:short-key", /entry 1: key is too short \(9 characters; at least 16\)/],
      [`read:${"é".repeat(20)}`, /printable ASCII/],
      [`read:${"k".repeat(300)}`, /too long/],
    ];
    for (const [raw, message] of cases) {
      let thrown: Error | undefined;
      try {
        parseApiKeyList(raw);
      } catch (err) {
        thrown = err as Error;
      }
      expect(thrown?.message).toMatch(message);
      expect(thrown!.message).not.toContain(W);
      expect(thrown!.message).not.toContain("short-key");
    }
  });

  test("the file form: scope, key, optional name; comments and blank lines skipped", () => {
    const text = `# Weft keys\n\nwrite ${W} deploy-bot\n  read\t${R}\n`;
    expect(parseApiKeyFile(text)).toEqual([{ scope: "write", key: W, name: "deploy-bot" }, { scope: "read", key: R }]);
    expect(() => parseApiKeyFile(`write ${W}\nread\n`)).toThrow(/line 2: expected "<scope> <key> \[name\]"/);
    expect(() => parseApiKeyFile(`write ${W} a b\n`)).toThrow(/line 1: expected/);
    expect(() => parseApiKeyFile(`root ${W}\n`)).toThrow(/line 1: scope "root" must be read or write/);
    expect(() => parseApiKeyFile("read tooshort\n")).toThrow(/line 1: key is too short/);
  });

  test("a key configured twice is refused", () => {
    expect(() => digestApiKeys([{ scope: "write", key: W }, { scope: "read", key: W }])).toThrow(/configured more than once/);
  });
});

test("loopback hosts", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST", "::ffff:127.0.0.1"]) expect(isLoopbackHost(h), h).toBe(true);
  for (const h of ["0.0.0.0", "::", "10.0.0.1", "192.168.1.1", "128.0.0.1", "example.com", "localhost.example.com", "127.0.0.256", ""]) {
    expect(isLoopbackHost(h), h).toBe(false);
  }
});
