/**
 * The audit log behind the storage seam (src/store/sql): append, read, verify, on SQLite or
 * PostgreSQL.
 *
 * append() takes the head under the "audit_head" lock, reads it, and inserts the next entry
 * in one transaction (or in the caller's, which it joins), so any number of processes
 * appending to one database produce one total order that never forks: a second appender
 * waits for the first to commit and chains after its entry. That lock is the log's
 * throughput ceiling across replicas (README "Storage").
 */
import { VaultError } from "../errors/index.js";
import { migrate } from "../store/sql/migrate.js";
import type { Sql } from "../store/sql/types.js";
import { canonicalJson, GENESIS_HASH, hashWithDataText } from "./canonical.js";
import { createCheckpointStore } from "./checkpoints.js";
import { ZK_GENESIS, ZK_V2_START_KEY, zkStep } from "./commitment.js";
import { type AuditRow, CorruptRowError, decodeRow, ROW_COLUMNS } from "./rows.js";
import { AUDIT_MIGRATIONS } from "./schema.js";
import { assertNoSecretFields } from "./secrets.js";
import type { AuditEntry, AuditEntryInput, AuditLog, VerifyResult } from "./types.js";
import { verifyRows } from "./verify.js";

interface Head {
  seq: number;
  hash: string;
}

const HEAD_LOCK = "audit_head";
const ZK_LOCK = "audit_zk";
/** Rows read per page by verify (it never holds the whole log in memory). */
const PAGE = 2000;

const SELECT_HEAD = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1";
const SELECT_ZK_HEAD = "SELECT seq, zk_head FROM audit_zk ORDER BY seq DESC LIMIT 1";
const SELECT_RANGE = `SELECT ${ROW_COLUMNS} FROM audit_log WHERE seq BETWEEN $1 AND $2 ORDER BY seq`;

/** Opens the log on `sql`, applying its migrations (a read-only database must be current). */
export async function openAuditLog(
  sql: Sql,
  opts: { now?: () => Date; readOnly?: boolean } = {},
): Promise<AuditLog> {
  if (opts.readOnly) return createAuditLog(sql, opts);
  await unavailableOnError(() => migrate(sql, "audit", AUDIT_MIGRATIONS));
  const log = createAuditLog(sql, opts);
  // Pinned now, in a statement of its own that commits: pinned inside a caller's
  // transaction that then rolled back, this process would keep a start the database lacks.
  await log.zkV2Start();
  return log;
}

function createAuditLog(sql: Sql, opts: { now?: () => Date }): AuditLog {
  const now = opts.now ?? (() => new Date());

  // The zk v2 start (src/audit/commitment.ts), pinned the first time this code opens the
  // log: 1 for an empty log, else the entry after its last, so the v1 heads already
  // computed (and co-signed) stay as they are. One statement: two openers agree. Read
  // first, so that a read-only connection to a pinned log writes nothing.
  let v2Start: number | undefined;
  const zkV2Start = async (): Promise<number> => {
    if (v2Start === undefined) {
      const read = async () =>
        (await sql.get<{ v: string }>("SELECT v FROM meta WHERE k = $1", [ZK_V2_START_KEY]))?.v;
      let v = await read();
      if (v === undefined) {
        await sql.run(
          `INSERT INTO meta (k, v) SELECT $1, CAST(coalesce(max(seq), 0) + 1 AS TEXT) FROM audit_log
           WHERE true ON CONFLICT (k) DO NOTHING`,
          [ZK_V2_START_KEY],
        );
        v = await read();
      }
      v2Start = Number(v);
    }
    return v2Start;
  };

  // The Poseidon chain is computed lazily, off the append path (Poseidon costs ~2 ms an
  // entry in JS, SHA-256 microseconds): whenever a zk head is asked for (checkpoints,
  // proofs), the entries not yet committed are committed, in order, in one transaction
  // under its own lock (two replicas never chain the same entry twice). It is a function of
  // the entries (and the pinned v2 start) alone, so computing it later changes nothing.
  // v2 entries store "" as their commitment: their head is the commitment.
  const syncZk = (upTo: number) =>
    sql.transaction(async (tx) => {
      await tx.lock(ZK_LOCK);
      const last = await tx.get<{ seq: number; zk_head: string }>(SELECT_ZK_HEAD);
      if ((last?.seq ?? 0) >= upTo) return;
      let zkHead = last?.zk_head ?? ZK_GENESIS;
      const rows = await tx.all<AuditRow>(SELECT_RANGE, [(last?.seq ?? 0) + 1, upTo]);
      const v2 = await zkV2Start();
      for (const row of rows) {
        let step: { commitment: string; zkHead: string };
        try {
          step = zkStep(zkHead, decodeRow(row), v2);
        } catch {
          return; // a corrupted row: verify() reports it; nothing after it is chained
        }
        zkHead = step.zkHead;
        await tx.run("INSERT INTO audit_zk (seq, commitment, zk_head) VALUES ($1, $2, $3)", [
          row.seq,
          step.commitment,
          zkHead,
        ]);
      }
    });

  const readHead = (): Promise<Head> =>
    unavailableOnError(async () => {
      const row = await sql.get<Head>(SELECT_HEAD);
      return row ? { seq: row.seq, hash: row.hash } : { seq: 0, hash: GENESIS_HASH };
    });

  const write = (input: AuditEntryInput, dataText: string, data: AuditEntry["data"]) =>
    sql.transaction(async (tx): Promise<AuditEntry> => {
      await zkV2Start(); // pinned before this code appends anything (a no-op once known)
      await tx.lock(HEAD_LOCK);
      const head = (await tx.get<Head>(SELECT_HEAD)) ?? { seq: 0, hash: GENESIS_HASH };
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
      await tx.run(
        `INSERT INTO audit_log (${ROW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [seq, ts, type, agentId, actor, dataText, prevHash, hash],
      );
      return { ...entry, hash };
    });

  /** Rows fromSeq..toSeq, a page at a time. */
  async function* pages(fromSeq: number, toSeq: number): AsyncIterable<AuditRow> {
    for (let next = fromSeq; next <= toSeq; next += PAGE) {
      const rows = await sql.all<AuditRow>(SELECT_RANGE, [next, Math.min(toSeq, next + PAGE - 1)]);
      yield* rows;
    }
  }

  /** Every row, in seq order, a page at a time by key: a forged row below seq 1 included. */
  async function* everyRow(): AsyncIterable<AuditRow> {
    for (let after: number = Number.MIN_SAFE_INTEGER; ; ) {
      const rows = await sql.all<AuditRow>(
        `SELECT ${ROW_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2`,
        [after, PAGE],
      );
      yield* rows;
      const last = rows.at(-1);
      if (rows.length < PAGE || !last) return;
      after = last.seq;
    }
  }

  const log: AuditLog = {
    async append(input) {
      try {
        checkInput(input);
        const dataText = canonicalJson(input.data ?? {});
        // The stored form (bigints as strings, undefined dropped) is what gets checked and returned.
        const data = JSON.parse(dataText);
        assertNoSecretFields(data);
        return await write(input, dataText, data);
      } catch (err) {
        throw asUnavailable(err);
      }
    },

    list(fromSeq, limit, agentId) {
      checkSeq(fromSeq, "fromSeq");
      checkSeq(limit, "limit");
      return readEntries(() =>
        agentId === undefined
          ? sql.all<AuditRow>(
              `SELECT ${ROW_COLUMNS} FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2`,
              [fromSeq, limit],
            )
          : sql.all<AuditRow>(
              `SELECT ${ROW_COLUMNS} FROM audit_log WHERE agent_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3`,
              [agentId, fromSeq, limit],
            ),
      );
    },

    async get(seq) {
      const rows = await readEntries(async () => {
        const row = await sql.get<AuditRow>(`SELECT ${ROW_COLUMNS} FROM audit_log WHERE seq = $1`, [
          seq,
        ]);
        return row ? [row] : [];
      });
      return rows[0];
    },

    head: readHead,

    async zkHeadAt(seq) {
      if (seq === 0) return ZK_GENESIS;
      return unavailableOnError(async () => {
        await syncZk(seq);
        const row = await sql.get<{ zk_head: string }>(
          "SELECT zk_head FROM audit_zk WHERE seq = $1",
          [seq],
        );
        return row?.zk_head;
      });
    },

    zkV2Start: () => unavailableOnError(zkV2Start),

    zkCatchUp(upTo, maxEntries) {
      return unavailableOnError(async () => {
        const zkDone = async () => (await sql.get<{ seq: number }>(SELECT_ZK_HEAD))?.seq ?? 0;
        const done = await zkDone();
        if (done >= upTo) return false;
        await syncZk(Math.min(upTo, done + maxEntries));
        const reached = await zkDone();
        // No progress: a corrupted row stops the chain (verify() reports it).
        return reached > done && reached < upTo;
      });
    },

    zkRange(fromSeq, toSeq) {
      return unavailableOnError(async () => {
        await syncZk(toSeq);
        const rows = await sql.all<{ seq: number; commitment: string; zk_head: string }>(
          "SELECT seq, commitment, zk_head FROM audit_zk WHERE seq BETWEEN $1 AND $2 ORDER BY seq",
          [fromSeq, toSeq],
        );
        return rows.map((r) => ({ seq: r.seq, commitment: r.commitment, zkHead: r.zk_head }));
      });
    },

    async verify() {
      const checkpoints = new Map((await log.checkpoints.list()).map((cp) => [cp.seq, cp.hash]));
      return unavailableOnError(() =>
        verifyRows(everyRow(), { seq: 1, prevHash: GENESIS_HASH, checkpoints }),
      );
    },

    verifyRange(fromSeq, toSeq, startPrevHash): Promise<VerifyResult> {
      checkSeq(fromSeq, "fromSeq", 1);
      checkSeq(toSeq, "toSeq", fromSeq - 1);
      return unavailableOnError(() =>
        verifyRows(pages(fromSeq, toSeq), {
          seq: fromSeq,
          prevHash: startPrevHash,
          endSeq: toSeq,
        }),
      );
    },

    checkpoints: createCheckpointStore(sql, async (seq) => (await log.get(seq))?.hash),
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

async function readEntries(read: () => Promise<AuditRow[]>): Promise<AuditEntry[]> {
  const rows = await unavailableOnError(read);
  try {
    return rows.map(decodeRow);
  } catch (err) {
    if (!(err instanceof CorruptRowError)) throw err;
    throw new VaultError("AUDIT_UNAVAILABLE", "an audit entry is corrupted; run verify");
  }
}

/** Storage errors (full, read-only, locked, lost, corrupt) become AUDIT_UNAVAILABLE: fail closed. */
async function unavailableOnError<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
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
