/**
 * Agents per backend (src/services/agents.ts, src/store/vault-store.ts; issue 10): a Lit
 * agent is created by its backend with a "lit.policy" authorization bound to its address,
 * stored with its backend and PKP (and still there after a restart), shown with them, its
 * policy changes go to its backend, and it is never resynced to a signer node. The agents
 * table of an older vault gains the columns with every agent local.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { openAuditLog } from "../../src/audit/log.js";
import { adminPublicKey, isAuthorized } from "../../src/auth/admin-authority.js";
import { VaultError } from "../../src/errors/index.js";
import { createAgentService } from "../../src/services/agents.js";
import type { SignerBackend } from "../../src/signers/backend.js";
import { createBackendRegistry } from "../../src/signers/registry.js";
import { openDatabase } from "../../src/store/db.js";
import { createSqliteSql } from "../../src/store/sql/sqlite.js";
import type { Sql } from "../../src/store/sql/types.js";
import { openVaultStore } from "../../src/store/vault-store.js";
import { TEST_CID, TestBackend } from "../helpers/test-backend.js";
import { POLICY } from "./signing-fixture.js";

const ADMIN = "av_admin_test_key_0123456789abcdefghijklmnopqrstuvwxyz";

let dir: string;
let db: Sql;
let lit: TestBackend;
let local: TestBackend;
let resynced: string[];

async function service(database: Sql) {
  const store = await openVaultStore(database);
  const audit = await openAuditLog(database);
  const backends = createBackendRegistry({
    local,
    defaultBackend: "local",
    loaders: { "lit-chipotle": async () => lit },
  });
  // The nodes: only what resync touches (a local agent's policy.set), recorded.
  const node = {
    call: async (_op: string, _sid: string, body: { agentId: string }) => {
      resynced.push(body.agentId);
      return {};
    },
  };
  const cluster = { t: 2, n: 3, client: () => node } as unknown as ReturnType<
    Parameters<typeof createAgentService>[0]["clusters"]["named"]
  >;
  const clusters = {
    place: () => ({ name: "c0", done: () => {} }),
    nameOf: async () => "c0",
    named: () => cluster,
  };
  return { store, audit, agents: createAgentService({ store, audit, clusters, backends }) };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "av-agents-backends-"));
  db = createSqliteSql(openDatabase(join(dir, "vault.sqlite")));
  lit = new TestBackend("lit-chipotle");
  // A stand-in for the local backend (its adapter is tested with real nodes in test/http).
  local = new TestBackend("local");
  resynced = [];
});
afterEach(() => db.close());

test("a Lit agent: created by its backend, lit.policy authorization, backend and PKP kept", async () => {
  const { agents, store, audit } = await service(db);
  const view = await agents.create(
    { name: "pkp", policy: POLICY, backend: "lit-chipotle" },
    ADMIN,
    "admin",
  );
  assert.equal(view.backend, "lit-chipotle");
  assert.equal(view.address, lit.address);
  assert.deepEqual(view.pkp, lit.pkp());
  assert.equal(view.threshold, undefined, "no signer-node threshold for a PKP");
  assert.equal(view.policyVersion, 1);
  const row = await store.policy(view.id);
  assert.ok(
    isAuthorized(
      adminPublicKey(ADMIN),
      { op: "lit.policy", agentId: view.id, address: lit.address, version: 1, policy: POLICY },
      row?.authorization,
    ),
    "the stored authorization is the one the action verifies",
  );
  const created = (await audit.list(1, 100, view.id)).find((e) => e.type === "agent.created");
  assert.equal(created?.data.backend, "lit-chipotle");
  assert.equal((created?.data.pkp as { actionCid?: string } | undefined)?.actionCid, TEST_CID);

  // A restarted vault reads the same agent back.
  await db.close();
  db = createSqliteSql(openDatabase(join(dir, "vault.sqlite")));
  const again = await (await service(db)).agents.get(view.id);
  assert.deepEqual(again, view);
});

test("a new policy goes to the agent's backend with its address; nodes never see it", async () => {
  const { agents, store } = await service(db);
  const view = await agents.create({ name: "pkp", backend: "lit-chipotle" }, ADMIN, "admin");
  assert.equal(view.policyVersion, 0);
  const { version } = await agents.setPolicy(view.id, POLICY, ADMIN, "admin");
  assert.equal(version, 1);
  assert.deepEqual(lit.policies.get(view.id), { version: 1, policy: POLICY });
  assert.ok(
    isAuthorized(
      adminPublicKey(ADMIN),
      { op: "lit.policy", agentId: view.id, address: lit.address, version: 1, policy: POLICY },
      (await store.policy(view.id))?.authorization,
    ),
  );
  const mine = await agents.create({ name: "local", policy: POLICY }, ADMIN, "admin");
  assert.equal(mine.backend, "local");
  assert.deepEqual(mine.threshold, { t: 2, n: 3 });
  await agents.resyncNode("c0", 0);
  assert.deepEqual(resynced, [mine.id], "only local agents are resent to a node");
});

test("an unconfigured backend is refused before anything is created", async () => {
  const { agents, store } = await service(db);
  await assert.rejects(
    agents.create({ name: "v7", policy: POLICY, backend: "lit-v7" }, ADMIN, "admin"),
    (err: unknown) => err instanceof VaultError && err.code === "BACKEND_NOT_CONFIGURED",
  );
  assert.equal((await store.agents()).length, 0);
});

test("a backend that fails to create a key leaves no agent behind", async () => {
  const failing = Object.assign(new TestBackend("lit-chipotle"), {
    createKey: async () => {
      throw new VaultError("QUORUM_UNAVAILABLE", "test: the network is down");
    },
  }) as SignerBackend;
  lit = failing as TestBackend;
  const { agents, store } = await service(db);
  await assert.rejects(
    agents.create({ name: "pkp", policy: POLICY, backend: "lit-chipotle" }, ADMIN, "admin"),
    /network is down/,
  );
  assert.equal((await store.agents()).length, 0);
});

test("an older vault's agents table gains backend and pkp, every agent local", async () => {
  const old = createSqliteSql(openDatabase(join(dir, "old.sqlite")));
  await old.exec(`CREATE TABLE agents (
      id TEXT PRIMARY KEY, name TEXT NOT NULL, address TEXT NOT NULL, public_key TEXT NOT NULL,
      created_at TEXT NOT NULL);
    INSERT INTO agents VALUES ('agt_old', 'old', '0x01', '0x02', '2026-01-01T00:00:00Z');`);
  const store = await openVaultStore(old);
  const row = await store.agent("agt_old");
  assert.equal(row?.backend, "local");
  assert.equal(row?.pkp, undefined);
  await openVaultStore(old); // migrating twice is harmless
  await old.close();
});
