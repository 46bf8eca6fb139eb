/**
 * A signer node's own SQLite store: its cluster configuration, the agents it holds
 * shares for (encrypted at rest), the policies it was given, its own record of every
 * signature it took part in (per-agent sequence numbers), its presignature pool
 * (encrypted at rest) and the nonces it has seen.
 */
import type { ClusterConfig } from "../protocol/node/wire.js";
import type { Db } from "../store/db.js";
import type { AtRestCipher } from "./at-rest.js";

export interface NodeRecord {
  seq: number;
  digest: string;
  intent: string;
  spends: string;
  ts: number;
  signature: string | null;
}

export function migrateNodeStore(db: Db): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS agents (
      agent_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, address TEXT NOT NULL,
      share BLOB NOT NULL, created_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS policies (
      agent_id TEXT NOT NULL, version INTEGER NOT NULL, policy TEXT NOT NULL,
      PRIMARY KEY (agent_id, version));
    CREATE TABLE IF NOT EXISTS records (
      agent_id TEXT NOT NULL, seq INTEGER NOT NULL, digest TEXT NOT NULL, intent TEXT NOT NULL,
      spends TEXT NOT NULL, ts INTEGER NOT NULL, signature TEXT,
      PRIMARY KEY (agent_id, seq));
    CREATE INDEX IF NOT EXISTS records_digest ON records (agent_id, digest);
    CREATE TABLE IF NOT EXISTS presigs (
      id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, parties TEXT NOT NULL,
      state BLOB NOT NULL, created_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS consumed_presigs (id TEXT PRIMARY KEY);
    CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, ts INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS nonces_ts ON nonces (ts);
    CREATE TABLE IF NOT EXISTS checkpoints (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, signed_at INTEGER NOT NULL);
  `);
  // The Poseidon head signed with the SHA-256 one (null for checkpoints signed before it).
  const columns = db.prepare("PRAGMA table_info(checkpoints)").all() as Array<{ name: string }>;
  if (!columns.some((c) => c.name === "zk_head")) {
    db.exec("ALTER TABLE checkpoints ADD COLUMN zk_head TEXT");
  }
}

export function createNodeStore(db: Db, cipher: AtRestCipher) {
  migrateNodeStore(db);
  const q = {
    getMeta: db.prepare("SELECT v FROM meta WHERE k = ?"),
    setMeta: db.prepare(
      "INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
    ),
    pinMeta: db.prepare("INSERT OR IGNORE INTO meta (k, v) VALUES (?, ?)"),
    insertNonce: db.prepare("INSERT OR IGNORE INTO nonces (nonce, ts) VALUES (?, ?)"),
    pruneNonces: db.prepare("DELETE FROM nonces WHERE ts < ?"),
    // The share (tens of KB) is read only when a presignature needs it, never to sign.
    getAgent: db.prepare("SELECT agent_id, public_key, address FROM agents WHERE agent_id = ?"),
    getShare: db.prepare("SELECT share FROM agents WHERE agent_id = ?"),
    putAgent: db.prepare(
      "INSERT INTO agents (agent_id, public_key, address, share, created_at) VALUES (?, ?, ?, ?, ?)",
    ),
    latestPolicy: db.prepare(
      "SELECT version, policy FROM policies WHERE agent_id = ? ORDER BY version DESC LIMIT 1",
    ),
    putPolicy: db.prepare("INSERT INTO policies (agent_id, version, policy) VALUES (?, ?, ?)"),
    lastSeq: db.prepare("SELECT coalesce(max(seq), 0) AS s FROM records WHERE agent_id = ?"),
    getRecord: db.prepare("SELECT * FROM records WHERE agent_id = ? AND seq = ?"),
    recordByDigest: db.prepare("SELECT seq FROM records WHERE agent_id = ? AND digest = ?"),
    putRecord: db.prepare(
      `INSERT INTO records (agent_id, seq, digest, intent, spends, ts, signature) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(agent_id, seq) DO UPDATE SET digest = excluded.digest, intent = excluded.intent,
       spends = excluded.spends, ts = excluded.ts, signature = excluded.signature`,
    ),
    recordsSince: db.prepare("SELECT ts, spends FROM records WHERE agent_id = ? AND ts > ?"),
    putPresig: db.prepare(
      "INSERT INTO presigs (id, agent_id, parties, state, created_at) VALUES (?, ?, ?, ?, ?)",
    ),
    getPresig: db.prepare(
      "SELECT agent_id, parties FROM presigs WHERE id = ? AND id NOT IN (SELECT id FROM consumed_presigs)",
    ),
    consumePresig: db.prepare("INSERT INTO consumed_presigs (id) VALUES (?)"),
    sweepPresigs: db.prepare("DELETE FROM presigs WHERE id IN (SELECT id FROM consumed_presigs)"),
    sweepConsumed: db.prepare("DELETE FROM consumed_presigs"),
    getPresigState: db.prepare("SELECT state FROM presigs WHERE id = ?"),
    presigIds: db.prepare(
      "SELECT id, parties FROM presigs WHERE agent_id = ? AND id NOT IN (SELECT id FROM consumed_presigs)",
    ),
    lastCheckpoint: db.prepare(
      "SELECT seq, hash, zk_head AS zkHead FROM checkpoints ORDER BY seq DESC LIMIT 1",
    ),
    putCheckpoint: db.prepare(
      "INSERT INTO checkpoints (seq, hash, signed_at, zk_head) VALUES (?, ?, ?, ?)",
    ),
    listCheckpoints: db.prepare("SELECT seq, hash, signed_at FROM checkpoints ORDER BY seq"),
  };
  let lastPrune = 0;
  const meta = (k: string): string | undefined =>
    (q.getMeta.get(k) as { v: string } | undefined)?.v;

  return {
    db,
    cluster(): ClusterConfig | undefined {
      const v = meta("cluster");
      return v ? (JSON.parse(v) as ClusterConfig) : undefined;
    },
    setCluster(c: ClusterConfig): void {
      q.setMeta.run("cluster", JSON.stringify(c));
    },
    /** Records a nonce; false if it was seen before (a replay). Old nonces are pruned now and then. */
    rememberNonce(nonce: string, now: number, keepMs: number): boolean {
      if (now - lastPrune > keepMs / 4) {
        q.pruneNonces.run(now - keepMs);
        lastPrune = now;
      }
      return q.insertNonce.run(nonce, now).changes === 1;
    },
    agent(agentId: string) {
      const row = q.getAgent.get(agentId) as
        | { agent_id: string; public_key: string; address: string }
        | undefined;
      if (!row) return undefined;
      return {
        agentId: row.agent_id,
        publicKey: row.public_key,
        address: row.address,
        share: () => {
          const stored = q.getShare.get(agentId) as { share: Buffer } | undefined;
          if (!stored) throw new Error(`agent ${agentId} has no share on this node`);
          return cipher.open(stored.share, `share:${agentId}`);
        },
      };
    },
    putAgent(agentId: string, publicKey: string, address: string, share: Uint8Array): void {
      q.putAgent.run(
        agentId,
        publicKey,
        address,
        cipher.seal(share, `share:${agentId}`),
        Date.now(),
      );
    },
    policy(agentId: string): { version: number; policy: string } | undefined {
      return q.latestPolicy.get(agentId) as { version: number; policy: string } | undefined;
    },
    putPolicy(agentId: string, version: number, policy: string): void {
      q.putPolicy.run(agentId, version, policy);
    },
    lastSeq(agentId: string): number {
      return (q.lastSeq.get(agentId) as { s: number }).s;
    },
    record(agentId: string, seq: number): NodeRecord | undefined {
      return q.getRecord.get(agentId, seq) as NodeRecord | undefined;
    },
    seqOfDigest(agentId: string, digest: string): number | undefined {
      return (q.recordByDigest.get(agentId, digest) as { seq: number } | undefined)?.seq;
    },
    putRecord(agentId: string, r: NodeRecord): void {
      q.putRecord.run(agentId, r.seq, r.digest, r.intent, r.spends, r.ts, r.signature);
    },
    recordsSince(agentId: string, since: number): Array<{ ts: number; spends: string }> {
      return q.recordsSince.all(agentId, since) as Array<{ ts: number; spends: string }>;
    },
    putPresig(id: string, agentId: string, parties: number[], state: Uint8Array): void {
      q.putPresig.run(
        id,
        agentId,
        parties.join(","),
        cipher.seal(state, `presig:${id}`),
        Date.now(),
      );
    },
    /**
     * Deletes the presignature row: the durable "consumed" mark. The encrypted state
     * (~250 KB) is read only when the presignature is not warm in memory.
     */
    takePresig(
      id: string,
      agentId: string,
      warm: boolean,
    ): { parties: number[]; state: () => Buffer } | undefined {
      const row = q.getPresig.get(id) as { agent_id: string; parties: string } | undefined;
      if (!row || row.agent_id !== agentId) return undefined;
      const sealed = warm ? undefined : (q.getPresigState.get(id) as { state: Buffer }).state;
      // A small insert is the durable mark; the 250 KB row is deleted later by sweep().
      q.consumePresig.run(id);
      return {
        parties: row.parties.split(",").map(Number),
        state: () => {
          if (!sealed) throw new Error("presignature state was not read");
          return cipher.open(sealed, `presig:${id}`);
        },
      };
    },
    /** Deletes consumed presignature rows (off the online path). */
    sweepConsumedPresigs(): void {
      db.transaction(() => {
        q.sweepPresigs.run();
        q.sweepConsumed.run();
      })();
    },
    presigIds(agentId: string): Array<{ id: string; parties: string }> {
      return q.presigIds.all(agentId) as Array<{ id: string; parties: string }>;
    },
    lastCheckpoint(): { seq: number; hash: string; zkHead: string | null } | undefined {
      return q.lastCheckpoint.get() as
        | { seq: number; hash: string; zkHead: string | null }
        | undefined;
    },
    putCheckpoint(seq: number, hash: string, zkHead?: string): void {
      q.putCheckpoint.run(seq, hash, Date.now(), zkHead ?? null);
    },
    /** The vault's zk v2 start seq as this node first accepted it (src/node/protocol/checkpoint.ts). */
    zkV2Start(): number | undefined {
      const v = meta("zk_v2_start");
      return v === undefined ? undefined : Number(v);
    },
    /** Pins the zk v2 start on first sight; a pinned one is never replaced. */
    pinZkV2Start(seq: number): void {
      q.pinMeta.run("zk_v2_start", String(seq));
    },
    checkpoints(): Array<{ seq: number; hash: string; signed_at: number }> {
      return q.listCheckpoints.all() as Array<{ seq: number; hash: string; signed_at: number }>;
    },
  };
}

export type NodeStore = ReturnType<typeof createNodeStore>;
