// Durations written for people: "30d", "12h", "90m", "45s", "1500ms", "1h30m";
// a bare "0" is zero. Used by --retention and the CLI's --since. Pure.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const PART = /(\d+)(ms|s|m|h|d|w)/gy;

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDurationText(text: string): number | undefined {
  const s = text.trim();
  if (s === "0") return 0;
  if (s === "" || s.length > 64) return undefined;
  let ms = 0;
  PART.lastIndex = 0;
  let end = 0;
  for (let m = PART.exec(s); m; m = PART.exec(s)) {
    ms += Number(m[1]) * UNIT_MS[m[2]];
    end = PART.lastIndex;
  }
  return end === s.length && Number.isSafeInteger(ms) ? ms : undefined;
}
