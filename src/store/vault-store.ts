/**
 * The vault's own tables: agents and their versioned policies (with the admin
 * authorizations that nodes require), API keys (hashes only), sign requests (the
 * budget ledger, per-agent sequence numbers, approvals and results) and the pinned
 * signer-node identities. Behind the storage seam (src/store/sql): SQLite or PostgreSQL.
 */
import { addColumnIfMissing, type Migration, migrate } from "./sql/migrate.js";
import type { Param, Sql } from "./sql/types.js";

export interface AgentRow {
  id: string;
  name: string;
  address: string;
  public_key: string;
  created_at: string;
  /** Signer backend serving the agent ("local", "lit-v7", "lit-chipotle"). */
  backend: string;
  /** Lit agents: how the PKP is held (JSON of PkpInfo, src/signers/backend.ts); else null. */
  pkp: string | null;
  /** Local agents: the signer cluster holding the key (src/config/clusters.ts); else null. */
  cluster?: string | null;
}

export interface PolicyRow {
  agent_id: string;
  version: number;
  policy: string;
  authorization: string;
  created_at: string;
}

export interface ApiKeyRow {
  id: string;
  agent_id: string | null;
  scopes: string;
  hash: string;
  created_at: string;
  revoked_at: string | null;
  /** The key that issued this one (null: the admin key); revoking it revokes this too. */
  parent_id: string | null;
}

export type SignStatus =
  | "reserved"
  | "signed"
  | "incomplete"
  | "failed"
  | "denied"
  | "pending"
  | "rejected";

export interface SignRow {
  id: string;
  agent_id: string;
  seq: number | null;
  kind: string;
  intent: string;
  digest: string;
  spends: string;
  status: SignStatus;
  result: string | null;
  signature: string | null;
  created_ms: number;
  /** Set when an operator approved it: the window counts its spends from then. */
  reserved_ms?: number | null;
  /** The credential that made the request, if any: a revoked one is never approved. */
  credential?: string | null;
}

const tables = (
  int: "INTEGER" | "BIGINT",
) => `CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS agents (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, address TEXT NOT NULL, public_key TEXT NOT NULL,
  created_at TEXT NOT NULL, backend TEXT NOT NULL DEFAULT 'local', pkp TEXT, cluster TEXT);
CREATE TABLE IF NOT EXISTS policies (
  agent_id TEXT NOT NULL REFERENCES agents(id), version INTEGER NOT NULL, policy TEXT NOT NULL,
  "authorization" TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (agent_id, version));
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY, agent_id TEXT REFERENCES agents(id), scopes TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, revoked_at TEXT, parent_id TEXT);
CREATE TABLE IF NOT EXISTS sign_requests (
  id TEXT PRIMARY KEY, agent_id TEXT NOT NULL REFERENCES agents(id), seq ${int},
  kind TEXT NOT NULL, intent TEXT NOT NULL, digest TEXT NOT NULL, spends TEXT NOT NULL,
  status TEXT NOT NULL, result TEXT, signature TEXT, created_ms ${int} NOT NULL,
  reserved_ms ${int}, credential TEXT, UNIQUE (agent_id, seq));
CREATE INDEX IF NOT EXISTS sign_requests_window ON sign_requests (agent_id, created_ms);
CREATE INDEX IF NOT EXISTS sign_requests_digest ON sign_requests (agent_id, digest);
CREATE INDEX IF NOT EXISTS sign_requests_reserved ON sign_requests (agent_id, reserved_ms);
CREATE TABLE IF NOT EXISTS signer_nodes (
  cluster TEXT NOT NULL, idx INTEGER NOT NULL, url TEXT NOT NULL, signing_key TEXT NOT NULL,
  agreement_key TEXT NOT NULL, PRIMARY KEY (cluster, idx))`;

const STATUS_INDEX =
  "CREATE INDEX IF NOT EXISTS sign_requests_status ON sign_requests (status, agent_id)";

/** Version 1 is the schema as the last build before the storage seam left it. */
export const VAULT_STORE_MIGRATIONS: Migration[] = [
  { version: 1, name: "vault", sqlite: tables("INTEGER"), postgres: tables("BIGINT") },
  // Replicas look for stranded and incomplete requests every few seconds (src/services/vault.ts).
  {
    version: 2,
    name: "sign_requests_status",
    sqlite: STATUS_INDEX,
    postgres: STATUS_INDEX,
  },
];

/**
 * Brings a SQLite file an earlier build made up to version 1: columns added over time, and
 * one signer cluster's pins, agents and checkpoint key recorded as c0's
 * (src/config/clusters.ts). Idempotent; a new file has no tables yet and is left alone.
 */
export async function adoptEarlierVault(sql: Sql): Promise<void> {
  if (sql.dialect !== "sqlite") return;
  await sql.transaction(async () => {
    await addColumnIfMissing(sql, "api_keys", "parent_id", "TEXT");
    await addColumnIfMissing(sql, "sign_requests", "reserved_ms", "INTEGER");
    await addColumnIfMissing(sql, "sign_requests", "credential", "TEXT");
    await addColumnIfMissing(sql, "agents", "backend", "TEXT NOT NULL DEFAULT 'local'");
    await addColumnIfMissing(sql, "agents", "pkp", "TEXT");
    if (await addColumnIfMissing(sql, "agents", "cluster", "TEXT")) {
      await sql.run("UPDATE agents SET cluster = 'c0' WHERE cluster IS NULL AND backend = 'local'");
    }
    const old = await sql.get(
      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cluster_nodes'",
    );
    if (!old) return;
    await sql.run(`CREATE TABLE IF NOT EXISTS signer_nodes (
      cluster TEXT NOT NULL, idx INTEGER NOT NULL, url TEXT NOT NULL, signing_key TEXT NOT NULL,
      agreement_key TEXT NOT NULL, PRIMARY KEY (cluster, idx))`);
    await sql.run(`INSERT OR IGNORE INTO signer_nodes (cluster, idx, url, signing_key, agreement_key)
      SELECT 'c0', idx, url, signing_key, agreement_key FROM cluster_nodes`);
    await sql.run("DROP TABLE cluster_nodes");
    await sql.run(`INSERT OR IGNORE INTO meta (k, v) SELECT 'home_cluster', 'c0' FROM meta
      WHERE k = 'cluster_address'`);
  });
}

/** Opens the vault's tables on `sql`, migrating them first. */
export async function openVaultStore(sql: Sql) {
  await adoptEarlierVault(sql);
  await migrate(sql, "vault", VAULT_STORE_MIGRATIONS);
  return createVaultStore(sql);
}

function createVaultStore(sql: Sql) {
  const now = () => new Date().toISOString();
  const all = <T>(text: string, params: Param[] = []) => sql.all<T>(text, params);
  const get = <T>(text: string, params: Param[] = []) => sql.get<T>(text, params);
  const run = async (text: string, params: Param[] = []) => (await sql.run(text, params)).changes;

  return {
    sql,
    meta: async (k: string) =>
      (await get<{ v: string }>("SELECT v FROM meta WHERE k = $1", [k]))?.v,
    setMeta: async (k: string, v: string) =>
      void (await run(
        "INSERT INTO meta (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
        [k, v],
      )),
    putAgent: async (
      a: Omit<AgentRow, "created_at" | "backend" | "pkp" | "cluster"> &
        Partial<Pick<AgentRow, "backend" | "pkp" | "cluster">>,
    ) =>
      void (await run(
        `INSERT INTO agents (id, name, address, public_key, created_at, backend, pkp, cluster)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          a.id,
          a.name,
          a.address,
          a.public_key,
          now(),
          a.backend ?? "local",
          a.pkp ?? null,
          a.cluster ?? null,
        ],
      )),
    agent: (id: string) => get<AgentRow>("SELECT * FROM agents WHERE id = $1", [id]),
    /** A Lit agent's public key learnt from its first signature, in the row and its PKP JSON. */
    setAgentPublicKey: async (id: string, key: string) => {
      const row = await get<AgentRow>("SELECT * FROM agents WHERE id = $1", [id]);
      if (row?.public_key !== "") return;
      const pkp =
        row.pkp === null ? null : JSON.stringify({ ...JSON.parse(row.pkp), publicKey: key });
      await run("UPDATE agents SET public_key = $1, pkp = $2 WHERE id = $3 AND public_key = ''", [
        key,
        pkp,
        id,
      ]);
    },
    agents: () => all<AgentRow>("SELECT * FROM agents ORDER BY created_at, id"),
    /** How many local agents each signer cluster holds. */
    agentsPerCluster: async () =>
      new Map(
        (
          await all<{ cluster: string; n: number }>(
            `SELECT cluster, count(*) AS n FROM agents WHERE backend = 'local' AND cluster IS NOT NULL
             GROUP BY cluster`,
          )
        ).map((r) => [r.cluster, Number(r.n)]),
      ),
    putPolicy: async (agentId: string, version: number, policy: string, authorization: string) =>
      void (await run(
        `INSERT INTO policies (agent_id, version, policy, "authorization", created_at)
         VALUES ($1, $2, $3, $4, $5)`,
        [agentId, version, policy, authorization, now()],
      )),
    policy: (agentId: string) =>
      get<PolicyRow>("SELECT * FROM policies WHERE agent_id = $1 ORDER BY version DESC LIMIT 1", [
        agentId,
      ]),
    putKey: async (k: Omit<ApiKeyRow, "created_at" | "revoked_at">) =>
      void (await run(
        `INSERT INTO api_keys (id, agent_id, scopes, hash, created_at, parent_id)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [k.id, k.agent_id, k.scopes, k.hash, now(), k.parent_id],
      )),
    /** The key and every key issued under it, at any depth, that is not revoked yet. */
    liveDescendants: (id: string) =>
      all<{ id: string; agent_id: string | null }>(
        `WITH RECURSIVE tree(id) AS (
           SELECT CAST($1 AS TEXT) UNION SELECT k.id FROM api_keys k JOIN tree ON k.parent_id = tree.id)
         SELECT api_keys.id, api_keys.agent_id FROM api_keys JOIN tree USING (id) WHERE revoked_at IS NULL`,
        [id],
      ),
    keyByHash: (hash: string) => get<ApiKeyRow>("SELECT * FROM api_keys WHERE hash = $1", [hash]),
    key: (id: string) => get<ApiKeyRow>("SELECT * FROM api_keys WHERE id = $1", [id]),
    revokeKey: async (id: string) =>
      (await run("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", [
        now(),
        id,
      ])) === 1,
    putSign: async (row: SignRow) =>
      void (await run(
        `INSERT INTO sign_requests (id, agent_id, seq, kind, intent, digest, spends, status, result,
           signature, created_ms, credential)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [
          row.id,
          row.agent_id,
          row.seq,
          row.kind,
          row.intent,
          row.digest,
          row.spends,
          row.status,
          row.result,
          row.signature,
          row.created_ms,
          row.credential ?? null,
        ],
      )),
    sign: (id: string) => get<SignRow>("SELECT * FROM sign_requests WHERE id = $1", [id]),
    setSign: async (row: Pick<SignRow, "id" | "status" | "seq" | "result" | "signature">) =>
      void (await run(
        "UPDATE sign_requests SET status = $1, seq = $2, result = $3, signature = $4 WHERE id = $5",
        [row.status, row.seq, row.result, row.signature, row.id],
      )),
    spendsSince: (agentId: string, since: number) =>
      all<{ ts: number; spends: string }>(
        `SELECT coalesce(reserved_ms, created_ms) AS ts, spends FROM sign_requests
         WHERE agent_id = $1 AND (created_ms > $2 OR reserved_ms > $2)
           AND status IN ('reserved', 'signed', 'incomplete')`,
        [agentId, since],
      ),
    /** An approved request is counted in the window from `ms`, its approval. */
    setReservedAt: async (id: string, ms: number) =>
      void (await run("UPDATE sign_requests SET reserved_ms = $1 WHERE id = $2", [ms, id])),
    requestsSince: async (agentId: string, since: number) =>
      Number(
        (
          await get<{ n: number }>(
            "SELECT count(*) AS n FROM sign_requests WHERE agent_id = $1 AND created_ms > $2",
            [agentId, since],
          )
        )?.n ?? 0,
      ),
    lastSeq: async (agentId: string) =>
      Number(
        (
          await get<{ s: number }>(
            "SELECT coalesce(max(seq), 0) AS s FROM sign_requests WHERE agent_id = $1",
            [agentId],
          )
        )?.s ?? 0,
      ),
    signedByDigest: (agentId: string, digest: string) =>
      get<SignRow>(
        "SELECT * FROM sign_requests WHERE agent_id = $1 AND digest = $2 AND status = 'signed' LIMIT 1",
        [agentId, digest],
      ),
    signedRange: (agentId: string, from: number, to: number) =>
      all<{ seq: number; intent: string; signature: string }>(
        `SELECT seq, intent, signature FROM sign_requests
         WHERE agent_id = $1 AND seq BETWEEN $2 AND $3 AND status = 'signed' ORDER BY seq`,
        [agentId, from, to],
      ),
    incomplete: (agentId: string) =>
      all<SignRow>(
        "SELECT * FROM sign_requests WHERE agent_id = $1 AND status = 'incomplete' ORDER BY seq",
        [agentId],
      ),
    /** Reserved rows that never reached the cluster (the vault stopped in between). */
    stranded: () =>
      all<{ id: string; agent_id: string }>(
        "SELECT id, agent_id FROM sign_requests WHERE status = 'reserved'",
      ),
    agentsWithIncomplete: async () =>
      (
        await all<{ agent_id: string }>(
          "SELECT DISTINCT agent_id FROM sign_requests WHERE status = 'incomplete'",
        )
      ).map((r) => r.agent_id),
    putNode: async (
      cluster: string,
      idx: number,
      url: string,
      signingKey: string,
      agreementKey: string,
    ) =>
      void (await run(
        `INSERT INTO signer_nodes (cluster, idx, url, signing_key, agreement_key)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (cluster, idx) DO UPDATE SET url = excluded.url`,
        [cluster, idx, url, signingKey, agreementKey],
      )),
    /** The node identities pinned for a cluster. */
    nodes: (cluster: string) =>
      all<{ idx: number; url: string; signing_key: string; agreement_key: string }>(
        "SELECT * FROM signer_nodes WHERE cluster = $1 ORDER BY idx",
        [cluster],
      ),
  };
}

export type VaultStore = Awaited<ReturnType<typeof openVaultStore>>;
