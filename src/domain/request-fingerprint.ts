// The fingerprint of a create request: what tells a repeated CreateWorkflow
// (same request_id, same request) from a different request that reuses the key.
// Pure: no I/O.
import { hash } from "node:crypto";

/** JSON text with every object's keys in sorted order: equal values give equal text, whatever the key order sent. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
}

/** "sha256:" + the hex SHA-256 of the request's canonical JSON (the proto3 JSON form of CreateWorkflowRequest). */
export function requestFingerprint(request: unknown): string {
  return `sha256:${hash("sha256", canonicalJson(request), "hex")}`;
}

/**
 * Whether a create carrying `fingerprint` may be answered with the stored run
 * its request_id names: yes when the requests are the same, and for runs
 * stored without a fingerprint (before fingerprints were kept), as before.
 */
export function sameRequest(stored: string | undefined, fingerprint: string | undefined): boolean {
  return stored === undefined || fingerprint === undefined || stored === fingerprint;
}
