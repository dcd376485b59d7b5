import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parseSecretList, secretKey } from "../../src/signing/secrets.ts";
import { Signer, signatureHeaders } from "../../src/signing/sign.ts";
import {
  verifyRequest,
  verifyRequestDetailed,
  verifySignature,
  type VerifyFailure,
} from "../../src/signing/verify.ts";

interface VerifyVector {
  name: string;
  secrets: string[];
  headers: Record<string, string>;
  body: string;
  nowSeconds: number;
  valid: boolean;
  reason?: VerifyFailure;
}

interface SigningVector {
  name: string;
  secrets: string[];
  id: string;
  timestampSeconds: number;
  body: string;
  signature: string;
}

interface VectorFile {
  toleranceSeconds: number;
  vectors: VerifyVector[];
  signing: SigningVector[];
}

const doc = JSON.parse(
  readFileSync(new URL("../vectors/signatures.json", import.meta.url), "utf8"),
) as VectorFile;

const vector = (name: string): VerifyVector => {
  const v = doc.vectors.find((x) => x.name === name);
  if (!v) throw new Error(`no vector ${name}`);
  return v;
};

const expected = (v: VerifyVector) => (v.valid ? { ok: true } : { ok: false, reason: v.reason });

describe("shared vectors: verifySignature", () => {
  it("covers the required cases", () => {
    expect(doc.vectors.length).toBeGreaterThanOrEqual(15);
    expect(doc.signing.length).toBeGreaterThanOrEqual(5);
    const reasons = new Set(doc.vectors.filter((v) => !v.valid).map((v) => v.reason));
    expect([...reasons].sort()).toEqual(
      ["bad_signature", "future_timestamp", "invalid_timestamp", "missing_headers", "stale_timestamp"],
    );
  });

  it.each(doc.vectors.map((v) => [v.name, v] as const))("%s (record headers, string body)", (_, v) => {
    const result = verifySignature({
      headers: v.headers,
      body: v.body,
      secrets: v.secrets,
      toleranceSeconds: doc.toleranceSeconds,
      nowMs: v.nowSeconds * 1000,
    });
    expect(result).toEqual(expected(v));
  });

  it.each(doc.vectors.map((v) => [v.name, v] as const))("%s (Headers, byte body)", (_, v) => {
    const result = verifySignature({
      headers: new Headers(v.headers),
      body: new TextEncoder().encode(v.body),
      secrets: v.secrets,
      nowMs: v.nowSeconds * 1000 + 999, // default tolerance; sub-second part ignored
    });
    expect(result).toEqual(expected(v));
  });
});

describe("shared vectors: signing", () => {
  it.each(doc.signing.map((v) => [v.name, v] as const))("%s", (_, v) => {
    const fromSigner = new Signer(v.secrets).headers(v.id, v.timestampSeconds, v.body);
    expect(fromSigner).toEqual({
      "webhook-id": v.id,
      "webhook-timestamp": String(v.timestampSeconds),
      "webhook-signature": v.signature,
    });
    expect(
      new Signer(v.secrets).headers(v.id, v.timestampSeconds, new TextEncoder().encode(v.body)),
    ).toEqual(fromSigner);
    expect(
      signatureHeaders({ id: v.id, timestampSeconds: v.timestampSeconds, body: v.body, secrets: v.secrets }),
    ).toEqual(fromSigner);
  });
});

describe("secrets", () => {
  it("decodes whsec_ secrets and uses other strings as UTF-8", () => {
    expect(Buffer.from(secretKey("whsec_AAECAw==")).toString("hex")).toBe("00010203");
    expect(Buffer.from(secretKey("whsec_AAECAw")).toString("hex")).toBe("00010203");
    expect(Buffer.from(secretKey("AAECAw==")).toString("utf8")).toBe("AAECAw==");
    expect(Buffer.from(secretKey("clé")).toString("hex")).toBe("636cc3a9");
  });

  it("rejects unusable secrets with a clear error that does not echo the secret", () => {
    expect(() => secretKey("whsec_")).toThrow(/empty key/);
    expect(() => secretKey("whsec_not*base64!")).toThrow(/base64/);
    expect(() => secretKey("whsec_A")).toThrow(/base64/);
    expect(() => secretKey("whsec_AAE=C")).toThrow(/base64/);
    expect(() => secretKey("whsec_====")).toThrow(/base64|empty/);
    expect(() => secretKey("")).toThrow(/empty/);
    try {
      secretKey("whsec_s3cr3t-value!");
    } catch (e) {
      expect((e as Error).message).not.toContain("s3cr3t");
    }
  });

  it("parses secret lists", () => {
    expect(parseSecretList(undefined)).toEqual([]);
    expect(parseSecretList("")).toEqual([]);
    expect(parseSecretList("  , ,\n")).toEqual([]);
    expect(parseSecretList("whsec_AAEC+/8=")).toEqual(["whsec_AAEC+/8="]);
    expect(parseSecretList(" whsec_a= ,whsec_b\n\twhsec_c,, raw ")).toEqual([
      "whsec_a=",
      "whsec_b",
      "whsec_c",
      "raw",
    ]);
  });
});

describe("Signer / verifySignature", () => {
  const secret = "whsec_zwKnYVJ3xBmQwd+ad60MLoWoJwq2jDGJWDYXun4NqSc=";
  const now = 1_767_225_600;

  it("requires at least one secret and validates inputs", () => {
    expect(() => new Signer([])).toThrow(/at least one/);
    expect(() => signatureHeaders({ id: "m", timestampSeconds: now, body: "", secrets: [] })).toThrow();
    expect(() => new Signer(["whsec_!!"])).toThrow(/base64/);
    const signer = new Signer([secret]);
    expect(() => signer.headers("", now, "x")).toThrow();
    expect(() => signer.headers("m", 1.5, "x")).toThrow();
    expect(() => signer.headers("m", -1, "x")).toThrow();
  });

  it("round-trips, with case-insensitive and repeated record headers", () => {
    const h = new Signer([secret, "other"]).headers("msg_1", now, '{"a":1}');
    const [first, second] = h["webhook-signature"].split(" ");
    const base = { body: '{"a":1}', secrets: [secret], nowMs: now * 1000 };
    expect(verifySignature({ ...base, headers: { ...h } })).toEqual({ ok: true });
    expect(
      verifySignature({
        ...base,
        headers: {
          "Webhook-Id": h["webhook-id"],
          "WEBHOOK-TIMESTAMP": h["webhook-timestamp"],
          "Webhook-Signature": [second, first],
        },
      }),
    ).toEqual({ ok: true });
    // Repeated header joined by Headers ("a, b").
    const joined = new Headers({ "webhook-id": "msg_1", "webhook-timestamp": String(now) });
    joined.append("webhook-signature", second);
    joined.append("webhook-signature", first);
    expect(verifySignature({ ...base, headers: joined })).toEqual({ ok: true });
    expect(verifySignature({ ...base, headers: { ...h, "webhook-signature": undefined } })).toEqual({
      ok: false,
      reason: "missing_headers",
    });
  });

  it("throws rather than accepting anything when no secrets are given", () => {
    const h = new Signer([secret]).headers("msg_1", now, "x");
    expect(() => verifySignature({ headers: h, body: "x", secrets: [], nowMs: now * 1000 })).toThrow(
      /WEFT_SIGNING_SECRETS/,
    );
  });

  it("honours a custom tolerance", () => {
    const h = new Signer([secret]).headers("msg_1", now - 60, "x");
    const input = { headers: h, body: "x", secrets: [secret], nowMs: now * 1000 };
    expect(verifySignature({ ...input, toleranceSeconds: 59 })).toEqual({ ok: false, reason: "stale_timestamp" });
    expect(verifySignature({ ...input, toleranceSeconds: 60 })).toEqual({ ok: true });
  });
});

describe("verifyRequest", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  const request = (v: VerifyVector, body = v.body) =>
    new Request("https://handler.example/api/steps/charge", {
      method: "POST",
      headers: { "content-type": "application/json", ...v.headers },
      body,
    });
  const at = (v: VerifyVector) => ({ secrets: v.secrets, nowMs: v.nowSeconds * 1000 });

  it("accepts a valid request and leaves the body readable", async () => {
    const v = vector("valid_whsec_secret");
    const req = request(v);
    expect(await verifyRequest(req, at(v))).toBe(true);
    expect(await req.json()).toEqual(JSON.parse(v.body));
  });

  it("accepts a unicode body (verified over the raw bytes)", async () => {
    const v = vector("valid_unicode_body");
    const req = request(v);
    expect(await verifyRequest(req, at(v))).toBe(true);
    expect(await req.json()).toEqual(JSON.parse(v.body));
  });

  it("rejects a tampered body", async () => {
    const v = vector("tampered_body");
    expect(await verifyRequest(request(v), at(v))).toBe(false);
    expect(await verifyRequestDetailed(request(v), at(v))).toEqual({ ok: false, reason: "bad_signature" });
  });

  it("rejects a stale request", async () => {
    const v = vector("stale_timestamp");
    expect(await verifyRequest(request(v), at(v))).toBe(false);
    expect(await verifyRequestDetailed(request(v), at(v))).toEqual({ ok: false, reason: "stale_timestamp" });
  });

  it("accepts a request signed with the old key during rotation", async () => {
    const v = vector("rotation_verifier_has_old_and_new_signed_with_old");
    expect(v.secrets.length).toBe(2);
    expect(await verifyRequest(request(v), at(v))).toBe(true);
  });

  it("reads secrets from WEFT_SIGNING_SECRETS by default", async () => {
    const v = vector("rotation_verifier_has_old_and_new_signed_with_old");
    vi.stubEnv("WEFT_SIGNING_SECRETS", ` ${v.secrets.join(", ")}\n`);
    expect(await verifyRequest(request(v), { nowMs: v.nowSeconds * 1000 })).toBe(true);
    vi.stubEnv("WEFT_SIGNING_SECRETS", "whsec_MOUk+EVVCDejoHWA8BZbVhAGKPyJ7eafSVpvaj23N44=");
    expect(await verifyRequest(request(v), { nowMs: v.nowSeconds * 1000 })).toBe(false);
  });

  it("rejects with a helpful error when no secrets are configured", async () => {
    const v = vector("valid_whsec_secret");
    vi.stubEnv("WEFT_SIGNING_SECRETS", undefined);
    await expect(verifyRequest(request(v), { nowMs: v.nowSeconds * 1000 })).rejects.toThrow(
      /No signing secrets configured.*WEFT_SIGNING_SECRETS/s,
    );
    vi.stubEnv("WEFT_SIGNING_SECRETS", " , ");
    await expect(verifyRequest(request(v))).rejects.toThrow(/WEFT_SIGNING_SECRETS/);
    await expect(verifyRequest(request(v), { secrets: [] })).rejects.toThrow(/WEFT_SIGNING_SECRETS/);
  });

  it("refuses a request whose body was already consumed", async () => {
    const v = vector("valid_whsec_secret");
    const req = request(v);
    await req.text();
    await expect(verifyRequest(req, at(v))).rejects.toThrow(/already read/);
  });
});
