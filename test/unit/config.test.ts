import { describe, expect, test } from "vitest";
import { ConfigError, helpText, loadConfig } from "../../src/config.ts";

describe("configuration of the store", () => {
  test("no MongoDB URI: the embedded store; MONGODB_URI or --mongodb-uri selects MongoDB, the flag winning", () => {
    expect(loadConfig([], {})!.mongodb.uri).toBe("");
    const env = { MONGODB_URI: "mongodb://db-a:27017/?replicaSet=rs0", WEFT_MONGODB_DATABASE: "prod" };
    expect(loadConfig([], env)!.mongodb).toMatchObject({ uri: env.MONGODB_URI, database: "prod", feed: "auto", leaseTtlMs: 15000 });
    expect(loadConfig(["--mongodb-uri", "mongodb+srv://cluster.example"], env)!.mongodb.uri).toBe("mongodb+srv://cluster.example");
    expect(helpText()).toContain("MONGODB_URI");
  });

  test("bad MongoDB settings are refused at start-up with the option's name", () => {
    expect(() => loadConfig(["--mongodb-uri", "http://db"], {})).toThrow(/mongodb-uri: must start with mongodb:\/\//);
    expect(() => loadConfig(["--mongodb-feed", "sometimes"], {})).toThrow(/mongodb-feed: "sometimes" must be auto or poll/);
    expect(() => loadConfig(["--mongodb-database", "a.b"], {})).toThrow(ConfigError);
    expect(() => loadConfig(["--lease-ttl-ms", "10"], {})).toThrow(/lease-ttl-ms: 10 is out of range/);
  });

  test("with MongoDB, limits that could make a run's document pass 16 MiB are refused", () => {
    const uri = ["--mongodb-uri", "mongodb://db"];
    expect(() => loadConfig([...uri, "--max-run-results-bytes", String(12 * 1024 * 1024)], {})).toThrow(/within 14 MiB/);
    // The embedded store has no document limit.
    expect(loadConfig(["--max-run-results-bytes", String(12 * 1024 * 1024)], {})!.limits.maxRunResultBytes).toBe(12 * 1024 * 1024);
    expect(loadConfig(uri, {})!.limits.maxRunResultBytes).toBe(4 * 1024 * 1024);
  });
});

describe("configuration of the outbound policy", () => {
  test("default preset unless --outbound-policy / WEFT_OUTBOUND_POLICY says public-only; allow and deny lists from flags or env", () => {
    const def = loadConfig([], {})!.limits.outbound!;
    expect(def.preset).toBe("default");
    expect(def.checkAddress("127.0.0.1")).toEqual({ allowed: true });
    expect(def.checkAddress("169.254.169.254")).toEqual({ allowed: false, rule: "169.254.0.0/16" });

    const prod = loadConfig([], { WEFT_OUTBOUND_POLICY: "public-only", WEFT_OUTBOUND_ALLOW: " 10.1.0.0/16 , jobs.internal," })!.limits.outbound!;
    expect(prod.preset).toBe("public-only");
    expect(prod.checkAddress("127.0.0.1")).toEqual({ allowed: false, rule: "127.0.0.0/8" });
    expect(prod.checkAddress("10.1.2.3")).toEqual({ allowed: true });
    expect(prod.checkName("jobs.internal")).toEqual({ allowed: true });

    const flags = loadConfig(["--outbound-deny", "127.0.0.0/8,*.test"], { WEFT_OUTBOUND_DENY: "10.0.0.0/8" })!.limits.outbound!;
    expect(flags.checkAddress("127.0.0.1")).toEqual({ allowed: false, rule: "127.0.0.0/8" });
    expect(flags.checkAddress("10.0.0.1")).toEqual({ allowed: true });
    expect(flags.checkName("a.test")).toEqual({ allowed: false, rule: "*.test" });
    expect(helpText()).toContain("WEFT_OUTBOUND_POLICY");
  });

  test("a bad preset or entry is refused at start-up with the option's name", () => {
    expect(() => loadConfig(["--outbound-policy", "strict"], {})).toThrow(/outbound-policy: "strict" must be default or public-only/);
    expect(() => loadConfig(["--outbound-allow", "10.0.0.0/33"], {})).toThrow(/^outbound-allow: .*invalid prefix length/);
    expect(() => loadConfig([], { WEFT_OUTBOUND_DENY: "http://x.com" })).toThrow(ConfigError);
    expect(() => loadConfig([], { WEFT_OUTBOUND_DENY: "http://x.com" })).toThrow(/^outbound-deny: /);
  });
});
