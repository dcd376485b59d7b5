// Workflows for tests that drive the run machine or a store directly: steps
// need only an id (the URL is https://h.test/<id>, no dependencies, not
// parallel, no compensation), the rest of the submission has its defaults,
// and it is compiled with the default limits.
import { compileWorkflow } from "../../src/domain/compile-workflow.ts";
import { DEFAULT_LIMITS, type StepInput, type WorkflowInput, type WorkflowSpec } from "../../src/domain/workflow-spec.ts";

export type TestStep = Partial<StepInput> & { id: string };

/** The compiled workflow; throws on a fixture that does not validate. */
export function testWorkflow(steps: TestStep[], extra: Partial<Omit<WorkflowInput, "steps">> = {}): WorkflowSpec {
  const compiled = compileWorkflow(
    {
      id: "wf",
      onComplete: "",
      onError: "",
      saga: false,
      baseUrl: "",
      requestId: "",
      ...extra,
      steps: steps.map((s) => ({ url: `https://h.test/${s.id}`, dependsOn: [], parallel: false, compensation: "", ...s })),
    },
    DEFAULT_LIMITS,
  );
  if (!compiled.ok) throw new Error(`bad fixture: ${JSON.stringify(compiled.violations)}`);
  return compiled.spec;
}
