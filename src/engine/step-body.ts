// The JSON body of a step call, built from pieces serialized once:
//
//   {"workflowId":…,"runId":…,"workflow":…,"stepId":…,"attempt":<n>,"context":…,"previousSteps":{…}<extra>}
//   \___________________ head _______________________________/       \__________ middle ___________/
//
// A map step sends this body once per item with the same head and middle (the
// run's context and previousSteps, often far larger than the item): ItemBodies
// keeps the middle as UTF-8 bytes and writes each item's body into one buffer,
// so an item's call neither re-joins nor re-encodes them, and the signer and
// the HTTP client read the same bytes. The bytes are exactly those of the
// string form: `stepBody(head, attempt, middle, extra)` encoded as UTF-8.

/** `{"workflowId":…,"runId":…,"workflow":…,"stepId":…,"attempt":` (the attempt number follows). */
export function bodyHead(workflowId: string, runId: string, stepId: string): string {
  const name = JSON.stringify(workflowId);
  return `{"workflowId":${name},"runId":${JSON.stringify(runId)},"workflow":${name},"stepId":${JSON.stringify(stepId)},"attempt":`;
}

/**
 * `,"context":<contextJson>,"previousSteps":{<entries>}`; each entry is
 * `"<stepId>":<entry JSON>`, already serialized.
 */
export function bodyMiddle(contextJson: string, entries: readonly string[]): string {
  return `,"context":${contextJson},"previousSteps":{${entries.join(",")}}`;
}

/** A whole body as a string; `extra` is `,"key":value…` (or empty). */
export function stepBody(head: string, attempt: number, middle: string, extra: string): string {
  return `${head}${attempt}${middle}${extra}}`;
}

/** The bodies of one map step's item calls, for one set of previousSteps entries. */
export class ItemBodies {
  readonly head: string;
  /** The previousSteps entries the middle was built from (compared by identity to tell whether it still holds). */
  readonly entries: readonly string[];
  private readonly middle: Buffer;

  constructor(head: string, contextJson: string, entries: readonly string[]) {
    this.head = head;
    this.entries = entries;
    this.middle = Buffer.from(bodyMiddle(contextJson, entries), "utf8");
  }

  /** True when these are the entries the bodies were built from (the same strings, in the same order). */
  holds(entries: readonly string[]): boolean {
    const mine = this.entries;
    if (mine.length !== entries.length) return false;
    for (let i = 0; i < mine.length; i++) if (mine[i] !== entries[i]) return false;
    return true;
  }

  /**
   * The body of item `index` (its value serialized as `itemJson`) at `attempt`:
   * the UTF-8 bytes of stepBody(head, attempt, middle, `,"item":<itemJson>,"index":<index>`).
   */
  body(attempt: number, itemJson: string, index: number): Buffer {
    const start = `${this.head}${attempt}`;
    const end = `,"item":${itemJson},"index":${index}}`;
    const startBytes = Buffer.byteLength(start, "utf8");
    const buf = Buffer.allocUnsafe(startBytes + this.middle.length + Buffer.byteLength(end, "utf8"));
    let at = buf.write(start, 0, "utf8");
    at += this.middle.copy(buf, at);
    buf.write(end, at, "utf8");
    return buf;
  }
}
