import { describe, expect, it } from "vitest";
import { compileWorkflow, formatViolations } from "../../src/domain/compile-workflow.ts";
import type { FieldViolation, StepInput, WorkflowInput, WorkflowSpec } from "../../src/domain/workflow-spec.ts";
import { DEFAULT_LIMITS, DEFAULTS } from "../../src/domain/workflow-spec.ts";

function step(id: string, dependsOn: string[] = [], extra: Partial<StepInput> = {}): StepInput {
  return { id, url: `https://myapp.com/api/jobs/${id}`, dependsOn, parallel: false, compensation: "", ...extra };
}

function workflow(steps: StepInput[], extra: Partial<WorkflowInput> = {}): WorkflowInput {
  return {
    id: "wf",
    steps,
    onComplete: "",
    onError: "",
    saga: false,
    baseUrl: "",
    requestId: "",
    ...extra,
  };
}

function ok(input: WorkflowInput): WorkflowSpec {
  const r = compileWorkflow(input, DEFAULT_LIMITS);
  if (!r.ok) throw new Error(`expected ok, got: ${formatViolations(r.violations)}`);
  return r.spec;
}

function violations(input: WorkflowInput, requestBytes?: number, limits = DEFAULT_LIMITS): FieldViolation[] {
  const r = compileWorkflow(input, limits, requestBytes);
  if (r.ok) throw new Error("expected violations");
  return r.violations;
}

const rel = (id: string, dependsOn: string[] = [], extra: Partial<StepInput> = {}): StepInput =>
  step(id, dependsOn, { url: `/api/jobs/${id}`, ...extra });

describe("example workflows (the product's contract)", () => {
  it("order-processing chain", () => {
    const spec = ok(
      workflow(
        [rel("validate"), rel("charge", ["validate"]), rel("fulfill", ["charge"]), rel("notify", ["fulfill"])],
        { id: "order-processing", baseUrl: "https://myapp.com", context: { orderId: "o-1", amount: 42.5 } },
      ),
    );
    expect(spec.workflowId).toBe("order-processing");
    expect(spec.steps.map((s) => [s.id, s.url, s.dependsOn])).toEqual([
      ["validate", "https://myapp.com/api/jobs/validate", []],
      ["charge", "https://myapp.com/api/jobs/charge", ["validate"]],
      ["fulfill", "https://myapp.com/api/jobs/fulfill", ["charge"]],
      ["notify", "https://myapp.com/api/jobs/notify", ["fulfill"]],
    ]);
    expect(spec.context).toEqual({ orderId: "o-1", amount: 42.5 });
    expect(spec.baseUrl).toBe("https://myapp.com");
  });

  it("batch fan-out / fan-in", () => {
    const items = ["process-item-1", "process-item-2", "process-item-3"];
    const spec = ok(
      workflow(
        [rel("prepare"), ...items.map((id) => rel(id, ["prepare"], { parallel: true })), rel("finalize", items)],
        { id: "batch", baseUrl: "https://myapp.com" },
      ),
    );
    expect(spec.steps.map((s) => s.parallel)).toEqual([false, true, true, true, false]);
    expect(spec.steps[4].dependsOn).toEqual(items);
  });

  it("complex pipeline", () => {
    const spec = ok(
      workflow(
        [
          rel("prepare"),
          rel("process-a", ["prepare"], { parallel: true }),
          rel("process-b", ["prepare"], { parallel: true }),
          rel("process-c", ["prepare"], { parallel: true }),
          rel("validate", ["process-c"]),
          rel("aggregate", ["process-a", "process-b", "process-c"]),
          rel("notify", ["aggregate", "validate"]),
        ],
        { id: "pipeline", baseUrl: "https://myapp.com" },
      ),
    );
    expect(spec.steps).toHaveLength(7);
    expect(spec.steps[6].dependsOn).toEqual(["aggregate", "validate"]);
  });

  it("order saga with compensations", () => {
    const spec = ok(
      workflow(
        [
          rel("reserve-inventory", [], { compensation: "/api/jobs/release-inventory" }),
          rel("charge-payment", ["reserve-inventory"], { compensation: "/api/jobs/refund-payment" }),
          rel("create-shipment", ["charge-payment"], { compensation: "/api/jobs/cancel-shipment" }),
          rel("notify-customer", ["create-shipment"]),
        ],
        { id: "order-saga", saga: true, baseUrl: "https://myapp.com" },
      ),
    );
    expect(spec.saga).toBe(true);
    expect(spec.steps.map((s) => s.compensation)).toEqual([
      "https://myapp.com/api/jobs/release-inventory",
      "https://myapp.com/api/jobs/refund-payment",
      "https://myapp.com/api/jobs/cancel-shipment",
      undefined,
    ]);
    expect("compensation" in spec.steps[3]).toBe(false);
  });
});

describe("defaults", () => {
  it("applies defaults and drops empty optional fields", () => {
    const input = workflow([step("a")]);
    const spec = ok(input);
    expect(spec).toEqual({
      workflowId: "wf",
      steps: [
        {
          id: "a",
          url: "https://myapp.com/api/jobs/a",
          dependsOn: [],
          parallel: false,
          retry: {
            maxAttempts: 1,
            backoff: "exponential",
            initialIntervalMs: DEFAULTS.initialIntervalMs,
            maxIntervalMs: DEFAULTS.maxIntervalMs,
            jitter: 0,
          },
          timeoutMs: DEFAULTS.stepTimeoutMs,
          submitted: input.steps[0],
        },
      ],
      context: {},
      timeoutMs: DEFAULTS.workflowTimeoutMs,
      saga: false,
    });
    expect(spec.steps[0].submitted).toBe(input.steps[0]);
    for (const k of ["onComplete", "onError", "baseUrl", "requestId"]) expect(k in spec).toBe(false);
  });

  it("keeps given values", () => {
    const spec = ok(
      workflow([step("a", [], { timeoutMs: 5000 })], {
        timeoutMs: 60_000,
        onComplete: "https://hooks.example/done",
        onError: "http://hooks.example/err",
        requestId: "req-1",
      }),
    );
    expect(spec.steps[0].timeoutMs).toBe(5000);
    expect(spec.timeoutMs).toBe(60_000);
    expect(spec.onComplete).toBe("https://hooks.example/done");
    expect(spec.onError).toBe("http://hooks.example/err");
    expect(spec.requestId).toBe("req-1");
  });

  it("retries: 0 attempts means 1, backoff defaults to exponential, intervals default", () => {
    const spec = ok(workflow([step("a", [], { retries: { maxAttempts: 0, jitter: 0 } })]));
    expect(spec.steps[0].retry).toEqual({
      maxAttempts: 1,
      backoff: "exponential",
      initialIntervalMs: 1000,
      maxIntervalMs: 60_000,
      jitter: 0,
    });
  });

  it("retries: given values are kept; max_interval defaults to at least initial", () => {
    const spec = ok(
      workflow([
        step("a", [], {
          retries: { maxAttempts: 5, backoff: "linear", initialIntervalMs: 0, maxIntervalMs: 10, jitter: 0.5 },
        }),
        step("b", [], { retries: { maxAttempts: 3, backoff: "fixed", initialIntervalMs: 120_000, jitter: 1 } }),
        step("c", [], { retries: { maxAttempts: 100, maxIntervalMs: 500, jitter: 0 } }),
      ]),
    );
    expect(spec.steps[0].retry).toEqual({
      maxAttempts: 5,
      backoff: "linear",
      initialIntervalMs: 0,
      maxIntervalMs: 10,
      jitter: 0.5,
    });
    expect(spec.steps[1].retry).toEqual({
      maxAttempts: 3,
      backoff: "fixed",
      initialIntervalMs: 120_000,
      maxIntervalMs: 120_000,
      jitter: 1,
    });
    // max_interval below the default initial interval lowers the initial one.
    expect(spec.steps[2].retry.initialIntervalMs).toBe(500);
    expect(spec.steps[2].retry.maxIntervalMs).toBe(500);
  });

  it("dependsOn keeps definition order (duplicates are a violation)", () => {
    const spec = ok(workflow([step("a"), step("b"), step("c", ["b", "a"])]));
    expect(spec.steps[2].dependsOn).toEqual(["b", "a"]);
  });
});

describe("request size", () => {
  it("rejects a request over the limit", () => {
    expect(violations(workflow([step("a")]), 5_000_123)).toContainEqual({
      field: "request",
      description: "request is 5000123 bytes, over the limit of 4194304",
    });
  });
  it("accepts a request at the limit", () => {
    expect(compileWorkflow(workflow([step("a")]), DEFAULT_LIMITS, 4_194_304).ok).toBe(true);
  });
});

describe("workflow id", () => {
  it("is required", () => {
    expect(violations(workflow([step("a")], { id: "" }))).toEqual([{ field: "id", description: "required" }]);
  });
  it("has a maximum length", () => {
    expect(violations(workflow([step("a")], { id: "x".repeat(129) }))).toEqual([
      { field: "id", description: "must be at most 128 characters (got 129)" },
    ]);
    expect(compileWorkflow(workflow([step("a")], { id: "x".repeat(128) }), DEFAULT_LIMITS).ok).toBe(true);
  });
  it("has a character set", () => {
    expect(violations(workflow([step("a")], { id: "order processing" }))).toEqual([
      {
        field: "id",
        description: `invalid character " " at index 5: only letters, digits, '_', '-', '.' and ':' are allowed`,
      },
    ]);
    expect(compileWorkflow(workflow([step("a")], { id: "Az09_.:-" }), DEFAULT_LIMITS).ok).toBe(true);
  });
});

describe("steps", () => {
  it("at least one", () => {
    expect(violations(workflow([]))).toEqual([{ field: "steps", description: "at least one step is required" }]);
  });
  it("at most limits.maxSteps", () => {
    const limits = { ...DEFAULT_LIMITS, maxSteps: 2 };
    expect(violations(workflow([step("a"), step("b"), step("c")]), undefined, limits)).toEqual([
      { field: "steps", description: "at most 2 steps are allowed (got 3)" },
    ]);
  });
  it("step id: required, length, charset", () => {
    const v = violations(workflow([step(""), step("y".repeat(129)), step("bad/id")]));
    expect(v).toContainEqual({ field: "steps[0].id", description: "required" });
    expect(v).toContainEqual({ field: "steps[1].id", description: "must be at most 128 characters (got 129)" });
    expect(v).toContainEqual({
      field: "steps[2].id",
      description: `invalid character "/" at index 3: only letters, digits, '_', '-', '.' and ':' are allowed`,
    });
  });
  it("duplicate step ids", () => {
    expect(violations(workflow([step("a"), step("b"), step("a")]))).toEqual([
      { field: "steps[2].id", description: 'duplicate step id "a" (also steps[0])' },
    ]);
  });
});

describe("urls", () => {
  it("url is required", () => {
    expect(violations(workflow([step("a", [], { url: "" })]))).toEqual([
      { field: "steps[0].url", description: "required" },
    ]);
  });
  it("relative URL without base_url", () => {
    expect(violations(workflow([rel("a")]))).toEqual([
      { field: "steps[0].url", description: 'relative URL "/api/jobs/a" needs base_url' },
    ]);
  });
  it("other schemes", () => {
    const v = violations(
      workflow([step("a", [], { url: "ftp://x.com/a" }), step("b", [], { url: "file:///etc/passwd" })]),
    );
    expect(v).toEqual([
      { field: "steps[0].url", description: "must be an http or https URL" },
      { field: "steps[1].url", description: "must be an http or https URL" },
    ]);
  });
  it("not a URL nor a path", () => {
    expect(violations(workflow([step("a", [], { url: "api/jobs/a" })]))).toEqual([
      { field: "steps[0].url", description: 'must be an absolute http or https URL or a path starting with "/"' },
    ]);
  });
  it("protocol-relative and host-changing paths are rejected", () => {
    const v = violations(
      workflow([step("a", [], { url: "//evil.com/x" }), step("b", [], { url: "/\\evil.com/x" })], {
        baseUrl: "https://myapp.com",
      }),
    );
    expect(v).toEqual([
      {
        field: "steps[0].url",
        description: 'must be an absolute http or https URL or a path starting with a single "/"',
      },
      { field: "steps[1].url", description: "path must not change the host of base_url" },
    ]);
  });
  it("length limit", () => {
    const long = `https://myapp.com/${"x".repeat(DEFAULTS.maxUrlLength)}`;
    expect(violations(workflow([step("a", [], { url: long })]))).toEqual([
      { field: "steps[0].url", description: `must be at most 2048 characters (got ${long.length})` },
    ]);
  });
  it("whitespace", () => {
    expect(violations(workflow([step("a", [], { url: " https://myapp.com/a" })]))).toEqual([
      { field: "steps[0].url", description: "must not have leading or trailing whitespace" },
    ]);
  });
  it("absolute URLs are normalised", () => {
    const spec = ok(workflow([step("a", [], { url: "HTTPS://MyApp.com:443/a?x=1" })]));
    expect(spec.steps[0].url).toBe("https://myapp.com/a?x=1");
    expect(spec.steps[0].submitted.url).toBe("HTTPS://MyApp.com:443/a?x=1");
  });
  it("paths are appended to base_url's path prefix", () => {
    const spec = ok(
      workflow(
        [
          step("a", [], { url: "/api/x" }),
          step("b", [], { url: "/api/y?q=1#h", compensation: "/undo/b" }),
          step("c", [], { url: "https://other.com/c" }),
        ],
        { baseUrl: "https://a.com/app", onComplete: "/hooks/done", onError: "/hooks/err" },
      ),
    );
    expect(spec.steps.map((s) => s.url)).toEqual([
      "https://a.com/app/api/x",
      "https://a.com/app/api/y?q=1#h",
      "https://other.com/c",
    ]);
    expect(spec.steps[1].compensation).toBe("https://a.com/app/undo/b");
    expect(spec.onComplete).toBe("https://a.com/app/hooks/done");
    expect(spec.onError).toBe("https://a.com/app/hooks/err");
    expect(spec.baseUrl).toBe("https://a.com/app");
    expect(ok(workflow([rel("a")], { baseUrl: "http://localhost:8080/app/" })).steps[0].url).toBe(
      "http://localhost:8080/app/api/jobs/a",
    );
  });
  it("base_url must be an absolute http(s) URL without query or fragment", () => {
    expect(violations(workflow([step("a")], { baseUrl: "myapp.com" }))).toEqual([
      { field: "base_url", description: "must be an absolute http or https URL" },
    ]);
    expect(violations(workflow([step("a")], { baseUrl: "ftp://myapp.com" }))).toEqual([
      { field: "base_url", description: "must be an http or https URL" },
    ]);
    expect(violations(workflow([step("a")], { baseUrl: "https://myapp.com/?x=1" }))).toEqual([
      { field: "base_url", description: "must not have a query or fragment" },
    ]);
  });
  it("an invalid base_url is reported once, not again for every relative URL", () => {
    expect(violations(workflow([rel("a"), rel("b")], { baseUrl: "nope" }))).toEqual([
      { field: "base_url", description: "must be an absolute http or https URL" },
    ]);
  });
  it("compensation, on_complete and on_error follow the same rules", () => {
    const v = violations(
      workflow([step("a", [], { compensation: "/undo" }), step("b", [], { compensation: "ftp://x/y" })], {
        onComplete: "mailto:a@b.c",
        onError: "/hooks/err",
      }),
    );
    expect(v).toEqual([
      { field: "steps[0].compensation", description: 'relative URL "/undo" needs base_url' },
      { field: "steps[1].compensation", description: "must be an http or https URL" },
      { field: "on_complete", description: "must be an http or https URL" },
      { field: "on_error", description: 'relative URL "/hooks/err" needs base_url' },
    ]);
  });
});

describe("depends_on", () => {
  it("unknown step", () => {
    expect(violations(workflow([step("a"), step("b"), step("c", ["a", "charge"])]))).toEqual([
      { field: "steps[2].depends_on[1]", description: 'unknown step "charge"' },
    ]);
  });
  it("self dependency", () => {
    expect(violations(workflow([step("x", ["x"])]))).toEqual([
      { field: "steps[0].depends_on[0]", description: 'step "x" depends on itself' },
    ]);
  });
  it("duplicate entry", () => {
    expect(violations(workflow([step("a"), step("b", ["a", "a"])]))).toEqual([
      { field: "steps[1].depends_on[1]", description: 'duplicate dependency "a" (also depends_on[0])' },
    ]);
  });
  it("empty entry", () => {
    expect(violations(workflow([step("a"), step("b", [""])]))).toEqual([
      { field: "steps[1].depends_on[0]", description: "must not be empty" },
    ]);
  });
  it("a dependency on a later-defined step is fine", () => {
    expect(ok(workflow([step("b", ["a"]), step("a")])).steps[0].dependsOn).toEqual(["a"]);
  });
});

describe("cycles", () => {
  it("names the cycle in execution order at the entry that closes it", () => {
    // a depends on c, b on a, c on b: a runs before b, b before c, c before a.
    expect(violations(workflow([step("a", ["c"]), step("b", ["a"]), step("c", ["b"])]))).toEqual([
      { field: "steps[1].depends_on[0]", description: "dependency cycle: a -> b -> c -> a" },
    ]);
  });
  it("two-step cycle", () => {
    expect(violations(workflow([step("validate", ["charge"]), step("charge", ["validate"])]))).toEqual([
      { field: "steps[1].depends_on[0]", description: "dependency cycle: validate -> charge -> validate" },
    ]);
  });
  it("reports each distinct cycle once, in a deterministic order", () => {
    const input = workflow([
      step("a", ["b", "c"]),
      step("b", ["a"]),
      step("c", ["a"]),
      step("ok", ["a"]),
      step("x", ["y"]),
      step("y", ["x"]),
    ]);
    const expected = [
      { field: "steps[1].depends_on[0]", description: "dependency cycle: a -> b -> a" },
      { field: "steps[2].depends_on[0]", description: "dependency cycle: a -> c -> a" },
      { field: "steps[5].depends_on[0]", description: "dependency cycle: x -> y -> x" },
    ];
    expect(violations(input)).toEqual(expected);
    expect(violations(input)).toEqual(expected);
  });
  it("ignores unknown and self edges already reported", () => {
    expect(violations(workflow([step("a", ["a", "zz"]), step("b", ["a"])]))).toEqual([
      { field: "steps[0].depends_on[0]", description: 'step "a" depends on itself' },
      { field: "steps[0].depends_on[1]", description: 'unknown step "zz"' },
    ]);
  });
  it("handles a long cycle without recursion and shortens its message", () => {
    const n = 5000;
    const steps = Array.from({ length: n }, (_, i) => step(`s${i}`, [`s${(i + 1) % n}`]));
    const v = violations(workflow(steps), undefined, { ...DEFAULT_LIMITS, maxSteps: n });
    expect(v).toHaveLength(1);
    expect(v[0].field).toBe(`steps[${n - 1}].depends_on[0]`);
    expect(v[0].description).toBe(
      "dependency cycle: s0 -> s4999 -> s4998 -> s4997 -> s4996 -> s4995 -> s4994 -> s4993 -> s4992 -> s4991" +
        " -> … 4981 more … -> s9 -> s8 -> s7 -> s6 -> s5 -> s4 -> s3 -> s2 -> s1 -> s0",
    );
  });
});

describe("timeouts", () => {
  it("step timeout bounds", () => {
    const v = violations(
      workflow([
        step("a", [], { timeoutMs: 0 }),
        step("b", [], { timeoutMs: -5 }),
        step("c", [], { timeoutMs: DEFAULTS.maxStepTimeoutMs + 1 }),
        step("d", [], { timeoutMs: Number.NaN }),
        step("e", [], { timeoutMs: DEFAULTS.maxStepTimeoutMs }),
        step("f", [], { timeoutMs: 1 }),
      ]),
    );
    const d = "must be between 0.001s and 86400s";
    expect(v).toEqual(["a", "b", "c", "d"].map((_, i) => ({ field: `steps[${i}].timeout`, description: d })));
  });
  it("workflow timeout bounds", () => {
    expect(violations(workflow([step("a")], { timeoutMs: 0 }))).toEqual([
      { field: "timeout", description: "must be between 0.001s and 31622400s" },
    ]);
    expect(violations(workflow([step("a")], { timeoutMs: DEFAULTS.maxWorkflowTimeoutMs + 1 }))).toEqual([
      { field: "timeout", description: "must be between 0.001s and 31622400s" },
    ]);
    expect(ok(workflow([step("a")], { timeoutMs: DEFAULTS.maxWorkflowTimeoutMs })).timeoutMs).toBe(
      DEFAULTS.maxWorkflowTimeoutMs,
    );
  });
});

describe("retries", () => {
  it("max_attempts", () => {
    const v = violations(
      workflow([
        step("a", [], { retries: { maxAttempts: -1, jitter: 0 } }),
        step("b", [], { retries: { maxAttempts: 101, jitter: 0 } }),
        step("c", [], { retries: { maxAttempts: 100, jitter: 0 } }),
      ]),
    );
    expect(v).toEqual([
      { field: "steps[0].retries.max_attempts", description: "must be between 0 and 100 (0 means 1)" },
      { field: "steps[1].retries.max_attempts", description: "must be between 0 and 100 (0 means 1)" },
    ]);
  });
  it("intervals", () => {
    const v = violations(
      workflow([
        step("a", [], { retries: { maxAttempts: 3, initialIntervalMs: -1, jitter: 0 } }),
        step("b", [], { retries: { maxAttempts: 3, initialIntervalMs: 5000, maxIntervalMs: 1000, jitter: 0 } }),
        step("c", [], { retries: { maxAttempts: 3, maxIntervalMs: Number.POSITIVE_INFINITY, jitter: 0 } }),
      ]),
    );
    expect(v).toEqual([
      { field: "steps[0].retries.initial_interval", description: "must be between 0s and 31622400s" },
      { field: "steps[1].retries.max_interval", description: "must not be less than initial_interval (1s < 5s)" },
      { field: "steps[2].retries.max_interval", description: "must be between 0s and 31622400s" },
    ]);
  });
  it("jitter", () => {
    const v = violations(
      workflow([
        step("a", [], { retries: { maxAttempts: 3, jitter: -0.1 } }),
        step("b", [], { retries: { maxAttempts: 3, jitter: 1.5 } }),
        step("c", [], { retries: { maxAttempts: 3, jitter: Number.NaN } }),
      ]),
    );
    expect(v).toEqual(
      [0, 1, 2].map((i) => ({ field: `steps[${i}].retries.jitter`, description: "must be between 0 and 1" })),
    );
  });
  it("backoff must be known", () => {
    const retries = { maxAttempts: 3, backoff: "random" as "fixed", jitter: 0 };
    expect(violations(workflow([step("a", [], { retries })]))).toEqual([
      { field: "steps[0].retries.backoff", description: "must be exponential, linear or fixed" },
    ]);
  });
});

describe("context", () => {
  it("absent means {}", () => {
    expect(ok(workflow([step("a")], { context: undefined })).context).toEqual({});
  });
  it("must be a JSON object", () => {
    for (const context of [[1, 2], null, "x", 3, new Date()]) {
      expect(violations(workflow([step("a")], { context }))).toEqual([
        { field: "context", description: "must be a JSON object" },
      ]);
    }
  });
  it("must hold only JSON values", () => {
    expect(violations(workflow([step("a")], { context: { a: { b: [1, Number.NaN] } } }))).toEqual([
      { field: "context", description: 'non-finite number at "a.b[1]"' },
    ]);
  });
  it("size limit in UTF-8 bytes of JSON", () => {
    const limits = { ...DEFAULT_LIMITS, maxContextBytes: 10 };
    // {"a":"éé"} is 10 characters but 12 bytes.
    expect(violations(workflow([step("a")], { context: { a: "éé" } }), undefined, limits)).toEqual([
      { field: "context", description: "context is 12 bytes of JSON, over the limit of 10" },
    ]);
    expect(compileWorkflow(workflow([step("a")], { context: { a: "ee" } }), limits).ok).toBe(true);
  });
});

describe("request_id", () => {
  it("at most 256 characters", () => {
    expect(violations(workflow([step("a")], { requestId: "r".repeat(257) }))).toEqual([
      { field: "request_id", description: "must be at most 256 characters (got 257)" },
    ]);
    expect(ok(workflow([step("a")], { requestId: "r".repeat(256) })).requestId).toBe("r".repeat(256));
  });
});

describe("several violations at once", () => {
  it("reports every problem, in field order", () => {
    const v = violations(
      workflow(
        [
          step("validate", [], { url: "ftp://x" }),
          step("validate", ["validate"], { timeoutMs: 0 }),
          step("fulfill", ["charge"], { retries: { maxAttempts: -3, jitter: 2 } }),
        ],
        { id: "", context: [], timeoutMs: -1, requestId: "q".repeat(300) },
      ),
      5_000_123,
    );
    expect(v).toEqual([
      { field: "request", description: "request is 5000123 bytes, over the limit of 4194304" },
      { field: "id", description: "required" },
      { field: "steps[1].id", description: 'duplicate step id "validate" (also steps[0])' },
      { field: "steps[0].url", description: "must be an http or https URL" },
      { field: "steps[1].depends_on[0]", description: 'step "validate" depends on itself' },
      { field: "steps[1].timeout", description: "must be between 0.001s and 86400s" },
      { field: "steps[2].depends_on[0]", description: 'unknown step "charge"' },
      { field: "steps[2].retries.max_attempts", description: "must be between 0 and 100 (0 means 1)" },
      { field: "steps[2].retries.jitter", description: "must be between 0 and 1" },
      { field: "context", description: "must be a JSON object" },
      { field: "timeout", description: "must be between 0.001s and 31622400s" },
      { field: "request_id", description: "must be at most 256 characters (got 300)" },
    ]);
  });
});

describe("formatViolations", () => {
  it("joins field: description", () => {
    expect(
      formatViolations([
        { field: "steps[3].depends_on[0]", description: 'unknown step "charge"' },
        { field: "id", description: "required" },
      ]),
    ).toBe('steps[3].depends_on[0]: unknown step "charge"; id: required');
  });
  it("lists at most 20", () => {
    const v = Array.from({ length: 25 }, (_, i) => ({ field: `steps[${i}].id`, description: "required" }));
    const s = formatViolations(v);
    expect(s.split("; ")).toHaveLength(21);
    expect(s.endsWith("steps[19].id: required; … and 5 more")).toBe(true);
  });
  it("empty list", () => {
    expect(formatViolations([])).toBe("");
  });
});

describe("bounded repeated fields and quoted input", () => {
  it("depends_on has at most as many entries as there are steps; each entry at most 128 characters", () => {
    const v = violations(workflow([step("a"), step("b", Array.from({ length: 100_000 }, () => ""))]));
    // One violation for the list and at most one per entry kept (2), not 100,000.
    expect(v[0]).toEqual({ field: "steps[1].depends_on", description: "at most 2 entries, the number of steps (got 100000)" });
    expect(v.length).toBeLessThanOrEqual(3);
    const long = violations(workflow([step("a"), step("b", ["x".repeat(10_000)])]));
    expect(long).toEqual([{ field: "steps[1].depends_on[0]", description: "must be at most 128 characters (got 10000)" }]);
  });

  it("quotes at most 80 characters of a value in a description", () => {
    const v = violations(workflow([step("a", ["y".repeat(128)])]));
    expect(v[0].field).toBe("steps[0].depends_on[0]");
    expect(v[0].description).toBe(`unknown step "${"y".repeat(80)}…"`);
  });
});

describe("join policies", () => {
  const branches = ["a", "b", "c"].map((id) => step(id));
  it("stores a policy on the step; the default (unset or all) stores nothing", () => {
    const spec = ok(
      workflow([
        ...branches,
        step("settled", ["a", "b", "c"], { join: { kind: "all_settled" } }),
        step("two", ["a", "b", "c"], { join: { kind: "at_least", count: 2 } }),
        step("pct", ["a", "b", "c"], { join: { kind: "tolerated_failure_percent", percent: 33.4 } }),
        step("first", ["a", "b"], { join: { kind: "any" } }),
        step("explicit", ["a"], { join: { kind: "all" } }),
        step("plain", ["a"]),
      ]),
    );
    expect(spec.steps.slice(3).map((s) => s.join)).toEqual([
      { kind: "all_settled" },
      { kind: "at_least", count: 2 },
      { kind: "tolerated_failure_percent", percent: 33.4 },
      { kind: "any" },
      undefined,
      undefined,
    ]);
  });

  it("reports impossible settings by field", () => {
    expect(
      violations(
        workflow([
          ...branches,
          step("lonely", [], { join: { kind: "any" } }),
          step("too-many", ["a", "b", "c"], { join: { kind: "at_least", count: 4 } }),
          step("zero", ["a"], { join: { kind: "at_least", count: 0 } }),
          step("pct", ["a"], { join: { kind: "tolerated_failure_percent", percent: 101 } }),
          step("nan", ["a"], { join: { kind: "tolerated_failure_percent", percent: Number.NaN } }),
          step("unset", ["a"], { join: { kind: "none" } }),
        ]),
      ),
    ).toEqual([
      { field: "steps[3].join", description: "only a step with depends_on can have a join policy" },
      { field: "steps[4].join.at_least", description: "must be at most 3, the number of dependencies (got 4)" },
      { field: "steps[5].join.at_least", description: "must be at least 1 (got 0)" },
      { field: "steps[6].join.tolerated_failure_percent", description: "must be between 0 and 100 (got 101)" },
      { field: "steps[7].join.tolerated_failure_percent", description: "must be a finite number" },
      {
        field: "steps[8].join",
        description: "no policy set: expected one of all, all_settled, at_least, tolerated_failure_percent, any",
      },
    ]);
  });
});
