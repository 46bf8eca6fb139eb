/** Real signer node processes for integration tests, on loopback, in a temp dir. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { adminPublicKey } from "../../src/auth/admin-authority.js";
import type { CatchUpRecord } from "../../src/protocol/node/wire.js";
import { LocalCluster } from "../../src/signers/local/cluster.js";
import { openPresigPool } from "../../src/signers/local/pool.js";
import { NodeSupervisor } from "../../src/signers/local/supervisor.js";
import { openDatabase } from "../../src/store/db.js";
import { createSqliteSql } from "../../src/store/sql/sqlite.js";
import { generateIdentity, type Identity, importPublic } from "../../src/transport/identity.js";

export const TEST_ADMIN_KEY = "av_admin_test_key_0123456789abcdefghijklmnopqrstuvwxyz";

export interface TestCluster {
  cluster: LocalCluster;
  supervisor: NodeSupervisor;
  records: Map<string, CatchUpRecord[]>;
  dir: string;
  /** The identity the test plays the vault with (signs every envelope). */
  vault: Identity;
  stop(): Promise<void>;
}

export async function startTestCluster(t: number, n: number, poolTarget = 0): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), "av-cluster-"));
  const vault = generateIdentity();
  const supervisor = new NodeSupervisor({
    n,
    host: "127.0.0.1",
    basePort: 0,
    dataDir: dir,
    vaultKey: vault.publicIdentity.signingKey,
    restart: false,
  });
  // If setting up fails, stop whatever started: live children would keep the test
  // process (and the whole run) waiting forever.
  const orStop = async <T>(step: Promise<T>): Promise<T> => {
    try {
      return await step;
    } catch (err) {
      await supervisor.stop();
      throw err;
    }
  };
  const started = await orStop(supervisor.start());
  const identities = await orStop(
    Promise.all(
      started.map(
        async (s) =>
          (await (await fetch(`${s.url}/identity`)).json()) as {
            index: number;
            signingKey: string;
            agreementKey: string;
          },
      ),
    ),
  );
  const records = new Map<string, CatchUpRecord[]>();
  const cluster = new LocalCluster({
    endpoints: started.map((s, i) => ({
      index: s.index,
      url: s.url,
      signingKey: importPublic((identities[i] as { signingKey: string }).signingKey),
    })),
    t,
    vaultKey: vault.signing,
    pool: await openPresigPool(createSqliteSql(openDatabase(join(dir, "vault.sqlite")))),
    poolTarget,
    catchUp: (agentId, from, to) =>
      (records.get(agentId) ?? []).filter((r) => r.seq >= from && r.seq <= to),
  });
  await orStop(
    cluster.broadcast("cluster.enroll", () => ({
      n,
      t,
      peers: identities,
      adminPublicKey: adminPublicKey(TEST_ADMIN_KEY),
    })),
  );
  return {
    cluster,
    supervisor,
    records,
    dir,
    vault,
    stop: async () => {
      cluster.stop();
      await supervisor.stop();
    },
  };
}
