// WeftError: every failure of a client call, with the server's details decoded.
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "./gen/google/rpc/error_details_pb.js";

/** The RPC status codes, written as in the Connect protocol. */
export type WeftErrorCode =
  | "canceled"
  | "unknown"
  | "invalid_argument"
  | "deadline_exceeded"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "resource_exhausted"
  | "failed_precondition"
  | "aborted"
  | "out_of_range"
  | "unimplemented"
  | "internal"
  | "unavailable"
  | "data_loss"
  | "unauthenticated";

const CODE_NAMES: Record<Code, WeftErrorCode> = {
  [Code.Canceled]: "canceled",
  [Code.Unknown]: "unknown",
  [Code.InvalidArgument]: "invalid_argument",
  [Code.DeadlineExceeded]: "deadline_exceeded",
  [Code.NotFound]: "not_found",
  [Code.AlreadyExists]: "already_exists",
  [Code.PermissionDenied]: "permission_denied",
  [Code.ResourceExhausted]: "resource_exhausted",
  [Code.FailedPrecondition]: "failed_precondition",
  [Code.Aborted]: "aborted",
  [Code.OutOfRange]: "out_of_range",
  [Code.Unimplemented]: "unimplemented",
  [Code.Internal]: "internal",
  [Code.Unavailable]: "unavailable",
  [Code.DataLoss]: "data_loss",
  [Code.Unauthenticated]: "unauthenticated",
};

/** One problem with a request, e.g. `{ field: 'steps[2].depends_on[0]', description: 'unknown step "charge"' }`. */
export interface FieldViolation {
  field: string;
  description: string;
}

export interface WeftErrorInit {
  /** Machine-readable reason from google.rpc.ErrorInfo, e.g. 'RUN_NOT_FOUND', 'RUN_FINISHED'. */
  reason?: string | undefined;
  fieldViolations?: FieldViolation[] | undefined;
  metadata?: Record<string, string> | undefined;
  cause?: unknown;
}

export class WeftError extends Error {
  override readonly name = "WeftError";
  readonly code: WeftErrorCode;
  /** google.rpc.ErrorInfo reason (domain weft.v1), when the server sent one. */
  readonly reason: string | undefined;
  /** google.rpc.ErrorInfo metadata. */
  readonly metadata: Record<string, string>;
  /** google.rpc.BadRequest field violations: every problem with the request at once. */
  readonly fieldViolations: FieldViolation[];

  constructor(code: WeftErrorCode, message: string, init: WeftErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = code;
    this.reason = init.reason;
    this.metadata = init.metadata ?? {};
    this.fieldViolations = init.fieldViolations ?? [];
  }

  /** Wraps anything thrown by a Connect call (or the client) into a WeftError. */
  static from(err: unknown): WeftError {
    if (err instanceof WeftError) return err;
    const ce = ConnectError.from(err);
    const fieldViolations = ce
      .findDetails(BadRequestSchema)
      .flatMap((d) => d.fieldViolations.map((v) => ({ field: v.field, description: v.description })));
    const info = ce.findDetails(ErrorInfoSchema)[0];
    return new WeftError(CODE_NAMES[ce.code] ?? "unknown", ce.rawMessage, {
      reason: info?.reason || undefined,
      metadata: info ? { ...info.metadata } : undefined,
      fieldViolations,
      cause: err,
    });
  }
}

/** An INVALID_ARGUMENT found before sending, in the same form the server uses. */
export function invalidArgument(violations: FieldViolation[]): WeftError {
  const message = violations.map((v) => (v.field ? `${v.field}: ${v.description}` : v.description)).join("; ");
  return new WeftError("invalid_argument", message, { reason: "INVALID_ARGUMENT", fieldViolations: violations });
}
