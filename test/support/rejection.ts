// How a call was refused: the ConnectError it failed with and the fields its
// google.rpc.BadRequest names.
import { ConnectError } from "@connectrpc/connect";
import { BadRequestSchema } from "../../gen/ts/google/rpc/error_details_pb.js";

/** The error the call failed with, or undefined when it succeeded. */
export function rejection(call: Promise<unknown>): Promise<ConnectError | undefined> {
  return call.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
}

/** The error the call failed with; throws when it succeeded. */
export async function refusal(call: Promise<unknown>): Promise<ConnectError> {
  const err = await rejection(call);
  if (err === undefined) throw new Error("the call succeeded");
  return err;
}

/** The error's field violations as [field, description] pairs (throws if it has no BadRequest). */
export function fieldViolations(err: ConnectError | undefined): [string, string][] {
  const [badRequest] = err?.findDetails(BadRequestSchema) ?? [];
  if (badRequest === undefined) throw new Error(`expected a google.rpc.BadRequest, got ${String(err)}`);
  return badRequest.fieldViolations.map((v) => [v.field, v.description]);
}
