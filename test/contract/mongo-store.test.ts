// The store contract against the MongoDB store (MONGODB_URI, testcontainers or
// mongo-java-server: see test/support/mongo-server.ts; skipped loudly if none).
import { describeStoreContract } from "./workflow-store.contract.ts";
import { describeRunSearchContract } from "./run-search.contract.ts";
import { MongoWorkflowStore } from "../../src/store/mongo/mongo-store.ts";
import { describeMongo, newTestDbName } from "../support/mongo-server.ts";

describeMongo("MongoDB store contract", (mongo) => {
  const openStore = async () => {
    const database = newTestDbName();
    const open = () => MongoWorkflowStore.open({ uri: mongo().uri, database, leaseTtlMs: 5000 });
    const harness = {
      store: await open(),
      async reopen() {
        await harness.store.close();
        harness.store = await open();
        return harness.store;
      },
    };
    return harness;
  };
  describeStoreContract("MongoDB", openStore);
  describeRunSearchContract("MongoDB", openStore);
});
