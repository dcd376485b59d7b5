// The client package's signature verification (clients/ts/src/verify.ts, Web
// Crypto) against the shared Standard Webhooks vectors, and against what the
// server's signer produces. The same vectors run on the system Node 20 against
// the packed package in test/e2e/client-package.test.ts.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { verifyRequest, verifyRequestDetailed, verifySignature, type VerifyFailure } from "../../clients/ts/src/verify.ts";
import { Signer } from "../../src/signing/sign.ts";

interface VerifyVector {
  name: string;
  secrets: string[];
  headers: Record<string, string>;
  body: string;
  nowSeconds: number;
  valid: boolean;
  reason?: VerifyFailure;
}

const doc = JSON.parse(readFileSync(new URL("../vectors/signatures.json", import.meta.url), "utf8")) as {
  toleranceSeconds: number;
  vectors: VerifyVector[];
};
const expected = (v: VerifyVector) => (v.valid ? { ok: true } : { ok: false, reason: v.reason });

describe("client verifySignature: shared vectors", () => {
  it.each(doc.vectors.map((v) => [v.name, v] as const))("%s (record headers, string body)", async (_, v) => {
    const result = await verifySignature({
      headers: v.headers,
      body: v.body,
      secrets: v.secrets,
      toleranceSeconds: doc.toleranceSeconds,
      nowMs: v.nowSeconds * 1000,
    });
    expect(result).toEqual(expected(v));
  });

  it.each(doc.vectors.map((v) => [v.name, v] as const))("%s (Request, default tolerance)", async (_, v) => {
    const req = new Request("http://127.0.0.1/api/jobs/x", { method: "POST", headers: v.headers, body: v.body });
    expect(await verifyRequestDetailed(req, { secrets: v.secrets, nowMs: v.nowSeconds * 1000 + 999 })).toEqual(expected(v));
    expect(await req.text()).toBe(v.body); // still readable
  });
});

describe("client verifySignature: configuration", () => {
  it("accepts what the server's signer signs, with secrets as a list string", async () => {
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const signer = new Signer([secret]);
    const body = JSON.stringify({ workflowId: "w", stepId: "s", attempt: 1 });
    const headers = { ...signer.headers("msg_1", Math.floor(Date.now() / 1000), body) };
    expect(await verifySignature({ headers, body, secrets: `whsec_b3RoZXI=, ${secret}` })).toEqual({ ok: true });
    expect(await verifySignature({ headers, body: body + " ", secrets: secret })).toEqual({ ok: false, reason: "bad_signature" });
  });

  it("without secrets it throws, naming WEFT_SIGNING_SECRETS; a bad secret throws without quoting it", async () => {
    const prev = process.env.WEFT_SIGNING_SECRETS;
    delete process.env.WEFT_SIGNING_SECRETS;
    try {
      const req = new Request("http://127.0.0.1/", { method: "POST", body: "{}" });
      await expect(verifyRequest(req)).rejects.toThrow(/WEFT_SIGNING_SECRETS/);
      await expect(verifySignature({ headers: {}, body: "", secrets: "whsec_%%%secret%%%" })).rejects.toThrow(/not valid/);
      await expect(verifySignature({ headers: {}, body: "", secrets: "whsec_%%%secret%%%" })).rejects.not.toThrow(/secret%%%/);
    } finally {
      if (prev !== undefined) process.env.WEFT_SIGNING_SECRETS = prev;
    }
  });
});
