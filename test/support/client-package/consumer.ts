// Type-checked by test/e2e/client-package.test.ts with the consumer's strict
// flags (strict, exactOptionalPropertyTypes, …) under moduleResolution node16
// and bundler: every export of @weftflow/client, /v1 and /verify, used.
import {
  configurePlatform,
  createPlatform,
  DEFAULT_TOLERANCE_SECONDS,
  DEFAULT_WEFT_URL,
  optionsFromEnv,
  platform,
  SECRETS_ENV_VAR,
  verifyRequest,
  verifyRequestDetailed,
  verifySignature,
  WeftError,
  type CreatedWorkflow,
  type CreateWorkflowInput,
  type FieldViolation,
  type JsonValue,
  type Platform,
  type PlatformOptions,
  type RetryConfig,
  type StepStatus,
  type VerifyResult,
  type WatchMessage,
  type WeftErrorCode,
  type WorkflowState,
  type WorkflowStatus,
  type WorkflowStep,
} from "@weftflow/client";
import { create } from "@bufbuild/protobuf";
import {
  CreateWorkflowRequestSchema,
  createWorkflowClient,
  WorkflowService,
  WorkflowState as PbWorkflowState,
  type Workflow,
} from "@weftflow/client/v1";
import * as verifyOnly from "@weftflow/client/verify";

const retries: RetryConfig = { maxAttempts: 3, backoff: "exponential" };
const steps: WorkflowStep[] = [
  { id: "a", url: "/api/jobs/a", retries },
  { id: "b", url: "/api/jobs/b", dependsOn: ["a"], parallel: false, timeout: 30 },
];
const input: CreateWorkflowInput = { id: "typed", steps, context: { orderId: "o_1" }, saga: false };
const options: PlatformOptions = { baseUrl: DEFAULT_WEFT_URL, apiKey: "key_1", transport: "connect", timeoutMs: 5000 };

export async function typed(req: Request): Promise<string> {
  const mine: Platform = createPlatform(options);
  configurePlatform({ jobsBaseUrl: "https://myapp.com" });
  configurePlatform(null);
  const env: PlatformOptions = optionsFromEnv({ WEFT_URL: "http://weft:8080" });
  const created: CreatedWorkflow = await mine.workflows.create(input);
  const status: WorkflowStatus = await platform.workflows.getStatus(created.id);
  const state: WorkflowState = status.state;
  // @ts-expect-error: states are a closed union, not string
  const bogus: "bogus" = status.state;
  const step: StepStatus | undefined = status.steps[0];
  const result: JsonValue | undefined = step?.result;
  for await (const m of mine.workflows.watch(created.id, { afterSequence: 0 })) {
    const message: WatchMessage = m;
    if (message.type === "event" && message.kind === "run") break;
  }
  await mine.workflows.cancel(created.id, "typed");
  await mine.workflows.list({ state: ["running"], pageSize: 10, view: "full" });
  try {
    await mine.workflows.getStatus("x");
  } catch (err) {
    if (err instanceof WeftError) {
      const code: WeftErrorCode = err.code;
      const violations: FieldViolation[] = err.fieldViolations;
      return `${code} ${violations.length} ${err.reason ?? ""}`;
    }
  }
  const ok: boolean = await mine.jobs.verifyRequest(req, { toleranceSeconds: 60 });
  const detailed: VerifyResult = await verifyRequestDetailed(req, { secrets: "whsec_a,whsec_b" });
  const bare: boolean = await verifyRequest(req, { secrets: ["whsec_a"], toleranceSeconds: undefined });
  const sig: VerifyResult = await verifySignature({ headers: {}, body: "", secrets: [], nowMs: Date.now() });
  const viaSubpath: boolean = await verifyOnly.verifyRequest(req);
  const generated = createWorkflowClient({ baseUrl: env.baseUrl });
  const res = await generated.createWorkflow(create(CreateWorkflowRequestSchema, { id: "typed" }));
  const wf: Workflow | undefined = res.workflow;
  const running: boolean = wf?.state === PbWorkflowState.RUNNING;
  return [state, bogus, result, ok, detailed.ok, bare, sig.ok, viaSubpath, running, WorkflowService.typeName,
    DEFAULT_TOLERANCE_SECONDS, SECRETS_ENV_VAR, verifyOnly.SECRETS_ENV_VAR].join();
}
