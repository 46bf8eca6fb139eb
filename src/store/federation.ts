/**
 * federation_links: for each link a chain through a trust anchor was admitted with, the
 * operators upstream of it (README "Cross-operator trust"). A request parked for approval
 * names its chain by CIDs only; this table lets the re-check before signing ask those
 * operators' feeds again, across restarts. Rows go once their link has expired.
 */
import type { Db } from "./db.js";

const PRUNE_EVERY = 256;

export function createFederationStore(db: Db) {
  db.exec(`
    CREATE TABLE IF NOT EXISTS federation_links (
      cid TEXT PRIMARY KEY, upstream TEXT NOT NULL, expires_ms INTEGER NOT NULL);
  `);
  const q = {
    put: db.prepare(
      `INSERT INTO federation_links (cid, upstream, expires_ms) VALUES (?, ?, ?)
       ON CONFLICT(cid) DO UPDATE SET upstream = excluded.upstream`,
    ),
    get: db.prepare("SELECT upstream FROM federation_links WHERE cid = ?").pluck(),
    prune: db.prepare("DELETE FROM federation_links WHERE expires_ms < ?"),
  };
  let puts = 0;
  return {
    put(cid: string, upstream: string[], expiresMs: number, now: number): void {
      q.put.run(cid, JSON.stringify(upstream), expiresMs);
      if (++puts % PRUNE_EVERY === 0) q.prune.run(now);
    },
    upstream(cid: string): string[] | undefined {
      const raw = q.get.get(cid) as string | undefined;
      return raw === undefined ? undefined : (JSON.parse(raw) as string[]);
    },
  };
}

export type FederationStore = ReturnType<typeof createFederationStore>;
