// Run by test/e2e/client-package.test.ts on the system Node (20): the shared
// signature vectors (argv[2]) through the installed package's verification.
import { readFileSync } from "node:fs";
import { verifyRequestDetailed, verifySignature } from "@weftflow/client/verify";

const doc = JSON.parse(readFileSync(process.argv[2], "utf8"));
const results = [];
for (const v of doc.vectors) {
  const bySignature = await verifySignature({
    headers: v.headers,
    body: v.body,
    secrets: v.secrets,
    toleranceSeconds: doc.toleranceSeconds,
    nowMs: v.nowSeconds * 1000,
  });
  const request = new Request("http://127.0.0.1/api/jobs/x", { method: "POST", headers: v.headers, body: v.body });
  const byRequest = await verifyRequestDetailed(request, { secrets: v.secrets, nowMs: v.nowSeconds * 1000 });
  results.push({ name: v.name, bySignature, byRequest, bodyAfter: await request.text() });
}
console.log(JSON.stringify(results));
