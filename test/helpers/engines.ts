/**
 * Both storage engines as test fixtures (src/store/sql): a fresh database per case and a way
 * to open connections to it. SQLite serves one process, so its "replicas" share that
 * process's engine; PostgreSQL gets a schema per case and a pool per replica.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { openDatabase } from "../../src/store/db.js";
import { createPostgresSql, createSqliteSql, type Sql } from "../../src/store/sql/index.js";
import { PG_URL, pgSchema } from "./pg.js";

export interface Fixture {
  /** A connection to this case's database: each call a new replica (PostgreSQL). */
  open(): Sql;
  /** The SQLite file (SQLite only): earlier builds' tables can be made in it first. */
  file?: string;
}

type Engine = "sqlite" | "postgres";

async function fixture(engine: Engine): Promise<{ f: Fixture; done(): Promise<void> }> {
  const opened: Sql[] = [];
  const track = (sql: Sql) => {
    opened.push(sql);
    return sql;
  };
  const close = () => Promise.allSettled(opened.map((s) => s.close()));
  if (engine === "sqlite") {
    const file = join(mkdtempSync(join(tmpdir(), "av-sql-")), "vault.sqlite");
    let sql: Sql | undefined;
    const open = () => {
      sql ??= track(createSqliteSql(openDatabase(file)));
      return sql;
    };
    return { f: { open, file }, done: async () => void (await close()) };
  }
  const { schema, drop } = await pgSchema();
  return {
    f: { open: () => track(createPostgresSql(PG_URL, { schema, max: 4 })) },
    done: async () => {
      await close();
      await drop();
    },
  };
}

/** Registers each case once per engine (`only` restricts a case to one). */
export function onBothEngines(
  cases: Record<
    string,
    { run: (f: Fixture) => Promise<void>; only?: Engine } | ((f: Fixture) => Promise<void>)
  >,
): void {
  for (const engine of ["sqlite", "postgres"] as const) {
    for (const [name, c] of Object.entries(cases)) {
      const { run, only } = typeof c === "function" ? { run: c, only: undefined } : c;
      if (only && only !== engine) continue;
      test(`${engine}: ${name}`, async () => {
        const { f, done } = await fixture(engine);
        try {
          await run(f);
        } finally {
          await done();
        }
      });
    }
  }
}
