// The TypeScript SDK's labels, list filters and delete against the real server.
import { expect, test } from "vitest";
import { createPlatform, WeftError } from "../../clients/ts/src/index.ts";
import type { HandlerServer } from "../support/handler-server.ts";
import { type TestWeft, useWeft, waitForRun } from "../support/weft.ts";

let weft: TestWeft;
let handlers: HandlerServer;
useWeft((w, h) => {
  weft = w;
  handlers = h;
});

test("create with labels, list by labels and creation time, delete", async () => {
  const { workflows } = createPlatform({ baseUrl: weft.baseUrl });
  const before = new Date();
  const a = await workflows.create({ id: "sdk-labels", labels: { team: "sdk", n: "1" }, steps: [{ id: "a", url: handlers.url("/a") }] });
  const b = await workflows.create({ id: "sdk-labels", labels: { team: "sdk", n: "2" }, steps: [{ id: "a", url: handlers.url("/a") }] });
  expect(a.labels).toEqual({ team: "sdk", n: "1" });
  await waitForRun(weft.client, a.id);
  await waitForRun(weft.client, b.id);
  expect((await workflows.getStatus(b.id)).labels).toEqual({ team: "sdk", n: "2" });
  expect((await workflows.list({ labels: { team: "sdk" } })).workflows.map((w) => w.id)).toEqual([b.id, a.id]);
  expect((await workflows.list({ labels: { team: "sdk", n: "1" }, createdAfter: new Date(before.getTime() - 1000) })).workflows.map((w) => w.id)).toEqual([a.id]);
  expect((await workflows.list({ labels: { team: "sdk" }, createdBefore: new Date(before.getTime() - 1000) })).workflows).toEqual([]);
  await workflows.delete(a.id);
  expect((await workflows.list({ labels: { team: "sdk" } })).workflows.map((w) => w.id)).toEqual([b.id]);
  const gone = await workflows.delete(a.id).then(() => undefined, (e: unknown) => e);
  expect(gone).toBeInstanceOf(WeftError);
  expect((gone as WeftError).code).toBe("not_found");
  const bad = await workflows.create({ id: "x", labels: { team: 5 as unknown as string }, steps: [{ id: "a", url: handlers.url("/a") }] }).then(() => undefined, (e: unknown) => e);
  expect((bad as WeftError).code).toBe("invalid_argument");
});
