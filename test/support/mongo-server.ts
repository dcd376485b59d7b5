// A MongoDB for the MongoDB store tests, from the first of:
//   1. MONGODB_URI: an existing deployment (each call gets a fresh database, dropped on stop);
//   2. testcontainers: a one-node replica set (mongo:8) when a Docker engine answers;
//   3. mongo-java-server: an in-memory server (oplog on, so change streams work) run by
//      Java 17+ from the classpath scripts/install-mongo-java-server.sh resolves.
// WEFT_TEST_MONGO=external|testcontainers|mongo-java-server allows only that one.
//
// Usage in a test file:
//   describeMongo("MongoDB store", (mongo) => {
//     test("...", async () => { const client = new MongoClient(mongo().uri); ... mongo().dbName ... });
//   });
// or, by hand: const m = await startMongo(); if ("skip" in m) ...; else { ...; await m.stop(); }
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe } from "vitest";

export type MongoKind = "external" | "testcontainers" | "mongo-java-server";

export interface MongoTarget {
  /** Connection string without a database name; use `dbName` with `client.db(dbName)`. */
  uri: string;
  /** A fresh name for every startMongo() call: weft_test_<random>. */
  dbName: string;
  kind: MongoKind;
  /** Whether change streams (collection.watch) are expected to work. */
  changeStreams: boolean;
  /** The server's TCP address, for a tcp-proxy in front of it; absent for MONGODB_URI. */
  address?: { host: string; port: number };
  /** Releases this target: drops its database (MONGODB_URI), stops the server when its last user stops. */
  stop(): Promise<void>;
}

export type MongoStartResult = MongoTarget | { skip: string };

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const CLASSPATH_FILE = join(REPO_ROOT, ".tools", "mongo-java-server", "classpath.txt");
const JAVA_MAIN = join(REPO_ROOT, "test", "support", "mongo-java-server", "WeftMongoServer.java");
const MONGO_IMAGE = "mongo:8";
const KINDS: MongoKind[] = ["external", "testcontainers", "mongo-java-server"];

export function newTestDbName(): string {
  return `weft_test_${randomBytes(6).toString("hex")}`;
}

/**
 * Cheap, synchronous look at what could serve MongoDB here (no process is started, no socket
 * opened): the kinds worth trying in order, or why none is. startMongo() makes the real checks.
 */
export function mongoPreflight(): { kinds: MongoKind[] } | { skip: string } {
  const only = process.env.WEFT_TEST_MONGO as MongoKind | undefined;
  if (only && !KINDS.includes(only)) return { skip: `WEFT_TEST_MONGO=${only} is not one of ${KINDS.join(", ")}` };
  const reasons: string[] = [];
  const kinds: MongoKind[] = [];
  const consider = (kind: MongoKind, why: string | undefined) => {
    if (only && only !== kind) return;
    if (why === undefined) kinds.push(kind);
    else reasons.push(why);
  };
  consider("external", process.env.MONGODB_URI ? undefined : "MONGODB_URI is not set");
  consider("testcontainers", dockerCandidate() ? undefined : "no Docker engine (no DOCKER_HOST, no docker.sock)");
  consider("mongo-java-server", javaServerProblem());
  return kinds.length > 0 ? { kinds } : { skip: reasons.join("; ") };
}

/** Starts (or shares) a MongoDB; `{ skip }` with the reasons when none can be had. */
export async function startMongo(): Promise<MongoStartResult> {
  const pre = mongoPreflight();
  if ("skip" in pre) return pre;
  const reasons: string[] = [];
  for (const kind of pre.kinds) {
    if (kind === "external") return externalTarget(process.env.MONGODB_URI!);
    const server = await acquireShared(kind).catch((err: Error) => {
      reasons.push(`${kind}: ${err.message}`);
      return undefined;
    });
    if (!server) continue;
    let stopped = false;
    return {
      uri: server.uri,
      dbName: newTestDbName(),
      kind,
      changeStreams: true,
      address: server.address,
      async stop() {
        if (stopped) return;
        stopped = true;
        await releaseShared(kind);
      },
    };
  }
  return { skip: reasons.join("; ") };
}

/**
 * A describe() that runs against startMongo()'s MongoDB, or is skipped with a console.warn that
 * says why (a skipped MongoDB suite must be visible). `fn` gets a getter for the target, valid
 * inside tests and hooks.
 */
export function describeMongo(name: string, fn: (mongo: () => MongoTarget) => void): void {
  const pre = mongoPreflight();
  if ("skip" in pre) {
    console.warn(
      `\n*** SKIPPED "${name}": no MongoDB to test against: ${pre.skip}.\n` +
        `*** Set MONGODB_URI, run Docker, or install Java 17+ and Maven and run scripts/install-mongo-java-server.sh.\n`,
    );
  }
  describe.skipIf("skip" in pre)(name, () => {
    let target: MongoTarget | undefined;
    beforeAll(async () => {
      const res = await startMongo();
      if ("skip" in res) throw new Error(`no MongoDB could be started: ${res.skip}`);
      target = res;
    });
    afterAll(async () => {
      await target?.stop();
    });
    fn(() => {
      if (!target) throw new Error("the MongoDB target is only available inside tests and hooks");
      return target;
    });
  });
}

// ---- MONGODB_URI ----

async function externalTarget(uri: string): Promise<MongoTarget> {
  const { MongoClient } = await import("mongodb");
  const dbName = newTestDbName();
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  let changeStreams = false;
  try {
    const admin = client.db("admin");
    const hello = await admin.command({ hello: 1 }).catch(() => admin.command({ isMaster: 1 }));
    changeStreams = typeof hello.setName === "string" || hello.msg === "isdbgrid";
  } finally {
    await client.close();
  }
  let stopped = false;
  return {
    uri,
    dbName,
    kind: "external",
    changeStreams,
    async stop() {
      if (stopped) return;
      stopped = true;
      const c = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
      try {
        await c.db(dbName).dropDatabase();
      } finally {
        await c.close();
      }
    },
  };
}

// ---- shared servers: one per kind per test process, stopped when its last user stops ----

interface RunningServer {
  uri: string;
  address: { host: string; port: number };
  stop(): Promise<void>;
}

const shared = new Map<MongoKind, { users: number; server: Promise<RunningServer> }>();

async function acquireShared(kind: MongoKind): Promise<RunningServer> {
  let entry = shared.get(kind);
  if (!entry) {
    const server = kind === "testcontainers" ? startTestcontainer() : startMongoJavaServer();
    entry = { users: 0, server };
    shared.set(kind, entry);
    server.catch(() => shared.delete(kind));
  }
  entry.users++;
  try {
    return await entry.server;
  } catch (err) {
    entry.users--;
    throw err;
  }
}

async function releaseShared(kind: MongoKind): Promise<void> {
  const entry = shared.get(kind);
  if (!entry || --entry.users > 0) return;
  shared.delete(kind);
  await (await entry.server).stop();
}

// ---- testcontainers ----

function dockerCandidate(): boolean {
  if (process.env.DOCKER_HOST || process.env.TESTCONTAINERS_HOST_OVERRIDE) return true;
  const sockets = [
    "/var/run/docker.sock",
    join(homedir(), ".docker", "run", "docker.sock"),
    join(homedir(), ".docker", "desktop", "docker.sock"),
    process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, "docker.sock") : "",
    join(homedir(), ".testcontainers.properties"),
  ];
  return sockets.some((p) => p !== "" && existsSync(p));
}

async function startTestcontainer(): Promise<RunningServer> {
  const tc = await import("testcontainers");
  // testcontainers' own check, bounded: a DOCKER_HOST that does not answer must not hang the tests.
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      tc.getContainerRuntimeClient(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("no answer from the Docker engine within 15 s")), 15_000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  const { MongoDBContainer } = await import("@testcontainers/mongodb");
  const container = await new MongoDBContainer(MONGO_IMAGE).start();
  const host = container.getHost();
  const port = container.getMappedPort(27017);
  return {
    // directConnection: the replica set's member is known by a name only the container resolves.
    uri: `mongodb://${host}:${port}/?directConnection=true`,
    address: { host, port },
    async stop() {
      await container.stop();
    },
  };
}

// ---- mongo-java-server ----

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? "").split(delimiter).some((dir) => dir !== "" && existsSync(join(dir, cmd)));
}

function readClasspath(): string | undefined {
  if (!existsSync(CLASSPATH_FILE)) return undefined;
  const cp = readFileSync(CLASSPATH_FILE, "utf8").trim();
  return cp !== "" && cp.split(delimiter).every((jar) => existsSync(jar)) ? cp : undefined;
}

function javaServerProblem(): string | undefined {
  if (!onPath("java")) return "no java on PATH (mongo-java-server needs Java 17+)";
  if (!readClasspath()) return "mongo-java-server is not installed (run scripts/install-mongo-java-server.sh)";
  return undefined;
}

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/**
 * Starts a dedicated mongo-java-server process (not shared) on 127.0.0.1:`port` (0: any free
 * port). It dies with this process: killed on exit, and it exits itself when its stdin closes.
 */
export async function startMongoJavaServer(
  port = 0,
  options: { oplog?: boolean } = {},
): Promise<RunningServer & { child: ChildProcess }> {
  const problem = javaServerProblem();
  if (problem) throw new Error(problem);
  const args = [String(port), ...(options.oplog === false ? ["no-oplog"] : [])];
  const child = spawn("java", ["-XX:+UseSerialGC", "-cp", readClasspath()!, JAVA_MAIN, ...args], {
    cwd: REPO_ROOT,
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.add(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  void exited.then(() => children.delete(child));
  const stderr: string[] = [];
  child.stderr!.on("data", (d: Buffer) => stderr.push(d.toString()));
  child.on("error", (err) => stderr.push(String(err)));
  const lines = createInterface({ input: child.stdout! });
  const bound = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`mongo-java-server did not start within 30 s:\n${stderr.join("")}`));
    }, 30_000);
    lines.on("line", (line) => {
      const m = /^listening (\d+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`mongo-java-server exited with ${child.exitCode ?? child.signalCode}:\n${stderr.join("")}`));
    });
  });
  lines.close();
  // Let this process exit without stopping the server first; the exit hook kills it.
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr] as unknown as { unref?: () => void }[]) s?.unref?.();
  return {
    uri: `mongodb://127.0.0.1:${bound}/?directConnection=true`,
    address: { host: "127.0.0.1", port: bound },
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
