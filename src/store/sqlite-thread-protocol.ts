// Messages between ThreadedSqliteStore and its worker thread.
import { VersionConflictError, type WorkflowStore } from "../ports/workflow-store.ts";

export type StoreMethod = Exclude<keyof WorkflowStore, never>;

export interface Call {
  id: number;
  method: StoreMethod;
  args: unknown[];
}

export interface WireError {
  name: string;
  message: string;
  conflict?: { runId: string; expected: number; actual: number | undefined; detail: string | undefined };
}

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

export function encodeError(err: unknown): WireError {
  if (err instanceof VersionConflictError) {
    return { name: err.name, message: err.message, conflict: { runId: err.runId, expected: err.expected, actual: err.actual, detail: err.detail } };
  }
  const e = err as Error;
  return { name: e?.name ?? "Error", message: e?.message ?? String(err) };
}

export function decodeError(w: WireError): Error {
  if (w.conflict) return new VersionConflictError(w.conflict.runId, w.conflict.expected, w.conflict.actual, w.conflict.detail);
  const e = new Error(w.message);
  e.name = w.name;
  return e;
}
