// Join policies: when a step that waits for several others (its dependencies,
// or later the items of a map step) may run, given how many of them completed,
// failed or are still unfinished. Pure.
//
// Decisions (README "Partial failures"):
// - all: run when every one completed; fail at the first failure.
// - all_settled: run when none is unfinished; never fails.
// - at_least k: run when none is unfinished (then at least k completed); fail
//   as soon as completed + unfinished < k.
// - tolerated_failure_percent p: run when none is unfinished; fail as soon as
//   failed * 100 > p * n.
// - any: run at the first completion; fail when every one failed.
// - `cancelUnfinished`: the unfinished ones can no longer change the outcome
//   (any has run, or the join failed); `all` never asks for it, so a failure
//   under the default policy lets calls in flight finish, as it always did.
// - n = 0 (a map step over an empty list): any and at_least fail (nothing can
//   complete), the others run.

export type JoinPolicy =
  | { kind: "all" }
  | { kind: "all_settled" }
  | { kind: "at_least"; count: number }
  | { kind: "tolerated_failure_percent"; percent: number }
  | { kind: "any" };

export type JoinKind = JoinPolicy["kind"];

export const JOIN_KINDS: readonly JoinKind[] = ["all", "all_settled", "at_least", "tolerated_failure_percent", "any"];

export const JOIN_ALL: JoinPolicy = { kind: "all" };

/** How the awaited steps (or items) stand. Failed includes cancelled and skipped ones. */
export interface JoinCounts {
  completed: number;
  failed: number;
  /** Not finished yet (pending, running, waiting for a retry). */
  unfinished: number;
}

export type JoinDecision =
  | { decision: "wait" }
  | { decision: "run"; cancelUnfinished: boolean }
  | { decision: "fail"; cancelUnfinished: boolean; message: string };

const WAIT: JoinDecision = { decision: "wait" };
const RUN: JoinDecision = { decision: "run", cancelUnfinished: false };

export function decideJoin(policy: JoinPolicy, c: JoinCounts): JoinDecision {
  const n = c.completed + c.failed + c.unfinished;
  switch (policy.kind) {
    case "all":
      if (c.failed > 0) return { decision: "fail", cancelUnfinished: false, message: `${c.failed} of ${n} failed; all must complete` };
      return c.unfinished === 0 ? RUN : WAIT;
    case "all_settled":
      return c.unfinished === 0 ? RUN : WAIT;
    case "at_least": {
      const k = policy.count;
      if (c.completed + c.unfinished < k) {
        return { decision: "fail", cancelUnfinished: true, message: `needs at least ${k} of ${n} to complete; ${c.failed} failed` };
      }
      return c.unfinished === 0 ? RUN : WAIT;
    }
    case "tolerated_failure_percent": {
      const p = policy.percent;
      if (c.failed * 100 > p * n) {
        return { decision: "fail", cancelUnfinished: true, message: `${c.failed} of ${n} failed, more than the tolerated ${p}%` };
      }
      return c.unfinished === 0 ? RUN : WAIT;
    }
    case "any":
      if (c.completed > 0) return { decision: "run", cancelUnfinished: c.unfinished > 0 };
      if (c.unfinished === 0) return { decision: "fail", cancelUnfinished: false, message: n === 0 ? "nothing to wait for" : `all ${n} failed` };
      return WAIT;
  }
}

/** A short description of a policy for messages: `all`, `at_least 2`, … */
export function describeJoin(policy: JoinPolicy): string {
  switch (policy.kind) {
    case "at_least":
      return `at_least ${policy.count}`;
    case "tolerated_failure_percent":
      return `tolerated_failure_percent ${policy.percent}`;
    default:
      return policy.kind;
  }
}

/** A join as submitted: `none` is a policy message with no policy set (e.g. one newer than this server). */
export type JoinInput = JoinPolicy | { kind: "none" };

/** Problems with a step's join, as [field suffix, description] (the suffix after `steps[i].join`). */
export function checkJoin(join: JoinInput, dependencies: number): [string, string][] {
  if (dependencies === 0) return [["", "only a step with depends_on can have a join policy"]];
  switch (join.kind) {
    case "none":
      return [["", "no policy set: expected one of all, all_settled, at_least, tolerated_failure_percent, any"]];
    case "at_least": {
      const k = join.count;
      if (!Number.isInteger(k)) return [[".at_least", "must be a whole number"]];
      if (k < 1) return [[".at_least", `must be at least 1 (got ${k})`]];
      if (k > dependencies) {
        return [[".at_least", `must be at most ${dependencies}, the number of dependencies (got ${k})`]];
      }
      return [];
    }
    case "tolerated_failure_percent": {
      const p = join.percent;
      if (!Number.isFinite(p)) return [[".tolerated_failure_percent", "must be a finite number"]];
      if (p < 0 || p > 100) return [[".tolerated_failure_percent", `must be between 0 and 100 (got ${p})`]];
      return [];
    }
    default:
      return [];
  }
}
