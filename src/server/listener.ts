// One TCP port, two HTTP flavours, optionally over TLS.
//
// gRPC clients (grpc-js, grpc-go, grpcurl) speak HTTP/2 over cleartext with
// "prior knowledge": the first bytes on the wire are the HTTP/2 connection
// preface. Browsers and curl speak HTTP/1.1 (Connect protocol, gRPC-Web).
// We accept every connection on a plain `net.Server`, peek at its first bytes,
// then hand the socket to an `http2` or an `http` server that never listens
// itself. Both servers dispatch to the same request handler, e.g. the
// function returned by `connectNodeAdapter(...)`.
//
// With TLS, every accepted socket goes through a `tls.Server` (that never
// listens either) and ALPN picks the flavour: "h2" or "http/1.1".
//
// Limits: at most `maxConnections` open connections (more are closed at once);
// a connection must be classified (TLS: handshake done) and send its first
// request's headers within `headerTimeoutMs`; every request must be received
// in full within `requestTimeoutMs`. Responses, streams included, are not
// limited. An idle connection (HTTP/1.1 keep-alive between requests, an
// HTTP/2 session with no open stream) is closed after `idleTimeoutMs`
// (HTTP/2: GOAWAY); a long-lived stream keeps its session open.

import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";

/** What `connectNodeAdapter(...)` returns; serves both HTTP versions. */
export type RequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** The HTTP/2 client connection preface (RFC 9113 §3.4). */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** Defaults of the limits, see `ListenOptions`. */
export const DEFAULT_MAX_CONNECTIONS = 1024;
export const DEFAULT_HEADER_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/**
 * Idle connections: longer than the usual 60 s idle timeout of load balancers
 * and proxies in front of us, so they close first (no races on reuse).
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 65_000;

/** Dropped connections are logged at most this often (with their count). */
const DROP_LOG_INTERVAL_MS = 10_000;

/**
 * HTTP/2 settings for a server with many concurrent, long-lived streams
 * (workflow watchers) multiplexed over few connections.
 */
const H2_SETTINGS: http2.Settings = {
  // Streams one client connection may have open at once. Node's default is
  // effectively unlimited; a bound keeps one misbehaving peer in check while
  // leaving ample room for a gateway that multiplexes many watchers.
  // 256: room for a gateway's 100+ watchers on one connection, while the
  // streams of one connection cannot hold unbounded memory.
  maxConcurrentStreams: 256,
  // 1 MiB per-stream flow-control window: fewer WINDOW_UPDATE round trips for
  // larger messages (the default is 64 KiB).
  initialWindowSize: 1 << 20,
  enablePush: false,
};

export interface Listener {
  /** The bound TCP port (useful with `port: 0`). */
  readonly port: number;
  /**
   * Graceful shutdown: stop accepting connections, send GOAWAY to every
   * HTTP/2 session, close idle HTTP/1.1 keep-alive connections, wait up to
   * `graceMs` for in-flight requests (streams included), then destroy every
   * connection that is left. Resolves once all connections are gone.
   * Calling it again returns the same promise.
   */
  close(graceMs: number): Promise<void>;
}

export interface ListenOptions {
  host: string;
  /** 0 picks an ephemeral port, see `Listener.port`. */
  port: number;
  /** Upper bound for request headers, HTTP/1.1 and HTTP/2 alike. Default 16 KiB. */
  maxHeaderBytes?: number;
  /** Called for every new HTTP/2 session, e.g. to log or count connections. */
  onHttp2Session?: (session: http2.ServerHttp2Session) => void;
  /** Set: TLS only on this port (ALPN h2 and http/1.1). `clientCa` set: mutual TLS. */
  tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer };
  /** Most open connections; further ones are closed at once. Default 1024. */
  maxConnections?: number;
  /**
   * A new connection must be classified (with TLS: finish its handshake) and
   * send the headers of its first request within this time; so must every
   * further HTTP/1.1 request. Default 10 s.
   */
  headerTimeoutMs?: number;
  /** Time to receive a whole request (headers and body). Not less than headerTimeoutMs. Default 30 s. */
  requestTimeoutMs?: number;
  /** An HTTP/1.1 connection between requests, or an HTTP/2 session without open streams, is closed after this. Default 65 s. */
  idleTimeoutMs?: number;
  /** Told, at most every 10 s, how many connections the cap closed so far. */
  onConnectionsDropped?: (total: number, maxConnections: number) => void;
}

type Protocol = "h1" | "h2" | "undecided";

/**
 * Classifies the bytes received so far: "h2" once the full preface matched,
 * "h1" as soon as any byte deviates from it, else "undecided".
 */
function classify(head: Buffer): Protocol {
  const n = Math.min(head.length, H2_PREFACE.length);
  for (let i = 0; i < n; i++) {
    if (head[i] !== H2_PREFACE[i]) return "h1";
  }
  return head.length >= H2_PREFACE.length ? "h2" : "undecided";
}

export async function listen(handler: RequestHandler, options: ListenOptions): Promise<Listener> {
  const maxHeaderBytes = options.maxHeaderBytes ?? 16 * 1024;
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const headerTimeoutMs = options.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS;
  const requestTimeoutMs = Math.max(headerTimeoutMs, options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;

  let closing = false;
  let closePromise: Promise<void> | undefined;
  /** Set by close() while it waits for the last connection to go. */
  let onDrained: (() => void) | undefined;

  /**
   * Every accepted TCP socket, where it went, and the socket the HTTP server
   * reads (the TLS socket over it with TLS, else itself); leftovers are
   * destroyed at the end of close().
   */
  const sockets = new Map<net.Socket, { protocol: Protocol; app: net.Socket }>();
  const h2Sessions = new Set<http2.ServerHttp2Session>();
  /** In-flight HTTP/1.1 requests per (app) socket (pipelining aside, 0 or 1). */
  const h1Active = new Map<net.Socket, number>();

  // ---- HTTP/1.1 ----------------------------------------------------------
  const h1 = http.createServer({
    maxHeaderSize: maxHeaderBytes,
    keepAliveTimeout: idleTimeoutMs,
    // Both run from a request's first byte (an idle keep-alive connection has
    // none pending, so keepAliveTimeout applies to it instead). Node answers
    // 408 and closes the connection when one passes.
    headersTimeout: headerTimeoutMs,
    requestTimeout: requestTimeoutMs,
    // How often Node checks those two (its default, 30 s, would let a small
    // timeout run far over).
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headerTimeoutMs / 4))),
  });
  h1.on("connection", (socket: net.Socket) => {
    h1Active.set(socket, 0);
    socket.once("close", () => h1Active.delete(socket));
  });
  h1.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    h1Active.set(socket, (h1Active.get(socket) ?? 0) + 1);
    if (closing) {
      // Make Node close the connection once this response is done.
      res.setHeader("Connection", "close");
    }
    res.once("close", () => {
      const left = (h1Active.get(socket) ?? 1) - 1;
      if (h1Active.has(socket)) h1Active.set(socket, left);
      if (closing && left === 0) socket.end();
    });
    handler(req, res);
  });

  // ---- HTTP/2 ------------------------------------------------------------
  const h2 = http2.createServer({
    // Per-session memory budget in MB (default 10): many open streams each
    // hold buffers; exceeding it makes nghttp2 refuse new streams.
    maxSessionMemory: 64,
    settings: { ...H2_SETTINGS, maxHeaderListSize: maxHeaderBytes },
  });
  h2.on("session", (session: http2.ServerHttp2Session) => {
    h2Sessions.add(session);
    // A session must open its first stream (send a request's headers) in
    // time; afterwards it may idle (clients keep connections for later
    // calls), but with no open stream for idleTimeoutMs it gets GOAWAY.
    const firstRequest = setTimeout(() => session.destroy(), headerTimeoutMs);
    firstRequest.unref();
    let openStreams = 0;
    let idle: NodeJS.Timeout | undefined;
    session.once("stream", () => clearTimeout(firstRequest));
    session.on("stream", (stream: http2.ServerHttp2Stream) => {
      openStreams++;
      clearTimeout(idle);
      idle = undefined;
      stream.once("close", () => {
        if (--openStreams > 0 || session.closed || session.destroyed) return;
        idle = setTimeout(() => session.close(), idleTimeoutMs);
        idle.unref();
      });
    });
    session.once("close", () => {
      clearTimeout(firstRequest);
      clearTimeout(idle);
      h2Sessions.delete(session);
    });
    // Without a listener, a session "error" event would be thrown.
    session.on("error", () => {});
    options.onHttp2Session?.(session);
    if (closing) session.close();
  });
  h2.on("stream", (stream: http2.ServerHttp2Stream) => {
    // The request (headers and body) must be in within requestTimeoutMs;
    // the response, e.g. a long-lived watch stream, is not limited.
    if (stream.endAfterHeaders) return;
    const timer = setTimeout(() => {
      if (!stream.destroyed && stream.state.remoteClose !== 1) stream.close(http2.constants.NGHTTP2_CANCEL);
    }, requestTimeoutMs);
    timer.unref();
    stream.once("close", () => clearTimeout(timer));
  });
  h2.on("request", (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    handler(req, res);
  });

  // ---- TLS (optional) ----------------------------------------------------
  /**
   * TCP sockets in their TLS handshake by peer address: a TLS socket has the
   * peer address of the TCP socket under it, which is unique among open ones.
   */
  const handshaking = new Map<string, net.Socket>();
  const peerKey = (socket: net.Socket) => `${socket.remoteAddress}|${socket.remotePort}`;
  const secure = options.tls
    ? tls.createServer({
        cert: options.tls.cert,
        key: options.tls.key,
        ALPNProtocols: ["h2", "http/1.1"],
        minVersion: "TLSv1.2",
        // Time for the whole handshake; a client that stalls in it is dropped.
        handshakeTimeout: headerTimeoutMs,
        ...(options.tls.clientCa ? { ca: options.tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
      })
    : undefined;
  if (secure) {
    secure.on("secureConnection", (tlsSocket: tls.TLSSocket) => {
      const raw = handshaking.get(peerKey(tlsSocket));
      if (!raw || !sockets.has(raw) || closing) {
        tlsSocket.destroy();
        return;
      }
      // Errors (ECONNRESET, ...) are per-connection and not ours to rethrow.
      tlsSocket.on("error", () => {});
      // No ALPN (e.g. an old HTTP/1.1 client) means HTTP/1.1.
      const protocol = tlsSocket.alpnProtocol === "h2" ? "h2" : "h1";
      handshaking.delete(peerKey(tlsSocket));
      sockets.set(raw, { protocol, app: tlsSocket });
      if (protocol === "h2") h2.emit("connection", tlsSocket);
      else h1.emit("connection", tlsSocket);
    });
    // Failed handshakes (no client certificate, wrong CA, timeout...): with
    // a listener here, closing the connection is ours to do.
    secure.on("tlsClientError", (_err: Error, tlsSocket: tls.TLSSocket) => tlsSocket.destroy());
  }
  // ---- TCP accept + protocol sniffing ------------------------------------
  const hand = (socket: net.Socket, head: Buffer, protocol: "h1" | "h2") => {
    // Put the peeked bytes back so the HTTP server parses them first.
    sockets.set(socket, { protocol, app: socket });
    socket.pause();
    socket.unshift(head);
    if (protocol === "h2") {
      // The HTTP/2 session drains bytes already buffered in the socket
      // (socket.read()) before it takes over the native handle.
      h2.emit("connection", socket);
    } else {
      // The HTTP/1.1 parser takes over the native handle too, but buffered
      // bytes only reach it through "data" events: resume so they flow (on
      // the next tick, before any further network read is delivered).
      h1.emit("connection", socket);
      socket.resume();
    }
  };

  let dropped = 0;
  let lastDropLog = 0;
  const tcp = net.createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 });
  // Node closes connections beyond the cap as they are accepted.
  tcp.maxConnections = maxConnections;
  tcp.on("drop", () => {
    dropped++;
    const now = Date.now();
    if (now - lastDropLog >= DROP_LOG_INTERVAL_MS) {
      lastDropLog = now;
      options.onConnectionsDropped?.(dropped, maxConnections);
    }
  });
  tcp.on("connection", (socket: net.Socket) => {
    sockets.set(socket, { protocol: "undecided", app: socket });
    socket.once("close", () => {
      sockets.delete(socket);
      if (sockets.size === 0) onDrained?.();
    });
    // Errors (ECONNRESET, ...) are per-connection and not ours to rethrow.
    socket.on("error", () => {});
    if (closing) {
      socket.destroy();
      return;
    }
    if (secure) {
      const key = peerKey(socket);
      handshaking.set(key, socket);
      socket.once("close", () => {
        if (handshaking.get(key) === socket) handshaking.delete(key);
      });
      secure.emit("connection", socket);
      return;
    }
    let head: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), headerTimeoutMs);
    timer.unref();
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
    };
    const onData = (chunk: Buffer) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const protocol = classify(head);
      if (protocol === "undecided") return;
      cleanup();
      hand(socket, head, protocol);
    };
    const onEnd = () => {
      // Peer half-closed before we could tell; nothing to serve.
      cleanup();
      socket.destroy();
    };
    socket.on("data", onData);
    socket.on("end", onEnd);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    tcp.once("error", onError);
    tcp.listen({ host: options.host, port: options.port }, () => {
      tcp.off("error", onError);
      resolve();
    });
  });
  // The HTTP/1.1 server never listens, but Node only enforces headersTimeout
  // and requestTimeout (and tracks connections for closeIdleConnections) once
  // it saw "listening".
  h1.emit("listening");

  const address = tcp.address();
  if (address === null || typeof address === "string") {
    tcp.close();
    throw new Error("listener: unexpected address " + String(address));
  }
  const port = address.port;

  const doClose = async (graceMs: number): Promise<void> => {
    closing = true;
    const tcpClosed = new Promise<void>((resolve) => tcp.close(() => resolve()));

    // HTTP/2: GOAWAY now; each session closes itself when its streams are done.
    for (const session of h2Sessions) session.close();
    // HTTP/1.1: idle keep-alive connections go now, busy ones after their
    // response (see the "request" hook above). Connections still being
    // sniffed (or in their TLS handshake) have sent no request yet, so they go too.
    for (const [socket, { protocol, app }] of sockets) {
      if (protocol === "undecided") socket.destroy();
      else if (protocol === "h1" && (h1Active.get(app) ?? 0) === 0) app.end();
    }
    h1.close(); // stops the connection checking interval
    h2.close();

    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      onDrained = resolve;
      timer = setTimeout(resolve, Math.max(0, graceMs));
      if (sockets.size === 0) resolve();
    });
    onDrained = undefined;
    clearTimeout(timer);

    // Grace period over: drop whatever is left (long-lived streams included).
    for (const session of h2Sessions) session.destroy();
    for (const socket of sockets.keys()) socket.destroy();
    await tcpClosed;
  };

  return {
    port,
    close(graceMs: number): Promise<void> {
      closePromise ??= doClose(graceMs);
      return closePromise;
    },
  };
}
