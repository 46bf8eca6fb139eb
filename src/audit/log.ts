/**
 * The SQLite-backed audit log: append, read, verify.
 *
 * append() costs one INSERT: the head (seq, hash) is kept in memory after the
 * first read. The cache is trusted only for appends outside a transaction.
 * Inside a caller's transaction the head is read fresh and the cache dropped,
 * because a rollback would silently un-write the row and leave the cache one
 * entry ahead (the next entry would then skip a seq). Any failure also drops
 * the cache, so the next append re-reads the head as stored.
 */
import { VaultError } from "../errors/index.js";
import type { Db } from "../store/db.js";
import { canonicalJson, GENESIS_HASH, hashWithDataText } from "./canonical.js";
import { createCheckpointStore } from "./checkpoints.js";
import { ZK_GENESIS, ZK_V2_START_KEY, zkStep } from "./commitment.js";
import { type AuditRow, CorruptRowError, decodeRow, ROW_COLUMNS } from "./rows.js";
import { migrate } from "./schema.js";
import { assertNoSecretFields } from "./secrets.js";
import type { AuditEntry, AuditEntryInput, AuditLog, VerifyResult } from "./types.js";
import { verifyRows } from "./verify.js";

interface Head {
  seq: number;
  hash: string;
}

export function createAuditLog(db: Db, opts: { now?: () => Date } = {}): AuditLog {
  const now = opts.now ?? (() => new Date());
  migrate(db);
  // The zk v2 start (src/audit/commitment.ts), pinned the first time this code opens the
  // log: 1 for an empty log, else the entry after its last, so the v1 heads already
  // computed (and co-signed) stay as they are. One statement: two openers agree. Read
  // first, so that a read-only connection to a pinned log writes nothing.
  const selectMeta = db.prepare("SELECT v FROM meta WHERE k = ?");
  const pinV2Start = db.prepare(
    "INSERT OR IGNORE INTO meta (k, v) SELECT ?, CAST(coalesce(max(seq), 0) + 1 AS TEXT) FROM audit_log",
  );
  let v2Start: number | undefined;
  const zkV2Start = (): number => {
    if (v2Start === undefined) {
      const read = () => (selectMeta.get(ZK_V2_START_KEY) as { v: string } | undefined)?.v;
      let v = read();
      if (v === undefined) {
        pinV2Start.run(ZK_V2_START_KEY);
        v = read();
      }
      v2Start = Number(v);
    }
    return v2Start;
  };
  try {
    zkV2Start();
  } catch {
    // Read-only (or locked) and never pinned: append and the zk methods try again, and
    // fail with AUDIT_UNAVAILABLE while it cannot be pinned.
  }
  const insert = db.prepare(
    `INSERT INTO audit_log (${ROW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const selectHead = db.prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
  const selectOne = db.prepare(`SELECT ${ROW_COLUMNS} FROM audit_log WHERE seq = ?`);
  const selectFrom = db.prepare(
    `SELECT ${ROW_COLUMNS} FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?`,
  );
  const selectAgentFrom = db.prepare(
    `SELECT ${ROW_COLUMNS} FROM audit_log WHERE agent_id = ? AND seq >= ? ORDER BY seq LIMIT ?`,
  );
  const selectRange = db.prepare(
    `SELECT ${ROW_COLUMNS} FROM audit_log WHERE seq BETWEEN ? AND ? ORDER BY seq`,
  );
  const selectAll = db.prepare(`SELECT ${ROW_COLUMNS} FROM audit_log ORDER BY seq`);
  const insertZk = db.prepare("INSERT INTO audit_zk (seq, commitment, zk_head) VALUES (?, ?, ?)");
  const selectZkHead = db.prepare("SELECT seq, zk_head FROM audit_zk ORDER BY seq DESC LIMIT 1");
  const selectZkAt = db.prepare("SELECT zk_head FROM audit_zk WHERE seq = ?");
  const selectZkRange = db.prepare(
    "SELECT seq, commitment, zk_head FROM audit_zk WHERE seq BETWEEN ? AND ? ORDER BY seq",
  );

  // The Poseidon chain is computed lazily, off the append path (Poseidon costs ~2 ms an
  // entry in JS, SHA-256 microseconds): whenever a zk head is asked for (checkpoints,
  // proofs), the entries not yet committed are committed, in order, in one transaction.
  // It is a function of the entries (and the pinned v2 start) alone, so computing it later
  // changes nothing. v2 entries store "" as their commitment: their head is the commitment.
  const syncZk = (upTo: number) =>
    db.transaction(() => {
      const last = selectZkHead.get() as { seq: number; zk_head: string } | undefined;
      if ((last?.seq ?? 0) >= upTo) return;
      let zkHead = last?.zk_head ?? ZK_GENESIS;
      const from = (last?.seq ?? 0) + 1;
      const rows = selectRange.all(from, upTo) as AuditRow[];
      const v2 = zkV2Start();
      for (const row of rows) {
        let step: { commitment: string; zkHead: string };
        try {
          step = zkStep(zkHead, decodeRow(row), v2);
        } catch {
          return; // a corrupted row: verify() reports it; nothing after it is chained
        }
        zkHead = step.zkHead;
        insertZk.run(row.seq, step.commitment, zkHead);
      }
    })();

  let cached: Head | undefined;

  const readHead = (): Head =>
    unavailableOnError(() => {
      const row = selectHead.get() as Head | undefined;
      return row ? { seq: row.seq, hash: row.hash } : { seq: 0, hash: GENESIS_HASH };
    });

  const write = (
    input: AuditEntryInput,
    dataText: string,
    data: AuditEntry["data"],
  ): AuditEntry => {
    zkV2Start(); // pinned before this code appends anything (a no-op once known)
    const head = cached ?? readHead();
    const entry: Omit<AuditEntry, "hash"> = {
      seq: head.seq + 1,
      ts: now().toISOString(),
      type: input.type,
      agentId: input.agentId ?? null,
      actor: input.actor ?? null,
      data,
      prevHash: head.hash,
    };
    const hash = hashWithDataText(entry, dataText);
    const { seq, ts, type, agentId, actor, prevHash } = entry;
    insert.run(seq, ts, type, agentId, actor, dataText, prevHash, hash);
    cached = db.inTransaction ? undefined : { seq, hash };
    return { ...entry, hash };
  };

  const log: AuditLog = {
    append(input) {
      try {
        if (db.inTransaction) cached = undefined;
        checkInput(input);
        const dataText = canonicalJson(input.data ?? {});
        // The stored form (bigints as strings, undefined dropped) is what gets checked and returned.
        const data = JSON.parse(dataText);
        assertNoSecretFields(data);
        try {
          return write(input, dataText, data);
        } catch (err) {
          if ((err as { code?: unknown }).code !== "SQLITE_CONSTRAINT_PRIMARYKEY") throw err;
          // Another connection appended since the head was cached: chain after its entry.
          cached = undefined;
          return write(input, dataText, data);
        }
      } catch (err) {
        cached = undefined;
        throw asUnavailable(err);
      }
    },

    list(fromSeq, limit, agentId) {
      checkSeq(fromSeq, "fromSeq");
      checkSeq(limit, "limit");
      return readEntries(
        () =>
          (agentId === undefined
            ? selectFrom.all(fromSeq, limit)
            : selectAgentFrom.all(agentId, fromSeq, limit)) as AuditRow[],
      );
    },

    get(seq) {
      return readEntries(() => {
        const row = selectOne.get(seq) as AuditRow | undefined;
        return row ? [row] : [];
      })[0];
    },

    head: readHead,

    zkHeadAt(seq) {
      if (seq === 0) return ZK_GENESIS;
      return unavailableOnError(() => {
        syncZk(seq);
        return (selectZkAt.get(seq) as { zk_head: string } | undefined)?.zk_head;
      });
    },

    zkV2Start: () => unavailableOnError(zkV2Start),

    zkCatchUp(upTo, maxEntries) {
      return unavailableOnError(() => {
        const done = (selectZkHead.get() as { seq: number } | undefined)?.seq ?? 0;
        if (done >= upTo) return false;
        syncZk(Math.min(upTo, done + maxEntries));
        const now = (selectZkHead.get() as { seq: number } | undefined)?.seq ?? 0;
        // No progress: a corrupted row stops the chain (verify() reports it).
        return now > done && now < upTo;
      });
    },

    zkRange(fromSeq, toSeq) {
      return unavailableOnError(() => {
        syncZk(toSeq);
        return (
          selectZkRange.all(fromSeq, toSeq) as Array<{
            seq: number;
            commitment: string;
            zk_head: string;
          }>
        ).map((r) => ({ seq: r.seq, commitment: r.commitment, zkHead: r.zk_head }));
      });
    },

    verify() {
      const checkpoints = new Map(log.checkpoints.list().map((cp) => [cp.seq, cp.hash]));
      return unavailableOnError(() =>
        verifyRows(selectAll.iterate() as Iterable<AuditRow>, {
          seq: 1,
          prevHash: GENESIS_HASH,
          checkpoints,
        }),
      );
    },

    verifyRange(fromSeq, toSeq, startPrevHash): VerifyResult {
      checkSeq(fromSeq, "fromSeq", 1);
      checkSeq(toSeq, "toSeq", fromSeq - 1);
      return unavailableOnError(() =>
        verifyRows(selectRange.iterate(fromSeq, toSeq) as Iterable<AuditRow>, {
          seq: fromSeq,
          prevHash: startPrevHash,
          endSeq: toSeq,
        }),
      );
    },

    checkpoints: createCheckpointStore(db, (seq) => log.get(seq)?.hash),
  };
  return log;
}

function checkInput(input: AuditEntryInput): void {
  const optionalText = (v: unknown) => v === undefined || v === null || typeof v === "string";
  if (typeof input.type !== "string" || input.type === "") {
    throw new VaultError("AUDIT_UNAVAILABLE", "audit entry type must be a non-empty string");
  }
  if (!optionalText(input.agentId) || !optionalText(input.actor)) {
    throw new VaultError("AUDIT_UNAVAILABLE", "audit agentId and actor must be strings or null");
  }
  const { data } = input;
  if (data !== undefined && (typeof data !== "object" || data === null || Array.isArray(data))) {
    throw new VaultError("AUDIT_UNAVAILABLE", "audit data must be a JSON object");
  }
}

function checkSeq(value: number, name: string, min = 0): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new VaultError("VALIDATION_FAILED", `${name} must be an integer >= ${min}`);
  }
}

function readEntries(read: () => AuditRow[]): AuditEntry[] {
  const rows = unavailableOnError(read);
  try {
    return rows.map(decodeRow);
  } catch (err) {
    if (!(err instanceof CorruptRowError)) throw err;
    throw new VaultError("AUDIT_UNAVAILABLE", "an audit entry is corrupted; run verify");
  }
}

/** SQLite errors (full, read-only, locked, corrupt) become AUDIT_UNAVAILABLE: fail closed. */
function unavailableOnError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw asUnavailable(err);
  }
}

function asUnavailable(err: unknown): VaultError {
  if (err instanceof VaultError) return err;
  const wrapped = new VaultError("AUDIT_UNAVAILABLE");
  // For server logs only: toJSON() never sends the cause (it may hold SQL) to clients.
  wrapped.cause = err;
  return wrapped;
}
