// A workflow file's previous_steps (`weft run`): read, checked, and sent as the enum.
import { describe, expect, it } from "vitest";
import { PreviousSteps } from "../../gen/ts/weft/v1/workflow_pb.js";
import { toCreateRequest } from "../../src/cli/create-request.ts";
import { parseWorkflowFile } from "../../src/cli/workflow-file.ts";

const file = (line: string) => `id: chain\n${line}\nsteps:\n  - id: a\n    url: http://127.0.0.1:9/a\n`;

describe("workflow file: previous_steps", () => {
  it("accepts all, dependencies and ancestors, in snake or camel case", () => {
    const cases: [string, PreviousSteps][] = [
      ["previous_steps: dependencies", PreviousSteps.DEPENDENCIES],
      ["previousSteps: ancestors", PreviousSteps.ANCESTORS],
      ["previous_steps: all", PreviousSteps.ALL],
    ];
    for (const [line, expected] of cases) {
      const r = parseWorkflowFile(file(line));
      expect(r.ok).toBe(true);
      if (r.ok) expect(toCreateRequest(r.request).previousSteps).toBe(expected);
    }
  });

  it("a step's own, which the step's definition carries", () => {
    const r = parseWorkflowFile(`id: chain\nprevious_steps: dependencies\nsteps:\n  - id: a\n    url: http://127.0.0.1:9/a\n    previous_steps: all\n  - id: b\n    url: http://127.0.0.1:9/b\n    previousSteps: sideways\n`);
    expect(r).toEqual({ ok: false, problems: [{ path: "steps[1].previousSteps", line: 9, message: 'must be all, dependencies, ancestors or none, not "sideways"' }] });
    const good = parseWorkflowFile(`id: chain\nsteps:\n  - id: a\n    url: http://127.0.0.1:9/a\n    previous_steps: ancestors\n`);
    expect(good.ok && toCreateRequest(good.request).steps[0].previousSteps).toBe(PreviousSteps.ANCESTORS);
  });

  it("leaves it unspecified when absent", () => {
    const r = parseWorkflowFile(file("saga: false"));
    expect(r.ok && toCreateRequest(r.request).previousSteps).toBe(PreviousSteps.UNSPECIFIED);
  });

  it("refuses another value with its line", () => {
    const r = parseWorkflowFile(file("previous_steps: parents"));
    expect(r).toEqual({ ok: false, problems: [{ path: "previous_steps", line: 2, message: 'must be all, dependencies, ancestors or none, not "parents"' }] });
    const n = parseWorkflowFile(file("previous_steps: 2"));
    expect(n.ok).toBe(false);
    if (!n.ok) expect(n.problems[0].message).toBe("must be all, dependencies, ancestors or none, not number");
  });
});
