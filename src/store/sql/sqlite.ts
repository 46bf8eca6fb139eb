/**
 * The SQLite engine of the storage seam (./types.ts), over better-sqlite3. Statements run
 * synchronously and answer with settled promises. A transaction is BEGIN IMMEDIATE … COMMIT
 * on the one connection, and while one is open every other call through this Sql waits its
 * turn (a queue), so nothing outside the transaction can land inside it.
 */
import type Database from "better-sqlite3";
import { type Db, isStorageFailure } from "../db.js";
import { withAmbientTransactions } from "./ambient.js";
import {
  assertChannel,
  type ListenHandlers,
  type Param,
  type Sql,
  StoreConflict,
  StoreUnavailable,
  type Tx,
} from "./types.js";

type Bound = string | number | bigint | null | Buffer;

/** `$1 … $n` to SQLite's anonymous `?`, the parameters repeated in order of use. */
export function toSqlite(text: string, params: readonly Param[]): { text: string; args: Bound[] } {
  const args: Bound[] = [];
  const out = text.replace(/\$(\d+)/g, (_, n: string) => {
    const i = Number(n) - 1;
    if (i < 0 || i >= params.length) throw new RangeError(`no parameter $${n} for: ${text}`);
    args.push(bind(params[i] as Param));
    return "?";
  });
  return { text: out, args };
}

function bind(p: Param): Bound {
  if (typeof p === "boolean") return p ? 1 : 0;
  if (p instanceof Uint8Array) return Buffer.from(p);
  return p;
}

function mapError(err: unknown): unknown {
  if (isStorageFailure(err)) return new StoreUnavailable((err as Error).message, { cause: err });
  const code = (err as { code?: string }).code ?? "";
  if (code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
    return new StoreConflict((err as Error).message);
  }
  return err;
}

export function createSqliteSql(db: Db): Sql {
  const statements = new Map<string, Database.Statement>();
  const prepare = (text: string, params: readonly Param[]) => {
    const { text: sqlite, args } = toSqlite(text, params);
    let stmt = statements.get(sqlite);
    if (!stmt) {
      stmt = db.prepare(sqlite);
      statements.set(sqlite, stmt);
    }
    return { stmt, args };
  };
  const direct = {
    dialect: "sqlite" as const,
    all: <T>(text: string, params: readonly Param[] = []) => {
      const { stmt, args } = prepare(text, params);
      return stmt.all(...args) as T[];
    },
    get: <T>(text: string, params: readonly Param[] = []) => {
      const { stmt, args } = prepare(text, params);
      return stmt.get(...args) as T | undefined;
    },
    run: (text: string, params: readonly Param[] = []) => {
      const { stmt, args } = prepare(text, params);
      return { changes: stmt.run(...args).changes };
    },
  };

  // Notifications stay in this process (SQLite serves one); a transaction's wait for COMMIT.
  const listeners = new Map<string, Set<ListenHandlers>>();
  const deliver = (channel: string, payload: string) => {
    for (const h of listeners.get(channel) ?? []) {
      queueMicrotask(() => {
        // A handler that throws must not become an uncaught exception.
        try {
          h.message(payload);
        } catch {}
      });
    }
  };

  // Transactions, and calls made while one runs or waits, take turns in one queue; a call
  // made while nothing is queued runs at once.
  let busy = 0;
  let queue: Promise<unknown> = Promise.resolve();
  const enqueue = <T>(fn: () => Promise<T>): Promise<T> => {
    busy++;
    const next = queue.then(fn, fn);
    const done = () => {
      busy--;
    };
    queue = next.then(done, done);
    return next;
  };
  const turn = <T>(fn: () => T): Promise<T> =>
    busy === 0 ? settled(fn) : enqueue(() => settled(fn));

  /** A handle usable only while its transaction runs (then it refuses, never autocommits). */
  const handle = (): { tx: Tx; end(): void; sent: Array<[string, string]> } => {
    let ended = false;
    const sent: Array<[string, string]> = [];
    const live = <T>(fn: () => T): Promise<T> =>
      ended ? Promise.reject(new Error("the transaction has ended")) : settled(fn);
    return {
      tx: {
        dialect: "sqlite",
        all: (text, params) => live(() => direct.all(text, params)),
        get: (text, params) => live(() => direct.get(text, params)),
        run: (text, params) => live(() => direct.run(text, params)),
        // The connection holds SQLite's write lock for the whole transaction already.
        lock: () => live(() => undefined),
        notify: (channel, payload) =>
          live(() => {
            assertChannel(channel);
            sent.push([channel, payload]);
          }),
      },
      sent,
      end: () => {
        ended = true;
      },
    };
  };

  const runTransaction = async <T>(fn: (tx: Tx) => Promise<T>): Promise<T> => {
    guard(() => db.exec("BEGIN IMMEDIATE"));
    const { tx, end, sent } = handle();
    try {
      const result = await fn(tx);
      end();
      guard(() => db.exec("COMMIT"));
      for (const [channel, payload] of sent) deliver(channel, payload);
      return result;
    } catch (err) {
      end();
      try {
        if (db.inTransaction) db.exec("ROLLBACK");
      } catch {
        // The original error says more than a failed rollback (SQLite rolls back anyway).
      }
      throw err;
    }
  };

  return withAmbientTransactions({
    dialect: "sqlite",
    all: (text, params) => turn(() => direct.all(text, params)),
    get: (text, params) => turn(() => direct.get(text, params)),
    run: (text, params) => turn(() => direct.run(text, params)),
    exec: (text) => turn(() => void db.exec(text)),
    notify: async (channel, payload) => {
      assertChannel(channel);
      deliver(channel, payload);
    },
    listen: async (channel, handlers) => {
      assertChannel(channel);
      let set = listeners.get(channel);
      if (!set) {
        set = new Set();
        listeners.set(channel, set);
      }
      set.add(handlers);
      return { close: async () => void set.delete(handlers) };
    },
    transaction: (fn) => enqueue(() => runTransaction(fn)),
    hold: holdInProcess(),
    async close() {
      await queue;
      db.close();
    },
  });
}

/** One process serves a SQLite database: held keys are a chain of waiters per key. */
function holdInProcess(): Sql["hold"] {
  const tails = new Map<string, Promise<void>>();
  return async (key) => {
    const before = tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const tail = before.then(() => mine);
    tails.set(key, tail);
    await before;
    return {
      release: async () => {
        release();
        if (tails.get(key) === tail) tails.delete(key);
      },
    };
  };
}

/** Runs `fn` now; its result, or its error mapped, as a settled promise. */
function settled<T>(fn: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(guard(fn)));
}

function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw mapError(err);
  }
}
