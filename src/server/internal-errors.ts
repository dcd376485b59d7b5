// Cross-cutting error policy for every RPC: INTERNAL is for bugs only. An error
// that is not a ConnectError (a bug, or a failure nobody mapped), or an
// INTERNAL one, is logged with its stack and the RPC (never the request) and
// answered with a bare "internal error", so nothing internal leaks to clients.
// A request message connect-es could not parse (or decompress) reaches a
// stream's interceptors as INTERNAL; it is the client's fault and becomes
// INVALID_ARGUMENT (unary calls parse before any interceptor runs: see
// request-decode-errors.ts).
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { decodeFailureMessage } from "./request-decode-errors.ts";

function policy(err: unknown, rpc: string, logger: Pick<Logger, "error">): unknown {
  if (err instanceof ConnectError) {
    if (err.code !== Code.Internal) return err;
    const decode = decodeFailureMessage(err.rawMessage);
    if (decode !== undefined) return new ConnectError(decode, Code.InvalidArgument);
  } else if (err instanceof Error && err.name === "AbortError") {
    return err; // the call was cancelled (connect-es answers CANCELED)
  }
  logger.error({ rpc, err }, "internal error");
  return new ConnectError("internal error", Code.Internal);
}

async function* guardStream<T>(messages: AsyncIterable<T>, rpc: string, logger: Pick<Logger, "error">): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (err) {
    throw policy(err, rpc, logger);
  }
}

export function internalErrorInterceptor(logger: Pick<Logger, "error">): Interceptor {
  return (next) => async (req) => {
    const rpc = `${req.service.typeName}/${req.method.name}`;
    try {
      const res = await next(req);
      if (!res.stream) return res;
      return { ...res, message: guardStream(res.message, rpc, logger) };
    } catch (err) {
      throw policy(err, rpc, logger);
    }
  };
}
