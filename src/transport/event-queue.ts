// A bounded hand-off between the event feed (push) and one stream (take).
// When a slow reader lets it overflow, the queue is emptied and `overflowed`
// is set: the reader then catches up from the store instead.

export const TIMEOUT = Symbol("timeout");

export class EventQueue<T> {
  private items: T[] = [];
  private head = 0;
  private wake: (() => void) | undefined;
  private readonly max: number;
  overflowed = false;

  constructor(max: number) {
    this.max = max;
  }

  push(item: T): void {
    if (this.items.length - this.head >= this.max) {
      this.items = [];
      this.head = 0;
      this.overflowed = true;
    } else {
      this.items.push(item);
    }
    this.wake?.();
  }

  /** The next item; TIMEOUT after waitMs with nothing, or when the signal aborts. */
  async take(waitMs: number, signal: AbortSignal): Promise<T | typeof TIMEOUT> {
    if (this.head === this.items.length && !this.overflowed && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          this.wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        signal.addEventListener("abort", done, { once: true });
        this.wake = done;
      });
    }
    if (this.head === this.items.length) return TIMEOUT;
    const item = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Drops everything queued (after an overflow). */
  reset(): void {
    this.items = [];
    this.head = 0;
    this.overflowed = false;
  }
}
