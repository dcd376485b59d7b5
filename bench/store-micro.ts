// Store micro-benchmark (`npm run bench:store`): the embedded store and the run
// machine alone, no HTTP. 2,000 ten-step chains are created, then every step is
// completed through a real patch commit; prints wall and CPU time per step.
// CPU time (this process) is the steadier figure on a shared machine.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileWorkflow } from "../src/domain/compile-workflow.ts";
import { RunMachine } from "../src/domain/run-machine.ts";
import { createdEvent, newRunRecord } from "../src/domain/run-record.ts";
import { RunIdGenerator } from "../src/domain/run-id.ts";
import { DEFAULT_LIMITS } from "../src/domain/workflow-spec.ts";
import { SqliteWorkflowStore } from "../src/store/sqlite-store.ts";

const store = new SqliteWorkflowStore({ dataDir: mkdtempSync(join(tmpdir(), "mb-")) });
const ids = new RunIdGenerator();
const steps = Array.from({ length: 10 }, (_, i) => ({ id: `s${i}`, url: "http://h/x", dependsOn: i ? [`s${i - 1}`] : [], parallel: false, compensation: "" }));
const compiled = compileWorkflow({ id: "mb", steps, context: { a: 1 }, onComplete: "", onError: "", saga: false, baseUrl: "", requestId: "" }, DEFAULT_LIMITS);
if (!compiled.ok) throw new Error("bad fixture");
const spec = compiled.spec;
const RUNS = 2000;
const machines: RunMachine[] = [];
let t = performance.now();
await Promise.all(Array.from({ length: RUNS }, async () => {
  const run = newRunRecord(ids.next(Date.now()), spec, Date.now());
  await store.createRun(run, [createdEvent(run)]);
  const m = new RunMachine(run); m.start(1); machines.push(m);
  await store.commit(m.takePatch()!);
}));
const createMs = performance.now() - t;
t = performance.now();
const c0 = process.cpuUsage();
for (let step = 0; step < 10; step++) {
  await Promise.all(machines.map((m) => { m.attemptSucceeded(step, 1, { ok: true }, 2); return store.commit(m.takePatch()!); }));
}
const stepMs = performance.now() - t;
const cpu = process.cpuUsage(c0);
console.log(`create+start: ${(createMs * 1000 / RUNS).toFixed(1)} µs/run; step patches: ${(stepMs * 1000 / (RUNS * 10)).toFixed(1)} µs/step (incl. machine); CPU ${((cpu.user + cpu.system) / (RUNS * 10)).toFixed(1)} µs/step`);
await store.close();
