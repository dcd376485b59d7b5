// The web console's static files (console/dist, built by `npm run build:console`) under /ui/ on
// the API port. They hold no data, so they need no key; every API call the console makes carries
// one. GET and HEAD only; a path that is not a file (a client-side route) gets index.html;
// Vite's content-hashed files under /ui/assets/ are cached for a year, everything else is
// revalidated. Every answer has a strict Content-Security-Policy and nosniff. A path is decoded
// segment by segment and must stay inside the directory (no "..", no encoded separators, no
// symbolic link out of it). Text files are sent gzipped to clients that accept it (compressed once,
// kept in memory while the file is unchanged).
import { realpathSync } from "node:fs";
import { readFile, realpath, stat } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { extname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzip as gzipCallback } from "node:zlib";
import type { RequestHandler } from "./listener.ts";

type Req = Parameters<RequestHandler>[0];
type Res = Parameters<RequestHandler>[1];

/** The console's URL prefix. */
export const CONSOLE_PATH = "/ui/";

/** console/dist of this installation (src/server/ in a clone, dist/server/ in the npm package). */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL("../../console/dist/", import.meta.url));

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".wasm": "application/wasm",
};

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Weft console: not built</title></head>
<body><h1>The Weft console is not built</h1>
<p>This server has no console files. In a clone of the repository, build them with
<code>npm run build:console</code> and restart the server (or start it with <code>--console off</code>).</p>
</body></html>
`;

const LONGEST_PATH = 1024;

const gzip = promisify(gzipCallback);
/** Smaller files are sent as they are. */
const GZIP_MIN_BYTES = 1024;
const COMPRESSIBLE = new Set([".html", ".js", ".mjs", ".css", ".json", ".map", ".svg", ".txt", ".wasm"]);

/** Whether an URL path is the console's. */
export function isConsolePath(path: string): boolean {
  return path === "/ui" || path.startsWith(CONSOLE_PATH);
}

/**
 * The file segments of a console URL path (below /ui/), decoded; undefined if the path is not
 * acceptable: a bad escape, an empty, "." or ".." segment, a separator or NUL inside a segment.
 */
export function consoleSegments(path: string): string[] | undefined {
  if (!path.startsWith(CONSOLE_PATH) || path.length > LONGEST_PATH) return undefined;
  // One trailing slash is allowed (a client-side route written as a directory).
  const rest = path.slice(CONSOLE_PATH.length).replace(/(?<=[^/])\/$/, "");
  if (rest === "") return [];
  const segments: string[] = [];
  for (const raw of rest.split("/")) {
    let s: string;
    try {
      s = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (s === "" || s === "." || s === ".." || /[/\\\0]/.test(s)) return undefined;
    segments.push(s);
  }
  return segments;
}

export interface ConsoleAssets {
  handle(req: Req, res: Res, path: string): void;
}

export function consoleAssets(dir: string = DEFAULT_CONSOLE_DIR): ConsoleAssets {
  const compressor = gzipCache();
  // Resolved once when it exists (a build after start-up is found on the next request).
  let root: string | undefined;
  const rootDir = (): string | undefined => {
    if (root) return root;
    try {
      root = realpathSync(dir);
    } catch {
      return undefined;
    }
    return root;
  };
  return {
    handle(req, res, path) {
      const method = req.method ?? "";
      if (method !== "GET" && method !== "HEAD") {
        (res as ServerResponse).setHeader("allow", "GET, HEAD");
        return send(res, 405, "method not allowed: the console's files answer GET and HEAD\n", "text/plain; charset=utf-8", "no-store", false);
      }
      const head = method === "HEAD";
      if (path === "/ui") {
        (res as ServerResponse).setHeader("location", CONSOLE_PATH);
        return send(res, 308, "", "text/plain; charset=utf-8", "no-store", head);
      }
      const segments = consoleSegments(path);
      if (!segments) return send(res, 404, "not found\n", "text/plain; charset=utf-8", "no-store", head);
      const gzipOk = /\bgzip\b/i.test(String(req.headers["accept-encoding"] ?? ""));
      void serve(rootDir(), segments, res, head, gzipOk ? compressor : undefined).catch(() => {
        if (!res.headersSent) send(res, 500, "console file unreadable\n", "text/plain; charset=utf-8", "no-store", head);
        else res.destroy();
      });
    },
  };
}

type Compressor = (file: string, body: Buffer) => Promise<Buffer | undefined>;

/** Gzipped copies of compressible files, by path, while their size and modification time are unchanged. */
function gzipCache(): Compressor {
  const cache = new Map<string, { stamp: string; gz: Buffer }>();
  return async (file, body) => {
    if (body.byteLength < GZIP_MIN_BYTES || !COMPRESSIBLE.has(extname(file).toLowerCase())) return undefined;
    const { size, mtimeMs } = await stat(file);
    const stamp = `${size}:${mtimeMs}`;
    const hit = cache.get(file);
    if (hit?.stamp === stamp) return hit.gz;
    const gz = await gzip(body, { level: 9 });
    cache.set(file, { stamp, gz });
    return gz;
  };
}

async function serve(root: string | undefined, segments: string[], res: Res, head: boolean, compress: Compressor | undefined): Promise<void> {
  const index = root && (await regularFile(root, join(root, "index.html")));
  if (!root || !index) return send(res, 503, NOT_BUILT, "text/html; charset=utf-8", "no-store", head);
  const file = segments.length === 0 ? index : await regularFile(root, join(root, ...segments));
  if (file) {
    const type = TYPES[extname(file).toLowerCase()] ?? "application/octet-stream";
    const hashed = segments.length === 2 && segments[0] === "assets";
    return sendFile(res, file, type, hashed ? "public, max-age=31536000, immutable" : "no-cache", head, compress);
  }
  // A missing file (a name with an extension, or under assets/) is a 404; anything else is a
  // client-side route of the console, answered with index.html.
  const last = segments[segments.length - 1]!;
  if (segments[0] === "assets" || extname(last) !== "") return send(res, 404, "not found\n", "text/plain; charset=utf-8", "no-store", head);
  return sendFile(res, index, "text/html; charset=utf-8", "no-cache", head, compress);
}

async function sendFile(res: Res, file: string, type: string, cache: string, head: boolean, compress: Compressor | undefined): Promise<void> {
  const body = await readFile(file);
  const r = res as ServerResponse;
  if (COMPRESSIBLE.has(extname(file).toLowerCase())) r.setHeader("vary", "accept-encoding");
  const gz = compress && (await compress(file, body));
  if (gz) r.setHeader("content-encoding", "gzip");
  send(res, 200, gz ?? body, type, cache, head);
}

/** The real path of a regular file inside root, or undefined. */
async function regularFile(root: string, file: string): Promise<string | undefined> {
  try {
    const real = await realpath(file);
    if (!real.startsWith(root + sep)) return undefined;
    return (await stat(real)).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}

function send(res: Res, status: number, body: string | Buffer, contentType: string, cache: string, head: boolean): void {
  const r = res as ServerResponse;
  r.statusCode = status;
  r.setHeader("content-type", contentType);
  r.setHeader("cache-control", cache);
  r.setHeader("content-security-policy", CONSOLE_CSP);
  r.setHeader("x-content-type-options", "nosniff");
  r.setHeader("referrer-policy", "no-referrer");
  r.setHeader("x-frame-options", "DENY");
  r.setHeader("cross-origin-opener-policy", "same-origin");
  r.setHeader("content-length", typeof body === "string" ? Buffer.byteLength(body) : body.byteLength);
  if (head) r.end();
  else r.end(body);
}
