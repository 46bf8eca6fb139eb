/**
 * `agent-vault db status|migrate [--url=U]`: the storage seam's schema versions (src/store/sql)
 * on a vault database, SQLite (default: the data directory's vault.sqlite; `sqlite:<file>`)
 * or PostgreSQL (`postgres://…`). `status` only reads, and exits 0 when nothing is pending
 * and no step is newer than this build, 1 otherwise;
 * `migrate` applies what is pending, once even when several run at the same moment.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadClientConfig } from "../config/index.js";
import { migrateSchema, schemaStatus } from "../services/schema.js";
import { engineOf, openSql, sqliteFile } from "../store/sql/index.js";

const USAGE = "usage: db status [--url=U] | db migrate [--url=U]";

export async function dbCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { url: { type: "string" }, "data-dir": { type: "string" } },
  });
  const action = positionals[0];
  if (action !== "status" && action !== "migrate") throw new Error(USAGE);
  const url =
    values.url ??
    `sqlite:${join(values["data-dir"] ?? loadClientConfig().dataDir, "vault.sqlite")}`;
  // A mistyped path must not leave a new empty database behind.
  const file = engineOf(url) === "sqlite" ? sqliteFile(url) : undefined;
  if (file !== undefined && !existsSync(file)) throw new Error(`no vault database at ${file}`);
  const sql = openSql(url);
  try {
    if (action === "migrate") {
      for (const { domain, applied } of await migrateSchema(sql)) {
        console.log(
          `${domain}: ${applied.length ? `applied ${applied.join(", ")}` : "up to date"}`,
        );
      }
      return 0;
    }
    let clean = true;
    for (const s of await schemaStatus(sql)) {
      const at = s.applied.at(-1) ?? 0;
      const rest = s.pending.map((p) => `${p.version} ${p.name}`).join(", ");
      if (s.newer.length > 0) {
        console.log(`${s.domain}: version ${s.newer.at(-1)}, newer than this build knows (${at})`);
      } else {
        console.log(`${s.domain}: version ${at}${rest ? `; pending: ${rest}` : ", up to date"}`);
      }
      clean &&= s.pending.length === 0 && s.newer.length === 0;
    }
    return clean ? 0 : 1;
  } finally {
    await sql.close();
  }
}
