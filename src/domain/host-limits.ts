// Per-host limits on outbound calls: how many calls to one handler origin
// (scheme://host:port) may be in flight at once, and how many may start per
// second (a token bucket). The settings and their parsing; the limiter itself
// is in src/dispatch/origin-limiter.ts.

export interface HostLimit {
  /** Calls to the origin in flight at once. */
  maxInflight: number;
  /** Calls started per second; 0: unlimited. */
  ratePerSecond: number;
  /** Calls that may start back to back after the origin was idle (the bucket's size); unused when the rate is unlimited. */
  burst: number;
}

export interface HostLimits {
  /** Every origin without an override. */
  defaults: HostLimit;
  /** By origin (as URL#origin spells it: lower-case host, no default port). */
  origins: Map<string, HostLimit>;
}

/** Today's connections per origin: the default in-flight limit. */
export const DEFAULT_HOST_MAX_INFLIGHT = 256;
export const MAX_HOST_INFLIGHT = 100_000;
export const MAX_HOST_RATE = 1_000_000;

export class HostLimitError extends Error {}

/** The default burst: a tenth of a second's calls, at least 1. */
export function defaultBurst(ratePerSecond: number): number {
  return Math.max(1, Math.ceil(ratePerSecond / 10));
}

/** Input quoted in an error: at most 60 characters. */
function quote(s: string): string {
  return JSON.stringify(s.length <= 60 ? s : `${s.slice(0, 60)}…`);
}

export function parseInflight(raw: string, what: string): number {
  const s = raw.trim();
  if (!/^\d+$/.test(s)) throw new HostLimitError(`${what}: ${quote(s)} is not a whole number`);
  const n = Number(s);
  if (n < 1 || n > MAX_HOST_INFLIGHT) throw new HostLimitError(`${what}: ${n} is out of range [1, ${MAX_HOST_INFLIGHT}]`);
  return n;
}

/** Calls per second: a positive number, or "unlimited" (0). */
export function parseRate(raw: string, what: string): number {
  const s = raw.trim();
  if (s === "" || s.toLowerCase() === "unlimited") return 0;
  if (!/^\d+(\.\d+)?$/.test(s)) throw new HostLimitError(`${what}: ${quote(s)} is not a number of calls per second (or unlimited)`);
  const n = Number(s);
  if (n <= 0 || n > MAX_HOST_RATE) throw new HostLimitError(`${what}: ${s} is out of range (0, ${MAX_HOST_RATE}]; leave it empty or write unlimited for no limit`);
  return n;
}

export function parseBurst(raw: string, what: string): number {
  const s = raw.trim();
  if (!/^\d+$/.test(s)) throw new HostLimitError(`${what}: ${quote(s)} is not a whole number`);
  const n = Number(s);
  if (n < 1 || n > MAX_HOST_RATE) throw new HostLimitError(`${what}: ${n} is out of range [1, ${MAX_HOST_RATE}]`);
  return n;
}

/** An override's origin: http(s)://host[:port], nothing else; returned as URL#origin spells it. */
export function parseOrigin(raw: string, what: string): string {
  const s = raw.trim();
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new HostLimitError(`${what}: ${quote(s)} is not an origin (http://host[:port] or https://host[:port])`);
  }
  if ((u.protocol !== "http:" && u.protocol !== "https:") || u.username || u.password || u.search || u.hash || (u.pathname !== "/" && u.pathname !== "")) {
    throw new HostLimitError(`${what}: ${quote(s)} is not an origin (http://host[:port] or https://host[:port], no path)`);
  }
  if (!/^https?:\/\/[^/]+\/?$/i.test(s)) throw new HostLimitError(`${what}: ${quote(s)} is not an origin (http://host[:port] or https://host[:port], no path)`);
  return u.origin;
}

interface Given {
  maxInflight?: number;
  ratePerSecond?: number;
  burst?: number;
}

/**
 * Per-origin overrides: entries `<origin>=<key>:<value>,…` (keys inflight, rate, burst),
 * separated by `;` (several may also come from repeated flags). Keys left out take the
 * global values; a burst left out is the global one if that was given, else a tenth of
 * the entry's rate.
 */
export function parseHostLimits(
  entries: string[],
  global: { maxInflight: number; ratePerSecond: number; burst: number | undefined },
  what = "host-limit",
): HostLimits {
  const defaults: HostLimit = {
    maxInflight: global.maxInflight,
    ratePerSecond: global.ratePerSecond,
    burst: global.burst ?? defaultBurst(global.ratePerSecond),
  };
  const origins = new Map<string, HostLimit>();
  for (const raw of entries.flatMap((e) => e.split(";"))) {
    const entry = raw.trim();
    if (entry === "") continue;
    const eq = entry.indexOf("=");
    if (eq < 0) throw new HostLimitError(`${what}: ${quote(entry)} must look like <origin>=inflight:N,rate:R[,burst:B]`);
    const origin = parseOrigin(entry.slice(0, eq), what);
    if (origins.has(origin)) throw new HostLimitError(`${what}: ${origin.slice(0, 80)} is given twice`);
    const p: Given = {};
    const seen = new Set<string>();
    const settings = entry.slice(eq + 1).split(",").map((x) => x.trim()).filter((x) => x !== "");
    if (settings.length === 0) throw new HostLimitError(`${what}: ${origin.slice(0, 80)} has no limits (inflight:N, rate:R, burst:B)`);
    for (const setting of settings) {
      const colon = setting.indexOf(":");
      const k = colon < 0 ? setting : setting.slice(0, colon).trim().toLowerCase();
      const v = colon < 0 ? "" : setting.slice(colon + 1);
      const at = `${what} ${origin.slice(0, 80)} ${k.slice(0, 20)}`;
      if (setting.includes("=")) throw new HostLimitError(`${what}: ${quote(setting)}: separate origins with ";" (or repeat the flag)`);
      if (colon < 0) throw new HostLimitError(`${what}: ${quote(setting)} must be <key>:<value> (inflight, rate or burst)`);
      if (seen.has(k)) throw new HostLimitError(`${what}: ${origin.slice(0, 80)} gives ${k.slice(0, 20)} twice`);
      seen.add(k);
      if (k === "inflight") p.maxInflight = parseInflight(v, at);
      else if (k === "rate") p.ratePerSecond = parseRate(v, at);
      else if (k === "burst") p.burst = parseBurst(v, at);
      else throw new HostLimitError(`${what}: unknown key ${quote(k)} for ${origin.slice(0, 80)} (inflight, rate or burst)`);
    }
    const rate = p.ratePerSecond ?? defaults.ratePerSecond;
    origins.set(origin, {
      maxInflight: p.maxInflight ?? defaults.maxInflight,
      ratePerSecond: rate,
      burst: p.burst ?? global.burst ?? defaultBurst(rate),
    });
  }
  return { defaults, origins };
}

/** The limit for an origin. */
export function limitFor(limits: HostLimits, origin: string): HostLimit {
  return limits.origins.get(origin) ?? limits.defaults;
}

/** The most in-flight calls any origin may have (the connection pool's size per origin). */
export function largestInflight(limits: HostLimits): number {
  let n = limits.defaults.maxInflight;
  for (const l of limits.origins.values()) n = Math.max(n, l.maxInflight);
  return n;
}
