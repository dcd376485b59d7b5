// `npm run bench:retention`: steady load against a short --retention, to show that
// the embedded store stops growing once runs are deleted as fast as they are created
// (README "Retention"). Weft runs as a process on a fresh data directory; runs of
// a short chain (each with some context, as real runs have) are created at a fixed
// rate for the whole duration; every sample reports the database and WAL sizes,
// SQLite's page and free-page counts and Weft's RSS. Asserts nothing: it prints a
// table and the growth between the sample when the first retention window had
// passed (plus a sweep) and the last one.
//
// Settings (environment): BENCH_RETENTION (default 60s), BENCH_DURATION_S (600),
// BENCH_RATE (runs per second, 20), BENCH_STEPS (3), BENCH_CONTEXT_BYTES (2000),
// BENCH_SAMPLE_S (30).
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { WorkflowService } from "../gen/ts/weft/v1/workflow_pb.js";
import { benchTransportOptions, weftAuthEnv } from "./auth.ts";
import { type HandlerChild, spawnHandler, spawnWeft, type WeftChild } from "./children.ts";
import { chainSteps, createRequest, FINAL_STEP } from "./scenarios.ts";
import { sleep } from "./stats.ts";

const RETENTION = process.env.BENCH_RETENTION ?? "60s";
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 600);
const RATE = Number(process.env.BENCH_RATE ?? 20);
const STEPS = Number(process.env.BENCH_STEPS ?? 3);
const CONTEXT_BYTES = Number(process.env.BENCH_CONTEXT_BYTES ?? 2000);
const SAMPLE_S = Number(process.env.BENCH_SAMPLE_S ?? 30);

function log(msg: string): void {
  process.stderr.write(`[bench:retention] ${msg}\n`);
}

/** "90s", "2m", "1h" → seconds (the forms this bench needs; Weft itself parses the flag). */
function seconds(text: string): number {
  const m = /^(\d+)(s|m|h)$/.exec(text);
  if (!m) throw new Error(`BENCH_RETENTION: use e.g. 60s, 2m or 1h, not ${text}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as "s" | "m" | "h"];
}

interface Sample {
  t: number;
  created: number;
  failedCreates: number;
  dbMiB: number;
  walMiB: number;
  pages: number;
  freePages: number;
  runsStored: number;
  rssMiB: number;
}

const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 100) / 100;
const sizeOf = (path: string) => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};
function rssOf(pid: number | undefined): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

function sample(dataDir: string, weft: WeftChild, t: number, created: number, failedCreates: number): Sample {
  const db = join(dataDir, "weft.db");
  // A read-only connection sees the last committed state (WAL mode); it holds no lock between samples.
  const ro = new DatabaseSync(db, { readOnly: true });
  try {
    const pages = (ro.prepare("PRAGMA page_count").get() as { page_count: number }).page_count;
    const freePages = (ro.prepare("PRAGMA freelist_count").get() as { freelist_count: number }).freelist_count;
    const runsStored = (ro.prepare("SELECT count(*) AS n FROM runs").get() as { n: number }).n;
    return { t, created, failedCreates, dbMiB: mib(sizeOf(db)), walMiB: mib(sizeOf(db + "-wal")), pages, freePages, runsStored, rssMiB: mib(rssOf(weft.child.pid)) };
  } finally {
    ro.close();
  }
}

async function main(): Promise<void> {
  const retentionS = seconds(RETENTION);
  log(`retention ${RETENTION}, ${DURATION_S} s at ${RATE} runs/s, ${STEPS}-step chains with ${CONTEXT_BYTES} B of context, a sample every ${SAMPLE_S} s`);
  const dataDir = mkdtempSync(join(tmpdir(), "weft-bench-retention-"));
  let handler: HandlerChild | undefined;
  let weft: WeftChild | undefined;
  try {
    handler = await spawnHandler(FINAL_STEP);
    weft = await spawnWeft(dataDir, [], ["--retention", RETENTION], weftAuthEnv());
    const client = createClient(WorkflowService, createGrpcTransport({ baseUrl: weft.baseUrl, ...benchTransportOptions() }));
    const request = createRequest("retention", chainSteps(STEPS), handler.baseUrl);
    const payload = "x".repeat(CONTEXT_BYTES);

    let created = 0;
    let failedCreates = 0;
    const inFlight = new Set<Promise<void>>();
    const samples: Sample[] = [];
    const start = performance.now();
    let nextSample = SAMPLE_S;
    for (let i = 0; ; i++) {
      const due = start + (i * 1000) / RATE;
      const now = performance.now();
      if (now - start >= DURATION_S * 1000) break;
      if (due > now) await sleep(due - now);
      const p = client
        .createWorkflow({ ...request, context: { ...(request.context as object), payload, n: i } } as typeof request)
        .then(
          () => void created++,
          () => void failedCreates++,
        )
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      const elapsed = (performance.now() - start) / 1000;
      if (elapsed >= nextSample) {
        nextSample += SAMPLE_S;
        const s = sample(dataDir, weft, Math.round(elapsed), created, failedCreates);
        samples.push(s);
        log(`t=${s.t}s created=${s.created} stored=${s.runsStored} db=${s.dbMiB} MiB wal=${s.walMiB} MiB pages=${s.pages} free=${s.freePages} rss=${s.rssMiB} MiB`);
      }
    }
    await Promise.all(inFlight);

    // Growth after the first retention window (and a sweep: at most a quarter of it, at most a minute) has passed.
    const settledAt = retentionS + Math.min(60, Math.max(1, retentionS / 4)) + SAMPLE_S;
    const settled = samples.find((s) => s.t >= settledAt);
    const last = samples.at(-1);
    const table = samples.map((s) => `| ${s.t} | ${s.created} | ${s.runsStored} | ${s.dbMiB} | ${s.walMiB} | ${s.pages} | ${s.freePages} | ${s.rssMiB} |`);
    console.log(
      [
        `Retention ${RETENTION}, ${RATE} runs/s of ${STEPS}-step chains (${CONTEXT_BYTES} B context) for ${DURATION_S} s; ${failedCreates} creates failed.`,
        "",
        "| t (s) | created | runs stored | db MiB | WAL MiB | pages | free pages | Weft RSS MiB |",
        "|---|---|---|---|---|---|---|---|",
        ...table,
        "",
        settled && last && last !== settled
          ? `From t=${settled.t} s (retention window passed) to t=${last.t} s: pages ${settled.pages} → ${last.pages} (${(((last.pages - settled.pages) / settled.pages) * 100).toFixed(1)}%), file ${settled.dbMiB} → ${last.dbMiB} MiB, while ${last.created - settled.created} more runs were created.`
          : "The run was too short to see the file after the first retention window: raise BENCH_DURATION_S.",
      ].join("\n"),
    );
  } finally {
    await weft?.stop(10_000);
    await handler?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`[bench:retention] failed: ${(err as Error)?.stack ?? err}\n`);
    process.exit(1);
  },
);
