// Run by test/e2e/client-package.test.ts on the system Node (20) from a fresh
// project with @weftflow/client installed from its tarball: plain ESM, no build.
// It is its own job handler: a route that verifies Weft's signature with
// verifyRequest from @weftflow/client/verify, as a Next.js route handler would.
import { createServer } from "node:http";
import { createPlatform, WeftError } from "@weftflow/client";
import { createWorkflowClient, WorkflowState } from "@weftflow/client/v1";
import { verifyRequest } from "@weftflow/client/verify";

const verified = [];
const handler = createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers.set(k, v);
  const request = new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers, body: Buffer.concat(chunks) });
  // The route handler: POST(request) → Response.
  const ok = await verifyRequest(request); // secrets: WEFT_SIGNING_SECRETS
  const input = await request.json(); // the body is still readable
  verified.push({ path: req.url, ok });
  const response = ok
    ? Response.json({ success: true, result: { step: input.stepId, verified: true } })
    : new Response("Unauthorized", { status: 401 });
  res.writeHead(response.status, { "content-type": response.headers.get("content-type") ?? "text/plain" });
  res.end(Buffer.from(await response.arrayBuffer()));
});
await new Promise((r) => handler.listen(0, "127.0.0.1", r));
const jobsBaseUrl = `http://127.0.0.1:${handler.address().port}`;

const out = { node: process.version };
try {
  const platform = createPlatform({ baseUrl: process.env.WEFT_URL, jobsBaseUrl });
  const run = await platform.workflows.create({
    id: "pkg-esm",
    steps: [
      { id: "a", url: "/api/jobs/a" },
      { id: "b", url: "/api/jobs/b", dependsOn: ["a"] },
    ],
    context: { from: "esm" },
  });
  out.created = { id: run.id, workflowId: run.workflowId, deduplicated: run.deduplicated };
  const watched = [];
  for await (const m of platform.workflows.watch(run.id, { signal: AbortSignal.timeout(120_000) })) {
    watched.push(m.type === "snapshot" ? "snapshot" : `${m.kind}:${m.stepId ?? ""}:${m.to}`);
  }
  out.watched = watched;
  const status = await platform.workflows.getStatus(run.id);
  out.status = { state: status.state, results: status.results, completedAt: status.completedAt instanceof Date };
  out.listed = (await platform.workflows.list({ workflowId: "pkg-esm" })).workflows.map((w) => w.id);
  out.verified = verified;

  // A client-side check and a server-side one, both as WeftError with field violations.
  for (const [name, call] of [
    ["client", () => platform.workflows.create({ id: "x", steps: [{ id: "a", url: "/a", timeout: "soon" }] })],
    ["server", () => platform.workflows.getStatus("not-a-run-id")],
  ]) {
    try {
      await call();
      out[`${name}Error`] = "no error";
    } catch (err) {
      out[`${name}Error`] = { weft: err instanceof WeftError, code: err.code, fieldViolations: err.fieldViolations };
    }
  }

  // The generated weft.v1 client, and gRPC through the optional @connectrpc/connect-node.
  const { workflow } = await createWorkflowClient({ baseUrl: process.env.WEFT_URL }).getWorkflow({ id: run.id });
  out.generated = WorkflowState[workflow.state];
  out.grpc = (await createPlatform({ baseUrl: process.env.WEFT_URL, transport: "grpc" }).workflows.getStatus(run.id)).state;
} finally {
  handler.close();
}
console.log(JSON.stringify(out));
