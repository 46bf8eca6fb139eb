/**
 * federation_links: for each link a chain through a trust anchor was admitted with, the
 * operators upstream of it (README "Cross-operator trust"). A request parked for approval
 * names its chain by CIDs only; this table lets the re-check before signing ask those
 * operators' feeds again, across restarts. Rows go once their link has expired.
 * Behind the storage seam (src/store/sql): SQLite or PostgreSQL.
 */
import { type Migration, migrate } from "./sql/migrate.js";
import type { Sql } from "./sql/types.js";

const PRUNE_EVERY = 256;

const table = (int: "INTEGER" | "BIGINT") => `CREATE TABLE IF NOT EXISTS federation_links (
  cid TEXT PRIMARY KEY, upstream TEXT NOT NULL, expires_ms ${int} NOT NULL)`;

/** Version 1 is the table as the last build before the storage seam left it. */
export const FEDERATION_MIGRATIONS: Migration[] = [
  { version: 1, name: "federation_links", sqlite: table("INTEGER"), postgres: table("BIGINT") },
];

export interface FederationStore {
  put(cid: string, upstream: string[], expiresMs: number, now: number): Promise<void>;
  upstream(cid: string): Promise<string[] | undefined>;
}

/** Opens federation_links on `sql`, migrating it first. */
export async function openFederationStore(sql: Sql): Promise<FederationStore> {
  await migrate(sql, "federation", FEDERATION_MIGRATIONS);
  // Puts since this process opened the table: every PRUNE_EVERY-th one prunes expired rows.
  let puts = 0;
  return {
    async put(cid, upstream, expiresMs, now) {
      await sql.run(
        `INSERT INTO federation_links (cid, upstream, expires_ms) VALUES ($1, $2, $3)
         ON CONFLICT (cid) DO UPDATE SET upstream = excluded.upstream`,
        [cid, JSON.stringify(upstream), expiresMs],
      );
      if (++puts % PRUNE_EVERY === 0)
        await sql.run("DELETE FROM federation_links WHERE expires_ms < $1", [now]);
    },
    async upstream(cid) {
      const r = await sql.get<{ upstream: string }>(
        "SELECT upstream FROM federation_links WHERE cid = $1",
        [cid],
      );
      return r === undefined ? undefined : (JSON.parse(r.upstream) as string[]);
    },
  };
}
