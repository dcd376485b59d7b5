// An HTTP client for the Connect transport on top of a fetch() implementation
// (edge runtimes, or a fetch the caller instruments). Connect's own
// createFetchClient streams request bodies, which Node's fetch refuses without
// `duplex: "half"`; Weft's requests are single messages, so they are sent whole.
import type { UniversalClientFn } from "@connectrpc/connect/protocol";

export function fetchHttpClient(fetchFn: typeof globalThis.fetch): UniversalClientFn {
  return async (req) => {
    let body: Uint8Array<ArrayBuffer> | undefined;
    if (req.body) {
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of req.body) {
        chunks.push(chunk);
        size += chunk.byteLength;
      }
      body = new Uint8Array(size);
      let offset = 0;
      for (const c of chunks) {
        body.set(c, offset);
        offset += c.byteLength;
      }
    }
    const res = await fetchFn(req.url, { method: req.method, headers: req.header, body, signal: req.signal });
    return { status: res.status, header: res.headers, body: readBody(res), trailer: new Headers() };
  };
}

async function* readBody(res: Response): AsyncGenerator<Uint8Array> {
  if (!res.body) return;
  const reader = res.body.getReader();
  let done = false;
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) {
        done = true;
        return;
      }
      yield r.value;
    }
  } finally {
    // Left early (e.g. a watch the caller stopped): release the connection.
    if (!done) await reader.cancel().catch(() => {});
  }
}
