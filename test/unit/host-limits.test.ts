// Per-host limit settings: defaults, the global flags, per-origin overrides
// (repeated flags or WEFT_HOST_LIMITS), and clear errors for bad values.
import { describe, expect, test } from "vitest";
import { ConfigError, helpText, loadConfig } from "../../src/config.ts";
import { largestInflight, limitFor } from "../../src/domain/host-limits.ts";

const load = (argv: string[], env: NodeJS.ProcessEnv = {}) => loadConfig(argv, env)!.hostLimits;

describe("per-host limits configuration", () => {
  test("defaults: 256 calls in flight per origin, no rate limit, no overrides", () => {
    const l = load([]);
    expect(l.defaults).toEqual({ maxInflight: 256, ratePerSecond: 0, burst: 1 });
    expect(l.origins.size).toBe(0);
    expect(limitFor(l, "https://api.example.com")).toBe(l.defaults);
    for (const flag of ["--host-max-inflight", "--host-max-rate", "--host-rate-burst", "--host-limit"]) expect(helpText()).toContain(flag);
  });

  test("global flags and their variables; the burst defaults to a tenth of the rate, at least 1", () => {
    expect(load(["--host-max-inflight", "10", "--host-max-rate", "50"]).defaults).toEqual({ maxInflight: 10, ratePerSecond: 50, burst: 5 });
    expect(load([], { WEFT_HOST_MAX_INFLIGHT: "3", WEFT_HOST_MAX_RATE: "0.5" }).defaults).toEqual({ maxInflight: 3, ratePerSecond: 0.5, burst: 1 });
    expect(load(["--host-max-rate", "120", "--host-rate-burst", "1"]).defaults).toEqual({ maxInflight: 256, ratePerSecond: 120, burst: 1 });
    expect(load(["--host-max-rate", "unlimited"]).defaults.ratePerSecond).toBe(0);
    // A flag wins over its variable.
    expect(load(["--host-max-inflight", "7"], { WEFT_HOST_MAX_INFLIGHT: "3" }).defaults.maxInflight).toBe(7);
  });

  test("per-origin overrides from repeated flags or from WEFT_HOST_LIMITS (';' between origins); keys left out take the global values", () => {
    const l = load([
      "--host-max-inflight",
      "10",
      "--host-max-rate",
      "100",
      "--host-limit",
      "https://API.example.com:443=inflight:20,rate:50",
      "--host-limit",
      "http://127.0.0.1:8081/=rate:unlimited ; http://localhost:9000=burst:3",
    ]);
    expect([...l.origins.keys()]).toEqual(["https://api.example.com", "http://127.0.0.1:8081", "http://localhost:9000"]);
    expect(limitFor(l, "https://api.example.com")).toEqual({ maxInflight: 20, ratePerSecond: 50, burst: 5 });
    expect(limitFor(l, "http://127.0.0.1:8081")).toEqual({ maxInflight: 10, ratePerSecond: 0, burst: 1 });
    expect(limitFor(l, "http://localhost:9000")).toEqual({ maxInflight: 10, ratePerSecond: 100, burst: 3 });
    expect(limitFor(l, "http://127.0.0.1:8082")).toEqual({ maxInflight: 10, ratePerSecond: 100, burst: 10 });
    expect(largestInflight(l)).toBe(20);

    const env = load([], { WEFT_HOST_LIMITS: "https://a.example=inflight:2;https://b.example:8443=rate:5,burst:2;" });
    expect(Object.fromEntries(env.origins)).toEqual({
      "https://a.example": { maxInflight: 2, ratePerSecond: 0, burst: 1 },
      "https://b.example:8443": { maxInflight: 256, ratePerSecond: 5, burst: 2 },
    });
    // The flag replaces the variable.
    expect([...load(["--host-limit", "https://c.example=inflight:1"], { WEFT_HOST_LIMITS: "https://a.example=inflight:2" }).origins.keys()]).toEqual(["https://c.example"]);
  });

  test.each([
    [["--host-max-inflight", "0"], /host-max-inflight: 0 is out of range \[1, 100000\]/],
    [["--host-max-inflight", "ten"], /host-max-inflight: "ten" is not a whole number/],
    [["--host-max-rate", "0"], /host-max-rate: 0 is out of range .*unlimited for no limit/],
    [["--host-max-rate=-5"], /host-max-rate: "-5" is not a number of calls per second/],
    [["--host-max-rate", "1e3"], /host-max-rate: "1e3" is not a number/],
    [["--host-rate-burst", "0"], /host-rate-burst: 0 is out of range/],
    [["--host-limit", "https://a.example"], /host-limit: "https:\/\/a.example" must look like <origin>=inflight:N,rate:R/],
    [["--host-limit", "https://a.example/api=inflight:2"], /host-limit: "https:\/\/a.example\/api" is not an origin/],
    [["--host-limit", "ftp://a.example=inflight:2"], /is not an origin/],
    [["--host-limit", "https://u:p@a.example=inflight:2"], /is not an origin/],
    [["--host-limit", "a.example=inflight:2"], /"a.example" is not an origin/],
    [["--host-limit", "https://a.example="], /has no limits/],
    [["--host-limit", "https://a.example=inflight:0"], /host-limit https:\/\/a.example inflight: 0 is out of range/],
    [["--host-limit", "https://a.example=rate:fast"], /host-limit https:\/\/a.example rate: "fast" is not a number/],
    [["--host-limit", "https://a.example=speed:3"], /unknown key "speed"/],
    [["--host-limit", "https://a.example=inflight"], /"inflight" must be <key>:<value>/],
    [["--host-limit", "https://a.example=inflight:1,inflight:2"], /gives inflight twice/],
    [["--host-limit", "https://a.example=inflight:1", "--host-limit", "https://A.example:443=rate:1"], /https:\/\/a.example is given twice/],
    [["--host-limit", "https://a.example=inflight:1,https://b.example=inflight:2"], /separate origins with ";"/],
  ])("%j is refused: %s", (argv, message) => {
    expect(() => loadConfig(argv, {})).toThrow(ConfigError);
    expect(() => loadConfig(argv, {})).toThrow(message);
  });

  test("an error quotes at most ~60 characters of the value", () => {
    const long = `https://${"a".repeat(5000)}.example/x=inflight:1`;
    let message = "";
    try {
      loadConfig(["--host-limit", long], {});
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/not an origin/);
    expect(message.length).toBeLessThan(200);
  });
});
