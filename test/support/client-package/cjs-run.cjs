// Run by test/e2e/client-package.test.ts on the system Node (20): the package
// through require() (its CommonJS build). Steps go to the test's handler server.
const { createPlatform, WeftError, verifySignature } = require("@weftflow/client");
const v1 = require("@weftflow/client/v1");
const verify = require("@weftflow/client/verify");

(async () => {
  const platform = createPlatform({ baseUrl: process.env.WEFT_URL, jobsBaseUrl: process.env.HANDLERS_URL });
  const run = await platform.workflows.create({ id: "pkg-cjs", steps: [{ id: "only", url: "/api/jobs/cjs" }] });
  let status = await platform.workflows.getStatus(run.id);
  const end = Date.now() + 120_000;
  while (!["completed", "failed", "cancelled"].includes(status.state) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    status = await platform.workflows.getStatus(run.id);
  }
  let error;
  try {
    await platform.workflows.cancel("not-a-run-id");
  } catch (err) {
    error = { weft: err instanceof WeftError, code: err.code };
  }
  console.log(
    JSON.stringify({
      id: run.id,
      state: status.state,
      results: status.results,
      error,
      exports: {
        verifySignature: typeof verifySignature,
        verifyRequest: typeof verify.verifyRequest,
        WorkflowService: v1.WorkflowService.typeName,
        createWorkflowClient: typeof v1.createWorkflowClient,
      },
    }),
  );
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
