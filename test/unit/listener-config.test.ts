import { describe, expect, test } from "vitest";
import { helpText, loadConfig } from "../../src/config.ts";

describe("connection cap and timeouts", () => {
  test("defaults, flags and environment variables", () => {
    expect(loadConfig([], {})!.connections).toEqual({ max: 1024, headerTimeoutMs: 10_000, requestTimeoutMs: 30_000, idleTimeoutMs: 65_000 });
    const env = { WEFT_MAX_CONNECTIONS: "50", WEFT_HEADER_TIMEOUT_MS: "2000", WEFT_REQUEST_TIMEOUT_MS: "4000", WEFT_IDLE_TIMEOUT_MS: "9000" };
    expect(loadConfig([], env)!.connections).toEqual({ max: 50, headerTimeoutMs: 2000, requestTimeoutMs: 4000, idleTimeoutMs: 9000 });
    expect(loadConfig(["--idle-timeout-ms", "1500"], env)!.connections.idleTimeoutMs).toBe(1500);
    expect(loadConfig(["--max-connections", "7"], env)!.connections.max).toBe(7);
    for (const name of ["--max-connections", "--header-timeout-ms", "--request-timeout-ms", "--idle-timeout-ms", "--tls-cert", "--tls-key", "--tls-client-ca"]) {
      expect(helpText()).toContain(name);
    }
  });

  test("bad values are refused with the option's name", () => {
    expect(() => loadConfig(["--max-connections", "0"], {})).toThrow(/max-connections: 0 is out of range/);
    expect(() => loadConfig(["--idle-timeout-ms", "10"], {})).toThrow(/idle-timeout-ms: 10 is out of range/);
    expect(() => loadConfig(["--header-timeout-ms", "soon"], {})).toThrow(/header-timeout-ms: "soon" is not a whole number/);
    expect(() => loadConfig(["--header-timeout-ms", "5000", "--request-timeout-ms", "1000"], {})).toThrow(
      /request-timeout-ms: 1000 must not be less than header-timeout-ms \(5000\)/,
    );
  });
});
