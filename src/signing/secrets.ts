// Signing secrets, as in the Standard Webhooks spec.
//
// A secret written `whsec_<base64>` stands for the base64-decoded bytes after
// the prefix; any other string stands for its own UTF-8 bytes.
// Error messages never include the secret itself.

const WHSEC_PREFIX = "whsec_";

// Standard base64 alphabet, padding optional (checked further below).
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

/** The HMAC key bytes a secret stands for. Throws an Error for unusable secrets. */
export function secretKey(secret: string): Uint8Array {
  if (typeof secret !== "string") {
    throw new TypeError("Signing secret must be a string");
  }
  if (!secret.startsWith(WHSEC_PREFIX)) {
    if (secret.length === 0) {
      throw new Error("Signing secret is empty");
    }
    return Buffer.from(secret, "utf8");
  }
  const encoded = secret.slice(WHSEC_PREFIX.length);
  if (encoded.length === 0) {
    throw new Error('Signing secret "whsec_…" has an empty key: put the base64-encoded key after "whsec_"');
  }
  const unpadded = encoded.replace(/=+$/, "");
  const padded = encoded.length !== unpadded.length;
  if (
    !BASE64_RE.test(encoded) ||
    unpadded.length % 4 === 1 ||
    (padded && encoded.length % 4 !== 0)
  ) {
    throw new Error(
      'Signing secret "whsec_…" is not valid: the part after "whsec_" must be standard base64 (A-Z, a-z, 0-9, "+", "/", optional "=" padding)',
    );
  }
  const key = Buffer.from(encoded, "base64");
  if (key.length === 0) {
    throw new Error('Signing secret "whsec_…" decodes to an empty key');
  }
  return key;
}

/**
 * Split a list of secrets, as found in an environment variable such as
 * WEFT_SIGNING_SECRETS: separated by commas and/or whitespace; entries are
 * trimmed and empty ones dropped. Base64 never contains "," or whitespace, so
 * `whsec_` secrets are never split.
 */
export function parseSecretList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value.split(/[\s,]+/).filter((s) => s.length > 0);
}

/**
 * Checks the content of a file that holds one signing secret (as Weft writes
 * it: the secret and a newline). Returns the secret, or a reason it is
 * unusable that never includes the secret itself.
 */
export function parseSecretFile(content: string): { secret: string } | { problem: string } {
  const secret = content.trim();
  if (secret.length === 0) return { problem: "it is empty" };
  if (/[\s\u0000-\u001f\u007f]/.test(secret)) return { problem: "it holds more than one line, or whitespace or control characters inside the secret" };
  try {
    secretKey(secret);
  } catch (err) {
    return { problem: (err as Error).message };
  }
  return { secret };
}
