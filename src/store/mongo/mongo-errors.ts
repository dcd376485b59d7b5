// Driver errors the MongoDB store reads: duplicate keys (an insert or upsert
// that met a document already there), shared by runs, events and items.
import { MongoBulkWriteError, MongoServerError } from "mongodb";

const DUPLICATE_KEY = 11000;

export function isDuplicateKey(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === DUPLICATE_KEY;
}

/**
 * The indexes of the operations of a bulk write (of `n`) that failed with a
 * duplicate key, when every failure was one; otherwise undefined. A plain
 * duplicate-key error answers for a write of one operation only: for more it
 * does not say which ones failed, and taking them all for duplicates could
 * drop a write, so the caller's retry handles it (the driver reports a bulk
 * write's failures as a MongoBulkWriteError).
 */
export function duplicateKeyIndexes(err: unknown, n: number): number[] | undefined {
  if (err instanceof MongoBulkWriteError) {
    const first = err.writeErrors;
    const errors = Array.isArray(first) ? first : first ? [first] : [];
    return errors.length > 0 && errors.every((e) => e.code === DUPLICATE_KEY) ? errors.map((e) => e.index) : undefined;
  }
  return isDuplicateKey(err) && n === 1 ? [0] : undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
