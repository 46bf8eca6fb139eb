/**
 * The vault's ledger of presignatures per agent and per quorum, behind the storage seam
 * (src/store/sql: SQLite or PostgreSQL). An id is deleted here before it is sent to the
 * nodes for the online step, so no vault process ever offers one twice: `take` is one
 * DELETE … RETURNING, and on PostgreSQL its row is picked with FOR UPDATE SKIP LOCKED, so
 * replicas taking at the same moment each get a different presignature, never the same one
 * and never nothing while one is left. The nodes enforce single use on their side too.
 */
import { type Migration, migrate } from "../../store/sql/migrate.js";
import type { Sql } from "../../store/sql/types.js";

export interface PresigPool {
  add(agentId: string, parties: number[], id: string): Promise<void>;
  /** Removes and returns one presignature for exactly these parties, oldest first. */
  take(agentId: string, parties: number[]): Promise<string | undefined>;
  count(agentId: string, parties: number[]): Promise<number>;
  /** Quorums (as sorted party lists) that have presignatures for the agent. */
  quorums(agentId: string): Promise<number[][]>;
}

const TABLE = `CREATE TABLE IF NOT EXISTS presig_pool (
  id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, parties TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS presig_pool_agent ON presig_pool (agent_id, parties, created_at)`;

/** Version 1 is the table as earlier builds made it (IF NOT EXISTS: they did). */
export const PRESIG_POOL_MIGRATIONS: Migration[] = [
  { version: 1, name: "presig_pool", sqlite: TABLE, postgres: TABLE },
];

const key = (parties: number[]) => [...parties].sort((a, b) => a - b).join(",");

export async function openPresigPool(sql: Sql): Promise<PresigPool> {
  await migrate(sql, "presig_pool", PRESIG_POOL_MIGRATIONS);
  const skipLocked = sql.dialect === "postgres" ? " FOR UPDATE SKIP LOCKED" : "";
  const take = `DELETE FROM presig_pool WHERE id = (
      SELECT id FROM presig_pool WHERE agent_id = $1 AND parties = $2
      ORDER BY created_at LIMIT 1${skipLocked})
    RETURNING id`;
  return {
    add: async (agentId, parties, id) => {
      await sql.run(
        "INSERT INTO presig_pool (id, agent_id, parties, created_at) VALUES ($1, $2, $3, $4)",
        [id, agentId, key(parties), Date.now()],
      );
    },
    take: async (agentId, parties) =>
      (await sql.get<{ id: string }>(take, [agentId, key(parties)]))?.id,
    count: async (agentId, parties) => {
      const row = await sql.get<{ n: number }>(
        "SELECT count(*) AS n FROM presig_pool WHERE agent_id = $1 AND parties = $2",
        [agentId, key(parties)],
      );
      return Number(row?.n ?? 0);
    },
    quorums: async (agentId) => {
      const rows = await sql.all<{ parties: string }>(
        "SELECT DISTINCT parties FROM presig_pool WHERE agent_id = $1",
        [agentId],
      );
      return rows.map((r) => r.parties.split(",").map(Number));
    },
  };
}
