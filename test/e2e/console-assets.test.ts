// The web console's files under /ui/ (src/server/console-assets.ts), on a real server with API
// keys configured: content types, index.html for /ui/ and client-side routes, caching, the
// security headers, no way out of the directory, GET/HEAD only, the page shown when the console is
// not built, --console off. Requests are sent raw (node:http, node:http2) so that paths reach the
// server exactly as written ("..", encoded separators).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect as connectH2 } from "node:http2";
import { request as requestTls } from "node:https";
import { tmpdir } from "node:os";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { digestApiKeys } from "../../src/domain/api-keys.ts";
import { CONSOLE_CSP, consoleSegments } from "../../src/server/console-assets.ts";
import { makeTestCerts } from "../support/tls-certs.ts";
import { startWeft, type TestWeft } from "../support/weft.ts";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  bytes: Buffer;
}

function raw(baseUrl: string, method: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const bytes = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: bytes.toString("utf8"), bytes });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

const KEYS = {
  keys: digestApiKeys([{ scope: "read", key: "rk_console_assets_4b1e9d0c" }]),
  reflection: "auth" as const,
  allowUnauthenticated: false,
};

const INDEX = '<!doctype html><html><head><script type="module" src="/ui/assets/index-abc123.js"></script></head><body>console</body></html>';

const BIG = `export const rows = ${JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ step: `s${i}`, state: "completed" })))};\n`;

let root: string;
let assets: string;
let weft: TestWeft;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "weft-console-assets-"));
  assets = join(root, "dist");
  mkdirSync(join(assets, "assets"), { recursive: true });
  writeFileSync(join(assets, "index.html"), INDEX);
  writeFileSync(join(assets, "assets", "index-abc123.js"), "console.log('weft');\n");
  writeFileSync(join(assets, "assets", "index-abc123.css"), "body{}\n");
  writeFileSync(join(assets, "assets", "big-abc123.js"), BIG);
  writeFileSync(join(assets, "logo.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>");
  // Outside the console's directory: what a traversal would reach.
  writeFileSync(join(root, "secret.txt"), "not for the console");
  symlinkSync(join(root, "secret.txt"), join(assets, "assets", "link.js"));
  weft = await startWeft({ auth: KEYS, console: { enabled: true, assetsDir: assets } });
});

afterAll(async () => {
  await weft?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("the console's files", () => {
  it("/ui/ is index.html, uncached, with a strict CSP and nosniff, and needs no key", async () => {
    const res = await raw(weft.baseUrl, "GET", "/ui/");
    expect(res.status).toBe(200);
    expect(res.body).toBe(INDEX);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.headers["cache-control"]).toBe("no-cache");
    expect(res.headers["content-security-policy"]).toBe(CONSOLE_CSP);
    expect(res.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(res.headers["content-security-policy"]).toContain("default-src 'none'");
    expect(res.headers["content-security-policy"]).not.toContain("unsafe");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["x-frame-options"]).toBe("DENY");
  });

  it("client-side routes under /ui/ get index.html; /ui redirects to /ui/", async () => {
    for (const path of ["/ui/runs/wf_01ABC", "/ui/runs/wf_01ABC/", "/ui/runs?state=running"]) {
      const res = await raw(weft.baseUrl, "GET", path);
      expect(res.status, path).toBe(200);
      expect(res.body, path).toBe(INDEX);
      expect(res.headers["cache-control"], path).toBe("no-cache");
    }
    const redirect = await raw(weft.baseUrl, "GET", "/ui");
    expect(redirect.status).toBe(308);
    expect(redirect.headers.location).toBe("/ui/");
  });

  it("hashed assets have their content type and a long cache; other files are revalidated", async () => {
    const js = await raw(weft.baseUrl, "GET", "/ui/assets/index-abc123.js");
    expect(js.status).toBe(200);
    expect(js.body).toBe("console.log('weft');\n");
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(js.headers["x-content-type-options"]).toBe("nosniff");
    const css = await raw(weft.baseUrl, "GET", "/ui/assets/index-abc123.css");
    expect(css.headers["content-type"]).toBe("text/css; charset=utf-8");
    const svg = await raw(weft.baseUrl, "GET", "/ui/logo.svg");
    expect(svg.headers["content-type"]).toBe("image/svg+xml");
    expect(svg.headers["cache-control"]).toBe("no-cache");
  });

  it("text files are gzipped for clients that accept it, and only for them", async () => {
    const gz = await raw(weft.baseUrl, "GET", "/ui/assets/big-abc123.js", { "accept-encoding": "br, gzip" });
    expect(gz.status).toBe(200);
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(gz.headers.vary).toBe("accept-encoding");
    expect(gz.bytes.byteLength).toBeLessThan(Buffer.byteLength(BIG) / 4);
    expect(gunzipSync(gz.bytes).toString("utf8")).toBe(BIG);
    const again = await raw(weft.baseUrl, "GET", "/ui/assets/big-abc123.js", { "accept-encoding": "gzip" });
    expect(again.bytes.equals(gz.bytes)).toBe(true);
    const plain = await raw(weft.baseUrl, "GET", "/ui/assets/big-abc123.js");
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(plain.body).toBe(BIG);
  });

  it("a missing file is a 404, not index.html", async () => {
    for (const path of ["/ui/assets/index-zzz.js", "/ui/missing.js", "/ui/assets/nested"]) {
      const res = await raw(weft.baseUrl, "GET", path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain("console");
    }
  });

  it("no path leaves the directory: dot segments, encoded separators, backslashes, NUL, a symbolic link out", async () => {
    const attempts = [
      "/ui/../secret.txt",
      "/ui/../../package.json",
      "/ui/assets/../../secret.txt",
      "/ui/%2e%2e/secret.txt",
      "/ui/%2E%2E/%2E%2E/package.json",
      "/ui/assets/..%2f..%2fsecret.txt",
      "/ui/assets/%2e%2e%2f%2e%2e%2fsecret.txt",
      "/ui/..%5csecret.txt",
      "/ui/assets\\..\\..\\secret.txt",
      "/ui/secret.txt%00.js",
      "/ui/%",
      "/ui//etc/passwd",
      "/ui/assets/link.js",
      "/ui/./index.html",
    ];
    for (const path of attempts) {
      const res = await raw(weft.baseUrl, "GET", path);
      expect(res.body, path).not.toContain("not for the console");
      expect(res.body, path).not.toContain("@weftflow/server");
      expect(res.body, path).not.toContain("root:");
      expect([404], path).toContain(res.status);
    }
  });

  it("answers GET and HEAD only", async () => {
    const head = await raw(weft.baseUrl, "HEAD", "/ui/assets/index-abc123.js");
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
    expect(head.headers["content-length"]).toBe(String("console.log('weft');\n".length));
    for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
      const res = await raw(weft.baseUrl, method, "/ui/");
      expect(res.status, method).toBe(405);
      expect(res.headers.allow, method).toBe("GET, HEAD");
    }
  });

  it("is served over HTTP/2 too", async () => {
    const session = connectH2(weft.baseUrl);
    try {
      const answer = await new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
        const stream = session.request({ ":method": "GET", ":path": "/ui/runs/wf_x" });
        let status = 0;
        let type = "";
        const chunks: Buffer[] = [];
        stream.on("response", (h) => {
          status = Number(h[":status"]);
          type = String(h["content-type"]);
        });
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => resolve({ status, type, body: Buffer.concat(chunks).toString("utf8") }));
        stream.on("error", reject);
        stream.end();
      });
      expect(answer).toEqual({ status: 200, type: "text/html; charset=utf-8", body: INDEX });
    } finally {
      session.close();
    }
  });

  it("the API itself still needs a key", async () => {
    const res = await raw(weft.baseUrl, "POST", "/weft.v1.WorkflowService/ListWorkflows", { "content-type": "application/json" });
    expect(res.status).toBe(401);
  });
});

describe("without built files, or switched off", () => {
  it("/ui/ says how to build the console", async () => {
    const empty = mkdtempSync(join(tmpdir(), "weft-console-empty-"));
    const w = await startWeft({ console: { enabled: true, assetsDir: join(empty, "dist") } });
    try {
      for (const path of ["/ui/", "/ui/runs/wf_x", "/ui/assets/index-abc123.js"]) {
        const res = await raw(w.baseUrl, "GET", path);
        expect(res.status, path).toBe(503);
        expect(res.headers["content-type"], path).toBe("text/html; charset=utf-8");
        expect(res.body, path).toContain("npm run build:console");
        expect(res.headers["content-security-policy"], path).toBe(CONSOLE_CSP);
      }
    } finally {
      await w.stop();
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("--console off: /ui/ is not served", async () => {
    const w = await startWeft({ console: { enabled: false, assetsDir: assets } });
    try {
      const res = await raw(w.baseUrl, "GET", "/ui/");
      expect(res.status).toBe(404);
      expect(res.body).not.toContain("console");
    } finally {
      await w.stop();
    }
  });
});

describe("with TLS", () => {
  it("the console is served over TLS, HTTP/2 (ALPN) and HTTP/1.1", async () => {
    const certs = makeTestCerts();
    const w = await startWeft({
      console: { enabled: true, assetsDir: assets },
      tls: { certFile: certs.files.cert, keyFile: certs.files.key, clientCaFile: undefined, cert: certs.cert, key: certs.key, clientCa: undefined },
    });
    try {
      const { port } = new URL(w.baseUrl);
      const h1 = await new Promise<{ status: number; body: string; csp: unknown }>((resolve, reject) => {
        const req = requestTls({ host: "127.0.0.1", port, path: "/ui/runs/wf_x", ca: certs.ca }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), csp: res.headers["content-security-policy"] }));
        });
        req.on("error", reject);
        req.end();
      });
      expect(h1).toEqual({ status: 200, body: INDEX, csp: CONSOLE_CSP });
      const session = connectH2(`https://127.0.0.1:${port}`, { ca: certs.ca });
      try {
        const h2 = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const stream = session.request({ ":method": "GET", ":path": "/ui/assets/index-abc123.js" });
          let status = 0;
          const chunks: Buffer[] = [];
          stream.on("response", (h) => (status = Number(h[":status"])));
          stream.on("data", (c: Buffer) => chunks.push(c));
          stream.on("end", () => resolve({ status, body: Buffer.concat(chunks).toString("utf8") }));
          stream.on("error", reject);
          stream.end();
        });
        expect(h2).toEqual({ status: 200, body: "console.log('weft');\n" });
      } finally {
        session.close();
      }
    } finally {
      await w.stop();
      certs.remove();
    }
  });
});

describe("consoleSegments", () => {
  it("decodes each segment and refuses what could leave the directory", () => {
    expect(consoleSegments("/ui/")).toEqual([]);
    expect(consoleSegments("/ui/assets/a%20b.js")).toEqual(["assets", "a b.js"]);
    expect(consoleSegments("/ui/runs/wf_1/")).toEqual(["runs", "wf_1"]);
    for (const bad of ["/ui/..", "/ui/a/../b", "/ui/%2e%2e", "/ui/a%2fb", "/ui/a%5cb", "/ui/a%00", "/ui/%zz", "/ui//a", "/ui/a//", "/uix", "/ui/" + "a".repeat(2000)]) {
      expect(consoleSegments(bad), bad).toBeUndefined();
    }
  });
});
