// API keys: parsing and validating the configured keys (pure; no I/O).
// A key grants one scope: `read` (get, list, watch) or `write` (everything).
import { hash } from "node:crypto";

export type ApiKeyScope = "read" | "write";
export const API_KEY_SCOPES: readonly ApiKeyScope[] = ["read", "write"];

export const MIN_API_KEY_LENGTH = 16;
export const MAX_API_KEY_LENGTH = 256;

export interface ApiKeyEntry {
  scope: ApiKeyScope;
  key: string;
  /** Optional label (from the key file), for logs. */
  name?: string;
}

/** Whether a key of scope `has` may do what needs scope `needs`. */
export function scopeGrants(has: ApiKeyScope, needs: ApiKeyScope): boolean {
  return has === "write" || needs === "read";
}

/** Why a key is unacceptable (never quoting it), or undefined. */
export function apiKeyProblem(key: string): string | undefined {
  if (key.length < MIN_API_KEY_LENGTH) return `key is too short (${key.length} characters; at least ${MIN_API_KEY_LENGTH})`;
  if (key.length > MAX_API_KEY_LENGTH) return `key is too long (${key.length} characters; at most ${MAX_API_KEY_LENGTH})`;
  if (!/^[\x21-\x7e]+$/.test(key)) return "key must be printable ASCII without whitespace";
  return undefined;
}

function scopeOf(raw: string, where: string): ApiKeyScope {
  const s = raw.trim().toLowerCase();
  if (s === "read" || s === "write") return s;
  const shown = raw.length > 20 ? `${raw.slice(0, 20)}…` : raw;
  throw new ApiKeyConfigError(`${where}: scope ${JSON.stringify(shown)} must be read or write`);
}

export class ApiKeyConfigError extends Error {}

/**
 * `write:k1,read:k2` (the --api-keys / WEFT_API_KEYS form). Blank entries are skipped.
 * Errors name the entry by position and never include a key.
 */
export function parseApiKeyList(raw: string, source = "api-keys"): ApiKeyEntry[] {
  const out: ApiKeyEntry[] = [];
  raw.split(",").forEach((item, i) => {
    const entry = item.trim();
    if (entry === "") return;
    const where = `${source}: entry ${i + 1}`;
    const colon = entry.indexOf(":");
    if (colon <= 0) throw new ApiKeyConfigError(`${where}: expected <scope>:<key> (scope read or write)`);
    const scope = scopeOf(entry.slice(0, colon), where);
    const key = entry.slice(colon + 1);
    const problem = apiKeyProblem(key);
    if (problem) throw new ApiKeyConfigError(`${where}: ${problem}`);
    out.push({ scope, key });
  });
  return out;
}

/**
 * A key file: one `<scope> <key> [name]` per line; blank lines and lines
 * starting with `#` are skipped. Errors name the line and never include a key.
 */
export function parseApiKeyFile(text: string, source = "api-keys-file"): ApiKeyEntry[] {
  const out: ApiKeyEntry[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const where = `${source}: line ${i + 1}`;
    const fields = trimmed.split(/\s+/);
    if (fields.length < 2 || fields.length > 3) {
      throw new ApiKeyConfigError(`${where}: expected "<scope> <key> [name]" (${fields.length} fields)`);
    }
    const scope = scopeOf(fields[0]!, where);
    const problem = apiKeyProblem(fields[1]!);
    if (problem) throw new ApiKeyConfigError(`${where}: ${problem}`);
    const name = fields[2];
    if (name !== undefined && name.length > 64) throw new ApiKeyConfigError(`${where}: name is longer than 64 characters`);
    out.push({ scope, key: fields[1]!, ...(name !== undefined ? { name } : {}) });
  });
  return out;
}

/** 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) and `localhost`: addresses only this machine reaches. */
export function isLoopbackHost(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  if (h === "localhost" || h === "localhost.") return true;
  if (h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  const v4 = h.startsWith("::ffff:") ? h.slice(7) : h;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(v4);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255) && m[1] === "127";
}

/** A configured key as kept in memory: only its SHA-256 digest. */
export interface ApiKeyDigest {
  scope: ApiKeyScope;
  digest: Buffer;
  name?: string;
}

export function digestApiKey(key: string): Buffer {
  return hash("sha256", key, "buffer");
}

/** Digests the entries; refuses a key configured twice. */
export function digestApiKeys(entries: readonly ApiKeyEntry[]): ApiKeyDigest[] {
  const seen = new Set<string>();
  return entries.map((e, i) => {
    const digest = digestApiKey(e.key);
    const hex = digest.toString("hex");
    if (seen.has(hex)) throw new ApiKeyConfigError(`API key ${i + 1} (scope ${e.scope}${e.name ? `, name ${e.name}` : ""}) is configured more than once`);
    seen.add(hex);
    return { scope: e.scope, digest, ...(e.name !== undefined ? { name: e.name } : {}) };
  });
}
