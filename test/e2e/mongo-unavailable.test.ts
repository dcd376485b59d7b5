// MongoDB out of reach: API calls answer UNAVAILABLE (retry), not INTERNAL.
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, test } from "vitest";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { HandlerServer } from "../support/handler-server.ts";
import { describeMongo, newTestDbName } from "../support/mongo-server.ts";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.ts";
import { startWeft, type TestWeft, waitForRun } from "../support/weft.ts";
import { WorkflowState } from "../../gen/ts/weft/v1/workflow_pb.js";

describeMongo("MongoDB out of reach", (mongo) => {
  let handlers: HandlerServer;
  let proxy: TcpProxy;
  let weft: TestWeft;
  beforeAll(async () => {
    handlers = await HandlerServer.start();
    const address = mongo().address;
    if (!address) return;
    proxy = await startTcpProxy(address.host, address.port);
    const base = (await import("../../src/config.ts")).loadConfig([], {})!.mongodb;
    weft = await startWeft({
      mongodb: {
        ...base,
        uri: `mongodb://127.0.0.1:${proxy.port}/?directConnection=true&serverSelectionTimeoutMS=1000&connectTimeoutMS=1000`,
        database: newTestDbName(),
        pollIntervalMs: 20,
        sweepIntervalMs: 200,
        leaseTtlMs: 60_000,
      },
    });
  });
  afterAll(async () => {
    await weft?.stop();
    await proxy?.close();
    await handlers?.close();
  });

  test("reads answer UNAVAILABLE with reason STORE_UNAVAILABLE while MongoDB cannot be reached", async (ctx) => {
    if (!mongo().address) ctx.skip();
    const { workflow } = await weft.client.createWorkflow({ id: "unavailable", steps: [{ id: "a", url: handlers.url("/u/a") }] });
    const id = workflow!.id;
    expect((await waitForRun(weft.client, id)).state).toBe(WorkflowState.COMPLETED);

    await proxy.close();
    const err = await weft.client.getWorkflow({ id }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Unavailable);
    expect((err as ConnectError).findDetails(ErrorInfoSchema)[0]?.reason).toBe("STORE_UNAVAILABLE");
    const listErr = await weft.client.listWorkflowEvents({ id }).catch((e: unknown) => e);
    expect((listErr as ConnectError).code).toBe(Code.Unavailable);

  });
});
