// What one attempt of a step produced, and the single place that decides
// whether a failure is retried (retryable) or ends the step (terminal).
import type { AttemptFailure } from "./run-machine.ts";
import type { ErrorInfo } from "./run-record.ts";
import type { JsonValue } from "./workflow-spec.ts";
import { MAX_JSON_DEPTH, nestedTooDeep, tooDeepMessage } from "./json-depth.ts";

export type AttemptOutcome = ({ ok: true; result: JsonValue }) | ({ ok: false } & AttemptFailure);

const SNIPPET = 500;

export function retryableFailure(reason: string, message: string, extra: Partial<ErrorInfo> = {}, retryAfterMs?: number): AttemptOutcome {
  return { ok: false, retryable: true, error: { reason, message, ...extra }, retryAfterMs };
}

export function terminalFailure(reason: string, message: string, extra: Partial<ErrorInfo> = {}): AttemptOutcome {
  return { ok: false, retryable: false, error: { reason, message, ...extra } };
}

/** A call that was never sent because the server is stopping (retried when a server drives the run again). */
export const NOT_SENT_SHUTTING_DOWN: AttemptOutcome = retryableFailure("connection", "not sent: the server is shutting down");

/** A call cancelled before it had an answer (the run was cancelled, or its step's turn ended). */
export function attemptCancelled(): AttemptOutcome {
  return terminalFailure("cancelled", "attempt cancelled");
}

/**
 * The outbound policy refused the destination (a denied literal address, a
 * denied host name, or a name that resolved to a denied address): nothing was
 * sent. Never retried: not for a step (whatever max_attempts), a compensation
 * or a webhook delivery.
 */
export const DESTINATION_DENIED = "destination_denied";

export function destinationDenied(message: string): AttemptOutcome {
  return terminalFailure(DESTINATION_DENIED, message);
}

/**
 * The request body could not be rendered from the run's data (nothing was
 * sent). Never retried: the data does not change.
 */
export const RENDER_FAILED = "render_failed";

/** A failure no later attempt can mend, even for deliveries that retry every other failure (webhooks). */
export function isPermanentFailure(error: { reason: string }): boolean {
  return error.reason === DESTINATION_DENIED || error.reason === RENDER_FAILED;
}

/** 408, 429 and 5xx are worth another attempt; other statuses are the handler's final word. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Retry-After as delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

function errorMessage(body: unknown, fallback: string): string {
  if (body && typeof body === "object" && !Array.isArray(body)) {
    const e = (body as Record<string, unknown>).error;
    if (typeof e === "string" && e) return e;
    if (e && typeof e === "object" && typeof (e as Record<string, unknown>).message === "string") {
      return (e as Record<string, string>).message;
    }
    const m = (body as Record<string, unknown>).message;
    if (typeof m === "string" && m) return m;
  }
  return fallback;
}

function snippet(text: string): string {
  return text.length > SNIPPET ? text.slice(0, SNIPPET) + "…" : text;
}

function tryParse(text: string): { ok: true; value: JsonValue } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as JsonValue };
  } catch {
    return { ok: false };
  }
}

/**
 * A result every client can read back: nested at most MAX_JSON_DEPTH levels,
 * measured right after parsing (before anything stringifies or encodes it).
 * A deeper one fails the step, not retried.
 */
function resultOutcome(result: JsonValue, status: number): AttemptOutcome {
  if (nestedTooDeep(result, MAX_JSON_DEPTH)) {
    return terminalFailure("invalid_response", `handler result ${tooDeepMessage(MAX_JSON_DEPTH)}`, { httpStatus: status });
  }
  return { ok: true, result };
}

/**
 * Classifies a handler's HTTP response.
 * - 2xx `{success: true, result}` → result; `{success: false, error, retryable?}` → failed attempt
 *   (retried unless `retryable: false`); any other JSON → taken as the result; empty body → null;
 *   a non-JSON body → the text as the result.
 * - 408, 429, 5xx → retryable (Retry-After honoured); other statuses → terminal.
 */
export function classifyResponse(
  status: number,
  contentType: string | undefined,
  retryAfter: string | undefined,
  text: string,
  nowMs: number,
): AttemptOutcome {
  const isJson = contentType === undefined || /json/i.test(contentType) || /^\s*[{[]/.test(text);
  const parsed = text.trim() === "" ? { ok: true as const, value: null } : isJson ? tryParse(text) : { ok: false as const };
  if (status >= 200 && status < 300) {
    if (!parsed.ok) {
      if (contentType && /json/i.test(contentType)) {
        return terminalFailure("invalid_response", `handler returned invalid JSON: ${snippet(text)}`, { httpStatus: status });
      }
      return { ok: true, result: text };
    }
    const body = parsed.value;
    if (body && typeof body === "object" && !Array.isArray(body) && typeof body.success === "boolean") {
      if (body.success) return resultOutcome(body.result === undefined ? null : body.result, status);
      const message = errorMessage(body, "handler reported failure");
      const extra = { httpStatus: status };
      return body.retryable === false
        ? terminalFailure("handler_error", message, extra)
        : retryableFailure("handler_error", message, extra, parseRetryAfter(retryAfter, nowMs));
    }
    return resultOutcome(body, status);
  }
  const fallback = text.trim() ? snippet(text.trim()) : `HTTP ${status}`;
  const message = `HTTP ${status}: ${parsed.ok ? errorMessage(parsed.value, fallback) : fallback}`;
  if (isRetryableStatus(status)) {
    return retryableFailure("http_status", message, { httpStatus: status }, parseRetryAfter(retryAfter, nowMs));
  }
  return terminalFailure("http_status", message, { httpStatus: status });
}
