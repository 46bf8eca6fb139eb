/**
 * The vault's delegation tables (README "Delegation chains"):
 *  - delegation_keys: each agent's Ed25519 delegation key, the private half as encrypted
 *    PKCS#8 (the passphrase lives outside the database, as for token keys);
 *  - delegations: the root delegations this vault signed, for listing and revocation;
 *  - delegation_revocations: revoked link CIDs (any link, root or re-delegated);
 *  - delegation_invocations: invocation CIDs already used, kept until they expire;
 *  - sign_links: which links each sign request went through, so a spend counts against
 *    the budget of every link in its chain.
 */
import { addColumnIfMissing, type Db } from "./db.js";

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

export function createDelegationStore(db: Db) {
  db.exec(`
    CREATE TABLE IF NOT EXISTS delegation_keys (
      agent_id TEXT PRIMARY KEY, did TEXT NOT NULL UNIQUE, private_pem TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS delegations (
      cid TEXT PRIMARY KEY, agent_id TEXT NOT NULL, audience TEXT NOT NULL, token TEXT NOT NULL,
      expires_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS delegation_revocations (
      cid TEXT PRIMARY KEY, revoked_ms INTEGER NOT NULL, actor TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS delegation_invocations (
      cid TEXT PRIMARY KEY, expires_ms INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS delegation_status (
      idx INTEGER PRIMARY KEY AUTOINCREMENT, created_ms INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS sign_links (
      request_id TEXT NOT NULL, cid TEXT NOT NULL, PRIMARY KEY (cid, request_id));
  `);
  // The status-list index a root delegation records (set when the root is stored).
  addColumnIfMissing(db, "delegations", "status_idx", "INTEGER");
  // A link's place in the chain and its own caps: an approval re-checks its budget.
  addColumnIfMissing(db, "sign_links", "hop", "INTEGER");
  addColumnIfMissing(db, "sign_links", "caps", "TEXT");
  addColumnIfMissing(db, "sign_links", "expires_ms", "INTEGER");
  const q = {
    newStatusIndex: db.prepare("INSERT INTO delegation_status (created_ms) VALUES (?)"),
    setStatusIndex: db.prepare("UPDATE delegations SET status_idx = ? WHERE cid = ?"),
    revokedIndexes: db
      .prepare(
        `SELECT d.status_idx FROM delegations d JOIN delegation_revocations r ON r.cid = d.cid
         WHERE d.status_idx IS NOT NULL`,
      )
      .pluck(),
    putKey: db.prepare("INSERT INTO delegation_keys (agent_id, did, private_pem) VALUES (?, ?, ?)"),
    key: db.prepare("SELECT did, private_pem FROM delegation_keys WHERE agent_id = ?"),
    agentOfDid: db.prepare("SELECT agent_id FROM delegation_keys WHERE did = ?").pluck(),
    put: db.prepare(
      `INSERT OR IGNORE INTO delegations (cid, agent_id, audience, token, expires_ms, created_ms)
       VALUES (@cid, @agent_id, @audience, @token, @expires_ms, @created_ms)`,
    ),
    get: db.prepare("SELECT * FROM delegations WHERE cid = ?"),
    list: db.prepare("SELECT * FROM delegations WHERE agent_id = ? ORDER BY created_ms, cid"),
    revoke: db.prepare(
      "INSERT OR IGNORE INTO delegation_revocations (cid, revoked_ms, actor) VALUES (?, ?, ?)",
    ),
    revoked: db.prepare("SELECT revoked_ms FROM delegation_revocations WHERE cid = ?").pluck(),
    useInvocation: db.prepare(
      "INSERT OR IGNORE INTO delegation_invocations (cid, expires_ms) VALUES (?, ?)",
    ),
    purgeInvocations: db.prepare("DELETE FROM delegation_invocations WHERE expires_ms < ?"),
    putLink: db.prepare(
      "INSERT OR IGNORE INTO sign_links (request_id, cid, hop, caps, expires_ms) VALUES (?, ?, ?, ?, ?)",
    ),
    linksOf: db.prepare(
      "SELECT cid, caps, expires_ms FROM sign_links WHERE request_id = ? ORDER BY hop",
    ),
    // The same rows and statuses the agent's own window counts (vault-store spendsSince).
    spendsVia: db.prepare(
      `SELECT coalesce(s.reserved_ms, s.created_ms) AS ts, s.spends FROM sign_links l
       JOIN sign_requests s ON s.id = l.request_id
       WHERE l.cid = @cid AND (s.created_ms > @since OR s.reserved_ms > @since)
         AND s.status IN ('reserved', 'signed', 'incomplete')`,
    ),
    requestsVia: db
      .prepare(
        `SELECT count(*) FROM sign_links l JOIN sign_requests s ON s.id = l.request_id
       WHERE l.cid = ? AND s.created_ms > ?`,
      )
      .pluck(),
  };
  return {
    /** A fresh status-list index (0-based) for a root about to be signed. */
    newStatusIndex: (now: number) => Number(q.newStatusIndex.run(now).lastInsertRowid) - 1,
    setStatusIndex: (cid: string, idx: number) => void q.setStatusIndex.run(idx, cid),
    /** Status-list indexes of revoked roots. */
    revokedIndexes: () => q.revokedIndexes.all() as number[],
    putKey: (agentId: string, did: string, privatePem: string) =>
      void q.putKey.run(agentId, did, privatePem),
    key: (agentId: string) =>
      q.key.get(agentId) as { did: string; private_pem: string } | undefined,
    agentOfDid: (did: string) => q.agentOfDid.get(did) as string | undefined,
    put: (row: DelegationRow) => void q.put.run(row),
    get: (cid: string) => q.get.get(cid) as DelegationRow | undefined,
    list: (agentId: string) => q.list.all(agentId) as DelegationRow[],
    /** True when this call revoked it (false: it already was). */
    revoke: (cid: string, at: number, actor: string) => q.revoke.run(cid, at, actor).changes === 1,
    revokedAt: (cid: string) => q.revoked.get(cid) as number | undefined,
    /** True the first time an invocation CID is used; false for a replay. */
    useInvocation: (cid: string, expiresMs: number, now: number) => {
      q.purgeInvocations.run(now);
      return q.useInvocation.run(cid, expiresMs).changes === 1;
    },
    putLinks: (requestId: string, links: LinkBudget[]) => {
      for (const [hop, l] of links.entries())
        q.putLink.run(
          requestId,
          l.cid,
          hop,
          l.caps ? JSON.stringify(l.caps) : null,
          l.expiresMs ?? null,
        );
    },
    /** The links a request went through, root first, with their own caps. */
    linksOf: (requestId: string): LinkBudget[] =>
      (
        q.linksOf.all(requestId) as Array<{
          cid: string;
          caps: string | null;
          expires_ms: number | null;
        }>
      ).map((r) => ({
        cid: r.cid,
        ...(r.caps === null ? {} : { caps: JSON.parse(r.caps) }),
        ...(r.expires_ms === null ? {} : { expiresMs: r.expires_ms }),
      })),
    spendsVia: (cid: string, since: number) =>
      q.spendsVia.all({ cid, since }) as Array<{ ts: number; spends: string }>,
    requestsVia: (cid: string, since: number) => q.requestsVia.get(cid, since) as number,
  };
}

export type DelegationStore = ReturnType<typeof createDelegationStore>;
