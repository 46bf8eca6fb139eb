/**
 * The vault's ledger of presignatures per agent and per quorum. An id is deleted
 * here before it is sent to the nodes for the online step, so the vault itself never
 * offers one twice; the nodes enforce the same on their side.
 */
import type { Db } from "../../store/db.js";

export interface PresigPool {
  add(agentId: string, parties: number[], id: string): void;
  /** Removes and returns one presignature for exactly these parties, oldest first. */
  take(agentId: string, parties: number[]): string | undefined;
  count(agentId: string, parties: number[]): number;
  /** Quorums (as sorted party lists) that have presignatures for the agent. */
  quorums(agentId: string): number[][];
}

export function createPresigPool(db: Db): PresigPool {
  db.exec(`CREATE TABLE IF NOT EXISTS presig_pool (
    id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, parties TEXT NOT NULL, created_at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS presig_pool_agent ON presig_pool (agent_id, parties, created_at);`);
  const add = db.prepare(
    "INSERT INTO presig_pool (id, agent_id, parties, created_at) VALUES (?, ?, ?, ?)",
  );
  const oldest = db.prepare(
    "SELECT id FROM presig_pool WHERE agent_id = ? AND parties = ? ORDER BY created_at LIMIT 1",
  );
  const remove = db.prepare("DELETE FROM presig_pool WHERE id = ?");
  const count = db.prepare(
    "SELECT count(*) AS n FROM presig_pool WHERE agent_id = ? AND parties = ?",
  );
  const quorums = db.prepare("SELECT DISTINCT parties FROM presig_pool WHERE agent_id = ?");
  const key = (parties: number[]) => [...parties].sort((a, b) => a - b).join(",");
  const takeTx = db.transaction((agentId: string, parties: string) => {
    const row = oldest.get(agentId, parties) as { id: string } | undefined;
    if (row) remove.run(row.id);
    return row?.id;
  });
  return {
    add: (agentId, parties, id) => void add.run(id, agentId, key(parties), Date.now()),
    take: (agentId, parties) => takeTx(agentId, key(parties)),
    count: (agentId, parties) => (count.get(agentId, key(parties)) as { n: number }).n,
    quorums: (agentId) =>
      (quorums.all(agentId) as Array<{ parties: string }>).map((r) =>
        r.parties.split(",").map(Number),
      ),
  };
}
