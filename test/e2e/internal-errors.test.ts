// A real internal failure (a stored run the server cannot read) is answered
// with a bare INTERNAL "internal error" and logged with its stack and the RPC,
// never with the request.
import { mkdtempSync, rmSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { HandlerServer } from "../support/handler-server.ts";
import { logEntries, spawnWeft, stopWeft, type WeftProcess } from "../support/weft-process.ts";
import { waitForRun } from "../support/weft.ts";

let weft: WeftProcess;
let handlers: HandlerServer;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "weft-internal-"));
  handlers = await HandlerServer.start();
  handlers.on("/ok", () => ({ json: { success: true, result: 1 } }));
  weft = await spawnWeft(dataDir);
});

afterAll(async () => {
  if (weft) await stopWeft(weft);
  await handlers?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

it("an unreadable stored run gives INTERNAL \"internal error\", logged with the stack and the RPC", async () => {
  const { workflow } = await weft.client.createWorkflow({ id: "to-break", steps: [{ id: "a", url: handlers.url("/ok") }] });
  const runId = workflow!.id;
  await waitForRun(weft.client, runId);
  // Damage the stored spec behind the server's back (the run is finished: nothing writes it).
  const db = new DatabaseSync(join(dataDir, "weft.db"));
  db.prepare("UPDATE run_specs SET spec = ? WHERE run_id = ?").run("{not json", runId);
  db.close();

  const err = await weft.client.getWorkflow({ id: runId }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConnectError);
  expect((err as ConnectError).code).toBe(Code.Internal);
  expect((err as ConnectError).rawMessage).toBe("internal error");

  let entry: Record<string, unknown> | undefined;
  for (let i = 0; i < 200 && !entry; i++) {
    entry = logEntries(weft).find((e) => e.msg === "internal error");
    if (!entry) await new Promise((r) => setTimeout(r, 25));
  }
  expect(entry, "no internal error was logged").toBeDefined();
  expect(entry!.rpc).toBe("weft.v1.WorkflowService/GetWorkflow");
  const logged = entry!.err as { type: string; stack: string };
  expect(logged.type).toBe("SyntaxError");
  expect(logged.stack).toMatch(/sqlite-store\.ts/);
  expect(JSON.stringify(entry)).not.toContain(runId); // the request is not logged

  // The server keeps serving.
  const fresh = await weft.client.createWorkflow({ id: "after", steps: [{ id: "a", url: handlers.url("/ok") }] });
  expect((await weft.client.getWorkflow({ id: fresh.workflow!.id })).workflow?.id).toBe(fresh.workflow!.id);
});
