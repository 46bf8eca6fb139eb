/**
 * The PostgreSQL engine of the storage seam (./types.ts), over `pg` (node-postgres). Calls
 * outside a transaction take any pooled connection; a transaction holds one connection from
 * BEGIN to COMMIT. `Tx.lock(key)` is `pg_advisory_xact_lock` on a 64-bit key derived from
 * the name (SHA-256), released by PostgreSQL itself at COMMIT or ROLLBACK, or when the
 * connection dies: a process killed mid-transaction holds nothing.
 *
 * int8 columns (counts, milliseconds, sequence numbers) come back as JavaScript numbers,
 * refused beyond 2^53 rather than rounded; amounts are stored as text and stay text.
 * A lost connection, a server shutting down or a refused connect is StoreUnavailable.
 */
import { createHash } from "node:crypto";
import pg from "pg";
import { withAmbientTransactions } from "./ambient.js";
import {
  assertChannel,
  type Listener,
  type ListenHandlers,
  type Param,
  type Sql,
  StoreConflict,
  StoreUnavailable,
  type Tx,
} from "./types.js";

export interface PostgresOptions {
  /** Run in this schema (search_path): tests give each case a schema of its own. */
  schema?: string;
  /** Connections in the pool (default 10). */
  max?: number;
  /**
   * Connections for held locks (Sql.hold), a pool of their own: a lock waits on its
   * connection, and waiters must never take the connections that the holders' own
   * transactions need.
   */
  maxHolds?: number;
  /** How long a connect, a statement and a lock wait may take, ms (defaults 5 s, 30 s, 10 s). */
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
  lockTimeoutMs?: number;
  /** Where errors of idle connections are reported (they must not crash the process). */
  log?: (line: string) => void;
}

const INT8 = 20;
const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;

function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${text} is beyond 2^53`);
  return n;
}

const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8
      ? parseInt8
      : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
};

/**
 * Failures to retry later: SQLSTATE classes 08 (connection) and 57P (shutdown), a lock or
 * statement timeout (55P03, 57014), socket errors, and the pool or a query timing out.
 */
function isUnavailable(err: unknown): boolean {
  const code = String((err as { code?: unknown }).code ?? "");
  // Connection classes, shutdowns, lock and statement timeouts, and deadlock or serialization
  // aborts (40P01, 40001): all of them leave nothing written and may be retried.
  if (/^(08|57P|55P03$|57014$|40P01$|40001$)/.test(code)) return true;
  if (/^(ECONN|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN)/.test(code)) return true;
  const message = err instanceof Error ? err.message : "";
  // A database closed to connections (ALLOW_CONNECTIONS false, 55000 at connect).
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Client was closed|is not currently accepting connections/i.test(
    message,
  );
}

function mapError(err: unknown): unknown {
  if (isUnavailable(err)) return new StoreUnavailable((err as Error).message);
  if ((err as { code?: string }).code === "23505") return new StoreConflict((err as Error).message);
  return err;
}

/**
 * Advisory locks and NOTIFY channels belong to the whole database, not to a schema: a Sql
 * confined to a schema keeps its own apart (two vaults in two schemas of one database
 * neither wait for each other's locks nor hear each other's notifications).
 */
function namespace(schema: string | undefined) {
  if (schema === undefined) return { lockOf: (k: string) => k, channelOf: (c: string) => c };
  const tag = createHash("sha256").update(schema).digest("hex").slice(0, 8);
  return {
    lockOf: (k: string) => `${schema}.${k}`,
    channelOf: (c: string) => {
      const scoped = `${c}_${tag}`;
      if (scoped.length > 63) throw new Error(`channel name too long in a schema: ${c}`);
      return scoped;
    },
  };
}

/** A 64-bit advisory lock key for a name, as the signed decimal PostgreSQL expects. */
export function lockKey(name: string): string {
  return createHash("sha256").update(name).digest().readBigInt64BE(0).toString();
}

const toPg = (params: readonly Param[]) =>
  params.map((p) => (typeof p === "bigint" ? p.toString() : p));

type Queryable = Pick<pg.Pool, "query"> | Pick<pg.PoolClient, "query">;

function runner(on: Queryable, channelOf: (c: string) => string = (c) => c) {
  const query = async <T>(text: string, params: readonly Param[] = []) => {
    try {
      return (await on.query(text, toPg(params) as unknown[])) as pg.QueryResult & { rows: T[] };
    } catch (err) {
      throw mapError(err);
    }
  };
  return {
    dialect: "postgres" as const,
    notify: async (channel: string, payload: string) => {
      assertChannel(channel);
      await query("SELECT pg_notify($1, $2)", [channelOf(channel), payload]);
    },
    all: async <T>(text: string, params?: readonly Param[]) => (await query<T>(text, params)).rows,
    get: async <T>(text: string, params?: readonly Param[]) =>
      (await query<T>(text, params)).rows[0],
    run: async (text: string, params?: readonly Param[]) => ({
      changes: (await query(text, params)).rowCount ?? 0,
    }),
  };
}

export function createPostgresSql(url: string, opts: PostgresOptions = {}): Sql {
  if (opts.schema !== undefined && !SCHEMA.test(opts.schema)) {
    throw new Error(`not a plain schema name: ${opts.schema}`);
  }
  const { lockOf, channelOf } = namespace(opts.schema);
  const settings = [
    `-c statement_timeout=${opts.statementTimeoutMs ?? 30_000}`,
    `-c lock_timeout=${opts.lockTimeoutMs ?? 10_000}`,
    ...(opts.schema ? [`-c search_path=${opts.schema}`] : []),
  ];
  const clientConfig = {
    connectionString: url,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
    options: settings.join(" "),
    types,
    // Probe idle sockets within seconds, not the OS's two hours: a listener sends nothing.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
  const pool = new pg.Pool({
    ...clientConfig,
    max: opts.max ?? 10,
    // A half-open connection (a partition) must end in an error, not a wait forever.
    query_timeout: (opts.statementTimeoutMs ?? 30_000) + 5_000,
  });
  pool.on("error", (err) => opts.log?.(`postgres: idle connection lost: ${err.message}`));
  let holdPool: pg.Pool | undefined;
  const newHoldPool = () => {
    // A held lock waits for another replica's whole request (node calls included), not a
    // statement: a minute before it gives up with StoreUnavailable.
    const options = clientConfig.options.replace(/lock_timeout=\d+/, "lock_timeout=60000");
    const holds = new pg.Pool({ ...clientConfig, options, max: opts.maxHolds ?? 64 });
    holds.on("error", (err) => opts.log?.(`postgres: idle lock connection lost: ${err.message}`));
    return holds;
  };
  const root = runner(pool, channelOf);
  const listeners = new Set<Listener>();

  return withAmbientTransactions({
    ...root,
    async exec(text) {
      await root.run(text);
    },
    async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw mapError(err);
      }
      // A checked-out connection that dies emits "error": without a listener, a crash.
      let lost: Error | undefined;
      const onError = (err: Error) => {
        lost = err;
        opts.log?.(`postgres: connection lost in a transaction: ${err.message}`);
      };
      client.on("error", onError);
      // Usable only while the transaction runs: a body still running after it ended
      // (a sibling promise that lost a race) gets an error, not autocommit.
      let ended = false;
      const live = runner(client, channelOf);
      const guard =
        <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
        (...a: A) =>
          ended ? Promise.reject(new Error("the transaction has ended")) : fn(...a);
      const tx: Tx = {
        dialect: "postgres",
        notify: guard(live.notify),
        all: guard(live.all),
        get: guard(live.get),
        run: guard(live.run),
        lock: guard(async (key: string) => {
          await live.run("SELECT pg_advisory_xact_lock($1::bigint)", [lockKey(lockOf(key))]);
        }),
      };
      try {
        await tx.run("BEGIN");
        const result = await fn(tx);
        // Ended before COMMIT is sent: a call racing it must not run after it, in autocommit.
        ended = true;
        await live.run("COMMIT");
        client.off("error", onError);
        client.release();
        return result;
      } catch (err) {
        ended = true;
        // A connection that failed is destroyed, not returned to the pool.
        const broken = err instanceof StoreUnavailable || lost !== undefined;
        if (!broken) await client.query("ROLLBACK").catch(() => undefined);
        client.off("error", onError);
        client.release(broken ? (lost ?? (err as Error)) : undefined);
        throw err;
      }
    },
    async hold(key) {
      holdPool ??= newHoldPool();
      const client = await holdPool.connect().catch((err: unknown) => {
        throw mapError(err);
      });
      // The client goes back to the pool exactly once: destroyed when it failed (the lock
      // went with the connection), kept after a clean unlock. A pool cannot close while a
      // client of it is out, so a lost one is given back at once.
      let out = true;
      const giveBack = (err?: Error) => {
        if (!out) return;
        out = false;
        client.off("error", onError);
        client.release(err);
      };
      const onError = (err: Error) => {
        opts.log?.(`postgres: connection lost holding a lock: ${err.message}`);
        giveBack(err);
      };
      client.on("error", onError);
      const held = runner(client, channelOf);
      try {
        await held.run("SELECT pg_advisory_lock($1::bigint)", [lockKey(lockOf(key))]);
      } catch (err) {
        giveBack(err as Error);
        throw err;
      }
      return {
        release: async () => {
          if (!out) return;
          try {
            await held.run("SELECT pg_advisory_unlock($1::bigint)", [lockKey(lockOf(key))]);
            giveBack();
          } catch (err) {
            giveBack(err as Error);
          }
        },
      };
    },
    async listen(channel, handlers) {
      assertChannel(channel);
      const listener = await listenOn(clientConfig, channelOf(channel), handlers, opts.log);
      listeners.add(listener);
      return {
        close: async () => {
          listeners.delete(listener);
          await listener.close();
        },
      };
    },
    async close() {
      await Promise.all([...listeners].map((l) => l.close()));
      await Promise.all([pool.end(), holdPool?.end()]);
    },
  });
}

const RECONNECT_MS = [50, 100, 200, 500, 1000, 2000];

/** A listener's handler that throws is reported, never an uncaught exception. */
function safely(fn: () => void, log?: (line: string) => void): void {
  try {
    fn();
  } catch (err) {
    log?.(`postgres: a listener's handler failed: ${(err as Error).message}`);
  }
}

/**
 * LISTEN on a connection of its own. When it is lost, it connects again (backing off up to
 * 2 s), listens again and calls `reset`: whatever was sent meanwhile was not received.
 */
async function listenOn(
  config: pg.ClientConfig,
  channel: string,
  handlers: ListenHandlers,
  log?: (line: string) => void,
): Promise<Listener> {
  assertChannel(channel);
  let closed = false;
  let client: pg.Client | undefined;
  let attempt = 0;

  /** A listening connection; `lost` fires once if it ends after it was listening. */
  const connect = async (lost: () => void): Promise<pg.Client> => {
    const c = new pg.Client({ ...config, application_name: `agent-vault-listen-${channel}` });
    c.on("notification", (m) => {
      if (m.channel === channel) safely(() => handlers.message(m.payload ?? ""), log);
    });
    c.on("error", (err) => log?.(`postgres: listener on ${channel}: ${err.message}`));
    try {
      await c.connect();
      await c.query(`LISTEN "${channel}"`);
    } catch (err) {
      await c.end().catch(() => undefined);
      throw mapError(err);
    }
    // Attached once listening (events come after this continuation): a failure before
    // that is the caller's rejection, never a second reconnect.
    c.on("end", () => {
      if (!closed) lost();
    });
    return c;
  };

  const again = (): void => {
    const wait = RECONNECT_MS[Math.min(attempt++, RECONNECT_MS.length - 1)];
    setTimeout(() => {
      if (closed) return;
      connect(again).then(
        (c) => {
          client = c;
          attempt = 0;
          if (closed) void c.end().catch(() => undefined);
          else safely(() => handlers.reset?.(), log);
        },
        () => again(),
      );
    }, wait).unref();
  };

  client = await connect(again);
  return {
    async close() {
      closed = true;
      await client?.end().catch(() => undefined);
    },
  };
}
