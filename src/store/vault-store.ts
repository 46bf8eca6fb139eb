/**
 * The vault's own tables: agents and their versioned policies (with the admin
 * authorizations that nodes require), API keys (hashes only), sign requests (the
 * budget ledger, per-agent sequence numbers, approvals and results) and the pinned
 * signer-node identities.
 */
import { addColumnIfMissing, type Db, inTransaction } from "./db.js";

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

export function migrateVaultStore(db: Db): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS agents (
      id TEXT PRIMARY KEY, name TEXT NOT NULL, address TEXT NOT NULL, public_key TEXT NOT NULL,
      created_at TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS policies (
      agent_id TEXT NOT NULL REFERENCES agents(id), version INTEGER NOT NULL, policy TEXT NOT NULL,
      authorization TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (agent_id, version));
    CREATE TABLE IF NOT EXISTS api_keys (
      id TEXT PRIMARY KEY, agent_id TEXT REFERENCES agents(id), scopes TEXT NOT NULL,
      hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, revoked_at TEXT, parent_id TEXT);
    CREATE TABLE IF NOT EXISTS sign_requests (
      id TEXT PRIMARY KEY, agent_id TEXT NOT NULL REFERENCES agents(id), seq INTEGER,
      kind TEXT NOT NULL, intent TEXT NOT NULL, digest TEXT NOT NULL, spends TEXT NOT NULL,
      status TEXT NOT NULL, result TEXT, signature TEXT, created_ms INTEGER NOT NULL,
      UNIQUE (agent_id, seq));
    CREATE INDEX IF NOT EXISTS sign_requests_window ON sign_requests (agent_id, created_ms);
    CREATE INDEX IF NOT EXISTS sign_requests_digest ON sign_requests (agent_id, digest);
  `);
  // Databases from before key lineage was recorded.
  addColumnIfMissing(db, "api_keys", "parent_id", "TEXT");
  // When an approved request was reserved: its spends count in the rolling window from then
  // (the value moves at approval, not when the request parked). Null: at created_ms.
  addColumnIfMissing(db, "sign_requests", "reserved_ms", "INTEGER");
  // The credential (key id, "jwt:<jti>", ...) that made the request, re-checked at approval.
  addColumnIfMissing(db, "sign_requests", "credential", "TEXT");
  // Signer backends (issue 10): agents made before them are local, with no PKP.
  addColumnIfMissing(db, "agents", "backend", "TEXT NOT NULL DEFAULT 'local'");
  addColumnIfMissing(db, "agents", "pkp", "TEXT");
  db.exec(
    "CREATE INDEX IF NOT EXISTS sign_requests_reserved ON sign_requests (agent_id, reserved_ms)",
  );
  migrateClusters(db);
}

/**
 * Several signer clusters: each local agent records its cluster, and node identities are
 * pinned per cluster. Before, there was one cluster, c0 (src/config/clusters.ts): its pins,
 * its agents and the checkpoint key (meta home_cluster) are recorded as c0's.
 */
function migrateClusters(db: Db): void {
  addColumnIfMissing(db, "agents", "cluster", "TEXT");
  db.exec(`
    UPDATE agents SET cluster = 'c0' WHERE cluster IS NULL AND backend = 'local';
    INSERT OR IGNORE INTO meta (k, v) SELECT 'home_cluster', 'c0' FROM meta WHERE k = 'cluster_address';`);
  db.exec(`
    CREATE TABLE IF NOT EXISTS signer_nodes (
      cluster TEXT NOT NULL, idx INTEGER NOT NULL, url TEXT NOT NULL, signing_key TEXT NOT NULL,
      agreement_key TEXT NOT NULL, PRIMARY KEY (cluster, idx));`);
  const old = db.prepare(
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cluster_nodes'",
  );
  if (!old.get()) return;
  inTransaction(db, () =>
    db.exec(`
      INSERT OR IGNORE INTO signer_nodes (cluster, idx, url, signing_key, agreement_key)
        SELECT 'c0', idx, url, signing_key, agreement_key FROM cluster_nodes;
      DROP TABLE cluster_nodes;`),
  );
}

export function createVaultStore(db: Db) {
  migrateVaultStore(db);
  const q = {
    getMeta: db.prepare("SELECT v FROM meta WHERE k = ?"),
    setMeta: db.prepare(
      "INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
    ),
    putAgent: db.prepare(
      "INSERT INTO agents (id, name, address, public_key, created_at, backend, pkp, cluster) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    getAgent: db.prepare("SELECT * FROM agents WHERE id = ?"),
    // A Lit agent's public key learnt from its first signature, in the row and its PKP JSON.
    setAgentPublicKey: db.prepare(
      `UPDATE agents SET public_key = @key,
         pkp = CASE WHEN pkp IS NULL THEN NULL ELSE json_set(pkp, '$.publicKey', @key) END
       WHERE id = @id AND public_key = ''`,
    ),
    listAgents: db.prepare("SELECT * FROM agents ORDER BY created_at, id"),
    agentsPerCluster: db.prepare(
      "SELECT cluster, count(*) AS n FROM agents WHERE backend = 'local' AND cluster IS NOT NULL GROUP BY cluster",
    ),
    putPolicy: db.prepare(
      "INSERT INTO policies (agent_id, version, policy, authorization, created_at) VALUES (?, ?, ?, ?, ?)",
    ),
    latestPolicy: db.prepare(
      "SELECT * FROM policies WHERE agent_id = ? ORDER BY version DESC LIMIT 1",
    ),
    putKey: db.prepare(
      "INSERT INTO api_keys (id, agent_id, scopes, hash, created_at, parent_id) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    // The key and every key issued under it, at any depth, that is not revoked yet.
    liveDescendants: db.prepare(
      `WITH RECURSIVE tree(id) AS (SELECT ? UNION SELECT k.id FROM api_keys k JOIN tree ON k.parent_id = tree.id)
       SELECT api_keys.id, api_keys.agent_id FROM api_keys JOIN tree USING (id) WHERE revoked_at IS NULL`,
    ),
    keyByHash: db.prepare("SELECT * FROM api_keys WHERE hash = ?"),
    getKey: db.prepare("SELECT * FROM api_keys WHERE id = ?"),
    revokeKey: db.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"),
    putSign: db.prepare(
      `INSERT INTO sign_requests (id, agent_id, seq, kind, intent, digest, spends, status, result, signature, created_ms, credential)
       VALUES (@id, @agent_id, @seq, @kind, @intent, @digest, @spends, @status, @result, @signature, @created_ms, @credential)`,
    ),
    getSign: db.prepare("SELECT * FROM sign_requests WHERE id = ?"),
    setSignStatus: db.prepare(
      "UPDATE sign_requests SET status = @status, seq = @seq, result = @result, signature = @signature WHERE id = @id",
    ),
    setReservedAt: db.prepare("UPDATE sign_requests SET reserved_ms = ? WHERE id = ?"),
    spendsSince: db.prepare(
      `SELECT coalesce(reserved_ms, created_ms) AS ts, spends FROM sign_requests
       WHERE agent_id = @agentId AND (created_ms > @since OR reserved_ms > @since)
         AND status IN ('reserved', 'signed', 'incomplete')`,
    ),
    requestsSince: db.prepare(
      "SELECT count(*) AS n FROM sign_requests WHERE agent_id = ? AND created_ms > ?",
    ),
    lastSeq: db.prepare("SELECT coalesce(max(seq), 0) AS s FROM sign_requests WHERE agent_id = ?"),
    signedByDigest: db.prepare(
      "SELECT * FROM sign_requests WHERE agent_id = ? AND digest = ? AND status = 'signed' LIMIT 1",
    ),
    signedRange: db.prepare(
      `SELECT seq, intent, signature FROM sign_requests
       WHERE agent_id = ? AND seq BETWEEN ? AND ? AND status = 'signed' ORDER BY seq`,
    ),
    incomplete: db.prepare(
      "SELECT * FROM sign_requests WHERE agent_id = ? AND status = 'incomplete' ORDER BY seq",
    ),
    stranded: db.prepare("SELECT id, agent_id FROM sign_requests WHERE status = 'reserved'"),
    agentsWithIncomplete: db.prepare(
      "SELECT DISTINCT agent_id FROM sign_requests WHERE status = 'incomplete'",
    ),
    putNode: db.prepare(
      `INSERT INTO signer_nodes (cluster, idx, url, signing_key, agreement_key) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(cluster, idx) DO UPDATE SET url = excluded.url`,
    ),
    listNodes: db.prepare("SELECT * FROM signer_nodes WHERE cluster = ? ORDER BY idx"),
  };
  const now = () => new Date().toISOString();

  return {
    db,
    meta: (k: string) => (q.getMeta.get(k) as { v: string } | undefined)?.v,
    setMeta: (k: string, v: string) => void q.setMeta.run(k, v),
    putAgent: (
      a: Omit<AgentRow, "created_at" | "backend" | "pkp" | "cluster"> &
        Partial<Pick<AgentRow, "backend" | "pkp" | "cluster">>,
    ) =>
      void q.putAgent.run(
        a.id,
        a.name,
        a.address,
        a.public_key,
        now(),
        a.backend ?? "local",
        a.pkp ?? null,
        a.cluster ?? null,
      ),
    agent: (id: string) => q.getAgent.get(id) as AgentRow | undefined,
    setAgentPublicKey: (id: string, key: string) => void q.setAgentPublicKey.run({ id, key }),
    agents: () => q.listAgents.all() as AgentRow[],
    /** How many local agents each signer cluster holds. */
    agentsPerCluster: () =>
      new Map(
        (q.agentsPerCluster.all() as Array<{ cluster: string; n: number }>).map((r) => [
          r.cluster,
          r.n,
        ]),
      ),
    putPolicy: (agentId: string, version: number, policy: string, authorization: string) =>
      void q.putPolicy.run(agentId, version, policy, authorization, now()),
    policy: (agentId: string) => q.latestPolicy.get(agentId) as PolicyRow | undefined,
    putKey: (k: Omit<ApiKeyRow, "created_at" | "revoked_at">) =>
      void q.putKey.run(k.id, k.agent_id, k.scopes, k.hash, now(), k.parent_id),
    liveDescendants: (id: string) =>
      q.liveDescendants.all(id) as Array<{ id: string; agent_id: string | null }>,
    keyByHash: (hash: string) => q.keyByHash.get(hash) as ApiKeyRow | undefined,
    key: (id: string) => q.getKey.get(id) as ApiKeyRow | undefined,
    revokeKey: (id: string) => q.revokeKey.run(now(), id).changes === 1,
    putSign: (row: SignRow) => void q.putSign.run({ credential: null, ...row }),
    sign: (id: string) => q.getSign.get(id) as SignRow | undefined,
    setSign: (row: Pick<SignRow, "id" | "status" | "seq" | "result" | "signature">) =>
      void q.setSignStatus.run(row),
    spendsSince: (agentId: string, since: number) =>
      q.spendsSince.all({ agentId, since }) as Array<{ ts: number; spends: string }>,
    /** An approved request is counted in the window from `ms`, its approval. */
    setReservedAt: (id: string, ms: number) => void q.setReservedAt.run(ms, id),
    requestsSince: (agentId: string, since: number) =>
      (q.requestsSince.get(agentId, since) as { n: number }).n,
    lastSeq: (agentId: string) => (q.lastSeq.get(agentId) as { s: number }).s,
    signedByDigest: (agentId: string, digest: string) =>
      q.signedByDigest.get(agentId, digest) as SignRow | undefined,
    signedRange: (agentId: string, from: number, to: number) =>
      q.signedRange.all(agentId, from, to) as Array<{
        seq: number;
        intent: string;
        signature: string;
      }>,
    incomplete: (agentId: string) => q.incomplete.all(agentId) as SignRow[],
    /** Reserved rows that never reached the cluster (the vault stopped in between). */
    stranded: () => q.stranded.all() as Array<{ id: string; agent_id: string }>,
    agentsWithIncomplete: () =>
      (q.agentsWithIncomplete.all() as Array<{ agent_id: string }>).map((r) => r.agent_id),
    putNode: (
      cluster: string,
      idx: number,
      url: string,
      signingKey: string,
      agreementKey: string,
    ) => void q.putNode.run(cluster, idx, url, signingKey, agreementKey),
    /** The node identities pinned for a cluster. */
    nodes: (cluster: string) =>
      q.listNodes.all(cluster) as Array<{
        idx: number;
        url: string;
        signing_key: string;
        agreement_key: string;
      }>,
  };
}

export type VaultStore = ReturnType<typeof createVaultStore>;
