/**
 * The token ledger, behind the storage seam (src/store/sql): tokens this vault issued (with
 * the API key each was issued against, so revoking the key revokes them) and the revocation
 * list, read on every request (one primary-key lookup). Revocations are audited in the same
 * transaction; on PostgreSQL the list is shared by every vault replica.
 */
import type { AuditLog } from "../../audit/types.js";
import { addColumnIfMissing, type Migration, migrate } from "../../store/sql/migrate.js";
import type { Sql } from "../../store/sql/types.js";
import { KEY_REVOCATION_LOCK } from "../apikey/index.js";
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
  record(row: IssuedRecord): Promise<void>;
  issuedFor(jti: string): Promise<{ agentId: string } | undefined>;
  isRevoked(jti: string): Promise<boolean>;
  revoke(jti: string, actor: string): Promise<{ jti: string; revoked: boolean }>;
  /** Revokes the live tokens issued against these keys (joins a caller's transaction). */
  revokeIssuedWith(keyIds: string[], actor: string): Promise<string[]>;
}

const tables = (ints: "INTEGER" | "BIGINT") => `CREATE TABLE IF NOT EXISTS tokens (
  jti TEXT PRIMARY KEY, agent_id TEXT NOT NULL, kid TEXT NOT NULL, capabilities TEXT NOT NULL,
  task TEXT, audience TEXT NOT NULL, issued_ms ${ints} NOT NULL, exp_ms ${ints} NOT NULL,
  actor TEXT NOT NULL, key_id TEXT);
CREATE TABLE IF NOT EXISTS token_revocations (
  jti TEXT PRIMARY KEY, revoked_ms ${ints} NOT NULL, exp_ms ${ints}, actor TEXT NOT NULL)`;

/**
 * Version 1 is the tables as the latest earlier build made them (IF NOT EXISTS: they did);
 * an older file lacks tokens.key_id, which adoptEarlierTokenLedger adds first.
 */
const INDEXES = `CREATE INDEX IF NOT EXISTS tokens_key ON tokens (key_id, exp_ms);
CREATE INDEX IF NOT EXISTS tokens_exp ON tokens (exp_ms);
CREATE INDEX IF NOT EXISTS token_revocations_exp ON token_revocations (exp_ms)`;

export const TOKEN_LEDGER_MIGRATIONS: Migration[] = [
  { version: 1, name: "tokens", sqlite: tables("INTEGER"), postgres: tables("BIGINT") },
  // Every issue prunes expired tokens, and revoking a key revokes its live tokens: both by
  // index, not by scanning the table.
  { version: 2, name: "token_indexes", sqlite: INDEXES, postgres: INDEXES },
];

/**
 * Brings a SQLite file an earlier build made up to version 1: the API key a token was
 * issued against (tokens.key_id) was added over time. A new file is left alone.
 */
export async function adoptEarlierTokenLedger(sql: Sql): Promise<void> {
  await addColumnIfMissing(sql, "tokens", "key_id", "TEXT");
}

const REVOKE = `INSERT INTO token_revocations (jti, revoked_ms, exp_ms, actor) VALUES ($1, $2, $3, $4)
  ON CONFLICT (jti) DO NOTHING`;

export async function openTokenLedger(
  sql: Sql,
  audit: AuditLog,
  now: () => number,
): Promise<TokenLedger> {
  await adoptEarlierTokenLedger(sql);
  await migrate(sql, "jwt_ledger", TOKEN_LEDGER_MIGRATIONS);
  const isRevoked = async (jti: string) =>
    (await sql.get("SELECT 1 AS hit FROM token_revocations WHERE jti = $1", [jti])) !== undefined;

  return {
    async record(row) {
      // Expired an hour ago: no longer verifiable, nothing left to revoke.
      await sql.run("DELETE FROM tokens WHERE exp_ms < $1", [now() - 3_600_000]);
      await sql.run(
        `INSERT INTO tokens (jti, agent_id, kid, capabilities, task, audience, issued_ms, exp_ms, actor, key_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          row.jti,
          row.agent_id,
          row.kid,
          row.capabilities,
          row.task,
          row.audience,
          row.issued_ms,
          row.exp_ms,
          row.actor,
          row.key_id,
        ],
      );
    },

    async issuedFor(jti) {
      const row = await sql.get<{ agent_id: string }>(
        "SELECT agent_id FROM tokens WHERE jti = $1",
        [jti],
      );
      return row ? { agentId: row.agent_id } : undefined;
    },

    isRevoked,

    async revoke(jti, actor) {
      const row = await sql.get<{ agent_id: string; exp_ms: number }>(
        "SELECT agent_id, exp_ms FROM tokens WHERE jti = $1",
        [jti],
      );
      const revoked = await sql.transaction(async (tx) => {
        // The lock a key's revocation takes before it revokes the key's tokens: one order,
        // so the two never wait on each other's rows and the audit head (a deadlock).
        await tx.lock(KEY_REVOCATION_LOCK);
        await tx.run("DELETE FROM token_revocations WHERE exp_ms < $1", [now()]);
        // A foreign jti's exp is unknown: keep its revocation as long as such a token lives.
        const exp = row ? Number(row.exp_ms) : now() + (EXTERNAL_MAX_AGE_SECONDS + 60) * 1000;
        const changed = (await tx.run(REVOKE, [jti, now(), exp, actor])).changes === 1;
        if (changed) {
          await audit.append({
            type: "token.revoked",
            agentId: row?.agent_id ?? null,
            actor,
            data: { jti, issuedHere: row !== undefined },
          });
        }
        return changed;
      });
      return { jti, revoked: revoked || (await isRevoked(jti)) };
    },

    revokeIssuedWith(keyIds, actor) {
      return sql.transaction(async (tx) => {
        const jtis: string[] = [];
        for (const keyId of keyIds) {
          const live = await tx.all<{ jti: string; agent_id: string; exp_ms: number }>(
            "SELECT jti, agent_id, exp_ms FROM tokens WHERE key_id = $1 AND exp_ms > $2 ORDER BY issued_ms, jti",
            [keyId, now()],
          );
          for (const t of live) {
            if ((await tx.run(REVOKE, [t.jti, now(), Number(t.exp_ms), actor])).changes !== 1)
              continue;
            await audit.append({
              type: "token.revoked",
              agentId: t.agent_id,
              actor,
              data: { jti: t.jti, issuedHere: true, because: keyId },
            });
            jtis.push(t.jti);
          }
        }
        return jtis;
      });
    },
  };
}
