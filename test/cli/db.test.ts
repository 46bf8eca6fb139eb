/**
 * `agent-vault db status|migrate` as a process, on a SQLite file and on a real PostgreSQL
 * database: a new database shows every step pending (exit 1) and status writes nothing,
 * migrate applies each once, then status is clean (exit 0) and migrate has nothing left to
 * do; a step from a newer build makes status fail. A SQLite path that does not exist is
 * refused, not created.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { SCHEMA_DOMAINS } from "../../src/services/schema.js";
import { openDatabase } from "../../src/store/db.js";
import { createPostgresSql, createSqliteSql, type Sql } from "../../src/store/sql/index.js";
import { pgDatabase } from "../helpers/pg.js";
import { runCli } from "../helpers/process.js";

async function roundTrip(url: string, sql: Sql) {
  const ledger = () => sql.all("SELECT * FROM schema_migrations").catch(() => "no ledger");
  const before = await runCli(["db", "status", `--url=${url}`], {});
  assert.equal(await ledger(), "no ledger", "status writes nothing");
  assert.equal(before.code, 1, before.stdout);
  for (const { domain } of SCHEMA_DOMAINS) {
    assert.match(before.stdout, new RegExp(`^${domain}: version 0; pending: 1 `, "m"));
  }
  const migrated = await runCli(["db", "migrate", `--url=${url}`], {});
  assert.equal(migrated.code, 0, migrated.stdout);
  for (const { domain, steps } of SCHEMA_DOMAINS) {
    const all = steps.map((s) => s.version).join(", ");
    assert.match(migrated.stdout, new RegExp(`^${domain}: applied ${all}$`, "m"));
  }
  const after = await runCli(["db", "status", `--url=${url}`], {});
  assert.equal(after.code, 0, after.stdout);
  assert.doesNotMatch(after.stdout, /pending/);
  const again = await runCli(["db", "migrate", `--url=${url}`], {});
  assert.doesNotMatch(again.stdout, /applied/);
  await sql.run(
    "INSERT INTO schema_migrations (domain, version, name, applied_at) VALUES ('proof_jobs', 9, 'later', 'x')",
  );
  const newer = await runCli(["db", "status", `--url=${url}`], {});
  assert.equal(newer.code, 1);
  const known = SCHEMA_DOMAINS.find((d) => d.domain === "proof_jobs")?.steps.at(-1)?.version;
  assert.match(
    newer.stdout,
    new RegExp(`^proof_jobs: version 9, newer than this build knows \\(${known}\\)$`, "m"),
  );
}

test("db status and migrate on a SQLite file; a missing file is refused, not created", async () => {
  const dir = mkdtempSync(join(tmpdir(), "av-db-cli-"));
  const missing = await runCli(["db", "status", `--url=sqlite:${join(dir, "typo.sqlite")}`], {});
  assert.equal(missing.code, 1);
  assert.equal(existsSync(join(dir, "typo.sqlite")), false);
  const file = join(dir, "vault.sqlite");
  const sql = createSqliteSql(openDatabase(file));
  try {
    await roundTrip(`sqlite:${file}`, sql);
  } finally {
    await sql.close();
  }
});

test("db status and migrate on a PostgreSQL database", async () => {
  const db = await pgDatabase();
  const sql = createPostgresSql(db.url);
  try {
    await roundTrip(db.url, sql);
  } finally {
    await sql.close();
    await db.drop();
  }
});
