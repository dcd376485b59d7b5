// A map step's item (ListStepItems) as the step panel shows it.
import { toJson, type JsonValue } from "@bufbuild/protobuf";
import { timestampMs, ValueSchema } from "@bufbuild/protobuf/wkt";
import type { ItemStatus } from "@gen/weft/v1/workflow_pb.js";
import { stepStateName, type StepStateName } from "./states.ts";

export interface ItemView {
  index: number;
  state: StepStateName;
  attempts: number;
  error?: { message: string; reason: string; httpStatus: number; attempt: number; retryable: boolean; stepId: string };
  result?: JsonValue;
  startedAt?: number;
  completedAt?: number;
  nextAttemptAt?: number;
}

export function itemView(i: ItemStatus): ItemView {
  const ms = (t: Parameters<typeof timestampMs>[0] | undefined) => (t ? timestampMs(t) : undefined);
  const e = i.error;
  return {
    index: i.index,
    state: stepStateName(i.state),
    attempts: i.attempts,
    error: e && { message: e.message, reason: e.reason, httpStatus: e.httpStatus, attempt: e.attempt, retryable: e.retryable, stepId: e.stepId },
    result: i.result ? toJson(ValueSchema, i.result) : undefined,
    startedAt: ms(i.startedAt),
    completedAt: ms(i.completedAt),
    nextAttemptAt: ms(i.nextAttemptAt),
  };
}
