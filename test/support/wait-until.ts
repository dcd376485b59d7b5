// Polling for a condition in tests, with a generous limit (a loaded machine is
// slow, never wrong): no test waits a fixed time for something to happen.

/** Resolves once `pred` holds (checked every 20 ms); rejects after `timeoutMs`. */
export async function waitUntil(pred: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
