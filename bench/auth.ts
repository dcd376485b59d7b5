// The benchmark's API key: Weft runs with one and every call carries it, as in
// production, unless BENCH_API_KEY=off.
import { randomBytes } from "node:crypto";
import type { Interceptor } from "@connectrpc/connect";

const KEY = process.env.BENCH_API_KEY === "off" ? undefined : `bench-${randomBytes(16).toString("hex")}`;

export const benchAuthLabel = KEY ? "API key (write scope) on every call" : "no API key (BENCH_API_KEY=off)";

/** Weft's environment that configures the key (WEFT_API_KEYS: a key on the command line is in the process list). */
export function weftAuthEnv(): Record<string, string> {
  return KEY ? { WEFT_API_KEYS: `write:${KEY}` } : {};
}

const bearer: Interceptor = (next) => (req) => {
  req.header.set("authorization", `Bearer ${KEY}`);
  return next(req);
};

/** Options for createGrpcTransport: the interceptor that sends the key. */
export function benchTransportOptions(): { interceptors: Interceptor[] } {
  return { interceptors: KEY ? [bearer] : [] };
}

/** Headers that carry the key (plain HTTP requests such as GET /metrics). */
export function benchAuthHeaders(): Record<string, string> {
  return KEY ? { authorization: `Bearer ${KEY}` } : {};
}
