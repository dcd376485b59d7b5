// Stand-in for 'next/server' in the product document's route handler snippet:
// a NextRequest is a Fetch Request (with extras the snippet does not use).
//
// One typing difference: json() resolves to the body Weft sends a step, with
// step results typed `any`. (Next.js types json() as Promise<any>, but the
// snippet's `Object.entries(previousSteps)` would then give `unknown` results
// and `...result.result` would not compile under `strict`.)
export interface WeftStepRequestBody {
  workflowId: string;
  runId: string;
  workflow: string;
  stepId: string;
  attempt: number;
  context: Record<string, any>;
  previousSteps: Record<string, { result: any; completedAt: string; attempts: number }>;
}

export interface NextRequest {
  json: () => Promise<WeftStepRequestBody>;
}
export class NextRequest extends Request {}
