/**
 * The vault's delegation tables (README "Delegation chains"):
 *  - delegation_keys: each agent's Ed25519 delegation key, the private half as encrypted
 *    PKCS#8 (the passphrase lives outside the database, as for token keys);
 *  - delegations: the root delegations this vault signed, for listing and revocation;
 *  - delegation_revocations: revoked link CIDs (any link, root or re-delegated);
 *  - delegation_invocations: invocation CIDs already used, kept until they expire;
 *  - delegation_status: the status-list indexes handed out (one per root);
 *  - sign_links: which links each sign request went through, so a spend counts against
 *    the budget of every link in its chain.
 * Behind the storage seam (src/store/sql): SQLite or PostgreSQL.
 */
import { spendsFromJson } from "../policy/spends.js";
import type { Spend } from "../policy/types.js";
import { addColumnIfMissing, type Migration, migrate } from "./sql/migrate.js";
import type { Sql } from "./sql/types.js";

/** A delegation link as a budget: its CID and, when it states them, its own caps. */
export interface LinkBudget {
  cid: string;
  caps?: Record<string, { maxPerTx: string; maxPer24h: string }>;
  /** A link that stops counting as a budget at this time (a mandate): refused after. */
  expiresMs?: number;
}

export interface DelegationRow {
  cid: string;
  agent_id: string;
  audience: string;
  token: string;
  expires_ms: number;
  created_ms: number;
}

const tables = (
  int: "INTEGER" | "BIGINT",
  serial: string,
) => `CREATE TABLE IF NOT EXISTS delegation_keys (
  agent_id TEXT PRIMARY KEY, did TEXT NOT NULL UNIQUE, private_pem TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS delegations (
  cid TEXT PRIMARY KEY, agent_id TEXT NOT NULL, audience TEXT NOT NULL, token TEXT NOT NULL,
  expires_ms ${int} NOT NULL, created_ms ${int} NOT NULL, status_idx INTEGER);
CREATE TABLE IF NOT EXISTS delegation_revocations (
  cid TEXT PRIMARY KEY, revoked_ms ${int} NOT NULL, actor TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS delegation_invocations (
  cid TEXT PRIMARY KEY, expires_ms ${int} NOT NULL);
CREATE TABLE IF NOT EXISTS delegation_status (
  idx ${serial}, created_ms ${int} NOT NULL);
CREATE TABLE IF NOT EXISTS sign_links (
  request_id TEXT NOT NULL, cid TEXT NOT NULL, hop INTEGER, caps TEXT, expires_ms ${int},
  PRIMARY KEY (cid, request_id))`;

/** Version 1 is the schema as the last build before the storage seam left it. */
export const DELEGATION_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "delegations",
    sqlite: tables("INTEGER", "INTEGER PRIMARY KEY AUTOINCREMENT"),
    // No sequence: rows copied in (agent-vault db copy) would not move it on.
    postgres: tables("BIGINT", "BIGINT PRIMARY KEY"),
  },
];

/**
 * Brings a SQLite file an earlier build made up to version 1: the columns it added over
 * time. Idempotent; a new file has no tables yet and is left alone.
 */
export async function adoptEarlierDelegations(sql: Sql): Promise<void> {
  if (sql.dialect !== "sqlite") return;
  await sql.transaction(async () => {
    // The status-list index a root delegation records (set when the root is stored).
    await addColumnIfMissing(sql, "delegations", "status_idx", "INTEGER");
    // A link's place in the chain and its own caps: an approval re-checks its budget.
    await addColumnIfMissing(sql, "sign_links", "hop", "INTEGER");
    await addColumnIfMissing(sql, "sign_links", "caps", "TEXT");
    await addColumnIfMissing(sql, "sign_links", "expires_ms", "INTEGER");
  });
}

export interface DelegationStore {
  /** Runs `fn` in one transaction (the store's calls and the audit log's join it). */
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  /** A fresh status-list index (0-based) for a root about to be signed. */
  newStatusIndex(now: number): Promise<number>;
  setStatusIndex(cid: string, idx: number): Promise<void>;
  /** Status-list indexes of revoked roots. */
  revokedIndexes(): Promise<number[]>;
  /**
   * Stores the agent's delegation key unless it has one already; the key it has after
   * (another process may have stored one first).
   */
  putKey(
    agentId: string,
    did: string,
    privatePem: string,
  ): Promise<{ did: string; private_pem: string }>;
  key(agentId: string): Promise<{ did: string; private_pem: string } | undefined>;
  agentOfDid(did: string): Promise<string | undefined>;
  put(row: DelegationRow): Promise<void>;
  get(cid: string): Promise<DelegationRow | undefined>;
  list(agentId: string): Promise<DelegationRow[]>;
  /** True when this call revoked it (false: it already was). */
  revoke(cid: string, at: number, actor: string): Promise<boolean>;
  revokedAt(cid: string): Promise<number | undefined>;
  /** The first of `cids` that is revoked, by its index, or -1. */
  firstRevoked(cids: readonly string[]): Promise<number>;
  /** True the first time an invocation CID is used; false for a replay. */
  useInvocation(cid: string, expiresMs: number, now: number): Promise<boolean>;
  putLinks(requestId: string, links: LinkBudget[]): Promise<void>;
  /** The links a request went through, root first, with their own caps. */
  linksOf(requestId: string): Promise<LinkBudget[]>;
  spendsVia(cid: string, since: number): Promise<Array<{ ts: number; spends: Spend[] }>>;
  requestsVia(cid: string, since: number): Promise<number>;
}

/** Opens the delegation tables on `sql`, migrating them first. */
export async function openDelegationStore(sql: Sql): Promise<DelegationStore> {
  await adoptEarlierDelegations(sql);
  await migrate(sql, "delegations", DELEGATION_MIGRATIONS);
  return createDelegationStore(sql);
}

const num = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));

function createDelegationStore(sql: Sql): DelegationStore {
  const key = (agentId: string) =>
    sql.get<{ did: string; private_pem: string }>(
      "SELECT did, private_pem FROM delegation_keys WHERE agent_id = $1",
      [agentId],
    );
  const row = (r: DelegationRow): DelegationRow => ({
    ...r,
    expires_ms: Number(r.expires_ms),
    created_ms: Number(r.created_ms),
  });
  const COLUMNS = "cid, agent_id, audience, token, expires_ms, created_ms";
  return {
    transaction: (fn) => sql.transaction(() => fn()),
    newStatusIndex: (now) =>
      sql.transaction(async (tx) => {
        await tx.lock("delegation_status");
        const r = await tx.get<{ idx: number }>(
          `INSERT INTO delegation_status (idx, created_ms)
           SELECT coalesce(max(idx), 0) + 1, CAST($1 AS BIGINT) FROM delegation_status
           RETURNING idx`,
          [now],
        );
        return Number(r?.idx) - 1;
      }),
    async setStatusIndex(cid, idx) {
      await sql.run("UPDATE delegations SET status_idx = $1 WHERE cid = $2", [idx, cid]);
    },
    async revokedIndexes() {
      const rows = await sql.all<{ status_idx: number }>(
        `SELECT d.status_idx FROM delegations d JOIN delegation_revocations r ON r.cid = d.cid
         WHERE d.status_idx IS NOT NULL`,
      );
      return rows.map((r) => Number(r.status_idx));
    },
    async putKey(agentId, did, privatePem) {
      await sql.run(
        `INSERT INTO delegation_keys (agent_id, did, private_pem) VALUES ($1, $2, $3)
         ON CONFLICT (agent_id) DO NOTHING`,
        [agentId, did, privatePem],
      );
      const stored = await key(agentId);
      if (!stored) throw new Error(`the delegation key of ${agentId} was not stored`);
      return stored;
    },
    key,
    agentOfDid: async (did) =>
      (
        await sql.get<{ agent_id: string }>("SELECT agent_id FROM delegation_keys WHERE did = $1", [
          did,
        ])
      )?.agent_id,
    async put(r) {
      await sql.run(
        `INSERT INTO delegations (cid, agent_id, audience, token, expires_ms, created_ms)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (cid) DO NOTHING`,
        [r.cid, r.agent_id, r.audience, r.token, r.expires_ms, r.created_ms],
      );
    },
    async get(cid) {
      const r = await sql.get<DelegationRow>(`SELECT ${COLUMNS} FROM delegations WHERE cid = $1`, [
        cid,
      ]);
      return r && row(r);
    },
    async list(agentId) {
      const rows = await sql.all<DelegationRow>(
        `SELECT ${COLUMNS} FROM delegations WHERE agent_id = $1 ORDER BY created_ms, cid`,
        [agentId],
      );
      return rows.map(row);
    },
    async revoke(cid, at, actor) {
      const { changes } = await sql.run(
        `INSERT INTO delegation_revocations (cid, revoked_ms, actor) VALUES ($1, $2, $3)
         ON CONFLICT (cid) DO NOTHING`,
        [cid, at, actor],
      );
      return changes === 1;
    },
    revokedAt: async (cid) =>
      num(
        (
          await sql.get<{ revoked_ms: number }>(
            "SELECT revoked_ms FROM delegation_revocations WHERE cid = $1",
            [cid],
          )
        )?.revoked_ms,
      ),
    async firstRevoked(cids) {
      if (cids.length === 0) return -1;
      const marks = cids.map((_, i) => `$${i + 1}`).join(", ");
      const rows = await sql.all<{ cid: string }>(
        `SELECT cid FROM delegation_revocations WHERE cid IN (${marks})`,
        [...cids],
      );
      const revoked = new Set(rows.map((r) => r.cid));
      return cids.findIndex((c) => revoked.has(c));
    },
    async useInvocation(cid, expiresMs, now) {
      await sql.run("DELETE FROM delegation_invocations WHERE expires_ms < $1", [now]);
      const { changes } = await sql.run(
        `INSERT INTO delegation_invocations (cid, expires_ms) VALUES ($1, $2)
         ON CONFLICT (cid) DO NOTHING`,
        [cid, expiresMs],
      );
      return changes === 1;
    },
    async putLinks(requestId, links) {
      if (links.length === 0) return;
      await sql.transaction(async () => {
        for (const [hop, l] of links.entries())
          await sql.run(
            `INSERT INTO sign_links (request_id, cid, hop, caps, expires_ms)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (cid, request_id) DO NOTHING`,
            [requestId, l.cid, hop, l.caps ? JSON.stringify(l.caps) : null, l.expiresMs ?? null],
          );
      });
    },
    async linksOf(requestId) {
      const rows = await sql.all<{ cid: string; caps: string | null; expires_ms: number | null }>(
        "SELECT cid, caps, expires_ms FROM sign_links WHERE request_id = $1 ORDER BY hop",
        [requestId],
      );
      return rows.map((r) => ({
        cid: r.cid,
        ...(r.caps === null ? {} : { caps: JSON.parse(r.caps) }),
        ...(r.expires_ms === null ? {} : { expiresMs: Number(r.expires_ms) }),
      }));
    },
    // The same rows and statuses the agent's own window counts (vault-store spendsSince).
    async spendsVia(cid, since) {
      const rows = await sql.all<{ ts: number; spends: string }>(
        `SELECT coalesce(s.reserved_ms, s.created_ms) AS ts, s.spends FROM sign_links l
         JOIN sign_requests s ON s.id = l.request_id
         WHERE l.cid = $1 AND (s.created_ms > $2 OR s.reserved_ms > $2)
           AND s.status IN ('reserved', 'signed', 'incomplete')`,
        [cid, since],
      );
      return rows.map((r) => ({ ts: Number(r.ts), spends: spendsFromJson(r.spends) }));
    },
    async requestsVia(cid, since) {
      const r = await sql.get<{ n: number }>(
        `SELECT count(*) AS n FROM sign_links l JOIN sign_requests s ON s.id = l.request_id
         WHERE l.cid = $1 AND s.created_ms > $2`,
        [cid, since],
      );
      return Number(r?.n ?? 0);
    },
  };
}
