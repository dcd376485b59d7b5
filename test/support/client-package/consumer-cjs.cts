// The CommonJS view of the package (require condition), type-checked under node16.
import client = require("@weftflow/client");
import v1 = require("@weftflow/client/v1");
import verify = require("@weftflow/client/verify");

export function typedCjs(): string {
  const p: client.Platform = client.createPlatform({ baseUrl: "http://localhost:8080" });
  const err = new client.WeftError("not_found", "no run");
  const s: v1.WorkflowState = v1.WorkflowState.COMPLETED;
  return [typeof p.workflows.create, err.code, s, typeof verify.verifySignature].join();
}
