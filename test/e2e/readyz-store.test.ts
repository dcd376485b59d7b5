// /readyz follows the store: 503 while MongoDB cannot be reached (the
// embedded store cannot become unreachable from outside the process).
import { afterAll, beforeAll, expect, test } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { describeMongo, newTestDbName } from "../support/mongo-server.ts";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.ts";
import { startWeft, type TestWeft } from "../support/weft.ts";

describeMongo("/readyz and the store", (mongo) => {
  let proxy: TcpProxy;
  let weft: TestWeft;
  beforeAll(async () => {
    const address = mongo().address;
    if (!address) return;
    proxy = await startTcpProxy(address.host, address.port);
    weft = await startWeft({
      mongodb: {
        ...loadConfig([], {})!.mongodb,
        uri: `mongodb://127.0.0.1:${proxy.port}/?directConnection=true&serverSelectionTimeoutMS=1000&connectTimeoutMS=1000`,
        database: newTestDbName(),
        leaseTtlMs: 60_000,
      },
    });
  });
  afterAll(async () => {
    await weft?.stop();
    await proxy?.close();
  });

  test("/readyz is 200 while MongoDB answers and 503 once it cannot be reached; /healthz stays 200", async (ctx) => {
    if (!mongo().address) ctx.skip();
    expect((await fetch(`${weft.baseUrl}/readyz`)).status).toBe(200);
    await proxy.close();
    expect((await fetch(`${weft.baseUrl}/readyz`)).status).toBe(503);
    expect((await fetch(`${weft.baseUrl}/healthz`)).status).toBe(200);
  });
});
