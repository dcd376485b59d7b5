// The READMEs' set-up, as users write it: options straight from process.env, whose
// values are `string | undefined`. Type-checked by test/e2e/client-package.test.ts
// with exactOptionalPropertyTypes under moduleResolution node16 and node10 (where the
// subpaths resolve through typesVersions).
import { createPlatform, type Platform } from "@weftflow/client";
import { createWorkflowClient } from "@weftflow/client/v1";
import { verifyRequest } from "@weftflow/client/verify";

export function fromEnv(): Platform {
  return createPlatform({
    baseUrl: process.env.WEFT_URL ?? "http://localhost:8080",
    apiKey: process.env.WEFT_API_KEY, // when the server requires API keys
    jobsBaseUrl: process.env.JOBS_BASE_URL,
    signingSecrets: process.env.WEFT_SIGNING_SECRETS,
    transport: process.env.WEFT_TRANSPORT === "grpc" ? "grpc" : undefined,
    timeoutMs: process.env.WEFT_TIMEOUT_MS ? Number(process.env.WEFT_TIMEOUT_MS) : undefined,
  });
}

export async function fromEnvCalls(req: Request): Promise<unknown[]> {
  const weft = fromEnv();
  const client = createWorkflowClient({ baseUrl: "http://localhost:8080", apiKey: process.env.WEFT_API_KEY });
  const run = await weft.workflows.create({
    id: "order-processing",
    steps: [{ id: "validate", url: "/api/jobs/validate-order", timeout: process.env.STEP_TIMEOUT ? 30 : undefined }],
    onComplete: process.env.ON_COMPLETE_URL,
    requestId: process.env.REQUEST_ID,
  });
  const page = await weft.workflows.list({ pageToken: process.env.PAGE_TOKEN, pageSize: undefined });
  const ok = await verifyRequest(req, { secrets: process.env.WEFT_SIGNING_SECRETS, toleranceSeconds: undefined });
  const { workflow } = await client.getWorkflow({ id: run.id });
  return [page, ok, workflow?.state];
}
