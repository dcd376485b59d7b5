// Signing secrets, as in the Standard Webhooks spec: `whsec_<base64>` stands
// for the base64-decoded bytes after the prefix; any other string for its own
// UTF-8 bytes. Error messages never include the secret itself.

const WHSEC_PREFIX = "whsec_";

// Standard base64 alphabet, padding optional (checked further below).
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

/** The HMAC key bytes a secret stands for. Throws an Error for unusable secrets. */
export function secretKey(secret: string): Uint8Array<ArrayBuffer> {
  if (typeof secret !== "string") {
    throw new TypeError("Signing secret must be a string");
  }
  if (!secret.startsWith(WHSEC_PREFIX)) {
    if (secret.length === 0) throw new Error("Signing secret is empty");
    return new TextEncoder().encode(secret);
  }
  const encoded = secret.slice(WHSEC_PREFIX.length);
  if (encoded.length === 0) {
    throw new Error('Signing secret "whsec_…" has an empty key: put the base64-encoded key after "whsec_"');
  }
  const unpadded = encoded.replace(/=+$/, "");
  const padded = encoded.length !== unpadded.length;
  if (!BASE64_RE.test(encoded) || unpadded.length % 4 === 1 || (padded && encoded.length % 4 !== 0)) {
    throw new Error(
      'Signing secret "whsec_…" is not valid: the part after "whsec_" must be standard base64 (A-Z, a-z, 0-9, "+", "/", optional "=" padding)',
    );
  }
  const key = fromBase64(unpadded);
  if (key.length === 0) throw new Error('Signing secret "whsec_…" decodes to an empty key');
  return key;
}

/**
 * Splits a list of secrets, as found in WEFT_SIGNING_SECRETS: separated by
 * commas and/or whitespace, empty entries dropped. Base64 never contains ","
 * or whitespace, so `whsec_` secrets are never split.
 */
export function parseSecretList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value.split(/[\s,]+/).filter((s) => s.length > 0);
}

function fromBase64(unpadded: string): Uint8Array<ArrayBuffer> {
  const binary = atob(unpadded.padEnd(Math.ceil(unpadded.length / 4) * 4, "="));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}
