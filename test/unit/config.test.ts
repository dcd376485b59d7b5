import { afterAll, describe, expect, test } from "vitest";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

describe("configuration of authentication", () => {
  const W = "write-key-0123456789";
  const R = "read-key-0123456789a";
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const keyFile = (text: string, mode: number): string => {
    const dir = mkdtempSync(join(tmpdir(), "weft-keys-"));
    dirs.push(dir);
    const file = join(dir, "keys");
    writeFileSync(file, text, { mode });
    chmodSync(file, mode);
    return file;
  };

  test("the default host is 127.0.0.1 without keys and 0.0.0.0 with keys; --host wins", () => {
    expect(loadConfig([], {})!.host).toBe("127.0.0.1");
    expect(loadConfig([], {})!.auth.keys).toEqual([]);
    const keyed = loadConfig([], { WEFT_API_KEYS: `write:${W},read:${R}` })!;
    expect(keyed.host).toBe("0.0.0.0");
    expect(keyed.auth.keys.map((k) => k.scope)).toEqual(["write", "read"]);
    expect(loadConfig(["--api-keys", `read:${R}`, "--host", "127.0.0.1"], {})!.host).toBe("127.0.0.1");
    expect(loadConfig([], { WEFT_HOST: "::1" })!.host).toBe("::1");
  });

  test("keys are kept as digests only", () => {
    const c = loadConfig(["--api-keys", `write:${W}`], {})!;
    expect(JSON.stringify(c)).not.toContain(W);
    expect(c.auth.keys[0]!.digest).toHaveLength(32);
  });

  test("keys on the command line are marked (start-up warns: ps shows them); from the environment they are not", () => {
    expect(loadConfig(["--api-keys", `write:${W}`], {})!.auth.keysOnCommandLine).toBe(true);
    expect(loadConfig([], { WEFT_API_KEYS: `write:${W}` })!.auth.keysOnCommandLine).toBeFalsy();
  });

  test("a non-loopback host without keys is refused unless --allow-unauthenticated is given", () => {
    for (const host of ["0.0.0.0", "::", "10.1.2.3", "weft.internal"]) {
      expect(() => loadConfig(["--host", host], {})).toThrow(ConfigError);
      expect(() => loadConfig(["--host", host], {})).toThrow(/without authentication.*--api-keys.*--host 127\.0\.0\.1.*--allow-unauthenticated/);
    }
    expect(() => loadConfig([], { WEFT_HOST: "0.0.0.0" })).toThrow(/refusing to listen on 0\.0\.0\.0/);
    const allowed = loadConfig(["--host", "0.0.0.0", "--allow-unauthenticated"], {})!;
    expect(allowed.host).toBe("0.0.0.0");
    expect(allowed.auth.allowUnauthenticated).toBe(true);
    expect(loadConfig([], { WEFT_HOST: "0.0.0.0", WEFT_ALLOW_UNAUTHENTICATED: "true" })!.auth.allowUnauthenticated).toBe(true);
    expect(() => loadConfig([], { WEFT_HOST: "0.0.0.0", WEFT_ALLOW_UNAUTHENTICATED: "false" })).toThrow(/without authentication/);
    expect(() => loadConfig([], { WEFT_ALLOW_UNAUTHENTICATED: "maybe" })).toThrow(/allow-unauthenticated: "maybe" must be true or false/);
    // Loopback hosts need no keys.
    for (const host of ["127.0.0.1", "127.0.0.2", "::1", "localhost"]) expect(loadConfig(["--host", host], {})!.host).toBe(host);
  });

  test("reflection: auth by default, open or off; anything else refused", () => {
    expect(loadConfig([], {})!.auth.reflection).toBe("auth");
    expect(loadConfig(["--reflection", "off"], {})!.auth.reflection).toBe("off");
    expect(loadConfig([], { WEFT_REFLECTION: "open" })!.auth.reflection).toBe("open");
    expect(() => loadConfig(["--reflection", "public"], {})).toThrow(/reflection: "public" must be auth, open or off/);
  });

  test("bad keys stop start-up with a message that names the entry, not the key", () => {
    const short = "read:sh0rt-secret";
    let message = "";
    try {
      loadConfig(["--api-keys", `write:${W},${short}`], {});
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toMatch(/api-keys: entry 2: key is too short/);
    expect(message).not.toContain("sh0rt-secret");
    expect(() => loadConfig(["--api-keys", `admin:${W}`], {})).toThrow(/scope "admin" must be read or write/);
  });

  test("a key file: read when private or group-readable, refused when others may access it or its group write it", () => {
    const good = keyFile(`# keys\nwrite ${W} ci\nread ${R}\n`, 0o600);
    const c = loadConfig(["--api-keys-file", good], {})!;
    expect(c.auth.keys.map((k) => [k.scope, k.name])).toEqual([["write", "ci"], ["read", undefined]]);
    expect(c.host).toBe("0.0.0.0");
    // Both sources together.
    expect(loadConfig(["--api-keys", "read:another-key-0123456"], { WEFT_API_KEYS_FILE: good })!.auth.keys).toHaveLength(3);

    // Secret mounts: owner-only, or readable by the group that runs Weft (fsGroup).
    for (const mode of [0o400, 0o440, 0o640]) {
      expect(loadConfig(["--api-keys-file", keyFile(`write ${W}\n`, mode)], {})!.auth.keys).toHaveLength(1);
    }
    const refused: Array<[number, string]> = [
      [0o644, "accessible to others"],
      [0o604, "accessible to others"],
      [0o601, "accessible to others"],
      [0o444, "accessible to others"],
      [0o620, "writable by its group"],
      [0o660, "writable by its group"],
    ];
    for (const [mode, why] of refused) {
      const open = keyFile(`write ${W}\n`, mode);
      expect(() => loadConfig(["--api-keys-file", open], {})).toThrow(ConfigError);
      expect(() => loadConfig(["--api-keys-file", open], {})).toThrow(new RegExp(`${why} \\(mode 0${mode.toString(8)}\\).*chmod 600`));
    }
    expect(() => loadConfig(["--api-keys-file", "/nonexistent/weft-keys"], {})).toThrow(/api-keys-file: cannot read \/nonexistent\/weft-keys: ENOENT/);
  });

  test("key file parsing errors name the line and never print the key", () => {
    const bad = keyFile(`write ${W}\nread ${R} name extra\n`, 0o600);
    expect(() => loadConfig(["--api-keys-file", bad], {})).toThrow(/api-keys-file: line 2: expected "<scope> <key> \[name\]"/);
    const short = keyFile("read tiny-secret\n", 0o600);
    let message = "";
    try {
      loadConfig(["--api-keys-file", short], {});
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/line 1: key is too short/);
    expect(message).not.toContain("tiny-secret");
    const dup = keyFile(`write ${W}\nread ${W}\n`, 0o600);
    expect(() => loadConfig(["--api-keys-file", dup], {})).toThrow(/configured more than once/);
  });

  test("--help lists the options", () => {
    const help = helpText();
    for (const s of ["--api-keys", "WEFT_API_KEYS_FILE", "--reflection", "--allow-unauthenticated", "127.0.0.1 | 0.0.0.0"]) expect(help).toContain(s);
  });
});

describe("configuration of tracing", () => {
  test("off by default; --tracing or WEFT_TRACING otlp turns it on, the OTLP protocol coming from the OpenTelemetry variables", () => {
    expect(loadConfig([], {})!.tracing).toEqual({ mode: "off", protocol: "http/protobuf", scheduleDelayMs: 5000 });
    expect(loadConfig([], { WEFT_TRACING: "otlp" })!.tracing.mode).toBe("otlp");
    expect(loadConfig(["--tracing", "otlp"], { OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_BSP_SCHEDULE_DELAY: "200" })!.tracing).toEqual({
      mode: "otlp",
      protocol: "http/json",
      scheduleDelayMs: 200,
    });
    // The traces-specific variable wins over the general one.
    const env = { OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf" };
    expect(loadConfig(["--tracing", "otlp"], env)!.tracing.protocol).toBe("http/protobuf");
    expect(helpText()).toContain("WEFT_TRACING");
  });

  test("bad tracing settings are refused at start-up, naming the setting", () => {
    expect(() => loadConfig(["--tracing", "jaeger"], {})).toThrow(/tracing: "jaeger" must be off or otlp/);
    expect(() => loadConfig(["--tracing", "otlp"], { OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" is not supported/);
    expect(() => loadConfig(["--tracing", "otlp"], { OTEL_BSP_SCHEDULE_DELAY: "soon" })).toThrow(/OTEL_BSP_SCHEDULE_DELAY/);
    // With tracing off the OpenTelemetry variables are not Weft's concern.
    expect(loadConfig([], { OTEL_EXPORTER_OTLP_PROTOCOL: "grpc", OTEL_BSP_SCHEDULE_DELAY: "soon" })!.tracing).toEqual({ mode: "off", protocol: "http/protobuf", scheduleDelayMs: 5000 });
  });
});
