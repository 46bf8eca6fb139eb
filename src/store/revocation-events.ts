/**
 * Revocations as a sequence other vaults can follow (README "Revocation push"):
 *  - revocation_events: every revocation this vault made, numbered; the push stream and
 *    the replay from a cursor read them;
 *  - remote_revocations: what the feeds of other issuers told this vault, by issuer;
 *  - feed_cursors: the last event seq taken from each issuer's feed.
 */
import type { Db } from "./db.js";

export interface RevocationEventRow {
  seq: number;
  kind: string;
  subject: string;
  at_ms: number;
}

export function createRevocationEventStore(db: Db) {
  db.exec(`
    CREATE TABLE IF NOT EXISTS revocation_events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, subject TEXT NOT NULL,
      at_ms INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS remote_revocations (
      issuer TEXT NOT NULL, subject TEXT NOT NULL, seq INTEGER NOT NULL, at_ms INTEGER NOT NULL,
      PRIMARY KEY (issuer, subject));
    CREATE INDEX IF NOT EXISTS remote_revocations_subject ON remote_revocations (subject);
    CREATE TABLE IF NOT EXISTS feed_cursors (issuer TEXT PRIMARY KEY, seq INTEGER NOT NULL);
  `);
  const q = {
    append: db.prepare("INSERT INTO revocation_events (kind, subject, at_ms) VALUES (?, ?, ?)"),
    after: db.prepare("SELECT * FROM revocation_events WHERE seq > ? ORDER BY seq LIMIT ?"),
    head: db.prepare("SELECT coalesce(max(seq), 0) FROM revocation_events").pluck(),
    putRemote: db.prepare(
      `INSERT OR IGNORE INTO remote_revocations (issuer, subject, seq, at_ms) VALUES (?, ?, ?, ?)`,
    ),
    remote: db.prepare("SELECT 1 FROM remote_revocations WHERE issuer = ? AND subject = ?").pluck(),
    remoteAny: db.prepare("SELECT 1 FROM remote_revocations WHERE subject = ? LIMIT 1").pluck(),
    cursor: db.prepare("SELECT seq FROM feed_cursors WHERE issuer = ?").pluck(),
    setCursor: db.prepare(
      "INSERT INTO feed_cursors (issuer, seq) VALUES (?, ?) ON CONFLICT(issuer) DO UPDATE SET seq = excluded.seq",
    ),
  };
  return {
    append: (kind: string, subject: string, at: number) =>
      Number(q.append.run(kind, subject, at).lastInsertRowid),
    after: (seq: number, limit: number) => q.after.all(seq, limit) as RevocationEventRow[],
    head: () => q.head.get() as number,
    /** Records a remote revocation and moves the issuer's cursor, in one transaction. */
    putRemote: (issuer: string, subject: string, seq: number, at: number) =>
      db.transaction(() => {
        q.putRemote.run(issuer, subject, seq, at);
        q.setCursor.run(issuer, seq);
      })(),
    /** Moves the issuer's cursor past an event that records nothing here. */
    advance: (issuer: string, seq: number) => void q.setCursor.run(issuer, seq),
    isRemotelyRevoked: (issuer: string, subject: string) => q.remote.get(issuer, subject) === 1,
    isRevokedByAnyFeed: (subject: string) => q.remoteAny.get(subject) === 1,
    cursor: (issuer: string) => (q.cursor.get(issuer) as number | undefined) ?? 0,
  };
}

export type RevocationEventStore = ReturnType<typeof createRevocationEventStore>;
