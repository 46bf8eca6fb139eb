/**
 * The storage seam's contract (src/store/sql), one table of cases run against both engines:
 * SQLite (a real file, serving one process: concurrent callers share its engine) and a real
 * PostgreSQL server (a schema per case; a second pool stands for a second vault replica).
 */
import assert from "node:assert/strict";
import { after } from "node:test";
import {
  createPostgresSql,
  type Sql,
  StoreConflict,
  StoreUnavailable,
} from "../../src/store/sql/index.js";
import { type Migration, migrate, SchemaTooNew } from "../../src/store/sql/migrate.js";
import { onBothEngines } from "../helpers/engines.js";
import { PG_URL, pgSchema, terminateBackend } from "../helpers/pg.js";

const opened: Sql[] = [];
const track = (sql: Sql) => {
  opened.push(sql);
  return sql;
};
after(async () => {
  await Promise.allSettled(opened.map((s) => s.close()));
});

/** Polls `ok` every 10 ms; fails after 10 s. */
async function until(ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > deadline) assert.fail("timed out waiting for a notification");
    await new Promise((r) => setTimeout(r, 10));
  }
}

const LEDGER =
  "CREATE TABLE ledger (id TEXT PRIMARY KEY, agent TEXT NOT NULL, amount BIGINT NOT NULL)";

onBothEngines({
  "numbers past 2^31 come back as numbers, text as text, null as null": async (f) => {
    const sql = f.open();
    await sql.exec("CREATE TABLE t (ms BIGINT, s TEXT, n TEXT)");
    await sql.run("INSERT INTO t (ms, s, n) VALUES ($1, $2, $3)", [1_764_000_000_000, "100", null]);
    assert.deepEqual(await sql.get("SELECT ms, s, n FROM t"), {
      ms: 1_764_000_000_000,
      s: "100",
      n: null,
    });
    const count = await sql.get<{ c: number }>("SELECT count(*) AS c FROM t");
    assert.equal(count?.c, 1);
  },

  "placeholders may repeat and go past $9": async (f) => {
    const sql = f.open();
    const params = "abcdefghijk".split("");
    const all = params.map((_, i) => `CAST($${i + 1} AS TEXT)`).join(" || ");
    const row = await sql.get(
      `SELECT ${all} AS s, CAST($11 AS TEXT) || CAST($1 AS TEXT) AS t`,
      params,
    );
    assert.deepEqual(row, { s: "abcdefghijk", t: "ka" });
  },

  "a transaction that throws leaves nothing; one that returns is seen by another replica": async (
    f,
  ) => {
    const a = f.open();
    const b = f.open();
    await a.exec(LEDGER);
    await assert.rejects(
      a.transaction(async (tx) => {
        await tx.run("INSERT INTO ledger VALUES ('x', 'agt', 5)");
        throw new Error("boom");
      }),
      /boom/,
    );
    assert.equal(await b.get("SELECT id FROM ledger"), undefined);
    await a.transaction(async (tx) => tx.run("INSERT INTO ledger VALUES ('y', 'agt', 5)"));
    assert.deepEqual(await b.get("SELECT id FROM ledger"), { id: "y" });
  },

  "a duplicate key is StoreConflict": async (f) => {
    const sql = f.open();
    await sql.exec(LEDGER);
    await sql.run("INSERT INTO ledger VALUES ('x', 'agt', 1)");
    await assert.rejects(sql.run("INSERT INTO ledger VALUES ('x', 'agt', 2)"), StoreConflict);
  },

  "40 reservations over two replicas against a cap of 10: exactly 10 are taken": async (f) => {
    const replicas = [f.open(), f.open()];
    await replicas[0]?.exec(LEDGER);
    const reserve = (sql: Sql, i: number) =>
      sql.transaction(async (tx) => {
        await tx.lock("cap:agt");
        const spent = await tx.get<{ s: number | null }>(
          "SELECT sum(amount) AS s FROM ledger WHERE agent = $1",
          ["agt"],
        );
        if (Number(spent?.s ?? 0) + 1 > 10) return false;
        await tx.run("INSERT INTO ledger VALUES ($1, 'agt', 1)", [`r${i}`]);
        return true;
      });
    const taken = await Promise.all(
      Array.from({ length: 40 }, (_, i) => reserve(replicas[i % 2] as Sql, i)),
    );
    assert.equal(taken.filter(Boolean).length, 10);
    const total = await replicas[1]?.get<{ s: number }>("SELECT sum(amount) AS s FROM ledger");
    assert.equal(Number(total?.s), 10);
  },

  "migrations: each step once, even for replicas starting together; a newer database is refused":
    async (f) => {
      const steps: Migration[] = [
        {
          version: 1,
          name: "jobs",
          sqlite: "CREATE TABLE jobs (id TEXT)",
          postgres: "CREATE TABLE jobs (id TEXT)",
        },
        {
          version: 2,
          name: "jobs.state",
          sqlite:
            "ALTER TABLE jobs ADD COLUMN state TEXT;\nCREATE INDEX jobs_state ON jobs (state)",
          postgres:
            "ALTER TABLE jobs ADD COLUMN state TEXT;\nCREATE INDEX jobs_state ON jobs (state)",
        },
      ];
      const [a, b] = [f.open(), f.open()];
      const ran = await Promise.all([migrate(a, "jobs", steps), migrate(b, "jobs", steps)]);
      assert.deepEqual(ran.flat().sort(), [1, 2]);
      assert.deepEqual(await migrate(a, "jobs", steps), []);
      await a.run("INSERT INTO jobs (id, state) VALUES ('j', 'queued')");
      await assert.rejects(migrate(b, "jobs", steps.slice(0, 1)), SchemaTooNew);
    },

  "a notification reaches every listener of its channel, on every replica, and no other": async (
    f,
  ) => {
    const [a, b] = [f.open(), f.open()];
    const heard: string[] = [];
    const listeners = [
      await a.listen("revoked", { message: (p) => heard.push(`a:${p}`) }),
      await b.listen("revoked", { message: (p) => heard.push(`b:${p}`) }),
      await b.listen("other", { message: (p) => heard.push(`other:${p}`) }),
    ];
    try {
      await a.notify("revoked", "key_1");
      await until(() => heard.length >= 2);
      assert.deepEqual(heard.sort(), ["a:key_1", "b:key_1"]);
    } finally {
      for (const l of listeners) await l.close();
    }
  },

  "a notification sent in a transaction arrives once it commits; a rolled-back one never": async (
    f,
  ) => {
    const [a, b] = [f.open(), f.open()];
    const heard: string[] = [];
    const listener = await b.listen("changes", { message: (p) => heard.push(p) });
    try {
      await assert.rejects(
        a.transaction(async (tx) => {
          await tx.notify("changes", "rolled-back");
          throw new Error("no");
        }),
      );
      let inside = -1;
      await a.transaction(async (tx) => {
        await tx.notify("changes", "committed");
        await new Promise((r) => setTimeout(r, 50));
        inside = heard.length;
      });
      assert.equal(inside, 0, "nothing arrives before COMMIT");
      await until(() => heard.length >= 1);
      await a.notify("changes", "after");
      await until(() => heard.length >= 2);
      assert.deepEqual(heard, ["committed", "after"]);
      await assert.rejects(a.notify("Bad channel", "x"), /not a plain channel name/);
    } finally {
      await listener.close();
    }
  },

  "a handler that throws is contained, and closing the Sql closes its listeners": async (f) => {
    const sql = f.open();
    const heard: string[] = [];
    await sql.listen("throws", {
      message: () => {
        throw new Error("a careless handler");
      },
    });
    await sql.listen("throws", { message: (p) => heard.push(p) });
    await sql.notify("throws", "still delivered");
    await until(() => heard.length === 1);
    if (sql.dialect === "postgres") {
      const listening = () =>
        f
          .open()
          .all("SELECT pid FROM pg_stat_activity WHERE application_name LIKE $1", [
            "agent-vault-listen-throws%",
          ]);
      assert.equal((await listening()).length, 2);
      await sql.close();
      assert.equal((await listening()).length, 0, "no listener outlives its Sql");
    }
  },

  "a listener whose connection is killed listens again and is told to reset": {
    only: "postgres",
    run: async (f) => {
      const sql = f.open();
      const heard: string[] = [];
      let resets = 0;
      const channel = `c_${Date.now()}`;
      const listener = await sql.listen(channel, {
        message: (p) => heard.push(p),
        reset: () => resets++,
      });
      try {
        const pids = await sql.all<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE application_name LIKE $1",
          [`agent-vault-listen-${channel}%`],
        );
        assert.equal(pids.length, 1);
        await terminateBackend(Number(pids[0]?.pid));
        await until(() => resets === 1);
        await sql.notify(channel, "back");
        await until(() => heard.length === 1);
        assert.deepEqual(heard, ["back"]);
      } finally {
        await listener.close();
      }
    },
  },

  "two schemas of one database keep their locks and notifications apart": {
    only: "postgres",
    run: async (f) => {
      const mine = f.open();
      const other = await pgSchema();
      const theirs = track(createPostgresSql(PG_URL, { schema: other.schema, max: 2 }));
      try {
        const heard: string[] = [];
        const channel = "shared_name";
        const listening = await theirs.listen(channel, {
          message: (p) => heard.push(p),
          reset: () => undefined,
        });
        const ownHeard: string[] = [];
        const own = await mine.listen(channel, {
          message: (p) => ownHeard.push(p),
          reset: () => undefined,
        });
        try {
          await mine.notify(channel, "mine");
          await until(() => ownHeard.length === 1);
          await theirs.notify(channel, "theirs");
          await until(() => heard.length === 1);
          // Each heard its own schema's notification, and only that one.
          assert.deepEqual(heard, ["theirs"]);
          assert.deepEqual(ownHeard, ["mine"]);
        } finally {
          await Promise.all([listening.close(), own.close()]);
        }
        // A lock of the same name held in one schema does not hold the other back.
        await mine.transaction(async (tx) => {
          await tx.lock("audit_head");
          await theirs.transaction(async (tx2) => tx2.lock("audit_head"));
        });
      } finally {
        await theirs.close();
        await other.drop();
      }
    },
  },

  "a connection lost mid-transaction is StoreUnavailable, nothing is half-written, and the next call works":
    {
      only: "postgres",
      run: async (f) => {
        const sql = f.open();
        await sql.exec(LEDGER);
        await assert.rejects(
          sql.transaction(async (tx) => {
            await tx.run("INSERT INTO ledger VALUES ('x', 'agt', 1)");
            const me = await tx.get<{ pid: number }>("SELECT pg_backend_pid() AS pid");
            await terminateBackend(Number(me?.pid));
            await tx.run("INSERT INTO ledger VALUES ('y', 'agt', 1)");
          }),
          StoreUnavailable,
        );
        assert.deepEqual(await sql.all("SELECT id FROM ledger"), []);
        await sql.run("INSERT INTO ledger VALUES ('z', 'agt', 1)");
        assert.deepEqual(await sql.all("SELECT id FROM ledger"), [{ id: "z" }]);
      },
    },

  "a server that cannot be reached is StoreUnavailable": {
    only: "postgres",
    run: async () => {
      const sql = track(
        createPostgresSql("postgres://postgres@127.0.0.1:1/test", { connectTimeoutMs: 1000 }),
      );
      await assert.rejects(sql.get("SELECT 1"), StoreUnavailable);
      await assert.rejects(
        sql.transaction(async () => undefined),
        StoreUnavailable,
      );
    },
  },

  "a call made elsewhere while a transaction runs waits for it, never lands inside it": {
    only: "sqlite",
    run: async (f) => {
      const sql = f.open();
      await sql.exec(LEDGER);
      const failing = sql.transaction(async (tx) => {
        await tx.run("INSERT INTO ledger VALUES ('in', 'agt', 1)");
        await new Promise((r) => setTimeout(r, 20));
        throw new Error("rolled back");
      });
      // Made from this context, not the transaction's: it must not join it.
      const outside = sql.run("INSERT INTO ledger VALUES ('out', 'agt', 1)");
      await assert.rejects(failing, /rolled back/);
      await outside;
      assert.deepEqual(await sql.all("SELECT id FROM ledger"), [{ id: "out" }]);
    },
  },

  "a held key keeps every other replica out until it is released": async (f) => {
    const [a, b] = [f.open(), f.open()];
    const order: string[] = [];
    const first = await a.hold("agent:agt_1");
    const second = b.hold("agent:agt_1").then((h) => {
      order.push("b holds");
      return h;
    });
    const other = await b.hold("agent:agt_2"); // another key is not held up
    await other.release();
    await new Promise((r) => setTimeout(r, 50));
    order.push("a releases");
    await first.release();
    await (await second).release();
    assert.deepEqual(order, ["a releases", "b holds"]);
  },

  "a held key is let go when its holder's connection dies (a killed replica)": {
    only: "postgres",
    run: async (f) => {
      const [a, b] = [f.open(), f.open()];
      await a.hold("agent:agt_1");
      const holder = await b.get<{ pid: number }>(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted LIMIT 1",
      );
      const waiting = b.hold("agent:agt_1");
      await terminateBackend(Number(holder?.pid));
      const h = await waiting;
      await h.release();
    },
  },

  "inside a transaction the Sql itself runs in it, and a nested transaction joins it": async (
    f,
  ) => {
    const sql = f.open();
    await sql.exec(LEDGER);
    await assert.rejects(
      sql.transaction(async () => {
        await sql.run("INSERT INTO ledger VALUES ('a', 'agt', 1)");
        await sql.transaction(async (inner) => {
          await inner.lock("agt");
          await inner.run("INSERT INTO ledger VALUES ('b', 'agt', 1)");
        });
        assert.equal((await sql.all("SELECT id FROM ledger")).length, 2);
        throw new Error("rolled back");
      }),
      /rolled back/,
    );
    assert.deepEqual(await sql.all("SELECT id FROM ledger"), []);
  },

  "work that outlives its transaction runs on the Sql, not the ended transaction": async (f) => {
    const sql = f.open();
    await sql.exec(LEDGER);
    let later: Promise<unknown> | undefined;
    await sql.transaction(async () => {
      later = new Promise((r) => setTimeout(r, 10)).then(() =>
        sql.run("INSERT INTO ledger VALUES ('later', 'agt', 1)"),
      );
    });
    await later;
    assert.deepEqual(await sql.all("SELECT id FROM ledger"), [{ id: "later" }]);
  },
});
