// The secure default as a process (`node src/main.ts`): no keys and a
// non-loopback host refuses to start; --allow-unauthenticated starts with a
// warning; keys from a file turn authentication on. Traffic goes only to 127.0.0.1.
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { logEntries, REPO_ROOT, spawnWeft, stopWeft, type WeftProcess } from "../support/weft-process.ts";
import { TEST_SECRET } from "../support/weft.ts";

const WRITE_KEY = "wk_proc_7a1e93c5d2b40f68";
const READ_KEY = "rk_proc_1c5b7e9a3f20d846";

/** The environment without any WEFT_* variable of this process. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("WEFT_"))), ...extra };
}

describe("start-up with and without API keys", () => {
  const dirs: string[] = [];
  let proc: WeftProcess | undefined;
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "weft-auth-proc-"));
    dirs.push(d);
    return d;
  };
  afterEach(async () => {
    if (proc) await stopWeft(proc);
    proc = undefined;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("--host 0.0.0.0 without keys exits non-zero with a message naming the fix", async () => {
    const child = spawn(process.execPath, ["src/main.ts", "--host", "0.0.0.0", "--port", "0", "--data-dir", tmp(), "--signing-secrets", TEST_SECRET], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: cleanEnv(),
    });
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    // If it starts instead of refusing, stop it (and fail) rather than leave it running.
    const started = new Promise<"started">((resolve) =>
      child.stdout.on("data", () => {
        if (stdout.includes("weft listening")) resolve("started");
      }),
    );
    const outcome = await Promise.race([exited, started]);
    if (outcome === "started") {
      child.kill("SIGKILL");
      await exited;
    }
    expect(outcome).not.toBe("started");
    expect(outcome).not.toBe(0);
    expect(stderr).toContain("refusing to listen on 0.0.0.0 without authentication");
    expect(stderr).toContain("--api-keys");
    expect(stderr).toContain("--allow-unauthenticated");
    expect(stdout).not.toContain("weft listening");
  });

  it("with --allow-unauthenticated it starts on 0.0.0.0 and warns", async () => {
    proc = await spawnWeft(tmp(), ["--host", "0.0.0.0", "--allow-unauthenticated"], { env: cleanEnv() });
    const listening = logEntries(proc).find((e) => e.msg === "weft listening");
    expect(listening?.host).toBe("0.0.0.0");
    const warning = logEntries(proc).find((e) => typeof e.msg === "string" && e.msg.startsWith("authentication off on a non-loopback address"));
    expect(warning?.level).toBe(40);
    // Reached over loopback only.
    const { workflows } = await proc.client.listWorkflows({});
    expect(workflows).toEqual([]);
  });

  it("keys from a private file turn authentication on; the log counts keys per scope and never shows them", async () => {
    const dir = tmp();
    const file = join(dir, "api-keys");
    writeFileSync(file, `# test keys\nwrite ${WRITE_KEY} ci\nread ${READ_KEY}\n`, { mode: 0o600 });
    proc = await spawnWeft(join(dir, "data"), ["--api-keys-file", file], { env: cleanEnv() });
    const on = logEntries(proc).find((e) => typeof e.msg === "string" && e.msg.startsWith("authentication on"));
    expect(on?.apiKeys).toEqual({ read: 1, write: 1 });
    expect(proc.logs.join("\n")).not.toContain(WRITE_KEY);
    expect(proc.logs.join("\n")).not.toContain(READ_KEY);
    expect(logEntries(proc).some((e) => typeof e.msg === "string" && e.msg.includes("process list"))).toBe(false);

    const err = await proc.client.listWorkflows({}).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.Unauthenticated);
    const { workflows } = await proc.client.listWorkflows({}, { headers: { authorization: `Bearer ${READ_KEY}` } });
    expect(workflows).toEqual([]);
  });

  it("keys given with --api-keys work, and start-up warns that the process list shows them", async () => {
    proc = await spawnWeft(tmp(), ["--api-keys", `read:${READ_KEY}`], { env: cleanEnv() });
    const warning = logEntries(proc).find((e) => typeof e.msg === "string" && e.msg.includes("process list"));
    expect(warning?.level).toBe(40);
    expect(warning?.msg).toContain("WEFT_API_KEYS");
    expect(proc.logs.join("\n")).not.toContain(READ_KEY);
    const { workflows } = await proc.client.listWorkflows({}, { headers: { authorization: `Bearer ${READ_KEY}` } });
    expect(workflows).toEqual([]);
  });

  it("a key file its group may read (0440, as a secret mount with fsGroup) is accepted", async () => {
    const dir = tmp();
    const file = join(dir, "api-keys");
    writeFileSync(file, `read ${READ_KEY}\n`, { mode: 0o440 });
    chmodSync(file, 0o440);
    proc = await spawnWeft(join(dir, "data"), ["--api-keys-file", file], { env: cleanEnv() });
    const { workflows } = await proc.client.listWorkflows({}, { headers: { authorization: `Bearer ${READ_KEY}` } });
    expect(workflows).toEqual([]);
  });

  it("a key file readable by others stops start-up", async () => {
    const dir = tmp();
    const file = join(dir, "api-keys");
    writeFileSync(file, `write ${WRITE_KEY}\n`, { mode: 0o644 });
    await expect(spawnWeft(join(dir, "data"), ["--api-keys-file", file], { env: cleanEnv() })).rejects.toThrow(/accessible to others \(mode 0644\)/);
  });
});
