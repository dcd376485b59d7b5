// The workflow definition as the engine sees it: validated, defaults applied,
// URLs resolved, durations in milliseconds. No transport or storage types here.
import type { JoinInput, JoinPolicy } from "./join-policy.ts";
import type { Concurrency, ConcurrencyInput } from "./concurrency-key.ts";
import type { OutboundPolicy } from "./outbound-policy.ts";
import type { PreviousStepsMode } from "./previous-steps.ts";

export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export type Backoff = "exponential" | "linear" | "fixed";

export interface RetryPolicy {
  /** Total attempts including the first, >= 1. */
  maxAttempts: number;
  backoff: Backoff;
  initialIntervalMs: number;
  maxIntervalMs: number;
  /** Random spread of each delay, a fraction in [0, 1]. */
  jitter: number;
}

export interface StepSpec {
  id: string;
  /** Absolute http(s) URL. */
  url: string;
  dependsOn: string[];
  parallel: boolean;
  retry: RetryPolicy;
  timeoutMs: number;
  /** Absolute http(s) URL, saga mode only. */
  compensation?: string;
  /** How failed dependencies are treated; absent means all (also in runs stored before joins existed). */
  join?: JoinPolicy;
  /** Map steps: the JSON pointer to the array to run over. */
  forEach?: string;
  /** Map steps: items in flight (running or waiting for a retry) at most. */
  maxConcurrency?: number;
  /** Map steps: how failed items are treated; absent means all. */
  itemFailures?: JoinPolicy;
  /** At most concurrency.limit steps with this key (this step id, this workflow id) hold a slot at once, across runs. */
  concurrency?: Concurrency;
  /** What this step's calls' previousSteps carry, overriding the workflow's; absent: the workflow's. */
  previousSteps?: PreviousStepsMode;
  /** The step as submitted, for status display (relative url, optional fields). */
  submitted: StepInput;
}

export interface WorkflowSpec {
  workflowId: string;
  steps: StepSpec[];
  context: JsonObject;
  onComplete?: string;
  onError?: string;
  timeoutMs: number;
  saga: boolean;
  baseUrl?: string;
  requestId?: string;
  /**
   * With requestId: the fingerprint of the create request (request-fingerprint.ts),
   * so that a create reusing the key for a different request is refused. Absent
   * in runs stored before fingerprints were kept.
   */
  requestFingerprint?: string;
  /** At most concurrency.limit runs with this key (this workflow id) are running at once. */
  concurrency?: Concurrency;
  /** Among waiters of one concurrency key, higher first (absent: 0). */
  priority?: number;
  /** Absent when the run has none. */
  labels?: Record<string, string>;
  /** What each step call's previousSteps carries (previous-steps.ts), as submitted; absent means all. */
  previousSteps?: PreviousStepsMode;
}

/** What a client submitted, after transport decoding and before validation. */
export interface WorkflowInput {
  id: string;
  steps: StepInput[];
  /** Any JSON value; must be an object (or absent) to pass validation. */
  context?: unknown;
  onComplete: string;
  onError: string;
  /** Absent means the default. */
  timeoutMs?: number;
  saga: boolean;
  baseUrl: string;
  requestId: string;
  /** Absent: no workflow-level concurrency key. */
  concurrency?: ConcurrencyInput;
  /** 0 or absent: the default. */
  priority?: number;
  /** Absent or empty: none. */
  labels?: Record<string, string>;
  /** "all", "dependencies", "ancestors" or "none" (anything else is refused); absent means all. */
  previousSteps?: string;
}

export interface StepInput {
  id: string;
  url: string;
  dependsOn: string[];
  parallel: boolean;
  retries?: RetryInput;
  /** Absent means the default. */
  timeoutMs?: number;
  compensation: string;
  /** Absent means all. */
  join?: JoinInput;
  /** Empty: not a map step. */
  forEach?: string;
  /** 0 or absent: the default. */
  maxConcurrency?: number;
  /** Absent means all. */
  itemFailures?: JoinInput;
  /** Absent: no step-level concurrency key. */
  concurrency?: ConcurrencyInput;
  /** "all", "dependencies", "ancestors" or "none"; absent: the workflow's. */
  previousSteps?: string;
}

export interface RetryInput {
  /** 0 means 1. */
  maxAttempts: number;
  /** Absent means exponential. */
  backoff?: Backoff;
  initialIntervalMs?: number;
  maxIntervalMs?: number;
  jitter: number;
}

export interface Limits {
  maxSteps: number;
  maxRequestBytes: number;
  maxContextBytes: number;
  maxResultBytes: number;
  /** All step results of one run together (JSON text length): keeps a run's stored state bounded. */
  maxRunResultBytes: number;
  /** Destinations URLs may name; absent: the default preset. */
  outbound?: OutboundPolicy;
}

export const DEFAULT_LIMITS: Limits = {
  maxSteps: 1000,
  maxRequestBytes: 4 * 1024 * 1024,
  maxContextBytes: 1024 * 1024,
  maxResultBytes: 1024 * 1024,
  maxRunResultBytes: 4 * 1024 * 1024,
};

export const DEFAULTS = {
  stepTimeoutMs: 300_000,
  workflowTimeoutMs: 86_400_000,
  initialIntervalMs: 1_000,
  maxIntervalMs: 60_000,
  /** Bounds accepted by validation. */
  maxStepTimeoutMs: 86_400_000,
  maxWorkflowTimeoutMs: 366 * 86_400_000,
  maxAttempts: 100,
  maxIdLength: 128,
  maxUrlLength: 2048,
} as const;

/** One problem with a request, addressed by its proto field path. */
export interface FieldViolation {
  /** e.g. `steps[3].depends_on[0]` */
  field: string;
  /** e.g. `unknown step "charge"` */
  description: string;
}
