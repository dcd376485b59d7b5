// API errors as the console shows them.
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "@gen/google/rpc/error_details_pb.js";

export interface ApiProblem {
  code: Code;
  codeName: string;
  message: string;
  /** UNAUTHENTICATED: the key form is shown. */
  needsKey: boolean;
  /** PERMISSION_DENIED: the key's scope is too small. */
  denied: boolean;
  /** The google.rpc.ErrorInfo reason, if any (e.g. COMPENSATED, RUN_NOT_FINISHED). */
  reason: string;
}

const CODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(Code).filter(([, v]) => typeof v === "number").map(([k, v]) => [v, k.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase()]),
);

export function toProblem(err: unknown): ApiProblem {
  const e = ConnectError.from(err);
  let reason = "";
  try {
    reason = e.findDetails(ErrorInfoSchema)[0]?.reason ?? "";
  } catch {
    // Undecodable details: the code and message still say what happened.
  }
  return {
    code: e.code,
    codeName: CODE_NAMES[e.code] ?? String(e.code),
    message: e.rawMessage,
    needsKey: e.code === Code.Unauthenticated,
    denied: e.code === Code.PermissionDenied,
    reason,
  };
}

export function isAbort(err: unknown): boolean {
  return err instanceof ConnectError ? err.code === Code.Canceled : (err as Error)?.name === "AbortError";
}
