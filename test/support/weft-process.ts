// Runs Weft as a separate process (`node src/main.ts`), so tests can kill -9 it.
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { WorkflowService } from "../../gen/ts/weft/v1/workflow_pb.js";
import { TEST_SECRET } from "./weft.ts";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface WeftProcess {
  child: ChildProcess;
  port: number;
  client: Client<typeof WorkflowService>;
  logs: string[];
  exited: Promise<number | null>;
}

export interface SpawnOptions {
  /** Extra environment variables for the process (on top of this process's environment). */
  env?: NodeJS.ProcessEnv;
}

export async function spawnWeft(dataDir: string, extraArgs: string[] = [], options: SpawnOptions = {}): Promise<WeftProcess> {
  const child = spawn(
    process.execPath,
    ["src/main.ts", "--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir, "--signing-secrets", TEST_SECRET, ...extraArgs],
    { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"], env: options.env ? { ...process.env, ...options.env } : process.env },
  );
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  child.stderr!.on("data", (d: Buffer) => logs.push(d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`weft did not start:\n${logs.join("")}`)), 60_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      logs.push(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === "weft listening" && entry.port) {
          clearTimeout(timer);
          resolve(entry.port);
        }
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`weft exited with ${code}:\n${logs.join("\n")}`));
    });
  });
  const client = createClient(WorkflowService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
  return { child, port, client, logs, exited };
}

export async function kill9(p: WeftProcess): Promise<void> {
  p.child.kill("SIGKILL");
  await p.exited;
}

/** Sends `signal` (default SIGTERM: a graceful stop) and resolves with the exit code once the process is gone. */
export async function stopWeft(p: WeftProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
  return p.exited;
}

/** The process's JSON log lines (pino), parsed; other output is skipped. */
export function logEntries(p: WeftProcess): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const chunk of p.logs) {
    for (const line of chunk.split("\n")) {
      if (!line.startsWith("{")) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  }
  return out;
}
