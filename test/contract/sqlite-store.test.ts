import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { SqliteWorkflowStore } from "../../src/store/sqlite-store.ts";
import { describeStoreContract } from "./workflow-store.contract.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describeStoreContract("embedded SQLite", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-store-"));
  dirs.push(dataDir);
  const harness = {
    store: new SqliteWorkflowStore({ dataDir }),
    async reopen() {
      await harness.store.close();
      harness.store = new SqliteWorkflowStore({ dataDir });
      return harness.store;
    },
  };
  return harness;
});

test("a second store on the same data directory is refused", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-store-"));
  dirs.push(dataDir);
  const first = new SqliteWorkflowStore({ dataDir });
  expect(() => new SqliteWorkflowStore({ dataDir })).toThrow(/locked/);
  await first.close();
});
