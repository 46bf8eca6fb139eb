/**
 * The token ledger in SQLite: tokens this vault issued (with the API key each was issued
 * against, so revoking the key revokes them) and the revocation list, read on every
 * request (one primary-key lookup). Revocations are audited in the same transaction.
 */
import type { AuditLog } from "../../audit/types.js";
import { addColumnIfMissing, type Db } from "../../store/db.js";
import { EXTERNAL_MAX_AGE_SECONDS } from "./types.js";

export interface IssuedRecord {
  jti: string;
  agent_id: string;
  kid: string;
  capabilities: string;
  task: string | null;
  audience: string;
  issued_ms: number;
  exp_ms: number;
  actor: string;
  key_id: string;
}

export interface TokenLedger {
  /** Records an issued token (call inside the issuing transaction). */
  record(row: IssuedRecord): void;
  issuedFor(jti: string): { agentId: string } | undefined;
  isRevoked(jti: string): boolean;
  revoke(jti: string, actor: string): { jti: string; revoked: boolean };
  revokeIssuedWith(keyIds: string[], actor: string): string[];
}

export function createTokenLedger(db: Db, audit: AuditLog, now: () => number): TokenLedger {
  db.exec(`
    CREATE TABLE IF NOT EXISTS tokens (
      jti TEXT PRIMARY KEY, agent_id TEXT NOT NULL, kid TEXT NOT NULL, capabilities TEXT NOT NULL,
      task TEXT, audience TEXT NOT NULL, issued_ms INTEGER NOT NULL, exp_ms INTEGER NOT NULL,
      actor TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS token_revocations (
      jti TEXT PRIMARY KEY, revoked_ms INTEGER NOT NULL, exp_ms INTEGER, actor TEXT NOT NULL);
  `);
  // The API key a token was issued against: revoking the key revokes its live tokens.
  addColumnIfMissing(db, "tokens", "key_id", "TEXT");
  const q = {
    put: db.prepare(
      `INSERT INTO tokens (jti, agent_id, kid, capabilities, task, audience, issued_ms, exp_ms, actor, key_id)
       VALUES (@jti, @agent_id, @kid, @capabilities, @task, @audience, @issued_ms, @exp_ms, @actor, @key_id)`,
    ),
    liveByKey: db.prepare(
      "SELECT jti, agent_id, exp_ms FROM tokens WHERE key_id = ? AND exp_ms > ?",
    ),
    get: db.prepare("SELECT agent_id, exp_ms FROM tokens WHERE jti = ?"),
    revoked: db.prepare("SELECT 1 FROM token_revocations WHERE jti = ?").pluck(),
    revoke: db.prepare(
      "INSERT OR IGNORE INTO token_revocations (jti, revoked_ms, exp_ms, actor) VALUES (?, ?, ?, ?)",
    ),
    prune: db.prepare("DELETE FROM token_revocations WHERE exp_ms < ?"),
    pruneIssued: db.prepare("DELETE FROM tokens WHERE exp_ms < ?"),
  };
  const isRevoked = (jti: string) => q.revoked.get(jti) !== undefined;

  return {
    record(row) {
      // Expired an hour ago: no longer verifiable, nothing left to revoke.
      q.pruneIssued.run(now() - 3_600_000);
      q.put.run(row);
    },

    issuedFor(jti) {
      const row = q.get.get(jti) as { agent_id: string } | undefined;
      return row ? { agentId: row.agent_id } : undefined;
    },

    isRevoked,

    revoke(jti, actor) {
      const row = q.get.get(jti) as { agent_id: string; exp_ms: number } | undefined;
      const revoked = db
        .transaction(() => {
          q.prune.run(now());
          // A foreign jti's exp is unknown: keep its revocation as long as such a token lives.
          const exp = row?.exp_ms ?? now() + (EXTERNAL_MAX_AGE_SECONDS + 60) * 1000;
          const changed = q.revoke.run(jti, now(), exp, actor).changes === 1;
          if (changed) {
            audit.append({
              type: "token.revoked",
              agentId: row?.agent_id ?? null,
              actor,
              data: { jti, issuedHere: row !== undefined },
            });
          }
          return changed;
        })
        .immediate();
      return { jti, revoked: revoked || isRevoked(jti) };
    },

    revokeIssuedWith(keyIds, actor) {
      return db.transaction(() => {
        const jtis: string[] = [];
        for (const keyId of keyIds) {
          const live = q.liveByKey.all(keyId, now()) as Array<{
            jti: string;
            agent_id: string;
            exp_ms: number;
          }>;
          for (const t of live) {
            if (q.revoke.run(t.jti, now(), t.exp_ms, actor).changes !== 1) continue;
            audit.append({
              type: "token.revoked",
              agentId: t.agent_id,
              actor,
              data: { jti: t.jti, issuedHere: true, because: keyId },
            });
            jtis.push(t.jti);
          }
        }
        return jtis;
      })();
    },
  };
}
