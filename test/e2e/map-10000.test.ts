// A map step at its documented maximum (README "Map steps"): 10,000 items with
// max_concurrency 50, on the store WEFT_TEST_STORE names. A real server and a
// real HTTP handler (its own small server here: the shared HandlerServer keeps
// every call's body, and each of these 10,000 bodies carries the 10,000-item
// list in previousSteps, ~50 KB).
//
// Measured on the 2-core development VM while other work ran on it: 10,000 items on
// the embedded store in 80 s (load average 14-23); on MongoDB (mongo-java-server, the
// in-memory server the tests use when there is no MongoDB) in 218 s beside a CI run
// (load average 5). Items are documents of their own there: before, every item's update
// rewrote the run document holding all of them and 10,000 items took over 40 minutes.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, test } from "vitest";
import { StepState, WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import { verifySignature } from "../../src/signing/verify.ts";
import { startWeft, TEST_SECRET, TEST_STORE, type TestWeft } from "../support/weft.ts";

const N = 10_000;
const LIMIT = 50;
/** No wall-clock bound on speed: this only stops a run that is stuck. */
const PATIENCE_MS = 25 * 60_000;

let weft: TestWeft;
let server: Server;
let baseUrl = "";

// What the handler saw.
let inFlight = 0;
let maxInFlight = 0;
const callsPerIndex = new Uint16Array(N);
let wrongItems = 0;
let signaturesChecked = 0;
const badSignatures: string[] = [];
let fanIn: { result: unknown; itemKeys: string[] } | undefined;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const reply = (json: unknown) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(json));
      };
      if (req.url === "/prepare") return reply({ success: true, result: { items: Array.from({ length: N }, (_, i) => i) } });
      const body = JSON.parse(raw.toString("utf8"));
      if (req.url === "/collect") {
        fanIn = { result: body.previousSteps.process.result, itemKeys: Object.keys(body) };
        return reply({ success: true, result: "done" });
      }
      // An item: counted while it is in flight, held a little so that calls pile up to Weft's bound.
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const index = body.index as number;
      callsPerIndex[index]++;
      if (body.item !== index || req.headers["weft-item-index"] !== String(index) || body.previousSteps.prepare.result.items.length !== N) wrongItems++;
      // The signature covers exactly the bytes sent (checked on every 97th item: HMAC over ~50 KB each).
      if (index % 97 === 0) {
        signaturesChecked++;
        const v = verifySignature({ headers: req.headers, body: raw, secrets: [TEST_SECRET] });
        if (!v.ok) badSignatures.push(`${index}: ${v.reason}`);
      }
      setTimeout(() => {
        inFlight--;
        reply({ success: true, result: index * 2 });
      }, 20);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  weft = await startWeft();
});

afterAll(async () => {
  await weft?.stop();
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
});

test(`${N.toLocaleString("en-US")} items with max_concurrency ${LIMIT} (${TEST_STORE} store): never more than ${LIMIT} in flight, every item once, results in item order at the fan-in`, async () => {
  const started = Date.now();
  const { workflow } = await weft.client.createWorkflow({
    id: "map-10000",
    baseUrl,
    steps: [
      { id: "prepare", url: "/prepare" },
      { id: "process", url: "/item", dependsOn: ["prepare"], forEach: "/prepare/result/items", maxConcurrency: LIMIT },
      { id: "collect", url: "/collect", dependsOn: ["process"] },
    ],
  });
  const id = workflow!.id;
  // Polled gently: each GetWorkflow of this run reads its 10,000 items from the store.
  let w = (await weft.client.getWorkflow({ id })).workflow!;
  while (w.state !== WorkflowState.COMPLETED && w.state !== WorkflowState.FAILED && w.state !== WorkflowState.CANCELLED) {
    if (Date.now() - started > PATIENCE_MS) throw new Error(`run stuck: ${JSON.stringify(w.steps.map((s) => [s.id, StepState[s.state], s.items]))}`);
    await new Promise((r) => setTimeout(r, 1000));
    w = (await weft.client.getWorkflow({ id })).workflow!;
  }
  const seconds = (Date.now() - started) / 1000;
  console.log(`map of ${N} items on the ${TEST_STORE} store: ${seconds.toFixed(1)} s, at most ${maxInFlight} in flight`);

  expect(WorkflowState[w.state]).toBe("COMPLETED");
  expect(maxInFlight).toBeLessThanOrEqual(LIMIT);
  expect(maxInFlight).toBeGreaterThan(1);
  // Every item called exactly once, with its own item and index.
  expect(callsPerIndex.every((c) => c === 1)).toBe(true);
  expect(wrongItems).toBe(0);
  expect(signaturesChecked).toBe(Math.ceil(N / 97));
  expect(badSignatures).toEqual([]);
  // The fan-in sees the item results in item order.
  expect(fanIn?.result).toEqual(Array.from({ length: N }, (_, i) => i * 2));
  const process = w.steps.find((s) => s.id === "process")!;
  expect(process.items).toMatchObject({ total: N, completed: N, failed: 0, cancelled: 0, running: 0, pending: 0, retryWait: 0 });
  // The item results page out in item order.
  const page = await weft.client.listStepItems({ id, stepId: "process", pageSize: 1000, pageToken: "" });
  expect(page.items.map((it) => it.index)).toEqual(Array.from({ length: Math.min(N, 1000) }, (_, i) => i));
}, PATIENCE_MS + 60_000);
