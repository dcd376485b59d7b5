// Run ids: "wf_" + 26 Crockford base32 characters, lexicographically sortable by
// creation time (48-bit milliseconds, then 80 random bits, monotonic within a millisecond).
import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

function encodeTime(ms: number): string {
  let out = "";
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[ms % 32] + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

export class RunIdGenerator {
  private lastMs = -1;
  private lastRandom: number[] = [];

  next(nowMs: number): string {
    if (nowMs <= this.lastMs) {
      // Same (or earlier) millisecond: increment the random part to stay ordered.
      let i = this.lastRandom.length - 1;
      while (i >= 0 && this.lastRandom[i] === 31) this.lastRandom[i--] = 0;
      if (i < 0) throw new Error("run id space for this millisecond is exhausted");
      this.lastRandom[i]++;
      nowMs = this.lastMs;
    } else {
      const bytes = randomBytes(16);
      this.lastRandom = Array.from(bytes, (b) => b & 31);
      this.lastMs = nowMs;
    }
    return "wf_" + encodeTime(nowMs) + this.lastRandom.map((d) => ALPHABET[d]).join("");
  }
}

/** The largest time a run id can hold (48 bits of milliseconds, as 10 base32 characters hold 50). */
const MAX_ID_TIME = 2 ** 48 - 1;

/**
 * The smallest run id of a run created at `ms` (clamped to what an id can
 * hold): ids of runs created at or after `ms` sort at or after it, ids of runs
 * created before it sort before it. Stores turn creation-time filters into
 * ranges of the run id, which every run table is keyed by.
 */
export function runIdLowerBound(ms: number): string {
  const t = Math.min(Math.max(0, Math.floor(ms)), MAX_ID_TIME);
  return "wf_" + encodeTime(t) + "0".repeat(16);
}

/** The creation time (ms) a run id carries. */
export function runIdTime(id: string): number {
  let ms = 0;
  for (let i = 3; i < 13; i++) ms = ms * 32 + ALPHABET.indexOf(id[i]);
  return ms;
}
