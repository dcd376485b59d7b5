// Runs layoutLarge off the main thread (started by layout.ts): one request, one answer, by id.
import { layoutLarge, type LayoutStep } from "./large-layout.ts";

self.onmessage = (event: MessageEvent<{ id: number; steps: LayoutStep[] }>) => {
  const { id, steps } = event.data;
  try {
    self.postMessage({ id, positions: layoutLarge(steps) });
  } catch (error) {
    self.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
};
