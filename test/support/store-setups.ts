// The two stores an end-to-end file runs its servers on, in turn (embedded SQLite,
// then MongoDB: mongo-java-server unless the environment gives a server).
import { type Config, loadConfig } from "../../src/config.ts";
import { type MongoTarget, startMongo } from "./mongo-server.ts";

export interface StoreSetup {
  name: "embedded" | "mongodb";
  /** Config overrides for a server on this store (MongoDB: the same database for every server). */
  overrides(): Partial<Config>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function embedded(): StoreSetup {
  return { name: "embedded", overrides: () => ({}), start: async () => {}, stop: async () => {} };
}

/** MongoDB with short poll, sweep and lease intervals, so that takeovers happen within a test. */
export function mongodb(): StoreSetup {
  let target: MongoTarget | undefined;
  return {
    name: "mongodb",
    overrides() {
      const base = loadConfig([], {})!.mongodb;
      return { mongodb: { ...base, uri: target!.uri, database: target!.dbName, pollIntervalMs: 20, sweepIntervalMs: 500, leaseTtlMs: 3000 } };
    },
    async start() {
      const res = await startMongo();
      if ("skip" in res) throw new Error(`no MongoDB could be started: ${res.skip}`);
      target = res;
    },
    async stop() {
      await target?.stop();
    },
  };
}
