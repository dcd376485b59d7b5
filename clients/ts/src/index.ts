// @weftflow/client: the Weft TypeScript client.
//
//   import { platform, createPlatform, WeftError } from "@weftflow/client";
//   import { verifyRequest } from "@weftflow/client/verify";   // Web Crypto only
//   import { WorkflowService } from "@weftflow/client/v1";     // generated weft.v1
export * from "./platform.ts";
export {
  DEFAULT_TOLERANCE_SECONDS,
  SECRETS_ENV_VAR,
  verifyRequest,
  verifyRequestDetailed,
  verifySignature,
} from "./verify.ts";
export type { HeaderSource, VerifyFailure, VerifyInput, VerifyRequestOptions, VerifyResult } from "./verify.ts";
