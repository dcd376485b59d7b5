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
