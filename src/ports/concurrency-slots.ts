// The slots of concurrency keys (README "Concurrency keys"), kept in the store
// so that they survive a restart and, on MongoDB, bind every replica. A slot
// belongs to a holder, a run (`<runId>`) or a step of a run
// (`<runId>#<step index>`), not to a replica: a run taken over by another
// replica keeps its slots, and a run that settled gives them back.
export interface ConcurrencySlots {
  /**
   * Takes a slot of `key` for `holder` if fewer than `limit` are held; true
   * when the holder holds one now (also when it held one already).
   */
  acquireSlot(key: string, holder: string, limit: number): Promise<boolean>;
  /** The holder keeps (or takes back) its slot whatever the limit: work in flight before a restart. */
  holdSlot(key: string, holder: string): Promise<void>;
  /** Gives the holder's slot back (nothing when it holds none). */
  releaseSlot(key: string, holder: string): Promise<void>;
  /** The holders of each of these keys (keys nobody holds are absent). */
  slotHolders(keys: string[]): Promise<Map<string, string[]>>;
}

/** The holder name of a run's own key (step undefined) or of one of its steps' keys. */
export function slotHolder(runId: string, step?: number): string {
  return step === undefined || step < 0 ? runId : `${runId}#${step}`;
}

/** The run and step (-1: the run itself) a holder name stands for. */
export function parseSlotHolder(holder: string): { runId: string; step: number } {
  const i = holder.indexOf("#");
  return i === -1 ? { runId: holder, step: -1 } : { runId: holder.slice(0, i), step: Number(holder.slice(i + 1)) };
}
