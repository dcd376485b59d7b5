// The outbound policy end to end: a real server configured with
// `--outbound-deny 127.0.0.0/8 --outbound-allow handler.test`, and a real
// handler server on 127.0.0.1. CreateWorkflow refuses odd URL forms and denied
// literal addresses with the field path; a host name that resolves to a denied
// address (rebind.test) is refused when connecting: the step fails with
// destination_denied after one attempt, compensations and webhooks to it are
// not called.
//
// Host names resolve through an injected resolver that knows only loopback
// answers; beforeAll first checks (with "localhost", which the system resolves
// from /etc/hosts) that the server resolves through it, so that not even a DNS
// query leaves the machine if that wiring were broken.
import type { LookupAddress } from "node:dns";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { BadRequestSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import {
  CompensationState,
  StepState,
  WebhookState,
  type Workflow,
  WorkflowService,
  WorkflowState,
} from "../../gen/ts/weft/v1/workflow_pb.js";
import { loadConfig } from "../../src/config.ts";
import type { Resolve } from "../../src/dispatch/http-step-dispatcher.ts";
import { type RunningServer, startServer } from "../../src/server/server.ts";
import { HandlerServer } from "../support/handler-server.ts";
import { TEST_SECRET, waitForRun } from "../support/weft.ts";

const LOOPBACK: LookupAddress[] = [{ address: "127.0.0.1", family: 4 }];
const NAMES: Record<string, LookupAddress[]> = { localhost: LOOPBACK, "handler.test": LOOPBACK, "rebind.test": LOOPBACK };
const resolved: string[] = [];
const resolve: Resolve = (hostname, _options, callback) => {
  resolved.push(hostname);
  const a = NAMES[hostname];
  setImmediate(() => (a ? callback(null, a) : callback(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), [])));
};

let handlers: HandlerServer;
let server: RunningServer;
let client: Client<typeof WorkflowService>;
let dataDir: string;
let port: number;
/** A URL on the handler server through an allowed name, or through one that resolves to a denied address. */
const allowed = (path: string) => `http://handler.test:${port}${path}`;
const rebound = (path: string) => `http://rebind.test:${port}${path}`;

beforeAll(async () => {
  handlers = await HandlerServer.start();
  port = Number(new URL(handlers.baseUrl).port);
  dataDir = mkdtempSync(join(tmpdir(), "weft-outbound-"));
  const config = loadConfig(["--outbound-deny", "127.0.0.0/8", "--outbound-allow", "handler.test"], {})!;
  server = await startServer(
    {
      ...config,
      host: "127.0.0.1",
      port: 0,
      dataDir,
      signingSecrets: [TEST_SECRET],
      webhook: { retryPeriodMs: 60_000, initialIntervalMs: 50, maxIntervalMs: 200, timeoutMs: 2_000 },
    },
    pino({ level: process.env.WEFT_TEST_LOG ?? "silent" }),
    { resolve },
  );
  client = createClient(WorkflowService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.port}` }));
  // The guard described at the top.
  const { workflow } = await client.createWorkflow({ id: "guard", steps: [{ id: "a", url: `http://localhost:${port}/guard` }] });
  await waitForRun(client, workflow!.id);
  if (!resolved.includes("localhost")) {
    throw new Error("the server did not resolve through the injected resolver: not running tests that use made-up names");
  }
});

afterAll(async () => {
  await server?.close(500);
  await handlers?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/**
 * The violations of a CreateWorkflow request, besides that of a sentinel step
 * added to it with an unknown dependency: the request is refused whatever the
 * URL checks do, so no run to the addresses it names can ever start.
 */
interface Request {
  id: string;
  baseUrl?: string;
  steps: { id: string; url: string; compensation?: string; dependsOn?: string[] }[];
  onComplete?: string;
  onError?: string;
}

async function violations(req: Request) {
  const sentinel = { id: "sentinel", url: allowed("/never"), dependsOn: ["no-such-step"] };
  const err = await client.createWorkflow({ ...req, steps: [...req.steps, sentinel] }).then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  expect(err?.code).toBe(Code.InvalidArgument);
  const details = err!.findDetails(BadRequestSchema);
  expect(details).toHaveLength(1);
  const all = details[0].fieldViolations.map((v) => ({ field: v.field, description: v.description }));
  const field = `steps[${req.steps.length}].depends_on[0]`;
  expect(all).toContainEqual({ field, description: 'unknown step "no-such-step"' });
  return all.filter((v) => v.field !== field);
}

const NOT_PLAIN = "is not a plain IPv4 address: write four decimal numbers 0-255 without leading zeros (a.b.c.d)";
const USER_INFO = "must not contain user info (user:password@); handlers verify Weft's signature instead";

describe("CreateWorkflow refuses", () => {
  test("user info, odd IPv4 forms, IPv6 forms hiding an IPv4, '%' and denied literal addresses, each with its field path; no run is written", async () => {
    const before = (await client.listWorkflows({ pageSize: 100 })).workflows.length;
    const v = await violations({
      id: "bad-urls",
      steps: [
        { id: "a", url: `http://user:pass@handler.test:${port}/a` },
        { id: "b", url: `http://user@handler.test:${port}/b` },
        { id: "c", url: `http://2130706433:${port}/c` },
        { id: "d", url: `http://127.1:${port}/d` },
        { id: "e", url: `http://0x7f000001:${port}/e` },
        { id: "f", url: `http://0177.0.0.1:${port}/f`, compensation: `http://0x7f.0.0.1:${port}/undo` },
        { id: "g", url: "http://[::ffff:169.254.169.254]/latest/meta-data/" },
        { id: "h", url: `http://%31%32%37.0.0.1:${port}/h` },
        { id: "i", url: "http://169.254.169.254/latest/meta-data/" },
        { id: "j", url: "http://[fd00:ec2::254]/latest/meta-data/" },
        { id: "k", url: `http://127.0.0.1:${port}/k` },
      ],
      onComplete: "http://100.100.100.200/latest/meta-data/",
      onError: `http://127.0.0.1.:${port}/err`,
    });
    expect(v).toEqual([
      { field: "steps[0].url", description: USER_INFO },
      { field: "steps[1].url", description: USER_INFO },
      { field: "steps[2].url", description: `host "2130706433" ${NOT_PLAIN}` },
      { field: "steps[3].url", description: `host "127.1" ${NOT_PLAIN}` },
      { field: "steps[4].url", description: `host "0x7f000001" ${NOT_PLAIN}` },
      { field: "steps[5].url", description: `host "0177.0.0.1" ${NOT_PLAIN}` },
      { field: "steps[5].compensation", description: `host "0x7f.0.0.1" ${NOT_PLAIN}` },
      {
        field: "steps[6].url",
        description: 'IPv6 address "[::ffff:169.254.169.254]" carries the IPv4 address 169.254.169.254: write the IPv4 address itself',
      },
      { field: "steps[7].url", description: "host must not contain '%' (percent-encoding or an IPv6 zone id)" },
      { field: "steps[8].url", description: "destination denied by the outbound policy: 169.254.0.0/16" },
      { field: "steps[9].url", description: "destination denied by the outbound policy: fd00:ec2::254/128" },
      { field: "steps[10].url", description: "destination denied by the outbound policy: 127.0.0.0/8" },
      { field: "on_complete", description: "destination denied by the outbound policy: 100.100.100.200/32" },
      { field: "on_error", description: `host "127.0.0.1." ${NOT_PLAIN}` },
    ]);
    expect((await client.listWorkflows({ pageSize: 100 })).workflows.length).toBe(before);
  });

  test("base_url with user info", async () => {
    expect(await violations({ id: "bad-base", baseUrl: `http://u:p@handler.test:${port}`, steps: [{ id: "a", url: "/a" }] })).toEqual([
      { field: "base_url", description: USER_INFO },
    ]);
  });

  test("at most ~100 characters of a long host are echoed", async () => {
    // WHATWG reads this as 0.0.0.1 (a run of octal zeros).
    const host = `${"0".repeat(1500)}.0.0.1`;
    const [v] = await violations({ id: "long", steps: [{ id: "a", url: `http://${host}/a` }] });
    expect(v).toEqual({ field: "steps[0].url", description: `host "${"0".repeat(80)}…" ${NOT_PLAIN}` });
  });
});

describe("at connect time", () => {
  test("a step whose host name resolves to a denied address fails with destination_denied after one attempt of 5; the handler sees no call", async () => {
    const { workflow } = await client.createWorkflow({
      id: "rebind",
      steps: [{ id: "a", url: rebound("/rebind/a"), retries: { maxAttempts: 5, initialInterval: durationFromMs(10) } }],
    });
    const done = await waitForRun(client, workflow!.id);
    expect(done.state).toBe(WorkflowState.FAILED);
    const step = done.steps[0];
    expect(step.state).toBe(StepState.FAILED);
    expect(step.attempts).toBe(1);
    expect(step.error).toMatchObject({
      reason: "destination_denied",
      message: "destination denied by the outbound policy: 127.0.0.0/8 (rebind.test resolved to 127.0.0.1)",
      retryable: false,
    });
    expect(handlers.calls.filter((c) => c.path.startsWith("/rebind/"))).toEqual([]);
  });

  test("a saga compensation and an on_error webhook to a denied destination are not called and show destination_denied", async () => {
    handlers.on("/saga/b", () => ({ json: { success: false, error: "declined", retryable: false } }));
    const { workflow } = await client.createWorkflow({
      id: "saga-denied",
      saga: true,
      steps: [
        { id: "a", url: allowed("/saga/a"), compensation: rebound("/saga/undo-a") },
        { id: "b", url: allowed("/saga/b"), dependsOn: ["a"] },
      ],
      onError: rebound("/saga/hook"),
    });
    const settled = (w: Workflow) => w.webhook?.state === WebhookState.DELIVERED || w.webhook?.state === WebhookState.FAILED;
    const done = await waitForRun(client, workflow!.id, settled);
    expect(done.state).toBe(WorkflowState.FAILED);
    expect(handlers.calls.filter((c) => c.path.startsWith("/saga/")).map((c) => c.path)).toEqual(["/saga/a", "/saga/b"]);
    const a = done.steps[0];
    expect(a.compensationState).toBe(CompensationState.FAILED);
    expect(a.compensationAttempts).toBe(1);
    expect(a.compensationError).toMatchObject({ reason: "destination_denied", retryable: false });
    expect(done.webhook).toMatchObject({ state: WebhookState.FAILED, attempts: 1 });
    expect(done.webhook!.lastError).toMatchObject({
      reason: "destination_denied",
      message: "destination denied by the outbound policy: 127.0.0.0/8 (rebind.test resolved to 127.0.0.1)",
      retryable: false,
    });
  });

  test("an allowed host name is called", async () => {
    const { workflow } = await client.createWorkflow({ id: "allowed", steps: [{ id: "a", url: allowed("/allowed/a") }] });
    const done = await waitForRun(client, workflow!.id);
    expect(done.state).toBe(WorkflowState.COMPLETED);
    expect(handlers.calls.filter((c) => c.path === "/allowed/a")).toHaveLength(1);
  });
});
