// The benchmark's child processes: Weft itself and the trivial handler.
import { type ChildProcess, spawn } from "node:child_process";
import { connect, createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sleep } from "./stats.ts";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const BENCH_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/** Keeps the last lines a child wrote, for error reports. */
class Tail {
  private readonly lines: string[] = [];
  push(chunk: Buffer): void {
    for (const l of chunk.toString("utf8").split("\n")) {
      if (!l) continue;
      this.lines.push(l);
      if (this.lines.length > 60) this.lines.shift();
    }
  }
  text(): string {
    return this.lines.join("\n");
  }
}

function exitPromise(child: ChildProcess): Promise<number | string | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode ?? child.signalCode);
    else child.once("exit", (code, signal) => resolve(code ?? signal));
  });
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timedOut = await Promise.race([exited.then(() => false), sleep(graceMs).then(() => true)]);
  if (timedOut) {
    child.kill("SIGKILL");
    await Promise.race([exited, sleep(2000)]);
  }
}

export interface WeftChild {
  child: ChildProcess;
  port: number;
  baseUrl: string;
  logs(): string;
  exited: Promise<number | string | null>;
  /** SIGTERM, then SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
  kill(): void;
}

/** The server flags spawnWeft runs Weft with (after `src/main.ts`). */
export function weftServerArgs(port: number, dataDir: string, extraArgs: string[] = []): string[] {
  return [
    "--host", "127.0.0.1",
    "--port", String(port),
    "--data-dir", dataDir,
    "--signing-secrets", BENCH_SECRET,
    "--log-level", "warn",
    "--shutdown-grace-ms", "3000",
    ...extraArgs,
  ];
}

/**
 * Starts `node src/main.ts` on a free port. With --log-level warn Weft does not
 * print its "weft listening" line, so the port is chosen here and readiness is
 * a successful TCP connect (Weft binds only after its store is open).
 */
export async function spawnWeft(dataDir: string, extraNodeArgs: string[] = [], extraArgs: string[] = [], env: Record<string, string> = {}): Promise<WeftChild> {
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const tail = new Tail();
    const child = spawn(
      process.execPath,
      [...extraNodeArgs, "src/main.ts", ...weftServerArgs(port, dataDir, extraArgs)],
      { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } },
    );
    child.stdout!.on("data", (d: Buffer) => tail.push(d));
    child.stderr!.on("data", (d: Buffer) => tail.push(d));
    const exited = exitPromise(child);
    const weft: WeftChild = {
      child,
      port,
      baseUrl: `http://127.0.0.1:${port}`,
      logs: () => tail.text(),
      exited,
      stop: (graceMs = 10_000) => stopChild(child, exited, "SIGTERM", graceMs),
      kill: () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      },
    };
    const deadline = Date.now() + 20_000;
    let dead = false;
    void exited.then(() => (dead = true));
    while (!dead && Date.now() < deadline) {
      if (await canConnect(port)) return weft;
      await sleep(50);
    }
    weft.kill();
    await Promise.race([exited, sleep(2000)]);
    lastError = new Error(`weft did not start on port ${port}:\n${tail.text()}`);
  }
  throw lastError!;
}

export interface HandlerChild {
  child: ChildProcess;
  port: number;
  baseUrl: string;
  /** Called with the run id of every request for the final step. */
  onFinal(fn: (runId: string) => void): void;
  get(path: string): Promise<string>;
  stop(): Promise<void>;
  kill(): void;
}

export async function spawnHandler(finalStep: string): Promise<HandlerChild> {
  const tail = new Tail();
  const child = spawn(process.execPath, [join(REPO_ROOT, "bench", "handler-process.ts")], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    env: { ...process.env, BENCH_FINAL_STEP: finalStep },
  });
  child.stdout!.on("data", (d: Buffer) => tail.push(d));
  child.stderr!.on("data", (d: Buffer) => tail.push(d));
  const exited = exitPromise(child);
  let finalFn: (runId: string) => void = () => {};
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`handler did not start:\n${tail.text()}`)), 15_000);
    child.on("message", (m: unknown) => {
      if (typeof m === "string") finalFn(m);
      else if (m && typeof m === "object" && (m as { type?: string }).type === "listening") {
        clearTimeout(timer);
        resolve((m as { port: number }).port);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`handler exited with ${code}:\n${tail.text()}`));
    });
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    child,
    port,
    baseUrl,
    onFinal(fn) {
      finalFn = fn;
    },
    async get(path) {
      const res = await fetch(baseUrl + path, { signal: AbortSignal.timeout(30_000) });
      if (!res.ok) throw new Error(`handler GET ${path}: HTTP ${res.status}`);
      return res.text();
    },
    async stop() {
      if (child.connected) child.disconnect();
      await stopChild(child, exited, "SIGTERM", 3000);
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}
