// The WorkflowService client: Connect protocol, same origin, with the API key on every call.
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { WorkflowService } from "@gen/weft/v1/workflow_pb.js";
import { loadApiKey, saveApiKey } from "./api-key.ts";

let apiKey = loadApiKey();

export function currentApiKey(): string {
  return apiKey;
}

export function setApiKey(key: string): void {
  apiKey = key.trim();
  saveApiKey(apiKey);
}

const withApiKey: Interceptor = (next) => (req) => {
  if (apiKey) req.header.set("authorization", `Bearer ${apiKey}`);
  return next(req);
};

export type WeftClient = Client<typeof WorkflowService>;

export const weft: WeftClient = createClient(
  WorkflowService,
  createConnectTransport({ baseUrl: window.location.origin, useBinaryFormat: true, interceptors: [withApiKey] }),
);
