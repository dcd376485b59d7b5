// `node bench/create-json-micro.ts`: what the second parse of a Connect JSON
// request costs, per request, alone. connect-es hands the body to the strict
// decoder (src/transport/strict-json-decoder.ts: JSON.parse, depth check,
// fromJson, so that a bad field is named) and then parses the text it returns
// again (fromJsonString): "today" is both, "one parse" is JSON.parse and
// fromJson once, what a single parse would cost. Asserts nothing.
import { fromJson, fromJsonString, type JsonValue } from "@bufbuild/protobuf";
import { CreateWorkflowRequestSchema } from "../gen/ts/weft/v1/workflow_pb.js";
import { strictJsonDecoder } from "../src/transport/strict-json-decoder.ts";

function body(steps: number, contextBytes: number): Uint8Array {
  const req = {
    id: "bench",
    baseUrl: "http://127.0.0.1:9",
    steps: Array.from({ length: steps }, (_, i) => ({
      id: `s${i}`, url: `/s${i}`, dependsOn: i ? [`s${i - 1}`] : [],
      retries: { maxAttempts: 3, backoff: "BACKOFF_EXPONENTIAL", initialInterval: "1s" }, timeout: "30s",
    })),
    context: { blob: "x".repeat(contextBytes), list: Array.from({ length: 20 }, (_, i) => ({ i, name: `n${i}` })) },
  };
  return new TextEncoder().encode(JSON.stringify(req));
}

const desc = CreateWorkflowRequestSchema;
const strict = strictJsonDecoder(desc);
const utf8 = new TextDecoder("utf-8", { fatal: true });
const opts = { ignoreUnknownFields: false };

const today = (b: Uint8Array) => fromJsonString(desc, strict.decode(b), opts);
const once = (b: Uint8Array) => fromJson(desc, JSON.parse(utf8.decode(b)) as JsonValue, opts);
const decoderAlone = (b: Uint8Array) => strict.decode(b);

for (const [name, b, n] of [
  ["3 steps, 1 KB context", body(3, 1000), 20_000],
  ["50 steps, 10 KB context", body(50, 10_000), 4_000],
  ["500 steps, 1 MB context", body(500, 1_000_000), 200],
] as const) {
  const res: Record<string, number[]> = { today: [], once: [], decoderAlone: [] };
  for (let round = 0; round < 5; round++) {
    for (const [k, f] of [["today", today], ["once", once], ["decoderAlone", decoderAlone]] as const) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) f(b);
      res[k].push(Number(process.hrtime.bigint() - t0) / n / 1000);
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, c) => a - c)[2];
  console.log(`${name} (${b.byteLength} bytes): today ${med(res.today).toFixed(1)} µs, one parse ${med(res.once).toFixed(1)} µs (the strict decoder alone ${med(res.decoderAlone).toFixed(1)} µs) per request (median of 5 rounds)`);
}
