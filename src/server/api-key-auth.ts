// API-key authentication: every call's `authorization: Bearer <key>` is checked
// against the configured keys (kept only as SHA-256 digests) and the scope the
// RPC needs. api-key-gate.ts applies it to each route before the request body is read.
import { timingSafeEqual } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { Health } from "../../gen/ts/health/v1/health_pb.js";
import { WorkflowService } from "../../gen/ts/weft/v1/workflow_pb.js";
import { type ApiKeyDigest, type ApiKeyScope, digestApiKey, scopeGrants } from "../domain/api-keys.ts";
import { ServerReflectionV1, ServerReflectionV1alpha } from "./reflection-service.ts";

export const AUTH_ERROR_DOMAIN = "weft.v1";
/** Longer authorization headers are refused before they are hashed. */
export const MAX_AUTHORIZATION_LENGTH = 512;

/** What a call needs: no key, a key of a scope. */
export type Requirement = "none" | ApiKeyScope;

/**
 * The scope each WorkflowService RPC needs (by method name). An RPC missing
 * here is denied to every key: add new RPCs when they are added to the proto.
 */
export const WORKFLOW_SERVICE_SCOPES: Readonly<Record<string, ApiKeyScope>> = {
  GetWorkflow: "read",
  ListWorkflows: "read",
  WatchWorkflow: "read",
  WatchWorkflows: "read",
  ListWorkflowEvents: "read",
  ListStepItems: "read",
  CreateWorkflow: "write",
  CancelWorkflow: "write",
  RedriveWorkflow: "write",
  RerunWorkflow: "write",
  RedeliverWebhook: "write",
  DeleteWorkflow: "write",
  PauseWorkflow: "write",
  ResumeWorkflow: "write",
  BulkWorkflowAction: "write",
};

/** What a call of service/method needs; undefined: nobody may call it. */
export function requirementOf(service: string, method: string, reflection: "auth" | "open" | "off"): Requirement | undefined {
  if (service === Health.typeName) return "none";
  if (service === ServerReflectionV1.typeName || service === ServerReflectionV1alpha.typeName) {
    return reflection === "open" ? "none" : reflection === "auth" ? "read" : undefined;
  }
  if (service === WorkflowService.typeName) return Object.hasOwn(WORKFLOW_SERVICE_SCOPES, method) ? WORKFLOW_SERVICE_SCOPES[method] : undefined;
  return undefined;
}

function authError(message: string, code: Code, reason: string, metadata: Record<string, string> = {}): ConnectError {
  return new ConnectError(message, code, undefined, [
    { desc: ErrorInfoSchema, value: { reason, domain: AUTH_ERROR_DOMAIN, metadata } },
  ]);
}

/** The configured keys. `scopeOf` compares a token with every key in constant time. */
export class ApiKeyRing {
  readonly #keys: readonly ApiKeyDigest[];

  constructor(keys: readonly ApiKeyDigest[]) {
    this.#keys = keys.map((k) => ({ ...k, digest: Buffer.from(k.digest) }));
  }

  get size(): number {
    return this.#keys.length;
  }

  /** Number of keys per scope (for the start-up log). */
  counts(): Record<ApiKeyScope, number> {
    const c = { read: 0, write: 0 };
    for (const k of this.#keys) c[k.scope]++;
    return c;
  }

  /** The matching key's scope, or undefined. Checks every key, with no early exit. */
  scopeOf(token: string): ApiKeyScope | undefined {
    const digest = digestApiKey(token);
    let found: ApiKeyScope | undefined;
    for (const k of this.#keys) {
      const same = timingSafeEqual(digest, k.digest);
      if (same) found = k.scope;
    }
    return found;
  }
}

/**
 * Checks a call's authorization header value against the ring for the
 * requirement; returns nothing when allowed, else the error to answer with.
 * The error never contains the header's value.
 */
export function checkAuthorization(ring: ApiKeyRing, header: string | null, requirement: Requirement | undefined): ConnectError | undefined {
  if (requirement === "none") return undefined;
  if (header === null || header.trim() === "") {
    return authError("missing API key: send the header 'authorization: Bearer <key>'", Code.Unauthenticated, "API_KEY_MISSING");
  }
  if (header.length > MAX_AUTHORIZATION_LENGTH) {
    return authError("invalid API key: the authorization header is too long", Code.Unauthenticated, "API_KEY_INVALID");
  }
  const m = /^[Bb][Ee][Aa][Rr][Ee][Rr] +([\x21-\x7e]+) *$/.exec(header);
  if (!m) {
    return authError("invalid API key: the authorization header must be 'Bearer <key>'", Code.Unauthenticated, "API_KEY_INVALID");
  }
  const scope = ring.scopeOf(m[1]!);
  if (scope === undefined) return authError("invalid API key", Code.Unauthenticated, "API_KEY_INVALID");
  if (requirement === undefined) {
    return authError("no API key scope grants this method", Code.PermissionDenied, "API_KEY_SCOPE", { required: "none" });
  }
  if (!scopeGrants(scope, requirement)) {
    return authError(`this API key's scope (${scope}) does not grant this method; it needs a ${requirement} key`, Code.PermissionDenied, "API_KEY_SCOPE", {
      required: requirement,
    });
  }
  return undefined;
}
