// Environment variables, where the runtime has them (Node, Bun, Deno with
// --allow-env, Next.js edge routes); elsewhere (a browser) there are none.

type Env = Record<string, string | undefined>;

/** The process environment, or an empty one. */
export function processEnv(): Env {
  try {
    const p = (globalThis as { process?: { env?: Env } }).process;
    return p?.env ?? {};
  } catch {
    // Deno without --allow-env throws on access.
    return {};
  }
}
