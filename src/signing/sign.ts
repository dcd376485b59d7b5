// Request signing, compatible with the Standard Webhooks spec:
//   webhook-id:        message id
//   webhook-timestamp: integer unix seconds
//   webhook-signature: "v1,<base64 HMAC-SHA256(key, `${id}.${timestamp}.${body}`)>"
//                      one space-separated entry per secret (key rotation).
import { createHmac, createSecretKey, type KeyObject } from "node:crypto";
import { secretKey } from "./secrets.ts";

// A type alias (not an interface) so it is assignable to Record<string, string>
// (e.g. as fetch headers or as verifySignature's record form).
export type SignatureHeaders = {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
};

export interface SignInput {
  id: string;
  timestampSeconds: number;
  body: string | Uint8Array;
  secrets: readonly string[];
}

/**
 * Signs with a fixed set of secrets, decoded once. Reuse one instance on hot
 * paths; every secret adds one "v1," entry, in the order given.
 */
export class Signer {
  readonly #keys: readonly KeyObject[];

  constructor(secrets: readonly string[]) {
    if (!Array.isArray(secrets) || secrets.length === 0) {
      throw new Error("Signer needs at least one signing secret");
    }
    this.#keys = secrets.map((s) => createSecretKey(secretKey(s)));
  }

  /** The three signature headers for one request. */
  headers(id: string, timestampSeconds: number, body: string | Uint8Array): SignatureHeaders {
    if (typeof id !== "string" || id.length === 0) {
      throw new TypeError("webhook id must be a non-empty string");
    }
    if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
      throw new TypeError("timestampSeconds must be a non-negative integer (unix seconds)");
    }
    const timestamp = String(timestampSeconds);
    const prefix = `${id}.${timestamp}.`;
    const keys = this.#keys;
    let signature = "";
    for (let i = 0; i < keys.length; i++) {
      const hmac = createHmac("sha256", keys[i]);
      hmac.update(prefix);
      hmac.update(body);
      signature += (i === 0 ? "v1," : " v1,") + hmac.digest("base64");
    }
    return {
      "webhook-id": id,
      "webhook-timestamp": timestamp,
      "webhook-signature": signature,
    };
  }
}

/** One-off signing. On hot paths, keep a `Signer` instead (it decodes the keys once). */
export function signatureHeaders(input: SignInput): SignatureHeaders {
  return new Signer(input.secrets).headers(input.id, input.timestampSeconds, input.body);
}
