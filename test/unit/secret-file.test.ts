import { describe, expect, test } from "vitest";
import { parseSecretFile } from "../../src/signing/secrets.ts";

describe("parseSecretFile", () => {
  test("one secret and a newline, as Weft writes it; a raw secret is fine too", () => {
    expect(parseSecretFile("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n")).toEqual({ secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" });
    expect(parseSecretFile("  a-raw-secret\r\n")).toEqual({ secret: "a-raw-secret" });
  });

  test("empty, several lines, inner whitespace or control characters, bad whsec_ are refused, without the secret", () => {
    expect(parseSecretFile("")).toEqual({ problem: "it is empty" });
    expect(parseSecretFile(" \n\t\n")).toEqual({ problem: "it is empty" });
    for (const bad of ["whsec_QUJD\nwhsec_REVG", "secret one", "abc\u0000def"]) {
      const r = parseSecretFile(bad);
      expect(r).toHaveProperty("problem", expect.stringMatching(/more than one line|whitespace or control/));
    }
    const r = parseSecretFile("whsec_***top-secret***\n");
    expect(r).toHaveProperty("problem", expect.stringContaining("standard base64"));
    expect(JSON.stringify(r)).not.toContain("top-secret");
    expect(parseSecretFile("whsec_\n")).toHaveProperty("problem", expect.stringContaining("empty key"));
  });
});
