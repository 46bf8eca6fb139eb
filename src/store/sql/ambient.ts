/**
 * Ambient transactions: inside `sql.transaction(fn)`, every call made on the same Sql from
 * `fn`'s asynchronous context runs in that transaction, and a nested `transaction` joins it
 * (it commits or rolls back with the outermost one; there are no savepoints). So a store's
 * method works the same inside a caller's transaction and outside one, and no call inside a
 * transaction can wait for the transaction itself (on SQLite's queue that would deadlock).
 *
 * Work that outlives its transaction (a timer set inside one) falls back to the Sql itself:
 * a transaction's context is live only until it ends.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Sql, Tx } from "./types.js";

interface Ambient {
  tx: Tx;
  live: boolean;
}

export function withAmbientTransactions(inner: Sql): Sql {
  const context = new AsyncLocalStorage<Ambient>();
  const current = (): Tx | undefined => {
    const a = context.getStore();
    return a?.live ? a.tx : undefined;
  };
  const runner = () => current() ?? inner;
  return {
    dialect: inner.dialect,
    all: (text, params) => runner().all(text, params),
    get: (text, params) => runner().get(text, params),
    run: (text, params) => runner().run(text, params),
    notify: (channel, payload) => runner().notify(channel, payload),
    exec: (text) => {
      const tx = current();
      return tx ? tx.run(text).then(() => undefined) : inner.exec(text);
    },
    listen: (channel, handlers) => inner.listen(channel, handlers),
    hold: (key) => inner.hold(key),
    close: () => inner.close(),
    transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
      const tx = current();
      if (tx) return fn(tx);
      return inner.transaction((t) => {
        const ambient: Ambient = { tx: t, live: true };
        return context.run(ambient, () =>
          fn(t).finally(() => {
            ambient.live = false;
          }),
        );
      });
    },
  };
}
