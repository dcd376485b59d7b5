// Verification of Standard Webhooks signatures (see sign.ts for the scheme).
// Not shared with clients/ts/src/verify.ts: the client package stays
// self-contained and verifies asynchronously on Web Crypto; this one is
// synchronous on node:crypto (the tests' check of what sign.ts sends). Both
// are held to the same vectors (test/vectors/signatures.json).
import { createHmac, createSecretKey, timingSafeEqual } from "node:crypto";
import { parseSecretList, secretKey } from "./secrets.ts";

export type VerifyFailure =
  | "missing_headers"
  | "invalid_timestamp"
  | "stale_timestamp"
  | "future_timestamp"
  | "bad_signature";

export type VerifyResult = { ok: true } | { ok: false; reason: VerifyFailure };

export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

export interface VerifyInput {
  headers: HeaderSource;
  /** The exact bytes (or string, taken as UTF-8) that were signed. */
  body: string | Uint8Array;
  /** Every secret currently accepted; a request passes if any entry matches any secret. */
  secrets: readonly string[];
  /** Accepted clock skew either way, in seconds. Default 300. */
  toleranceSeconds?: number;
  /** Current time in ms since the epoch; default Date.now(). */
  nowMs?: number;
}

export interface VerifyRequestOptions {
  /** Defaults to parseSecretList(process.env.WEFT_SIGNING_SECRETS). */
  secrets?: readonly string[];
  toleranceSeconds?: number;
  nowMs?: number;
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
  // Repeated headers: join as Headers.get() and Node's http module do.
  return Array.isArray(value) ? value.join(", ") : value;
}

function noSecretsError(): Error {
  return new Error(
    "No signing secrets configured: pass `secrets` or set " +
      `${SECRETS_ENV_VAR} to the secret(s) Weft signs with ` +
      '(e.g. "whsec_..."; separate several with commas or spaces while rotating keys)',
  );
}

/** Check the Standard Webhooks signature headers of a request against its body. */
export function verifySignature(input: VerifyInput): VerifyResult {
  const { headers, body, secrets } = input;
  if (!secrets || secrets.length === 0) {
    throw noSecretsError();
  }
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    throw new TypeError("toleranceSeconds must be a non-negative number");
  }

  const id = headerValue(headers, "webhook-id");
  const timestamp = headerValue(headers, "webhook-timestamp");
  const signature = headerValue(headers, "webhook-signature");
  if (!id || !timestamp || !signature) {
    return { ok: false, reason: "missing_headers" };
  }

  if (!TIMESTAMP_RE.test(timestamp)) {
    return { ok: false, reason: "invalid_timestamp" };
  }
  const timestampSeconds = Number(timestamp);
  const nowSeconds = Math.floor((input.nowMs ?? Date.now()) / 1000);
  if (timestampSeconds < nowSeconds - tolerance) {
    return { ok: false, reason: "stale_timestamp" };
  }
  if (timestampSeconds > nowSeconds + tolerance) {
    return { ok: false, reason: "future_timestamp" };
  }

  // The v1 signatures offered, as raw base64 text (compared as text, so only the
  // canonical encoding matches, as in the other Standard Webhooks libraries).
  const offered: Buffer[] = [];
  for (const entry of signature.split(/\s+/)) {
    // Tolerate the ", " that joining repeated headers inserts.
    const e = entry.endsWith(",") ? entry.slice(0, -1) : entry;
    const comma = e.indexOf(",");
    if (comma <= 0 || e.slice(0, comma) !== SIGNATURE_VERSION) continue;
    offered.push(Buffer.from(e.slice(comma + 1), "utf8"));
  }
  if (offered.length === 0) {
    return { ok: false, reason: "bad_signature" };
  }

  const prefix = `${id}.${timestamp}.`;
  for (const secret of secrets) {
    const hmac = createHmac("sha256", createSecretKey(secretKey(secret)));
    hmac.update(prefix);
    hmac.update(body);
    const expected = Buffer.from(hmac.digest("base64"), "utf8");
    for (const candidate of offered) {
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) {
        return { ok: true };
      }
    }
  }
  return { ok: false, reason: "bad_signature" };
}

/**
 * Verify a Fetch-API request (e.g. in a Next.js route handler), with the reason
 * on failure. Reads the body from a clone, so the caller can still read it.
 * Throws if no secrets are configured.
 */
export async function verifyRequestDetailed(
  req: Request,
  options: VerifyRequestOptions = {},
): Promise<VerifyResult> {
  const secrets = options.secrets ?? parseSecretList(process.env[SECRETS_ENV_VAR]);
  if (secrets.length === 0) {
    throw noSecretsError();
  }
  if (req.bodyUsed) {
    throw new Error("verifyRequest: the request body was already read; verify before reading it");
  }
  const body = new Uint8Array(await req.clone().arrayBuffer());
  return verifySignature({
    headers: req.headers,
    body,
    secrets,
    toleranceSeconds: options.toleranceSeconds,
    nowMs: options.nowMs,
  });
}

/**
 * True if the request carries a valid signature from one of the secrets.
 *
 *   export async function POST(req: Request) {
 *     if (!(await verifyRequest(req))) return new Response("bad signature", { status: 401 });
 *     const input = await req.json();
 *     …
 *   }
 */
export async function verifyRequest(req: Request, options?: VerifyRequestOptions): Promise<boolean> {
  return (await verifyRequestDetailed(req, options)).ok;
}
