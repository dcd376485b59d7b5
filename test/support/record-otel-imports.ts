// Loaded with `node --import` into a spawned Weft: counts the OpenTelemetry SDK
// modules the process resolves and writes the count to stderr when it exits,
// so a test can tell whether the SDK was loaded at all. @opentelemetry/api is
// not counted: prom-client loads it (for exemplars) whatever --tracing says.
import { registerHooks } from "node:module";
import { isMainThread } from "node:worker_threads";

// NODE_OPTIONS reaches worker threads too (the store's checkpointer): only the main thread reports.
const seen = new Set<string>();
if (isMainThread) registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    if (resolved.url.includes("/@opentelemetry/") && !resolved.url.includes("/@opentelemetry/api/")) seen.add(resolved.url);
    return resolved;
  },
});
if (isMainThread) {
  process.on("exit", () => {
    process.stderr.write(`opentelemetry SDK modules loaded: ${seen.size}\n`);
  });
}
