// The generated weft.v1 API (protobuf-es): the WorkflowService descriptor and
// every message and enum, plus createWorkflowClient() for calling the service
// directly (all RPCs, protobuf messages in and out):
//
//   import { createWorkflowClient, WorkflowState } from "@weftflow/client/v1";
//   const weft = createWorkflowClient({ baseUrl: "http://localhost:8080" });
//   const { workflow } = await weft.getWorkflow({ id: "wf_…" });
//
// Or with any Connect transport: createClient(WorkflowService, transport).
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { WorkflowService } from "./gen/weft/v1/workflow_pb.js";

export * from "./gen/weft/v1/workflow_pb.js";

export interface WorkflowClientOptions {
  /** The Weft server, e.g. "http://localhost:8080". */
  baseUrl: string;
  /** API key, sent as `authorization: Bearer <key>` on every call. */
  apiKey?: string | undefined;
  /** fetch() to send the requests with; default the global one. */
  fetch?: typeof globalThis.fetch | undefined;
  /** Connect interceptors applied to every call. */
  interceptors?: Interceptor[] | undefined;
}

/** A Connect client of weft.v1.WorkflowService over the Connect protocol (binary) and fetch(). */
export function createWorkflowClient(options: WorkflowClientOptions): Client<typeof WorkflowService> {
  const auth: Interceptor[] = options.apiKey
    ? [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${options.apiKey}`);
          return next(req);
        },
      ]
    : [];
  return createClient(
    WorkflowService,
    createConnectTransport({
      baseUrl: options.baseUrl.replace(/\/+$/, ""),
      useBinaryFormat: true,
      interceptors: [...auth, ...(options.interceptors ?? [])],
      ...(options.fetch ? { fetch: options.fetch } : {}),
    }),
  );
}
