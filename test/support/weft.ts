// Starts a real Weft server on an ephemeral port, with a throwaway data
// directory, and gives tests real clients for it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { afterAll, beforeAll } from "vitest";
import {
  type Workflow,
  WorkflowService,
  WorkflowState,
} from "../../gen/ts/weft/v1/workflow_pb.js";
import { type Config, loadConfig } from "../../src/config.ts";
import { type RunningServer, startServer } from "../../src/server/server.ts";
import { HandlerServer } from "./handler-server.ts";
import { startMongo } from "./mongo-server.ts";

export const TEST_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

export interface TestWeft {
  server: RunningServer;
  config: Config;
  baseUrl: string;
  /** Connect client over gRPC (HTTP/2). */
  client: Client<typeof WorkflowService>;
  connectClient(httpVersion?: "1.1" | "2"): Client<typeof WorkflowService>;
  grpcWebClient(): Client<typeof WorkflowService>;
  stop(): Promise<void>;
}

/**
 * WEFT_TEST_STORE=mongodb runs a test file's servers on the MongoDB store
 * (each server on a fresh database; see test/support/mongo-server.ts).
 */
export const TEST_STORE = process.env.WEFT_TEST_STORE === "mongodb" ? "mongodb" : "embedded";

export async function startWeft(overrides: Partial<Config> = {}, dataDir?: string): Promise<TestWeft> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), "weft-test-"));
  const base = loadConfig([], {})!;
  let stopMongo = async () => {};
  let mongodb = base.mongodb;
  if (TEST_STORE === "mongodb" && !overrides.mongodb) {
    const target = await startMongo();
    if ("skip" in target) throw new Error(`WEFT_TEST_STORE=mongodb but no MongoDB is available: ${target.skip}`);
    mongodb = { ...mongodb, uri: target.uri, database: target.dbName, pollIntervalMs: 20, sweepIntervalMs: 500, leaseTtlMs: 3000 };
    stopMongo = () => target.stop();
  }
  const config: Config = {
    ...base,
    host: "127.0.0.1",
    port: 0,
    dataDir: dir,
    signingSecrets: [TEST_SECRET],
    shutdownGraceMs: 1000,
    mongodb,
    ...overrides,
  };
  const server = await startServer(config, pino({ level: process.env.WEFT_TEST_LOG ?? "silent" }));
  const baseUrl = `http://127.0.0.1:${server.port}`;
  const client = createClient(WorkflowService, createGrpcTransport({ baseUrl }));
  return {
    server,
    config,
    baseUrl,
    client,
    connectClient: (httpVersion = "1.1") =>
      createClient(WorkflowService, createConnectTransport({ baseUrl, httpVersion })),
    grpcWebClient: () => createClient(WorkflowService, createGrpcWebTransport({ baseUrl, httpVersion: "1.1" })),
    async stop() {
      await server.close(500);
      await stopMongo();
      if (!dataDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const TERMINAL = new Set([WorkflowState.COMPLETED, WorkflowState.FAILED, WorkflowState.CANCELLED]);

/** Polls GetWorkflow until pred holds (default: a terminal state). */
export async function waitForRun(
  client: Client<typeof WorkflowService>,
  id: string,
  pred: (w: Workflow) => boolean = (w) => TERMINAL.has(w.state),
  timeoutMs = 120_000,
): Promise<Workflow> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const { workflow } = await client.getWorkflow({ id });
    if (workflow && pred(workflow)) return workflow;
    if (Date.now() > end) {
      throw new Error(`timed out waiting for run ${id}; last state ${workflow?.state}: ${JSON.stringify(workflow?.steps.map((s) => [s.id, s.state]))}`);
    }
    await new Promise((r) => setTimeout(r, 15));
  }
}

/**
 * Starts a handler server and a Weft server before the file's tests and stops
 * them after: `useWeft((w, h) => { weft = w; handlers = h; })`.
 */
export function useWeft(assign: (weft: TestWeft, handlers: HandlerServer) => void, overrides: Partial<Config> = {}): void {
  let weft: TestWeft | undefined;
  let handlers: HandlerServer | undefined;
  beforeAll(async () => {
    handlers = await HandlerServer.start();
    weft = await startWeft(overrides);
    assign(weft, handlers);
  });
  afterAll(async () => {
    await weft?.stop();
    await handlers?.close();
  });
}
