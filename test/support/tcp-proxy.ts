// A TCP proxy on 127.0.0.1 in front of a server, to interrupt its connections on demand
// (e.g. to make a MongoDB change stream lose its connection): point the client at
// 127.0.0.1:<port>, then cutAll() resets every open connection (RST), both sides, as a network
// failure or a failover does. New connections are still accepted afterwards (the client can
// reconnect); close() stops listening too.
//
// RST, not a graceful close: against mongo-java-server, a FIN-closed connection leaves the
// MongoDB Node driver (7.9) without a connection for good in about half the runs (a heartbeat
// that never ends; reproduced with the bare driver), which is not what a network failure does.
import { createConnection, createServer, type Socket } from "node:net";

export interface TcpProxy {
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Resets every open connection, client side and server side. */
  cutAll(): void;
  /** Stops listening and cuts every open connection. */
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let accepted = 0;
  const track = (s: Socket) => {
    open.add(s);
    s.once("close", () => open.delete(s));
    s.on("error", () => {}); // a cut or refused connection is expected here
  };
  const server = createServer({ noDelay: true }, (client) => {
    accepted++;
    const upstream = createConnection({ host: targetHost, port: targetPort, noDelay: true });
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.once("close", () => upstream.destroy());
    upstream.once("close", () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const cutAll = () => {
    for (const s of open) s.resetAndDestroy();
    open.clear();
  };
  return {
    port: (server.address() as { port: number }).port,
    get accepted() {
      return accepted;
    },
    cutAll,
    close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      cutAll();
      return closed;
    },
  };
}
