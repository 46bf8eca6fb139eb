/**
 * The vault's own tables: agents and their versioned policies (with the admin
 * authorizations that nodes require), API keys (hashes only), sign requests (the
 * budget ledger, per-agent sequence numbers, approvals and results) and the pinned
 * signer-node identities. Behind the storage seam (src/store/sql): SQLite or PostgreSQL.
 *
 * It hands out domain values, never rows: parsed policies, `Spend[]` with bigint amounts
 * (through the one spends codec, src/policy/spends.ts, which the nodes use too), typed
 * sign records and PKPs. Rows stay in this file; the store imports only value modules
 * (src/<domain>/types.ts and that codec), so it still knows no domain behaviour (the
 * layering rule in .dependency-cruiser.cjs).
 */
import type { Scope } from "../auth/types.js";
import { spendsFromJson, spendsToJson } from "../policy/spends.js";
import type { DecodedRequest, Policy, SignIntent, Spend } from "../policy/types.js";
import type { BackendName, PkpInfo, SignResult } from "../signers/types.js";
import { addColumnIfMissing, type Migration, migrate } from "./sql/migrate.js";
import type { Param, Sql } from "./sql/types.js";

export interface Agent {
  id: string;
  name: string;
  address: string;
  /** 0x04… uncompressed; "" for a Chipotle PKP until its first verified signature. */
  publicKey: string;
  createdAt: string;
  /** Signer backend serving the agent. */
  backend: BackendName;
  /** Lit agents: how the PKP is held. */
  pkp?: PkpInfo;
  /** Local agents: the signer cluster holding the key (src/config/clusters.ts). */
  cluster?: string;
}

export type NewAgent = Omit<Agent, "createdAt" | "backend"> & { backend?: BackendName };

/** The policy in force, with its version and the operator's authorization of it. */
export interface StoredPolicy {
  version: number;
  policy: Policy;
  /** The operator's authorization of this version, as nodes and Lit actions verify it. */
  authorization: string;
  createdAt: string;
}

export interface ApiKey {
  id: string;
  /** null: an operator key. */
  agentId: string | null;
  scopes: Scope[];
  /** SHA-256 of the secret (src/auth/secret.ts); the secret itself is never stored. */
  hash: string;
  createdAt: string;
  revokedAt: string | null;
  /** The key that issued this one (null: the admin key); revoking it revokes this too. */
  parentId: string | null;
}

export type SignStatus =
  | "reserved"
  | "signed"
  | "incomplete"
  | "failed"
  | "denied"
  | "pending"
  | "rejected";

/** One sign request: the budget ledger's entry, its sequence number and its outcome. */
export interface SignRecord {
  id: string;
  agentId: string;
  /** Only incomplete and signed records hold one (src/services/signing/transitions.ts). */
  seq: number | null;
  kind: DecodedRequest["kind"];
  intent: SignIntent;
  digest: string;
  spends: Spend[];
  status: SignStatus;
  result: SignResult | null;
  signature: string | null;
  createdMs: number;
  /** Set when an operator approved it: the window counts its spends from then. */
  reservedMs: number | null;
  /** The credential that made the request, if any: a revoked one is never approved. */
  credential: string | null;
}

export type NewSignRecord = Pick<
  SignRecord,
  "id" | "agentId" | "kind" | "intent" | "digest" | "spends" | "status" | "createdMs"
> & { credential?: string | undefined };

/** A signed record as a lagging node is shown it (src/services/catch-up.ts). */
export interface SignedEntry {
  seq: number;
  intent: SignIntent;
  signature: string;
}

/** A pinned signer-node identity (src/signers/local/cluster.ts checks every answer by it). */
export interface PinnedNode {
  idx: number;
  url: string;
  signingKey: string;
  agreementKey: string;
}

interface AgentRow {
  id: string;
  name: string;
  address: string;
  public_key: string;
  created_at: string;
  backend: string;
  pkp: string | null;
  cluster: string | null;
}

interface PolicyRow {
  agent_id: string;
  version: number;
  policy: string;
  authorization: string;
  created_at: string;
}

interface ApiKeyRow {
  id: string;
  agent_id: string | null;
  scopes: string;
  hash: string;
  created_at: string;
  revoked_at: string | null;
  parent_id: string | null;
}

interface SignRow {
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
  reserved_ms: number | null;
  credential: string | null;
}

const toAgent = (r: AgentRow): Agent => ({
  id: r.id,
  name: r.name,
  address: r.address,
  publicKey: r.public_key,
  createdAt: r.created_at,
  backend: r.backend as BackendName,
  ...(r.pkp === null ? {} : { pkp: JSON.parse(r.pkp) as PkpInfo }),
  ...(r.cluster === null ? {} : { cluster: r.cluster }),
});

const toPolicy = (r: PolicyRow): StoredPolicy => ({
  version: Number(r.version),
  policy: JSON.parse(r.policy) as Policy,
  authorization: r.authorization,
  createdAt: r.created_at,
});

const toKey = (r: ApiKeyRow): ApiKey => ({
  id: r.id,
  agentId: r.agent_id,
  scopes: r.scopes.split(",") as Scope[],
  hash: r.hash,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
  parentId: r.parent_id,
});

const toSign = (r: SignRow): SignRecord => ({
  id: r.id,
  agentId: r.agent_id,
  seq: r.seq === null ? null : Number(r.seq),
  kind: r.kind as SignRecord["kind"],
  intent: JSON.parse(r.intent) as SignIntent,
  digest: r.digest,
  spends: spendsFromJson(r.spends),
  status: r.status,
  result: r.result === null ? null : (JSON.parse(r.result) as SignResult),
  signature: r.signature,
  createdMs: Number(r.created_ms),
  reservedMs: r.reserved_ms === null ? null : Number(r.reserved_ms),
  credential: r.credential ?? null,
});

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
  const one = async <R, V>(to: (r: R) => V, text: string, params: Param[]) => {
    const row = await get<R>(text, params);
    return row === undefined ? undefined : to(row);
  };
  const many = async <R, V>(to: (r: R) => V, text: string, params: Param[] = []) =>
    (await all<R>(text, params)).map(to);

  return {
    sql,
    meta: async (k: string) =>
      (await get<{ v: string }>("SELECT v FROM meta WHERE k = $1", [k]))?.v,
    setMeta: async (k: string, v: string) =>
      void (await run(
        "INSERT INTO meta (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
        [k, v],
      )),
    putAgent: async (a: NewAgent) =>
      void (await run(
        `INSERT INTO agents (id, name, address, public_key, created_at, backend, pkp, cluster)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          a.id,
          a.name,
          a.address,
          a.publicKey,
          now(),
          a.backend ?? "local",
          a.pkp === undefined ? null : JSON.stringify(a.pkp),
          a.cluster ?? null,
        ],
      )),
    agent: (id: string) => one(toAgent, "SELECT * FROM agents WHERE id = $1", [id]),
    /** A Lit agent's public key learnt from its first signature, in the agent and its PKP. */
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
    agents: () => many(toAgent, "SELECT * FROM agents ORDER BY created_at, id"),
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
    /**
     * Stores a policy version. `authorization` signs this exact value (policyHash,
     * src/policy/validate.ts), which JSON keeps byte for byte through the round trip.
     */
    putPolicy: async (agentId: string, version: number, policy: Policy, authorization: string) =>
      void (await run(
        `INSERT INTO policies (agent_id, version, policy, "authorization", created_at)
         VALUES ($1, $2, $3, $4, $5)`,
        [agentId, version, JSON.stringify(policy), authorization, now()],
      )),
    /** The policy in force for the agent (its latest version), or undefined. */
    policy: (agentId: string) =>
      one(toPolicy, "SELECT * FROM policies WHERE agent_id = $1 ORDER BY version DESC LIMIT 1", [
        agentId,
      ]),
    putKey: async (k: Omit<ApiKey, "createdAt" | "revokedAt">) =>
      void (await run(
        `INSERT INTO api_keys (id, agent_id, scopes, hash, created_at, parent_id)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [k.id, k.agentId, k.scopes.join(","), k.hash, now(), k.parentId],
      )),
    /** The key and every key issued under it, at any depth, that is not revoked yet. */
    liveDescendants: (id: string) =>
      many(
        (r: { id: string; agent_id: string | null }) => ({ id: r.id, agentId: r.agent_id }),
        `WITH RECURSIVE tree(id) AS (
           SELECT CAST($1 AS TEXT) UNION SELECT k.id FROM api_keys k JOIN tree ON k.parent_id = tree.id)
         SELECT api_keys.id, api_keys.agent_id FROM api_keys JOIN tree USING (id) WHERE revoked_at IS NULL`,
        [id],
      ),
    keyByHash: (hash: string) => one(toKey, "SELECT * FROM api_keys WHERE hash = $1", [hash]),
    key: (id: string) => one(toKey, "SELECT * FROM api_keys WHERE id = $1", [id]),
    revokeKey: async (id: string) =>
      (await run("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", [
        now(),
        id,
      ])) === 1,
    putSign: async (r: NewSignRecord) =>
      void (await run(
        `INSERT INTO sign_requests (id, agent_id, seq, kind, intent, digest, spends, status, result,
           signature, created_ms, credential)
         VALUES ($1, $2, NULL, $3, $4, $5, $6, $7, NULL, NULL, $8, $9)`,
        [
          r.id,
          r.agentId,
          r.kind,
          JSON.stringify(r.intent),
          r.digest,
          spendsToJson(r.spends),
          r.status,
          r.createdMs,
          r.credential ?? null,
        ],
      )),
    sign: (id: string) => one(toSign, "SELECT * FROM sign_requests WHERE id = $1", [id]),
    setSign: async (r: Pick<SignRecord, "id" | "status" | "seq" | "result" | "signature">) =>
      void (await run(
        "UPDATE sign_requests SET status = $1, seq = $2, result = $3, signature = $4 WHERE id = $5",
        [r.status, r.seq, r.result === null ? null : JSON.stringify(r.result), r.signature, r.id],
      )),
    /** What counts against the agent's rolling window since `since` (ms): its spends by time. */
    spendsSince: (agentId: string, since: number) =>
      many(
        (r: { ts: number; spends: string }) => ({
          ts: Number(r.ts),
          spends: spendsFromJson(r.spends),
        }),
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
      one(
        toSign,
        "SELECT * FROM sign_requests WHERE agent_id = $1 AND digest = $2 AND status = 'signed' LIMIT 1",
        [agentId, digest],
      ),
    signedRange: (agentId: string, from: number, to: number) =>
      many(
        (r: { seq: number; intent: string; signature: string }): SignedEntry => ({
          seq: Number(r.seq),
          intent: JSON.parse(r.intent) as SignIntent,
          signature: r.signature,
        }),
        `SELECT seq, intent, signature FROM sign_requests
         WHERE agent_id = $1 AND seq BETWEEN $2 AND $3 AND status = 'signed' ORDER BY seq`,
        [agentId, from, to],
      ),
    incomplete: (agentId: string) =>
      many(
        toSign,
        "SELECT * FROM sign_requests WHERE agent_id = $1 AND status = 'incomplete' ORDER BY seq",
        [agentId],
      ),
    /** Reserved requests that never reached the cluster (the vault stopped in between). */
    stranded: () =>
      many(
        (r: { id: string; agent_id: string }) => ({ id: r.id, agentId: r.agent_id }),
        "SELECT id, agent_id FROM sign_requests WHERE status = 'reserved'",
      ),
    agentsWithIncomplete: async () =>
      (
        await all<{ agent_id: string }>(
          "SELECT DISTINCT agent_id FROM sign_requests WHERE status = 'incomplete'",
        )
      ).map((r) => r.agent_id),
    putNode: async (cluster: string, node: PinnedNode) =>
      void (await run(
        `INSERT INTO signer_nodes (cluster, idx, url, signing_key, agreement_key)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (cluster, idx) DO UPDATE SET url = excluded.url`,
        [cluster, node.idx, node.url, node.signingKey, node.agreementKey],
      )),
    /** The node identities pinned for a cluster. */
    nodes: (cluster: string) =>
      many(
        (r: { idx: number; url: string; signing_key: string; agreement_key: string }) => ({
          idx: Number(r.idx),
          url: r.url,
          signingKey: r.signing_key,
          agreementKey: r.agreement_key,
        }),
        "SELECT * FROM signer_nodes WHERE cluster = $1 ORDER BY idx",
        [cluster],
      ),
  };
}

export type VaultStore = Awaited<ReturnType<typeof openVaultStore>>;
