// The maxima of every string and repeated field of the API, the byte budgets
// of list pages, and the helpers that keep client input and handler texts out
// of answers beyond a few dozen characters. Pure: no I/O.
//
// README "Limits" lists these numbers; change them together.
import { DEFAULTS } from "./workflow-spec.ts";

export const FIELD_LIMITS = {
  /** Workflow ids, step ids, depends_on entries, RerunWorkflow `from_steps` entries (at most --max-steps of them) and `workflow_id` filters. */
  maxIdLength: DEFAULTS.maxIdLength,
  /** Step URLs, compensation, on_complete, on_error and base_url. */
  maxUrlLength: DEFAULTS.maxUrlLength,
  /** CreateWorkflow and RerunWorkflow `request_id`. */
  maxRequestIdLength: 256,
  /** CreateWorkflow and RerunWorkflow `labels`, and the `labels` filters of ListWorkflows and WatchWorkflows: pairs at most. */
  maxLabels: 32,
  /** A label key (characters of [a-z0-9_.\-/]). */
  maxLabelKeyLength: 63,
  /** A label value (characters). */
  maxLabelValueLength: 256,
  /** CancelWorkflow `reason` (characters). */
  maxCancelReasonLength: 1024,
  /** `page_token` of ListWorkflows, ListWorkflowEvents and ListStepItems. */
  maxPageTokenLength: 256,
  /** A stored error message (handler texts, transport errors), in characters; longer ones are cut with a marker. */
  maxErrorMessageLength: 2048,
  /** Client input quoted in an error message, in characters. */
  maxQuotedInputLength: 80,
  /** Field violations listed in a BadRequest detail (the message lists fewer). */
  maxFieldViolations: 50,
  /** `concurrency.key` (a JSON pointer into the context), of a workflow or a step. */
  maxConcurrencyKeyLength: 1024,
  /** The value a concurrency key finds in the context, as text (the key itself). */
  maxConcurrencyValueLength: 256,
} as const;

/** A list page (ListWorkflows, ListWorkflowEvents, ListStepItems) stops early once its encoded size passes this. */
export const PAGE_BYTE_BUDGET = 4 * 1024 * 1024;

/** Run ids: "wf_" + 26 Crockford base32 characters (src/domain/run-id.ts). */
const RUN_ID = /^wf_[0-9A-HJKMNP-TV-Z]{26}$/;

export function isRunId(s: string): boolean {
  return s.length === 29 && RUN_ID.test(s);
}

export const TRUNCATION_MARKER = "… [truncated]";

/**
 * Client input for an error message: JSON-quoted, at most `max` characters of
 * it, then an ellipsis. Never longer than about max + 10 characters (escapes
 * of control characters count as one character each before quoting).
 */
export function quoteInput(s: string, max: number = FIELD_LIMITS.maxQuotedInputLength): string {
  if (s.length <= max) return JSON.stringify(s);
  return `${JSON.stringify(cut(s, max)).slice(0, -1)}…"`;
}

/** Text stored from outside (a handler's error message): at most `max` characters, with a marker when cut. */
export function truncateText(s: string, max: number = FIELD_LIMITS.maxErrorMessageLength): string {
  if (s.length <= max) return s;
  return cut(s, Math.max(0, max - TRUNCATION_MARKER.length)) + TRUNCATION_MARKER;
}

/** The first `n` UTF-16 units, without splitting a surrogate pair. */
function cut(s: string, n: number): string {
  const code = s.charCodeAt(n - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? n - 1 : n);
}

/** Why a string field is too long, or undefined. */
export function tooLong(value: string, max: number): string | undefined {
  return value.length > max ? `must be at most ${max} characters (got ${value.length})` : undefined;
}

// ---- the largest answer -------------------------------------------------------------------

/** Protobuf bytes of a google.protobuf.Value per character of its JSON text, at most ("0," is 2 characters, 11 bytes in a ListValue). */
export const VALUE_BYTES_PER_JSON_CHAR = 5.5;
/** UTF-8 bytes per UTF-16 unit, at most. */
const UTF8_BYTES_PER_UNIT = 3;
/** One ErrorDetail: the message (a step failure adds `step "<id>" failed: `), reason, step id, numbers, tags. */
const ERROR_DETAIL_BYTES = UTF8_BYTES_PER_UNIT * (FIELD_LIMITS.maxErrorMessageLength + FIELD_LIMITS.maxIdLength + 32) + 256;
/** A concurrency key's value (concurrency_key) and waiting_for, of a step or of the run: not in the request. */
const CONCURRENCY_BYTES = UTF8_BYTES_PER_UNIT * FIELD_LIMITS.maxConcurrencyValueLength + 3 + 32;
/** A map step's ItemCounts: seven int32 fields and the message's tag and length. */
const ITEM_COUNTS_BYTES = 48;
/** A run id in a field numbered over 15 (rerun_of, copied_from): 29 characters, a two-byte tag and the length. */
const RUN_ID_FIELD_BYTES = 29 + 3;
/** One StepStatus without its result and the submitted definition: id twice (plus once in a step list), six timestamps, counters, retry defaults, two errors and copied_from. */
const STEP_STATUS_BYTES = 2 * ERROR_DETAIL_BYTES + 3 * (FIELD_LIMITS.maxIdLength + 3) + 6 * 16 + 128 + ITEM_COUNTS_BYTES + CONCURRENCY_BYTES + RUN_ID_FIELD_BYTES;
/** Failed items a Workflow lists, over all its map steps (README "Map steps"). */
export const ITEM_FAILURES_PER_RUN = 10;
/** Run-level fields not in the request: error, webhook (resolved URL, ids, error), resolved on_complete/on_error, timestamps; the failed items listed; rerun_of. */
const RUN_FIXED_BYTES = 2 * ERROR_DETAIL_BYTES + 3 * (FIELD_LIMITS.maxUrlLength + 3) + 1024 + ITEM_FAILURES_PER_RUN * (ERROR_DETAIL_BYTES + 32) + CONCURRENCY_BYTES + 16 + RUN_ID_FIELD_BYTES;

export interface AnswerLimits {
  maxSteps: number;
  maxRequestBytes: number;
  maxRunResultBytes: number;
}

/**
 * The largest encoded Workflow (GetWorkflow, CancelWorkflow, a WatchWorkflow
 * snapshot) the limits allow: the submitted spec (at most max-request-bytes,
 * encoded the same way again), every step's status, and the results twice (in
 * `results` and in each step), each character of their JSON at most
 * VALUE_BYTES_PER_JSON_CHAR bytes. README "Limits" shows the arithmetic.
 */
export function maxWorkflowAnswerBytes(limits: AnswerLimits): number {
  const results = 2 * VALUE_BYTES_PER_JSON_CHAR * limits.maxRunResultBytes + limits.maxSteps * (FIELD_LIMITS.maxIdLength + 16);
  return Math.ceil(limits.maxRequestBytes + limits.maxSteps * STEP_STATUS_BYTES + results + RUN_FIXED_BYTES);
}
