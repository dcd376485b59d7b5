// The labels of runs a WatchWorkflows stream filters by: read once per run
// (labels never change after create) and remembered, at most `max` runs, the
// least recently used forgotten first.
import type { Labels } from "../domain/run-labels.ts";

export class RunLabelCache {
  private readonly max: number;
  private readonly read: (runId: string) => Promise<Labels | undefined>;
  private readonly known = new Map<string, Labels | undefined>();

  constructor(max: number, read: (runId: string) => Promise<Labels | undefined>) {
    this.max = max;
    this.read = read;
  }

  async get(runId: string): Promise<Labels | undefined> {
    if (this.known.has(runId)) {
      const labels = this.known.get(runId);
      this.known.delete(runId);
      this.known.set(runId, labels);
      return labels;
    }
    const labels = await this.read(runId);
    this.known.set(runId, labels);
    if (this.known.size > this.max) this.known.delete(this.known.keys().next().value as string);
    return labels;
  }
}
