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
