/**
 * Revocations as a sequence other vaults can follow (README "Revocation push"):
 *  - revocation_events: every revocation this vault made, numbered; the push stream and
 *    the replay from a cursor read them;
 *  - remote_revocations: what the feeds of other issuers told this vault, by issuer;
 *  - feed_cursors: the last event seq taken from each issuer's feed.
 * Behind the storage seam (src/store/sql): SQLite or PostgreSQL.
 *
 * Event numbers have no holes and become visible in order, on both engines: the next seq is
 * taken as max + 1 under a lock held until the recording transaction ends (a sequence
 * would leave a hole for a rolled-back revocation, which a follower would wait on forever,
 * and could commit 5 before 4, which a stream reading "after 4" would skip). Each event is
 * announced on the channel `revocation_events` once it commits, to every process sharing
 * the database (PostgreSQL's NOTIFY; in-process on SQLite).
 */
import { type Migration, migrate } from "./sql/migrate.js";
import type { Listener, Sql } from "./sql/types.js";

export interface RevocationEventRow {
  seq: number;
  kind: string;
  subject: string;
  at_ms: number;
}

export const REVOCATION_CHANNEL = "revocation_events";
const APPEND_LOCK = "revocation_events";

const tables = (
  int: "INTEGER" | "BIGINT",
  seq: string,
) => `CREATE TABLE IF NOT EXISTS revocation_events (
  seq ${seq}, kind TEXT NOT NULL, subject TEXT NOT NULL, at_ms ${int} NOT NULL);
CREATE TABLE IF NOT EXISTS remote_revocations (
  issuer TEXT NOT NULL, subject TEXT NOT NULL, seq ${int} NOT NULL, at_ms ${int} NOT NULL,
  PRIMARY KEY (issuer, subject));
CREATE INDEX IF NOT EXISTS remote_revocations_subject ON remote_revocations (subject);
CREATE TABLE IF NOT EXISTS feed_cursors (issuer TEXT PRIMARY KEY, seq ${int} NOT NULL)`;

/** Version 1 is the schema as the last build before the storage seam left it. */
export const REVOCATION_EVENT_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "revocation_events",
    sqlite: tables("INTEGER", "INTEGER PRIMARY KEY AUTOINCREMENT"),
    postgres: tables("BIGINT", "BIGINT PRIMARY KEY"),
  },
];

export interface RevocationEventStore {
  /** Runs `fn` in one transaction (the store's calls and the audit log's join it). */
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  /** Records an event; its seq. Announced on REVOCATION_CHANNEL once it commits. */
  append(kind: string, subject: string, at: number): Promise<number>;
  after(seq: number, limit: number): Promise<RevocationEventRow[]>;
  head(): Promise<number>;
  /** Calls `listener` after each event commits (any process), and when some may be missed. */
  watch(listener: () => void): Promise<Listener>;
  /**
   * Records a remote revocation and moves the issuer's cursor, in one transaction, unless
   * the cursor is already at `seq` or beyond (another process took it): true if recorded.
   */
  putRemote(issuer: string, subject: string, seq: number, at: number): Promise<boolean>;
  /** Moves the issuer's cursor past an event that records nothing here (never backwards). */
  advance(issuer: string, seq: number): Promise<void>;
  isRemotelyRevoked(issuer: string, subject: string): Promise<boolean>;
  isRevokedByAnyFeed(subject: string): Promise<boolean>;
  cursor(issuer: string): Promise<number>;
}

/** Opens the revocation tables on `sql`, migrating them first. */
export async function openRevocationEventStore(sql: Sql): Promise<RevocationEventStore> {
  await migrate(sql, "revocation_events", REVOCATION_EVENT_MIGRATIONS);
  return createRevocationEventStore(sql);
}

function createRevocationEventStore(sql: Sql): RevocationEventStore {
  const cursor = async (issuer: string) =>
    Number(
      (await sql.get<{ seq: number }>("SELECT seq FROM feed_cursors WHERE issuer = $1", [issuer]))
        ?.seq ?? 0,
    );
  const setCursor = (issuer: string, seq: number) =>
    sql.run(
      `INSERT INTO feed_cursors (issuer, seq) VALUES ($1, $2)
       ON CONFLICT (issuer) DO UPDATE SET seq = excluded.seq WHERE feed_cursors.seq < excluded.seq`,
      [issuer, seq],
    );
  const exists = async (text: string, params: string[]) =>
    (await sql.get<{ one: number }>(text, params)) !== undefined;
  return {
    transaction: (fn) => sql.transaction(() => fn()),
    append: (kind, subject, at) =>
      sql.transaction(async (tx) => {
        await tx.lock(APPEND_LOCK);
        const r = await sql.get<{ seq: number }>(
          `INSERT INTO revocation_events (seq, kind, subject, at_ms)
           SELECT coalesce(max(seq), 0) + 1, CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS BIGINT)
           FROM revocation_events RETURNING seq`,
          [kind, subject, at],
        );
        const seq = Number(r?.seq);
        await sql.notify(REVOCATION_CHANNEL, String(seq));
        return seq;
      }),
    async after(seq, limit) {
      const rows = await sql.all<RevocationEventRow>(
        "SELECT seq, kind, subject, at_ms FROM revocation_events WHERE seq > $1 ORDER BY seq LIMIT $2",
        [seq, limit],
      );
      return rows.map((r) => ({ ...r, seq: Number(r.seq), at_ms: Number(r.at_ms) }));
    },
    head: async () =>
      Number(
        (
          await sql.get<{ head: number }>(
            "SELECT coalesce(max(seq), 0) AS head FROM revocation_events",
          )
        )?.head ?? 0,
      ),
    watch: (listener) =>
      sql.listen(REVOCATION_CHANNEL, { message: () => listener(), reset: () => listener() }),
    putRemote: (issuer, subject, seq, at) =>
      sql.transaction(async (tx) => {
        await tx.lock(`feed_cursor:${issuer}`);
        if ((await cursor(issuer)) >= seq) return false;
        await sql.run(
          `INSERT INTO remote_revocations (issuer, subject, seq, at_ms) VALUES ($1, $2, $3, $4)
           ON CONFLICT (issuer, subject) DO NOTHING`,
          [issuer, subject, seq, at],
        );
        await setCursor(issuer, seq);
        return true;
      }),
    async advance(issuer, seq) {
      await setCursor(issuer, seq);
    },
    isRemotelyRevoked: (issuer, subject) =>
      exists("SELECT 1 AS one FROM remote_revocations WHERE issuer = $1 AND subject = $2", [
        issuer,
        subject,
      ]),
    isRevokedByAnyFeed: (subject) =>
      exists("SELECT 1 AS one FROM remote_revocations WHERE subject = $1 LIMIT 1", [subject]),
    cursor,
  };
}
