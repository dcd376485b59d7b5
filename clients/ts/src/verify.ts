// Verification of the Standard Webhooks signatures Weft puts on job requests
// and webhooks, on Web Crypto (crypto.subtle): it runs on Node >= 20, Bun,
// Deno, edge runtimes (e.g. a Next.js route handler) and browsers.
//
//   import { verifyRequest } from "@weftflow/client/verify";
//   export async function POST(req: Request) {
//     if (!(await verifyRequest(req))) return new Response("bad signature", { status: 401 });
//     const input = await req.json();
//     …
//   }
//
// Not the `standardwebhooks` npm package: it takes one secret per instance (no
// rotation lists), a string body, JSON-parses the payload on success, reports
// failures as exceptions without a reason, and has a fixed tolerance; this is
// the same scheme in a few lines on the platform's own HMAC, checked against
// the shared vectors in test/vectors/signatures.json.
import { processEnv } from "./env.ts";
import { parseSecretList, secretKey, toBase64 } from "./secrets.ts";

export type VerifyFailure = "missing_headers" | "invalid_timestamp" | "stale_timestamp" | "future_timestamp" | "bad_signature";

export type VerifyResult = { ok: true } | { ok: false; reason: VerifyFailure };

/** Fetch `Headers`, or a plain object such as Node's `req.headers` (names in any case). */
export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

export interface VerifyInput {
  headers: HeaderSource;
  /** The exact bytes (or string, taken as UTF-8) that were signed: the raw request body. */
  body: string | Uint8Array;
  /**
   * Every secret currently accepted (`whsec_…` or raw; a string may list several,
   * comma/space separated); a request passes if any signature matches any secret.
   */
  secrets: string | readonly string[];
  /** Accepted clock skew either way, in seconds. Default 300. */
  toleranceSeconds?: number | undefined;
  /** Current time in ms since the epoch; default Date.now(). */
  nowMs?: number | undefined;
}

export interface VerifyRequestOptions {
  /** Defaults to the WEFT_SIGNING_SECRETS environment variable (comma/space separated). */
  secrets?: string | readonly string[] | undefined;
  /** Accepted clock skew either way, in seconds. Default 300. */
  toleranceSeconds?: number | undefined;
  /** Current time in ms since the epoch; default Date.now(). */
  nowMs?: number | undefined;
}

export const DEFAULT_TOLERANCE_SECONDS = 300;
export const SECRETS_ENV_VAR = "WEFT_SIGNING_SECRETS";

// ASCII digits only: no sign, spaces, fraction or exponent.
const TIMESTAMP_RE = /^[0-9]+$/;
const SIGNATURE_VERSION = "v1";

function headerValue(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === "function") {
    // Fetch-API Headers (any implementation): already case-insensitive.
    return (headers as Headers).get(name) ?? undefined;
  }
  const record = headers as Record<string, string | string[] | undefined>;
  let value = Object.prototype.hasOwnProperty.call(record, name) ? record[name] : undefined;
  if (value === undefined) {
    for (const key of Object.keys(record)) {
      if (key.length === name.length && key.toLowerCase() === name) {
        value = record[key];
        if (value !== undefined) break;
      }
    }
  }
  // Repeated headers: joined as Headers.get() and Node's http module do.
  return Array.isArray(value) ? value.join(", ") : value;
}

function secretList(secrets: string | readonly string[] | undefined): readonly string[] {
  if (secrets === undefined) return [];
  return typeof secrets === "string" ? parseSecretList(secrets) : secrets;
}

function noSecretsError(): Error {
  return new Error(
    "No signing secrets configured: pass `secrets` or set " +
      `${SECRETS_ENV_VAR} to the secret(s) Weft signs with ` +
      '(e.g. "whsec_..."; separate several with commas or spaces while rotating keys)',
  );
}

/** Same length and content, in time that depends only on the length. */
function equalText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * Checks the Standard Webhooks signature headers (webhook-id, webhook-timestamp,
 * webhook-signature) against the raw body. Throws if no secrets are given or a
 * secret is malformed; every other problem is a `{ ok: false, reason }`.
 */
export async function verifySignature(input: VerifyInput): Promise<VerifyResult> {
  const secrets = secretList(input.secrets);
  if (secrets.length === 0) throw noSecretsError();
  const keys = secrets.map(secretKey);
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (typeof tolerance !== "number" || !Number.isFinite(tolerance) || tolerance < 0) {
    throw new TypeError("toleranceSeconds must be a non-negative number");
  }

  const id = headerValue(input.headers, "webhook-id");
  const timestamp = headerValue(input.headers, "webhook-timestamp");
  const signature = headerValue(input.headers, "webhook-signature");
  if (!id || !timestamp || !signature) return { ok: false, reason: "missing_headers" };

  if (!TIMESTAMP_RE.test(timestamp)) return { ok: false, reason: "invalid_timestamp" };
  const timestampSeconds = Number(timestamp);
  const nowSeconds = Math.floor((input.nowMs ?? Date.now()) / 1000);
  if (timestampSeconds < nowSeconds - tolerance) return { ok: false, reason: "stale_timestamp" };
  if (timestampSeconds > nowSeconds + tolerance) return { ok: false, reason: "future_timestamp" };

  // The v1 signatures offered, as base64 text (compared as text, so only the
  // canonical encoding matches, as in the other Standard Webhooks libraries).
  const offered: string[] = [];
  for (const entry of signature.split(/\s+/)) {
    // Tolerate the ", " that joining repeated headers inserts.
    const e = entry.endsWith(",") ? entry.slice(0, -1) : entry;
    const comma = e.indexOf(",");
    if (comma <= 0 || e.slice(0, comma) !== SIGNATURE_VERSION) continue;
    offered.push(e.slice(comma + 1));
  }
  if (offered.length === 0) return { ok: false, reason: "bad_signature" };

  const encoder = new TextEncoder();
  const prefix = encoder.encode(`${id}.${timestamp}.`);
  const body = typeof input.body === "string" ? encoder.encode(input.body) : input.body;
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix, 0);
  signed.set(body, prefix.length);

  let ok = false;
  for (const key of keys) {
    const hmacKey = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const expected = toBase64(new Uint8Array(await crypto.subtle.sign("HMAC", hmacKey, signed)));
    for (const candidate of offered) ok = equalText(candidate, expected) || ok;
  }
  return ok ? { ok: true } : { ok: false, reason: "bad_signature" };
}

/**
 * Verifies a Fetch-API request (e.g. a Next.js route handler's), with the
 * reason on failure. Reads the body from a clone, so it stays readable.
 * Throws if no secrets are configured.
 */
export async function verifyRequestDetailed(req: Request, options: VerifyRequestOptions = {}): Promise<VerifyResult> {
  const secrets = options.secrets === undefined ? parseSecretList(processEnv()[SECRETS_ENV_VAR]) : secretList(options.secrets);
  if (secrets.length === 0) throw noSecretsError();
  if (req.bodyUsed) throw new Error("verifyRequest: the request body was already read; verify before reading it");
  const body = new Uint8Array(await req.clone().arrayBuffer());
  return verifySignature({ headers: req.headers, body, secrets, toleranceSeconds: options.toleranceSeconds, nowMs: options.nowMs });
}

/** True if the request carries a valid signature from one of the secrets (see verifyRequestDetailed). */
export async function verifyRequest(req: Request, options?: VerifyRequestOptions): Promise<boolean> {
  return (await verifyRequestDetailed(req, options)).ok;
}
