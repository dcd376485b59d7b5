// @weftflow/client as a user gets it: packed with `npm pack` and installed from
// the tarball into a fresh project outside the repository by the set-up phase
// (scripts/prepare-package-tests-ts.sh: all downloads happen there). These tests
// only run the system Node (20) and tsc in that project, against a real Weft
// server (on the project's Node 24) and real HTTP handlers on loopback:
//   - plain ESM (`node file.mjs`) and CommonJS (`require`), no build step;
//   - tsc with strict flags (exactOptionalPropertyTypes) under moduleResolution
//     node16 and bundler, over files that use every export, and options taken from
//     process.env as the READMEs do (also under node10);
//   - the product document's snippets with only their import changed;
//   - signature verification against test/vectors/signatures.json.
// Without the prepared project (or a system Node) they fail in CI and skip elsewhere.
import { execFile } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";
import type { HandlerServer } from "../support/handler-server.ts";
import { missing, preparedProject, REPO_ROOT, systemNode } from "../support/package-test.ts";
import { TEST_SECRET, type TestWeft, useWeft, waitForRun } from "../support/weft.ts";

const prepared = preparedProject("ts", "node_modules/@weftflow/client/package.json");
const node = systemNode();
const why = !prepared.ok ? prepared.why : !node ? "no system node found (PATH outside node_modules, /usr/bin/node)" : undefined;
const mode = why === undefined ? "run" : missing(why);
const SUPPORT = join(REPO_ROOT, "test/support/client-package");
const CHILD_TIMEOUT_MS = 240_000;

if (mode === "fail") {
  test("the TypeScript client package project is prepared", () => {
    throw new Error(`${why} (CI=true: the set-up phase must prepare it)`);
  });
}

describe.skipIf(mode !== "run")("@weftflow/client installed from its tarball", () => {
  const dir = prepared.ok ? prepared.dir : "";
  const cases = join(dir, "cases");
  let weft: TestWeft;
  let handlers: HandlerServer;
  useWeft((w, h) => {
    weft = w;
    handlers = h;
  });

  beforeAll(() => {
    mkdirSync(cases, { recursive: true });
    for (const f of ["esm-run.mjs", "cjs-run.cjs", "vectors.mjs", "consumer.ts", "consumer-cjs.cts", "consumer-env.ts", "route-run.mjs", "console-json.mjs", "alias-run-id.mjs"]) {
      copyFileSync(join(SUPPORT, f), join(cases, f));
    }
    // 'next/server' for the route handler snippet: a stand-in package (a NextRequest is a Fetch Request).
    cpSync(join(SUPPORT, "next-stub"), join(dir, "node_modules", "next"), { recursive: true });
  });

  /** Runs the system Node in the project with a minimal environment; resolves with stdout, rejects with stderr. */
  function run(args: string[], env: Record<string, string> = {}): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        node!.path,
        args,
        {
          cwd: dir,
          timeout: CHILD_TIMEOUT_MS,
          maxBuffer: 16 * 1024 * 1024,
          env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
        },
        (err, stdout, stderr) => (err ? reject(new Error(`${args.join(" ")} failed: ${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout)),
      );
    });
  }
  const lastJson = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!);

  test("the package ships the Apache License 2.0 text", () => {
    expect(readFileSync(join(dir, "node_modules/@weftflow/client/LICENSE"), "utf8")).toBe(readFileSync(join(REPO_ROOT, "LICENSE"), "utf8"));
  });

  test("the system Node is 20 or newer, and not the project's Node", () => {
    expect(Number(/^v(\d+)/.exec(node!.version)![1])).toBeGreaterThanOrEqual(20);
    expect(node!.path).not.toContain("node_modules");
    const pkg = JSON.parse(readFileSync(join(dir, "node_modules/@weftflow/client/package.json"), "utf8"));
    expect([pkg.name, pkg.version]).toEqual(["@weftflow/client", "0.1.0"]);
    // Only what a client needs: no server dependencies come along.
    expect(Object.keys(pkg.dependencies).sort()).toEqual(["@bufbuild/protobuf", "@connectrpc/connect", "@connectrpc/connect-web"]);
  });

  test("plain ESM: create, watch, getStatus, list, WeftError, the generated client, gRPC, and a route handler that verifies requests", async () => {
    const out = lastJson(await run(["cases/esm-run.mjs"], { WEFT_URL: weft.baseUrl, WEFT_SIGNING_SECRETS: TEST_SECRET }));
    expect(out.node).toBe(node!.version);
    expect(out.created).toEqual({ id: expect.stringMatching(/^wf_/), workflowId: "pkg-esm", deduplicated: false });
    expect(out.watched[0]).toBe("snapshot");
    expect(out.watched.at(-1)).toBe("run::completed");
    expect(out.watched).toContain("step:a:completed");
    expect(out.watched).toContain("step:b:completed");
    expect(out.status).toEqual({
      state: "completed",
      results: { a: { step: "a", verified: true }, b: { step: "b", verified: true } },
      completedAt: true,
    });
    expect(out.listed).toContain(out.created.id);
    expect(out.verified).toEqual([
      { path: "/api/jobs/a", ok: true },
      { path: "/api/jobs/b", ok: true },
    ]);
    expect(out.clientError).toEqual({
      weft: true,
      code: "invalid_argument",
      fieldViolations: [{ field: "steps[0].timeout", description: "must be a number of seconds" }],
    });
    expect(out.serverError).toMatchObject({ weft: true, code: "invalid_argument", fieldViolations: [{ field: "id" }] });
    expect(out.generated).toBe("COMPLETED");
    expect(out.grpc).toBe("completed");
  });

  test("CommonJS: require() of every entry point, a run to completion", async () => {
    const out = lastJson(await run(["cases/cjs-run.cjs"], { WEFT_URL: weft.baseUrl, HANDLERS_URL: handlers.baseUrl }));
    expect(out).toMatchObject({ state: "completed", results: { only: { step: "only" } }, error: { weft: true, code: "invalid_argument" } });
    expect(out.exports).toEqual({
      verifySignature: "function",
      verifyRequest: "function",
      WorkflowService: "weft.v1.WorkflowService",
      createWorkflowClient: "function",
    });
    expect(handlers.callsFor(out.id).map((c) => c.path)).toEqual(["/api/jobs/cjs"]);
  });

  test("verification on the system Node matches every shared signature vector", async () => {
    const doc = JSON.parse(readFileSync(join(REPO_ROOT, "test/vectors/signatures.json"), "utf8")) as {
      vectors: { name: string; body: string; valid: boolean; reason?: string }[];
    };
    const results = lastJson(await run(["cases/vectors.mjs", join(REPO_ROOT, "test/vectors/signatures.json")])) as {
      name: string;
      bySignature: unknown;
      byRequest: unknown;
      bodyAfter: string;
    }[];
    expect(results.map((r) => r.name)).toEqual(doc.vectors.map((v) => v.name));
    for (const [i, v] of doc.vectors.entries()) {
      const expected = v.valid ? { ok: true } : { ok: false, reason: v.reason };
      expect({ name: v.name, result: results[i].bySignature }).toEqual({ name: v.name, result: expected });
      expect({ name: v.name, result: results[i].byRequest }).toEqual({ name: v.name, result: expected });
      expect(results[i].bodyAfter).toBe(v.body);
    }
  });

  const STRICT = {
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    noImplicitOverride: true,
    noPropertyAccessFromIndexSignature: true,
    verbatimModuleSyntax: false,
    skipLibCheck: false,
    noEmit: true,
    target: "es2022",
  };
  test.each([
    // skipLibCheck as `tsc --init` sets it: @connectrpc/connect's own .d.ts name the DOM
    // type HeadersInit, which @types/node lacks; the bundler case checks every .d.ts.
    ["node16", { ...STRICT, skipLibCheck: true, module: "node16", moduleResolution: "node16", lib: ["es2023"], types: ["node"] }, ["consumer.ts", "consumer-cjs.cts"]],
    ["bundler", { ...STRICT, module: "esnext", moduleResolution: "bundler", lib: ["es2023", "dom", "dom.iterable"], types: [] }, ["consumer.ts"]],
    // Options from process.env, as in the READMEs (`process.env.X` is what
    // noPropertyAccessFromIndexSignature forbids, so that one is off here).
    ["node16 (process.env)", { ...STRICT, noPropertyAccessFromIndexSignature: false, skipLibCheck: true, module: "node16", moduleResolution: "node16", lib: ["es2023"], types: ["node"] }, ["consumer-env.ts"]],
    // Older set-ups (module commonjs): "exports" unread; the subpaths resolve through typesVersions.
    ["node10", { ...STRICT, noPropertyAccessFromIndexSignature: false, skipLibCheck: true, module: "commonjs", moduleResolution: "node10", ignoreDeprecations: "6.0", lib: ["es2023"], types: ["node"] }, ["consumer-env.ts"]],
  ])("tsc --strict with exactOptionalPropertyTypes, moduleResolution %s, over every export", async (name, compilerOptions, files) => {
    const config = join(cases, `tsconfig.${name.replace(/\W+/g, "-")}.json`);
    writeFileSync(config, JSON.stringify({ compilerOptions, files }, null, 2));
    await run(["node_modules/typescript/bin/tsc", "-p", config]);
  });

  const SNIPPETS: [string, string[]][] = [
    ["overview", ["/api/jobs/validate-order", "/api/jobs/charge-payment", "/api/jobs/fulfill-order", "/api/jobs/send-confirmation"]],
    ["dependencies", ["/api/jobs/prepare", "/api/jobs/process-a", "/api/jobs/process-b", "/api/jobs/process-c", "/api/jobs/validate", "/api/jobs/aggregate", "/api/jobs/notify"]],
    ["chaining", ["/api/jobs/validate-order", "/api/jobs/reserve-inventory", "/api/jobs/process-payment", "/api/jobs/create-shipment", "/api/jobs/send-confirmation"]],
    ["fan-out", ["/api/jobs/prepare-batch", "/api/jobs/process-item", "/api/jobs/process-item", "/api/jobs/process-item", "/api/jobs/finalize-batch"]],
    ["saga", ["/api/jobs/reserve-inventory", "/api/jobs/charge-payment", "/api/jobs/create-shipment", "/api/jobs/notify-customer"]],
  ];
  const PLATFORM_IMPORT = "import { platform } from '../../../clients/ts/src/index.ts'";
  /** The text between a test/support/sdk-snippets file's markers: the product document's snippet. */
  function snippetOf(name: string): string {
    const source = readFileSync(join(REPO_ROOT, "test/support/sdk-snippets", `${name}.ts`), "utf8");
    return /\/\/ ---- snippet ----\n([\s\S]*?)\/\/ ---- end of snippet ----/.exec(source)![1];
  }
  /** Writes cases/snippet-<name>.mjs: the snippet with only its import changed, plus `tail`; returns its path. */
  function writeSnippet(name: string, tail = ""): string {
    const snippet = snippetOf(name);
    const imports = snippet.split("\n").filter((l) => l.startsWith("import "));
    expect(imports).toEqual([PLATFORM_IMPORT]);
    const text = snippet.replace(imports[0], "import { platform } from '@weftflow/client'");
    writeFileSync(join(cases, `snippet-${name}.mjs`), `${text}${tail}`);
    // The absolute https://myapp.com URLs go to the handler server (see test/e2e/sdk-snippets.test.ts).
    writeFileSync(
      join(cases, "rewrite-urls.mjs"),
      "import { configurePlatform } from '@weftflow/client'\n" +
        "configurePlatform({ rewriteUrl: (u) => u.replace(/^https:\\/\\/myapp\\.com(?=\\/)/, process.env.HANDLERS_URL) })\n",
    );
    return `cases/snippet-${name}.mjs`;
  }
  /** Runs a snippet that creates a run (test addition: it prints the run's id) and waits for the run to complete. */
  async function runCreatingSnippet(name: string): Promise<string> {
    const file = writeSnippet(name, "\nconsole.log(JSON.stringify({ id: workflow.id }))\n");
    const env = { WEFT_URL: weft.baseUrl, WEFT_JOBS_BASE_URL: handlers.baseUrl, HANDLERS_URL: handlers.baseUrl };
    const { id } = lastJson(await run(["--import", "./cases/rewrite-urls.mjs", file], env)) as { id: string };
    const done = await waitForRun(weft.client, id, undefined, 120_000);
    expect(WorkflowState[done.state]).toBe("COMPLETED");
    return id;
  }
  test.each(SNIPPETS)("the product document's %s snippet, with only its import changed, runs to completion", async (name, paths) => {
    const id = await runCreatingSnippet(name);
    expect(handlers.callsFor(id).map((c) => c.path).sort()).toEqual([...paths].sort());
  });

  test("the product document's Workflow State Management snippet, with only its import changed, logs the documented fields", async () => {
    const id = await runCreatingSnippet("overview");
    // The snippet asks for 'workflow_abc123'; a test-only interceptor answers it with the overview's run.
    const file = writeSnippet("state");
    const out = await run(["--import", "./cases/console-json.mjs", "--import", "./cases/alias-run-id.mjs", file], { WEFT_URL: weft.baseUrl, RUN_ID: id });
    const [status, ...steps] = out.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    // JSON drops undefined fields: currentStep (none once completed), and error of each step.
    expect(status).toEqual({
      id,
      state: "completed",
      startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      completedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      completedSteps: ["validate", "charge", "fulfill", "notify"],
      failedSteps: [],
      context: { orderId: "order_123", userId: "user_456" },
      results: { validate: { step: "validate" }, charge: { step: "charge" }, fulfill: { step: "fulfill" }, notify: { step: "notify" } },
    });
    expect(steps.map((s) => [s.stepId, s.state, s.attempts, s.result])).toEqual(
      ["validate", "charge", "fulfill", "notify"].map((s) => [s, "completed", 1, { step: s }]),
    );
    for (const s of steps) expect(Object.keys(s)).toEqual(["stepId", "state", "startedAt", "completedAt", "attempts", "result"]);
  });

  test("the product document's finalize-batch route handler, compiled by tsc against the package, verifies and aggregates Weft's request", async () => {
    // The fan-out's items answer as the document's fan-in expects (success, processedCount).
    const counts: Record<string, number> = { "process-item-1": 4, "process-item-2": 7, "process-item-3": 2 };
    handlers.on("/api/jobs/process-item", (call) => ({ json: { success: true, result: { success: true, processedCount: counts[call.body.stepId] } } }));
    const id = await runCreatingSnippet("fan-out");

    // The route: the snippet with its two imports changed ('@/lib/platform', 'next/server'),
    // plus the app's `db` the snippet uses without importing; compiled as a Next.js app's strict tsconfig would.
    const snippet = snippetOf("finalize-batch-route");
    const imports = snippet.split("\n").filter((l) => l.startsWith("import "));
    expect(imports).toEqual([PLATFORM_IMPORT, "import { NextRequest } from './next-server.ts'"]);
    const route = snippet
      .replace(imports[0], "import { platform } from '@weftflow/client'")
      .replace(imports[1], "import { NextRequest } from 'next/server'");
    const routeDir = join(cases, "route");
    mkdirSync(routeDir, { recursive: true });
    writeFileSync(join(routeDir, "route.ts"), `import { db } from './db.js' // the app's database\n${route}`);
    copyFileSync(join(SUPPORT, "db.ts"), join(routeDir, "db.ts"));
    const compilerOptions = { strict: true, module: "node16", moduleResolution: "node16", target: "es2022", lib: ["es2023", "dom"], types: ["node"], skipLibCheck: true, outDir: "out" };
    writeFileSync(join(routeDir, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["route.ts", "db.ts"] }, null, 2));
    await run(["node_modules/typescript/bin/tsc", "-p", join(routeDir, "tsconfig.json")]);

    // Weft's request to the fan-in, as the handler server received it, given to POST().
    const fin = handlers.callsFor(id, "/api/jobs/finalize-batch")[0];
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(fin.headers)) {
      if (typeof v === "string" && !["host", "connection", "content-length", "transfer-encoding", "keep-alive"].includes(k)) headers[k] = v;
    }
    writeFileSync(join(cases, "finalize-call.json"), JSON.stringify({ url: handlers.baseUrl + fin.path, headers, body: fin.rawBody }));
    const out = lastJson(await run(["cases/route-run.mjs", "cases/finalize-call.json"], { WEFT_SIGNING_SECRETS: TEST_SECRET }));
    const stats = { total: 3, successful: 3, failed: 0, totalProcessed: 13 };
    expect(out.signed.status).toBe(200);
    expect(JSON.parse(out.signed.body)).toEqual({ success: true, result: stats });
    expect(out.tampered).toEqual({ status: 401, body: "Unauthorized" });
    expect(out.rows).toHaveLength(1);
    expect(out.rows[0]).toMatchObject({ batchId: "batch_123", stats });
    expect(out.rows[0].results.map((r: { stepId: string }) => r.stepId).sort()).toEqual(["process-item-1", "process-item-2", "process-item-3"]);
  });
});
