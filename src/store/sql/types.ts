/**
 * The storage engines' common ground (issue 12, "one storage seam, two engines"): SQL text
 * with PostgreSQL's `$1 … $n` placeholders, run by SQLite (better-sqlite3, the embedded
 * default) or PostgreSQL (`pg`). Every call is asynchronous, because a network database is;
 * the SQLite engine answers at once.
 *
 * Transactions are explicit: `transaction(fn)` hands `fn` a `Tx` and commits when its
 * promise resolves, rolls back when it rejects. `Tx.lock(key)` serialises the transactions
 * that take the same key, across every process sharing the database (PostgreSQL: a
 * transaction-level advisory lock; SQLite: its one writer already excludes the others), so
 * a read-check-write under it (a budget reservation, an audit head) cannot interleave.
 *
 * Changes are pushed with `notify(channel, payload)` and received by `listen`: PostgreSQL's
 * NOTIFY/LISTEN, delivered to every process on the database, and only once the transaction
 * that sent it commits; SQLite's engine delivers in-process, after commit too. A listener
 * whose connection was lost is told to `reset` when it is back: it may have missed changes.
 */

export type Dialect = "sqlite" | "postgres";

/** What a statement parameter may be. bigint is for values beyond 2^53. */
export type Param = string | number | bigint | boolean | null | Uint8Array;

export interface SqlRunner {
  readonly dialect: Dialect;
  all<T>(text: string, params?: readonly Param[]): Promise<T[]>;
  get<T>(text: string, params?: readonly Param[]): Promise<T | undefined>;
  run(text: string, params?: readonly Param[]): Promise<{ changes: number }>;
  /** Sends `payload` to the channel's listeners (in a transaction: when it commits). */
  notify(channel: string, payload: string): Promise<void>;
}

export interface Held {
  release(): Promise<void>;
}

export interface Listener {
  close(): Promise<void>;
}

export interface ListenHandlers {
  message(payload: string): void;
  /** The connection was lost and is back: changes may have been missed meanwhile. */
  reset?(): void;
}

/** Channel names: plain lowercase identifiers (they are SQL identifiers on PostgreSQL). */
export const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertChannel(channel: string): void {
  if (!CHANNEL.test(channel)) throw new Error(`not a plain channel name: ${channel}`);
}

export interface Tx extends SqlRunner {
  /** Holds `key` until this transaction ends; others taking it wait. */
  lock(key: string): Promise<void>;
}

export interface Sql extends SqlRunner {
  /**
   * Runs `fn` in one transaction. Use only `tx` inside it: a call on the Sql itself would
   * wait for this transaction to end (SQLite) or run outside it (PostgreSQL).
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Runs statements without parameters (schema changes). */
  exec(text: string): Promise<void>;
  /**
   * Holds `key` until released, outside any transaction, against every process sharing the
   * database: work that must not overlap across replicas but spans network calls (an agent's
   * signing, whose sequence numbers the nodes take strictly in order). PostgreSQL: a session
   * advisory lock on a connection of its own, so a process that dies releases it with its
   * connection; SQLite (one process): an in-process lock. Waits at most the lock timeout.
   */
  hold(key: string): Promise<Held>;
  /** Receives what any process sharing the database sends on `channel`. */
  listen(channel: string, handlers: ListenHandlers): Promise<Listener>;
  close(): Promise<void>;
}

/** The database cannot be reached or written (lost connection, disk full): retry later. */
export class StoreUnavailable extends Error {
  readonly code = "STORE_UNAVAILABLE";
}

/** A uniqueness rule refused the write (the row exists). */
export class StoreConflict extends Error {
  readonly code = "STORE_CONFLICT";
}
