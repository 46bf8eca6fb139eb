/**
 * The VC door's tables (src/auth/vc/index.ts), behind the storage seam (src/store/sql):
 *  - auth_challenges: one-time challenges, kept until well after they expire so that a
 *    replay still says "replayed";
 *  - agent_dids: the DID each agent last presented, for the credential the vault issues it;
 *  - revoked_credentials: revoked holder DIDs and credential ids.
 */
import { type Migration, migrate } from "../../store/sql/migrate.js";
import type { Sql } from "../../store/sql/types.js";

const tables = (int: "INTEGER" | "BIGINT") => `CREATE TABLE IF NOT EXISTS auth_challenges (
  challenge TEXT PRIMARY KEY, expires_ms ${int} NOT NULL, used_ms ${int});
CREATE TABLE IF NOT EXISTS agent_dids (
  agent_id TEXT PRIMARY KEY, did TEXT NOT NULL, issuer TEXT NOT NULL, seen_ms ${int} NOT NULL);
CREATE TABLE IF NOT EXISTS revoked_credentials (
  id TEXT PRIMARY KEY, revoked_ms ${int} NOT NULL, actor TEXT NOT NULL)`;

/** Version 1 is the schema as the last build before the storage seam left it. */
export const CREDENTIAL_MIGRATIONS: Migration[] = [
  { version: 1, name: "credentials", sqlite: tables("INTEGER"), postgres: tables("BIGINT") },
];

/** Serialises the outstanding-challenge count and the insert, across processes. */
const CHALLENGE_LOCK = "auth_challenges";

export class TooManyChallenges extends Error {}

export interface CredentialStore {
  /**
   * Stores a challenge, once expired ones older than `pruneBefore` are gone, unless
   * `maxOutstanding` unused and unexpired ones exist: then throws TooManyChallenges.
   */
  putChallenge(
    challenge: string,
    expiresMs: number,
    now: number,
    opts: { pruneBefore: number; maxOutstanding: number },
  ): Promise<void>;
  challenge(challenge: string): Promise<{ expires_ms: number; used_ms: number | null } | undefined>;
  /** Marks an unused, unexpired challenge used; false when it was not (used, expired, none). */
  useChallenge(challenge: string, now: number): Promise<boolean>;
  bindDid(agentId: string, did: string, issuer: string, now: number): Promise<void>;
  didOf(agentId: string): Promise<string | undefined>;
  /** True if it was not revoked before. */
  revoke(id: string, now: number, actor: string): Promise<boolean>;
  isRevoked(id: string): Promise<boolean>;
}

/** Opens the VC tables on `sql`, migrating them first. */
export async function openCredentialStore(sql: Sql): Promise<CredentialStore> {
  await migrate(sql, "credentials", CREDENTIAL_MIGRATIONS);
  return {
    putChallenge: (challenge, expiresMs, now, opts) =>
      sql.transaction(async (tx) => {
        await tx.lock(CHALLENGE_LOCK);
        await tx.run("DELETE FROM auth_challenges WHERE expires_ms < $1", [opts.pruneBefore]);
        const r = await tx.get<{ n: number }>(
          "SELECT count(*) AS n FROM auth_challenges WHERE used_ms IS NULL AND expires_ms > $1",
          [now],
        );
        if (Number(r?.n ?? 0) >= opts.maxOutstanding) throw new TooManyChallenges();
        await tx.run("INSERT INTO auth_challenges (challenge, expires_ms) VALUES ($1, $2)", [
          challenge,
          expiresMs,
        ]);
      }),
    async challenge(challenge) {
      const r = await sql.get<{ expires_ms: number; used_ms: number | null }>(
        "SELECT expires_ms, used_ms FROM auth_challenges WHERE challenge = $1",
        [challenge],
      );
      return (
        r && {
          expires_ms: Number(r.expires_ms),
          used_ms: r.used_ms === null ? null : Number(r.used_ms),
        }
      );
    },
    async useChallenge(challenge, now) {
      const { changes } = await sql.run(
        `UPDATE auth_challenges SET used_ms = $1
         WHERE challenge = $2 AND used_ms IS NULL AND expires_ms > $1`,
        [now, challenge],
      );
      return changes === 1;
    },
    async bindDid(agentId, did, issuer, now) {
      await sql.run(
        `INSERT INTO agent_dids (agent_id, did, issuer, seen_ms) VALUES ($1, $2, $3, $4)
         ON CONFLICT (agent_id) DO UPDATE
           SET did = excluded.did, issuer = excluded.issuer, seen_ms = excluded.seen_ms`,
        [agentId, did, issuer, now],
      );
    },
    didOf: async (agentId) =>
      (await sql.get<{ did: string }>("SELECT did FROM agent_dids WHERE agent_id = $1", [agentId]))
        ?.did,
    async revoke(id, now, actor) {
      const { changes } = await sql.run(
        `INSERT INTO revoked_credentials (id, revoked_ms, actor) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO NOTHING`,
        [id, now, actor],
      );
      return changes === 1;
    },
    isRevoked: async (id) =>
      (await sql.get("SELECT 1 AS one FROM revoked_credentials WHERE id = $1", [id])) !== undefined,
  };
}
