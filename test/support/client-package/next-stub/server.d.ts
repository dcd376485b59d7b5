// Types of the 'next/server' stand-in. json() resolves to the body Weft sends a
// step, with results typed `any` (Next.js types json() as Promise<any>; see
// test/support/sdk-snippets/next-server.ts for why this stand-in is narrower).
export interface WeftStepRequestBody {
  workflowId: string;
  runId: string;
  workflow: string;
  stepId: string;
  attempt: number;
  context: Record<string, any>;
  previousSteps: Record<string, { result: any; completedAt: string; attempts: number }>;
}
export declare class NextRequest extends Request {
  json(): Promise<WeftStepRequestBody>;
}
