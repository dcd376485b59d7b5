// The generated weft.v1 API (protobuf-es): the WorkflowService descriptor and
// every message and enum, for calling the service directly with a Connect client:
//
//   import { createClient } from "@connectrpc/connect";
//   import { createConnectTransport } from "@connectrpc/connect-web";
//   import { WorkflowService } from "@weftflow/client/v1";
//   const weft = createClient(WorkflowService, createConnectTransport({ baseUrl: "http://localhost:8080" }));
export * from "./gen/weft/v1/workflow_pb.js";
