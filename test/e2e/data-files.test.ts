// The data directory is private: 0700, and weft.db, its WAL and shared-memory
// files, weft.lock and signing-secret 0600, whatever the umask, also when an
// earlier version left them readable. The generated signing secret is written
// whole (temporary file, fsync, rename); an empty or garbled one fails the
// start with what is wrong and how to fix it, never with the secret.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { spawnWeft, stopWeft } from "../support/weft-process.ts";
import { loadConfig } from "../../src/config.ts";
import { describeMongo, newTestDbName } from "../support/mongo-server.ts";
import { startWeft, type TestWeft } from "../support/weft.ts";

const mode = (path: string) => statSync(path).mode & 0o777;
const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});
function newRoot(): string {
  const r = mkdtempSync(join(tmpdir(), "weft-files-"));
  roots.push(r);
  return r;
}

/** Starts with the given umask (restored right after the start). */
async function startWithUmask(mask: number, dataDir: string): Promise<TestWeft> {
  const old = process.umask(mask);
  try {
    // The embedded store, also when the end-to-end suites run on MongoDB (this file is about its files).
    return await startWeft({ signingSecrets: [], mongodb: loadConfig([], {})!.mongodb }, dataDir);
  } finally {
    process.umask(old);
  }
}

describe("file modes of the embedded store", () => {
  test("a new data directory is 0700 and every file in it 0600, even with umask 000", async () => {
    const dir = join(newRoot(), "nested", "data");
    const weft = await startWithUmask(0o000, dir);
    try {
      // A write, so that the WAL surely holds something.
      await weft.client.createWorkflow({ id: "modes", steps: [{ id: "a", url: "http://127.0.0.1:9/never" }] });
      expect(mode(dir).toString(8)).toBe("700");
      const files = readdirSync(dir).sort();
      expect(files).toEqual(expect.arrayContaining(["signing-secret", "weft.db", "weft.db-shm", "weft.db-wal", "weft.lock"]));
      for (const f of files) expect(`${f} ${mode(join(dir, f)).toString(8)}`).toBe(`${f} 600`);
      // The generated secret is whole, and no temporary file is left.
      expect(readFileSync(join(dir, "signing-secret"), "utf8")).toMatch(/^whsec_[A-Za-z0-9+/]{43}=\n$/);
      expect(files.filter((f) => f.endsWith(".tmp"))).toEqual([]);
    } finally {
      await weft.stop();
    }
  });

  test("an existing data directory and files left readable by an earlier version are made private", async () => {
    const dir = join(newRoot(), "data");
    const first = await startWithUmask(0o022, dir);
    await first.stop();
    chmodSync(dir, 0o755);
    for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644);
    // What a crash in the middle of writing the secret would leave.
    writeFileSync(join(dir, ".signing-secret.4242.deadbeef.tmp"), "whsec_half", { mode: 0o600 });
    const weft = await startWithUmask(0o022, dir);
    try {
      expect(mode(dir).toString(8)).toBe("700");
      for (const f of readdirSync(dir)) expect(`${f} ${mode(join(dir, f)).toString(8)}`).toBe(`${f} 600`);
      expect(existsSync(join(dir, ".signing-secret.4242.deadbeef.tmp"))).toBe(false);
    } finally {
      await weft.stop();
    }
  });
});

describeMongo("with the MongoDB store", (mongo) => {
  test("no data directory is made", async () => {
    const dir = join(newRoot(), "data");
    const mongodb = { ...loadConfig([], {})!.mongodb, uri: mongo().uri, database: newTestDbName() };
    const weft = await startWeft({ signingSecrets: [], mongodb }, dir);
    try {
      expect(existsSync(dir)).toBe(false);
    } finally {
      await weft.stop();
    }
  });
});

describe("an unusable signing-secret file fails the start", () => {
  const cases: [string, string, RegExp][] = [
    ["empty", "", /it is empty/],
    ["blank", "  \n\n", /it is empty/],
    ["not base64", "whsec_QUJD!!garbled-secret-material!!\n", /must be standard base64/],
    ["two lines", "whsec_QUJDREVGR0g=\nwhsec_SUpLTE1OT1A=\n", /more than one line/],
  ];
  for (const [name, content, problem] of cases) {
    test(name, async () => {
      const dir = join(newRoot(), "data");
      mkdirSync(dir, { mode: 0o700 });
      writeFileSync(join(dir, "signing-secret"), content, { mode: 0o600 });
      // An empty --signing-secrets: the secret comes from the file.
      const started = spawnWeft(dir, ["--signing-secrets="]);
      const err = await started.then(
        async (p) => {
          await stopWeft(p);
          return undefined;
        },
        (e: Error) => e,
      );
      expect(err, "the server should not have started").toBeInstanceOf(Error);
      const message = err!.message;
      expect(message).toMatch(/weft exited with 1/);
      expect(message).toContain(`the signing secret file ${join(dir, "signing-secret")} is unusable`);
      expect(message).toMatch(problem);
      expect(message).toContain("Delete it to have a new secret generated");
      expect(message).toContain("WEFT_SIGNING_SECRETS");
      // Never the secret itself.
      for (const part of content.split(/\s+/).filter((s) => s.length > 6)) expect(message).not.toContain(part.slice(6));
      // The file is left as it was, for the operator to look at.
      expect(readFileSync(join(dir, "signing-secret"), "utf8")).toBe(content);
    });
  }
});
