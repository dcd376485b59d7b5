import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { ensurePrivateDir, ensurePrivateFile } from "../../src/store/private-files.ts";

const mode = (p: string) => (statSync(p).mode & 0o7777).toString(8);
let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("private data files", () => {
  test("a directory of ours is tightened to 0700, a file to 0600, silently", () => {
    root = mkdtempSync(join(tmpdir(), "weft-priv-"));
    const warnings: string[] = [];
    const dir = join(root, "d");
    ensurePrivateDir(dir, (m) => warnings.push(m));
    expect(mode(dir)).toBe("700");
    chmodSync(dir, 0o755);
    ensurePrivateDir(dir, (m) => warnings.push(m));
    expect(mode(dir)).toBe("700");
    const file = join(dir, "f");
    writeFileSync(file, "data", { mode: 0o644 });
    chmodSync(file, 0o644);
    ensurePrivateFile(file, (m) => warnings.push(m));
    expect(mode(file)).toBe("600");
    expect(warnings).toEqual([]);
  });

  test("a shared (sticky) directory such as /tmp is left as it is, with a warning", () => {
    root = mkdtempSync(join(tmpdir(), "weft-priv-"));
    chmodSync(root, 0o1777);
    const warnings: string[] = [];
    ensurePrivateDir(root, (m) => warnings.push(m));
    expect(mode(root)).toBe("1777");
    expect(warnings).toEqual([expect.stringContaining("is a shared (sticky) directory and has mode 777")]);
  });
});
