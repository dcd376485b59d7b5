import { describe, expect, it } from "vitest";
import { Backoff } from "../../gen/ts/weft/v1/workflow_pb.js";
import { mergeContext, seconds, toCreateRequest } from "../../src/cli/create-request.ts";
import { formatProblem, lineForField, parseContextFile, parseWorkflowFile } from "../../src/cli/workflow-file.ts";

const ORDER = `id: order-processing
baseUrl: https://myapp.com
saga: true
timeout: 3600
onComplete: https://myapp.com/api/webhooks/workflow-complete
context:
  orderId: order_123
  items: [{sku: SKU001, quantity: 2}]
steps:
  - id: validate
    url: /api/jobs/validate-order
  - id: charge
    url: /api/jobs/charge-payment
    dependsOn: [validate]
    parallel: true
    timeout: 0.5
    compensation: /api/jobs/refund
    retries:
      maxAttempts: 3
      backoff: linear
      initialInterval: 1.25
      maxInterval: 30
      jitter: 0.1
`;

describe("workflow files", () => {
  it("reads the product document's shape into a CreateWorkflow request", () => {
    const parsed = parseWorkflowFile(ORDER);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const req = toCreateRequest(parsed.request);
    expect(req.id).toBe("order-processing");
    expect(req.baseUrl).toBe("https://myapp.com");
    expect(req.saga).toBe(true);
    expect(req.timeout).toMatchObject({ seconds: 3600n, nanos: 0 });
    expect(req.onComplete).toBe("https://myapp.com/api/webhooks/workflow-complete");
    expect(req.context).toEqual({ orderId: "order_123", items: [{ sku: "SKU001", quantity: 2 }] });
    expect(req.steps.map((s) => s.id)).toEqual(["validate", "charge"]);
    const charge = req.steps[1];
    expect(charge).toMatchObject({ url: "/api/jobs/charge-payment", dependsOn: ["validate"], parallel: true, compensation: "/api/jobs/refund" });
    expect(charge.timeout).toMatchObject({ seconds: 0n, nanos: 500_000_000 });
    expect(charge.retries).toMatchObject({ maxAttempts: 3, backoff: Backoff.LINEAR, jitter: 0.1 });
    expect(charge.retries!.initialInterval).toMatchObject({ seconds: 1n, nanos: 250_000_000 });
    expect(charge.retries!.maxInterval).toMatchObject({ seconds: 30n, nanos: 0 });
    expect(req.steps[0].retries).toBeUndefined();
    expect(req.steps[0].timeout).toBeUndefined();
  });

  it("reads JSON, and the proto's snake_case names", () => {
    const parsed = parseWorkflowFile(
      JSON.stringify({ id: "w", base_url: "http://x", on_error: "http://e", request_id: "r1", steps: [{ id: "a", url: "/a", depends_on: [], retries: { max_attempts: 2, backoff: "fixed", initial_interval: 2 } }] }),
    );
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const req = toCreateRequest(parsed.request);
    expect(req).toMatchObject({ baseUrl: "http://x", onError: "http://e", requestId: "r1" });
    expect(req.steps[0].retries).toMatchObject({ maxAttempts: 2, backoff: Backoff.FIXED, initialInterval: { seconds: 2n } });
  });

  it("names the path and the line of every bad field, all at once", () => {
    const parsed = parseWorkflowFile(
      ["id: 7", "stepz: []", "steps:", "  - id: a", "    url: /a", "    dependsOn: a", "    retries: {backoff: quadratic}", "  - url: /b", "    parallel: yes", "    timeout: -1", "  - just a string"].join("\n"),
    );
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problems.map((p) => formatProblem("f.yaml", p))).toEqual([
      "f.yaml:1: id: must be a string, not number",
      'f.yaml:2: stepz: unknown field "stepz" of a workflow (known: id, steps, context, onComplete, onError, timeout, saga, baseUrl, requestId, concurrency, priority, previousSteps)',
      "f.yaml:6: steps[0].dependsOn: must be a list of step ids, not a string",
      'f.yaml:7: steps[0].retries.backoff: must be one of exponential, linear, fixed, not "quadratic"',
      'f.yaml:8: steps[1]: missing field "id"',
      "f.yaml:9: steps[1].parallel: must be true or false, not a string",
      "f.yaml:10: steps[1].timeout: must be a number of seconds (e.g. 300 or 0.5), not -1",
      "f.yaml:11: steps[2]: must be a mapping (a step), not a string",
    ]);
  });

  it("refuses a field given in both spellings, a file that is not a mapping, and aliases", () => {
    const both = parseWorkflowFile("id: w\nsteps: []\nbaseUrl: a\nbase_url: b\n");
    expect(both.ok || both.problems.map((p) => formatProblem("f", p))).toEqual(['f:4: base_url: "base_url" repeats "baseUrl"']);
    const list = parseWorkflowFile("- a\n- b\n");
    expect(list.ok || list.problems[0].message).toBe("must be a mapping (a workflow), not a list");
    const aliases = parseWorkflowFile("id: w\nsteps: []\ncontext:\n  a: &x [1, 2]\n  b: *x\n");
    expect(aliases.ok).toBe(false);
  });

  it("reports YAML syntax errors with line and column", () => {
    const parsed = parseWorkflowFile('id: w\nsteps:\n  - {id: "a", url: }\n  - [\n');
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problems[0].line).toBeGreaterThanOrEqual(4);
    expect(parsed.problems[0].column).toBeGreaterThan(0);
    expect(formatProblem("f.yaml", parsed.problems[0])).toMatch(/^f\.yaml:\d+:\d+: \S/);
  });

  it("finds the line of a field the server names in proto field names", () => {
    expect(lineForField(ORDER, "steps[1].retries.max_attempts")).toBe(19);
    expect(lineForField(ORDER, "steps[1].depends_on[0]")).toBe(14);
    expect(lineForField(ORDER, "base_url")).toBe(2);
    // A field the file does not have: the nearest one it has.
    expect(lineForField(ORDER, "steps[0].retries")).toBe(10);
    expect(lineForField(ORDER, "")).toBeUndefined();
  });

  it("reads join policies: a name, or a mapping with at_least or tolerated_failure_percent", () => {
    const text = [
      "id: fan-in",
      "steps:",
      "  - {id: a, url: /a}",
      "  - {id: b, url: /b}",
      "  - {id: c, url: /c, dependsOn: [a, b], join: all_settled}",
      "  - {id: d, url: /d, dependsOn: [a, b], join: {at_least: 1}}",
      "  - {id: e, url: /e, dependsOn: [a, b], join: {toleratedFailurePercent: 12.5}}",
      "  - {id: f, url: /f, dependsOn: [a, b], join: any}",
      "  - {id: g, url: /g, dependsOn: [a], join: all}",
      "  - {id: h, url: /h, dependsOn: [a], join: allSettled}",
    ].join("\n");
    const parsed = parseWorkflowFile(text);
    expect(parsed.ok || parsed.problems).toBe(true);
    if (!parsed.ok) return;
    const req = toCreateRequest(parsed.request);
    expect(req.steps.map((s) => s.join?.policy)).toEqual([
      undefined,
      undefined,
      { case: "allSettled", value: expect.anything() },
      { case: "atLeast", value: 1 },
      { case: "toleratedFailurePercent", value: 12.5 },
      { case: "any", value: expect.anything() },
      { case: "all", value: expect.anything() },
      { case: "allSettled", value: expect.anything() },
    ]);
    // JSON, as the proto JSON spells the names too.
    const json = parseWorkflowFile(JSON.stringify({ id: "w", steps: [{ id: "a", url: "/a" }, { id: "b", url: "/b", depends_on: ["a"], join: { atLeast: 1 } }] }));
    expect(json.ok && toCreateRequest(json.request).steps[1].join?.policy).toEqual({ case: "atLeast", value: 1 });
  });

  it("reads map steps: for_each, max_concurrency, item_failures", () => {
    const text = [
      "id: batch",
      "steps:",
      "  - {id: prepare, url: /prepare}",
      "  - id: process",
      "    url: /item",
      "    depends_on: [prepare]",
      "    for_each: /prepare/result/items",
      "    max_concurrency: 50",
      "    item_failures: {tolerated_failure_percent: 5}",
      "  - {id: other, url: /o, forEach: /context/list, itemFailures: all_settled}",
    ].join("\n");
    const parsed = parseWorkflowFile(text);
    expect(parsed.ok || parsed.problems).toBe(true);
    if (!parsed.ok) return;
    const req = toCreateRequest(parsed.request);
    expect(req.steps.map((s) => [s.forEach, s.maxConcurrency, s.itemFailures?.policy])).toEqual([
      ["", 0, undefined],
      ["/prepare/result/items", 50, { case: "toleratedFailurePercent", value: 5 }],
      ["/context/list", 0, { case: "allSettled", value: expect.anything() }],
    ]);
    const bad = parseWorkflowFile(["id: w", "steps:", "  - {id: a, url: /a, for_each: /context/x, max_concurrency: many}"].join("\n"));
    expect(bad.ok).toBe(false);
  });

  it("names the line of a bad join", () => {
    const text = [
      "id: w",
      "steps:",
      "  - {id: a, url: /a}",
      "  - id: b",
      "    url: /b",
      "    dependsOn: [a]",
      "    join: majority",
      "  - id: c",
      "    url: /c",
      "    join:",
      "      at_least: 1.5",
      "  - id: d",
      "    url: /d",
      "    join: {at_least: 1, any: 2}",
      "  - id: e",
      "    url: /e",
      "    join: [any]",
      "  - id: f",
      "    url: /f",
      "    join: {}",
    ].join("\n");
    const parsed = parseWorkflowFile(text);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    const expected = "all, all_settled, any, { at_least: <k> } or { tolerated_failure_percent: <p> }";
    expect(parsed.problems.map((p) => formatProblem("f.yaml", p))).toEqual([
      `f.yaml:7: steps[1].join: must be one of ${expected}, not "majority"`,
      "f.yaml:11: steps[2].join.at_least: must be a whole number, not 1.5",
      'f.yaml:14: steps[3].join.any: unknown field "any" of a join (known: atLeast, toleratedFailurePercent)',
      `f.yaml:17: steps[4].join: must be one of ${expected}, not a list`,
      `f.yaml:20: steps[5].join: must name one policy: ${expected}`,
    ]);
    // The server's field names map back to the file's lines.
    expect(lineForField(text, "steps[2].join.at_least")).toBe(11);
  });

  it("merges --context pairs, reading JSON values", () => {
    expect(mergeContext({ a: 1, b: "x" }, ["b=y", "n=3", "o={\"k\":true}", "s=hello world"])).toEqual({ a: 1, b: "y", n: 3, o: { k: true }, s: "hello world" });
    expect(() => mergeContext({}, ["novalue"])).toThrow("--context: expected key=value");
    expect(seconds(2.5)).toMatchObject({ seconds: 2n, nanos: 500_000_000 });
  });

  it("reads a context file: a YAML or JSON mapping", () => {
    expect(parseContextFile("orderId: o1\nitems: [{sku: A, quantity: 2}]\n")).toEqual({ ok: true, context: { orderId: "o1", items: [{ sku: "A", quantity: 2 }] } });
    expect(parseContextFile('{\n  "a": 1\n}')).toEqual({ ok: true, context: { a: 1 } });
    const list = parseContextFile("- a\n");
    expect(list.ok || formatProblem("c.yaml", list.problems[0])).toBe("c.yaml:1: must be a mapping (the context), not a list");
    const broken = parseContextFile("a: 1\nb: [\n");
    expect(broken.ok).toBe(false);
    expect(broken.ok || broken.problems[0].line).toBeGreaterThanOrEqual(2);
  });
});

describe("concurrency keys and priority in a workflow file", () => {
  it("reads concurrency on the workflow and on a step, and priority, into the request", () => {
    const parsed = parseWorkflowFile(
      `id: orders
priority: 5
concurrency: { key: /context/userId, limit: 2 }
context: { userId: u1 }
steps:
  - id: charge
    url: https://myapp.com/charge
    concurrency:
      key: /context/userId
      limit: 1
`,

    );
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const req = toCreateRequest(parsed.request);
    expect(req.priority).toBe(5);
    expect(req.concurrency).toMatchObject({ key: "/context/userId", limit: 2 });
    expect(req.steps[0].concurrency).toMatchObject({ key: "/context/userId", limit: 1 });
  });

  it("names a bad concurrency field and its line", () => {
    const parsed = parseWorkflowFile(
      `id: orders
steps:
  - id: charge
    url: https://myapp.com/charge
    concurrency: { key: /context/userId, limit: one, scope: x }
`,

    );
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problems.map((p) => [p.path, p.line])).toEqual([
      ["steps[0].concurrency.scope", 5],
      ["steps[0].concurrency.limit", 5],
    ]);
  });
});
