// The TypeScript client (clients/ts/src, the @weftflow/client package's sources)
// against a real Weft server, over each of its transports: Connect over the
// global fetch() (default), gRPC (HTTP/2, through the optional @connectrpc/connect-node),
// and Connect over a fetch() the caller gives. Status shape, watch, cancel, list, errors, verifyRequest.
import type { Interceptor } from "@connectrpc/connect";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { afterAll, describe, expect, test } from "vitest";
import { Backoff } from "../../gen/ts/weft/v1/workflow_pb.js";
import {
  createPlatform,
  optionsFromEnv,
  type Platform,
  type PlatformOptions,
  type WatchEvent,
  type WatchMessage,
  type WorkflowStatus,
  WeftError,
} from "../../clients/ts/src/index.ts";
import type { HandlerServer } from "../support/handler-server.ts";
import { fetchRequestFor, settle } from "../support/sdk.ts";
import { Gate, gated, within } from "../support/watch.ts";
import { startWeft, TEST_SECRET, type TestWeft, useWeft } from "../support/weft.ts";
import { digestApiKeys } from "../../src/domain/api-keys.ts";

let weft: TestWeft;
let handlers: HandlerServer;
const gates: Gate[] = [];
useWeft((w, h) => {
  weft = w;
  handlers = h;
  handlers.on("/fail-404", () => ({ status: 404, json: { success: false, error: "no such order" } }));
});

afterAll(() => {
  for (const g of gates) g.open();
});

const newGate = () => {
  const g = new Gate();
  gates.push(g);
  return g;
};

/** The documented fields of getStatus, plus the SDK's additions. */
const STATUS_KEYS = [
  "id", "workflowId", "state", "createdAt", "startedAt", "completedAt", "currentStep", "currentSteps",
  "completedSteps", "failedSteps", "context", "results", "steps", "error", "saga", "compensationFailed",
  "timeout", "deadline", "onComplete", "onError", "baseUrl", "requestId", "labels", "lastSequence", "webhook",
];
const STEP_KEYS = ["id", "state", "startedAt", "completedAt", "attempts", "result", "error", "nextAttemptAt", "compensation"];
const EVENT_KEYS = ["type", "sequence", "time", "stepId", "kind", "from", "to", "attempt", "error", "result"];

async function rejection(p: Promise<unknown>): Promise<WeftError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WeftError);
  return err as WeftError;
}

/** The run and step states after applying `events` to `snapshot`. */
function replay(snapshot: WorkflowStatus, events: WatchEvent[]) {
  let run: string = snapshot.state;
  const steps = new Map<string, string>(snapshot.steps.map((s) => [s.id, s.state]));
  for (const e of events) {
    if (e.kind === "run") run = e.to;
    if (e.kind === "step") steps.set(e.stepId!, e.to);
  }
  return { run, steps: Object.fromEntries(steps) };
}

type TransportName = "connect" | "grpc" | "fetch";
const TRANSPORTS: TransportName[] = ["connect", "grpc", "fetch"];

function platformFor(t: TransportName, extra: Partial<PlatformOptions> = {}): Platform {
  const base = { baseUrl: weft.baseUrl, signingSecrets: TEST_SECRET, jobsBaseUrl: handlers.baseUrl, ...extra };
  if (t === "fetch") return createPlatform({ ...base, transport: "connect", fetch: globalThis.fetch });
  return createPlatform({ ...base, transport: t });
}

describe.each(TRANSPORTS)("SDK over %s", (t) => {
  test("create returns the run; getStatus has the documented fields, lowercase states, seconds and Dates", async () => {
    const platform = platformFor(t);
    const input: Parameters<Platform["workflows"]["create"]>[0] = {
      id: `shape-${t}`,
      steps: [
        { id: "first", url: "/shape/first", timeout: 2.5, retries: { maxAttempts: 2, backoff: "linear", initialInterval: 0.25, maxInterval: 3 } },
        { id: "lost", url: handlers.url("/fail-404"), dependsOn: ["first"] },
        { id: "never", url: "/shape/never", dependsOn: ["lost"] },
      ],
      context: { orderId: "order_1", at: new Date("2026-01-02T03:04:05.000Z"), skip: undefined },
      timeout: 120,
      requestId: `shape-${t}-1`,
    };
    const created = await platform.workflows.create(input);
    expect(created.id).toMatch(/^wf_/);
    expect(created.workflowId).toBe(`shape-${t}`);
    expect(created.deduplicated).toBe(false);
    expect(["pending", "running"]).toContain(created.state);
    // The same request again returns the same run; the requestId with another request is refused.
    const again = await platform.workflows.create(input);
    expect([again.id, again.deduplicated]).toEqual([created.id, true]);
    const reused = await rejection(platform.workflows.create({ id: `shape-${t}`, steps: [{ id: "x", url: "/x" }], requestId: `shape-${t}-1` }));
    expect([reused.code, reused.reason, reused.metadata?.run_id]).toEqual(["already_exists", "IDEMPOTENCY_KEY_REUSED", created.id]);

    const { status } = await settle(platform, created.id);
    expect(Object.keys(status).sort()).toEqual([...STATUS_KEYS].sort());
    for (const s of status.steps) expect(Object.keys(s).sort()).toEqual([...STEP_KEYS].sort());
    expect(status).toMatchObject({
      id: created.id,
      workflowId: `shape-${t}`,
      state: "failed",
      currentStep: undefined,
      currentSteps: [],
      completedSteps: ["first"],
      failedSteps: ["lost"],
      context: { orderId: "order_1", at: "2026-01-02T03:04:05.000Z" },
      results: { first: { step: "first" } },
      error: { reason: "step_failed", stepId: "lost", retryable: false },
      saga: false,
      timeout: 120,
      baseUrl: handlers.baseUrl,
      requestId: `shape-${t}-1`,
      onComplete: undefined,
    });
    expect(status.startedAt).toBeInstanceOf(Date);
    expect(status.completedAt).toBeInstanceOf(Date);
    expect(status.deadline!.getTime() - status.createdAt!.getTime()).toBe(120_000);
    expect(status.steps.map((s) => [s.id, s.state, s.attempts])).toEqual([
      ["first", "completed", 1],
      ["lost", "failed", 1],
      ["never", "skipped", 0],
    ]);
    expect(status.steps[0]).toMatchObject({ result: { step: "first" }, error: undefined, compensation: undefined });
    expect(status.steps[1].error).toEqual({
      message: expect.any(String),
      reason: "http_status",
      httpStatus: 404,
      attempt: 1,
      retryable: false,
    });
    expect(status.steps[1].result).toBeUndefined();
    expect(status.steps[2]).toMatchObject({ startedAt: undefined, completedAt: undefined, result: undefined });

    // Seconds became protobuf Durations, names became enums.
    const raw = (await weft.client.getWorkflow({ id: created.id })).workflow!;
    const def = raw.steps[0].definition!;
    expect(durationMs(def.timeout!)).toBe(2500);
    expect(def.retries!.backoff).toBe(Backoff.LINEAR);
    expect(durationMs(def.retries!.initialInterval!)).toBe(250);
    expect(durationMs(def.retries!.maxInterval!)).toBe(3000);
    expect(def.retries!.maxAttempts).toBe(2);
  });

  test("watch yields a snapshot, then every transition in order as plain objects, then ends", async () => {
    const platform = platformFor(t);
    const gate = newGate();
    gated(handlers, `/watch-${t}/prepare`, gate, { prepared: true });
    const run = await platform.workflows.create({
      id: `watch-${t}`,
      steps: [
        { id: "prepare", url: `/watch-${t}/prepare` },
        { id: "a", url: `/watch-${t}/a`, dependsOn: ["prepare"], parallel: true },
        { id: "b", url: `/watch-${t}/b`, dependsOn: ["prepare"], parallel: true },
        { id: "done", url: `/watch-${t}/done`, dependsOn: ["a", "b"] },
      ],
    });
    const messages: WatchMessage[] = [];
    let ended = false;
    const consuming = (async () => {
      for await (const m of platform.workflows.watch(run.id)) {
        messages.push(m);
        if (messages.length === 1) gate.open();
      }
      ended = true;
    })();
    await within(consuming, 15_000, "the watch to end");
    expect(ended).toBe(true);

    const [first, ...rest] = messages;
    expect(first.type).toBe("snapshot");
    const snapshot = (first as Extract<WatchMessage, { type: "snapshot" }>).status;
    expect(snapshot.id).toBe(run.id);
    expect(["pending", "running"]).toContain(snapshot.state);
    const events = rest as WatchEvent[];
    expect(events.every((e) => e.type === "event")).toBe(true);
    expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => snapshot.lastSequence + 1 + i));
    for (const e of events) {
      expect(Object.keys(e).sort()).toEqual([...EVENT_KEYS].sort());
      expect(e.time).toBeInstanceOf(Date);
      expect(["run", "step", "compensation"]).toContain(e.kind);
    }
    const last = events.at(-1)!;
    expect(last).toMatchObject({ kind: "run", from: "running", to: "completed", stepId: undefined });
    const prepared = events.find((e) => e.stepId === "prepare" && e.to === "completed")!;
    expect(prepared).toMatchObject({ kind: "step", from: "running", attempt: 1, result: { prepared: true } });
    for (const id of ["a", "b", "done"]) {
      expect(events.filter((e) => e.stepId === id).map((e) => `${e.from}→${e.to}`), id).toEqual(["pending→running", "running→completed"]);
    }
    // The snapshot plus the events is the final status.
    const status = await platform.workflows.getStatus(run.id);
    expect(replay(snapshot, events)).toEqual({ run: status.state, steps: Object.fromEntries(status.steps.map((s) => [s.id, s.state])) });
    expect(status.lastSequence).toBe(last.sequence);

    // Resume: exactly the events after N, no snapshot; nothing after the last one.
    const resumed: WatchMessage[] = [];
    for await (const m of platform.workflows.watch(run.id, { afterSequence: 2 })) resumed.push(m);
    expect(resumed.map((m) => (m as WatchEvent).sequence)).toEqual(Array.from({ length: last.sequence - 2 }, (_, i) => 3 + i));
    expect(resumed.at(-1)).toEqual(last);
    const none: WatchMessage[] = [];
    for await (const m of platform.workflows.watch(run.id, { afterSequence: last.sequence })) none.push(m);
    expect(none).toEqual([]);
    // A finished run: its snapshot, then the end.
    const finished: WatchMessage[] = [];
    for await (const m of platform.workflows.watch(run.id)) finished.push(m);
    expect(finished.map((m) => m.type)).toEqual(["snapshot"]);
  });

  test("leaving the loop early cancels the stream; an aborted signal ends it with 'canceled'", async () => {
    const platform = platformFor(t);
    const baseline = weft.server.feed.listenerCount;
    const gate = newGate();
    gated(handlers, `/hang-${t}`, gate);
    const run = await platform.workflows.create({ id: `hang-${t}`, steps: [{ id: "hang", url: `/hang-${t}` }] });

    let seen = 0;
    for await (const m of platform.workflows.watch(run.id)) {
      seen++;
      expect(m.type).toBe("snapshot");
      break;
    }
    expect(seen).toBe(1);
    await expect.poll(() => weft.server.feed.listenerCount, { timeout: 30_000, interval: 10 }).toBe(baseline);

    const abort = new AbortController();
    const watching = (async () => {
      for await (const m of platform.workflows.watch(run.id, { signal: abort.signal })) {
        if (m.type === "snapshot") abort.abort();
      }
    })();
    const err = await rejection(watching);
    expect(err.code).toBe("canceled");
    await expect.poll(() => weft.server.feed.listenerCount, { timeout: 30_000, interval: 10 }).toBe(baseline);

    // The run itself is untouched by watchers going away; cancel it.
    expect((await platform.workflows.getStatus(run.id)).state).toBe("running");
    const cancelled = await platform.workflows.cancel(run.id, "customer changed their mind");
    expect(cancelled.state).toBe("cancelled");
    expect(cancelled.error?.message).toContain("customer changed their mind");
    expect(cancelled.steps[0].state).toBe("cancelled");
    const again = await rejection(platform.workflows.cancel(run.id));
    expect([again.code, again.reason]).toEqual(["failed_precondition", "RUN_FINISHED"]);
    gate.open();
  });

  test("list: newest first, filtered by workflowId and state, paged", async () => {
    const platform = platformFor(t);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await platform.workflows.create({ id: `list-${t}`, steps: [{ id: "a", url: "/a" }] })).id);
    for (const id of ids) await settle(platform, id);
    const all = await platform.workflows.list({ workflowId: `list-${t}` });
    expect(all.workflows.map((w) => w.id)).toEqual([...ids].reverse());
    expect(all.nextPageToken).toBeUndefined();
    expect(all.workflows[0].state).toBe("completed");
    const page1 = await platform.workflows.list({ workflowId: `list-${t}`, pageSize: 2 });
    expect(page1.workflows.map((w) => w.id)).toEqual([ids[2], ids[1]]);
    const page2 = await platform.workflows.list({ workflowId: `list-${t}`, pageSize: 2, pageToken: page1.nextPageToken });
    expect(page2.workflows.map((w) => w.id)).toEqual([ids[0]]);
    expect((await platform.workflows.list({ workflowId: `list-${t}`, state: ["failed", "cancelled"] })).workflows).toEqual([]);
    expect((await platform.workflows.list({ workflowId: `list-${t}`, state: "completed" })).workflows).toHaveLength(3);
  });

  test("server-side errors are WeftErrors with code, reason and every field violation", async () => {
    const platform = platformFor(t, { jobsBaseUrl: undefined });
    const err = await rejection(
      platform.workflows.create({
        id: "order-processing",
        steps: [
          { id: "validate", url: "/api/jobs/validate-order" },
          { id: "fulfill", url: "https://myapp.test/api/jobs/fulfill-order", dependsOn: ["charge"] },
          { id: "validate", url: "ftp://myapp.test/x", timeout: 0 },
        ],
      }),
    );
    expect(err.code).toBe("invalid_argument");
    expect(err.reason).toBe("INVALID_ARGUMENT");
    expect(err.name).toBe("WeftError");
    expect(err.fieldViolations).toEqual(
      expect.arrayContaining([
        { field: "steps[0].url", description: 'relative URL "/api/jobs/validate-order" needs base_url' },
        { field: "steps[1].depends_on[0]", description: 'unknown step "charge"' },
        expect.objectContaining({ field: "steps[2].id" }),
        expect.objectContaining({ field: "steps[2].url" }),
        expect.objectContaining({ field: "steps[2].timeout" }),
      ]),
    );
    expect(err.message).toContain('steps[1].depends_on[0]: unknown step "charge"');

    const notFound = await rejection(platform.workflows.getStatus("wf_01ARZ3NDEKTSV4RRFFQ69G5FAV"));
    expect([notFound.code, notFound.reason, notFound.fieldViolations]).toEqual(["not_found", "RUN_NOT_FOUND", []]);
    const noCancel = await rejection(platform.workflows.cancel("wf_01ARZ3NDEKTSV4RRFFQ69G5FAV"));
    expect(noCancel.code).toBe("not_found");
    const badWatch = await rejection((async () => {
      for await (const _ of platform.workflows.watch("wf_01ARZ3NDEKTSV4RRFFQ69G5FAV")) {
        // never reached
      }
    })());
    expect(badWatch.code).toBe("not_found");
  });
});

describe("SDK: checks before sending, configuration, verifyRequest", () => {
  test("wrong types are refused before anything is sent, as field violations in the server's terms", async () => {
    let sent = 0;
    const count: Interceptor = (next) => async (req) => {
      sent++;
      return next(req);
    };
    const platform = createPlatform({ baseUrl: weft.baseUrl, interceptors: [count] });
    const err = await rejection(
      platform.workflows.create({
        id: "typos",
        steps: [
          { id: "a", url: "https://h.test/a", dependOn: ["b"], timeout: "300s", retries: { backoff: "random", maxAttempts: 1.5 } },
          "not a step",
        ],
        context: ["not", "an", "object"],
        timeout: Number.NaN,
      } as never),
    );
    expect(err.code).toBe("invalid_argument");
    expect(err.fieldViolations).toEqual([
      { field: "steps[0].dependOn", description: "unknown field" },
      { field: "steps[0].timeout", description: "must be a number of seconds" },
      { field: "steps[0].retries.max_attempts", description: "must be an integer" },
      { field: "steps[0].retries.backoff", description: 'must be "exponential", "linear" or "fixed", got "random"' },
      { field: "steps[1]", description: "must be an object" },
      { field: "context", description: "must be a JSON object" },
      { field: "timeout", description: "must be a number of seconds" },
    ]);
    expect(err.message).toContain("steps[0].dependOn: unknown field");
    expect((await rejection(platform.workflows.list({ state: "done" as never }))).fieldViolations).toEqual([
      { field: "states[0]", description: 'unknown state "done"' },
    ]);
    expect(sent).toBe(0);
  });

  test("an unreachable server is 'unavailable'; bad options throw at once", async () => {
    const platform = createPlatform({ baseUrl: "http://127.0.0.1:1", timeoutMs: 5_000 });
    expect((await rejection(platform.workflows.getStatus("wf_x"))).code).toBe("unavailable");
    expect(() => createPlatform({ baseUrl: "localhost:8080" })).toThrow(TypeError);
    expect(() => createPlatform({ baseUrl: weft.baseUrl, transport: "grpc", fetch: globalThis.fetch })).toThrow(/needs transport "connect"/);
    expect(() => createPlatform({ baseUrl: weft.baseUrl, transport: "http3" as never })).toThrow(TypeError);
  });

  test("the default platform's environment variables", () => {
    expect(optionsFromEnv({})).toEqual({
      baseUrl: "http://localhost:8080",
      apiKey: undefined,
      signingSecrets: undefined,
      transport: undefined,
      jobsBaseUrl: undefined,
    });
    expect(
      optionsFromEnv({ WEFT_URL: "http://weft:9000", WEFT_SIGNING_SECRETS: "a,b", WEFT_TRANSPORT: "grpc", WEFT_JOBS_BASE_URL: "https://myapp.com" }),
    ).toEqual({ baseUrl: "http://weft:9000", apiKey: undefined, signingSecrets: "a,b", transport: "grpc", jobsBaseUrl: "https://myapp.com" });
    expect(optionsFromEnv({ WEFT_API_KEY: "wk_0123456789abcdef" }).apiKey).toBe("wk_0123456789abcdef");
  });

  test("a create call's baseUrl wins over jobsBaseUrl; rewriteUrl maps every URL", async () => {
    const platform = createPlatform({
      baseUrl: weft.baseUrl,
      jobsBaseUrl: "https://unused.test",
      rewriteUrl: (u) => u.replace("https://shop.test", handlers.baseUrl),
    });
    const run = await platform.workflows.create({
      id: "urls",
      baseUrl: handlers.baseUrl,
      steps: [
        { id: "rel", url: "/urls/rel" },
        { id: "abs", url: "https://shop.test/urls/abs", dependsOn: ["rel"] },
      ],
      onComplete: "https://shop.test/urls/done",
    });
    const { status } = await settle(platform, run.id);
    expect(status.state).toBe("completed");
    expect(handlers.callsFor(run.id).map((c) => c.path)).toEqual(["/urls/rel", "/urls/abs"]);
    expect(status.onComplete).toBe(`${handlers.baseUrl}/urls/done`);
  });

  test("jobs.verifyRequest checks a step request with the configured secrets and leaves the body readable", async () => {
    const setup = createPlatform({ baseUrl: weft.baseUrl, jobsBaseUrl: handlers.baseUrl });
    const run = await setup.workflows.create({ id: "verify", steps: [{ id: "a", url: "/verify/a" }], context: { n: 1 } });
    await settle(setup, run.id);
    const call = handlers.callsFor(run.id)[0];
    const request = () => fetchRequestFor(Request, handlers.baseUrl, call);

    const rotated = createPlatform({ baseUrl: weft.baseUrl, signingSecrets: `whsec_b2xkIHNlY3JldA==, ${TEST_SECRET}` });
    const req = request();
    expect(await rotated.jobs.verifyRequest(req)).toBe(true);
    expect(await req.json()).toMatchObject({ runId: run.id, stepId: "a", context: { n: 1 } });

    const wrong = createPlatform({ baseUrl: weft.baseUrl, signingSecrets: ["whsec_b2xkIHNlY3JldA=="] });
    expect(await wrong.jobs.verifyRequest(request())).toBe(false);
    expect(await wrong.jobs.verifyRequestDetailed(request())).toEqual({ ok: false, reason: "bad_signature" });
    const tampered = fetchRequestFor(Request, handlers.baseUrl, { ...call, rawBody: call.rawBody.replace('"n":1', '"n":2') });
    expect(await rotated.jobs.verifyRequest(tampered)).toBe(false);
    const unsigned = new Request(handlers.url("/verify/a"), { method: "POST", body: call.rawBody });
    expect(await rotated.jobs.verifyRequestDetailed(unsigned)).toEqual({ ok: false, reason: "missing_headers" });
  });
});

describe("SDK against a server with API keys", () => {
  const WRITE_KEY = "wk_sdk_5e8a2c4f7b19d036";
  const READ_KEY = "rk_sdk_9d1f3b7c2e58a640";
  let keyed: TestWeft;
  const keyedPlatform = (t: TransportName, extra: Partial<PlatformOptions>): Platform => {
    const base = { baseUrl: keyed.baseUrl, jobsBaseUrl: handlers.baseUrl, ...extra };
    if (t === "fetch") return createPlatform({ ...base, transport: "connect", fetch: globalThis.fetch });
    return createPlatform({ ...base, transport: t });
  };

  test.each(TRANSPORTS)("over %s: the apiKey goes with every call, the watch stream included; scopes are enforced", async (t) => {
    keyed ??= await startWeft({
      auth: { keys: digestApiKeys([{ scope: "write", key: WRITE_KEY }, { scope: "read", key: READ_KEY }]), reflection: "auth", allowUnauthenticated: false },
    });
    const writer = keyedPlatform(t, { apiKey: WRITE_KEY });
    const run = await writer.workflows.create({ id: "sdk-keyed", steps: [{ id: "a", url: "/keyed/a" }] });
    const { messages, status } = await settle(writer, run.id);
    expect(messages[0]!.type).toBe("snapshot");
    expect(status.state).toBe("completed");
    expect((await writer.workflows.list({ workflowId: "sdk-keyed" })).workflows.length).toBeGreaterThanOrEqual(1);

    const reader = keyedPlatform(t, { apiKey: READ_KEY });
    expect((await reader.workflows.getStatus(run.id)).state).toBe("completed");
    expect((await settle(reader, run.id)).messages[0]!.type).toBe("snapshot");
    const denied = await rejection(reader.workflows.create({ id: "sdk-keyed", steps: [{ id: "a", url: "/keyed/a" }] }));
    expect(denied.code).toBe("permission_denied");
    expect(denied.reason).toBe("API_KEY_SCOPE");
    expect(denied.metadata).toEqual({ required: "write" });
    expect(denied.message).not.toContain(READ_KEY);

    const anonymous = keyedPlatform(t, {});
    const missing = await rejection(anonymous.workflows.getStatus(run.id));
    expect(missing.code).toBe("unauthenticated");
    expect(missing.reason).toBe("API_KEY_MISSING");
    const watchMissing = await rejection(settle(anonymous, run.id));
    expect(watchMissing.code).toBe("unauthenticated");
    const wrong = await rejection(keyedPlatform(t, { apiKey: "wrong-key-0123456789" }).workflows.getStatus(run.id));
    expect(wrong.reason).toBe("API_KEY_INVALID");
  });

  test("WEFT_API_KEY is read on first use when no apiKey is given", async () => {
    keyed ??= await startWeft({
      auth: { keys: digestApiKeys([{ scope: "write", key: WRITE_KEY }, { scope: "read", key: READ_KEY }]), reflection: "auth", allowUnauthenticated: false },
    });
    const saved = process.env.WEFT_API_KEY;
    const platform = createPlatform({ baseUrl: keyed.baseUrl });
    const explicit = createPlatform({ baseUrl: keyed.baseUrl, apiKey: READ_KEY });
    try {
      process.env.WEFT_API_KEY = READ_KEY;
      expect((await platform.workflows.list({})).workflows).toBeDefined();
      // An explicit apiKey wins over the environment.
      process.env.WEFT_API_KEY = "wrong-key-0123456789";
      expect((await explicit.workflows.list({})).workflows).toBeDefined();
    } finally {
      if (saved === undefined) delete process.env.WEFT_API_KEY;
      else process.env.WEFT_API_KEY = saved;
    }
    // A malformed key is refused at once, without quoting it.
    let message = "";
    try {
      createPlatform({ baseUrl: keyed.baseUrl, apiKey: "secret-part one-two-three" });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/apiKey must be/);
    expect(message).not.toContain("secret-part");
  });

  afterAll(async () => {
    await keyed?.stop();
  });
});
