// A TCP proxy on 127.0.0.1 in front of a server, to interrupt its connections on demand
// (e.g. to make a MongoDB change stream lose its connection): point the client at
// 127.0.0.1:<port>, then cutAll() destroys every open connection, both sides. New connections
// are still accepted afterwards (the client can reconnect); close() stops listening too.
import { createConnection, createServer, type Socket } from "node:net";

export interface TcpProxy {
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Destroys every open connection, client side and server side. */
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
  const server = createServer((client) => {
    accepted++;
    const upstream = createConnection({ host: targetHost, port: targetPort });
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
    for (const s of open) s.destroy();
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
