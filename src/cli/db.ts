/**
 * `agent-vault db status|migrate [--url=U]`: the storage seam's schema versions (src/store/sql)
 * on a vault database, SQLite (default: the data directory's vault.sqlite; `sqlite:<file>`)
 * or PostgreSQL (`postgres://…`). `status` only reads, and exits 0 when nothing is pending
 * and no step is newer than this build, 1 otherwise;
 * `migrate` applies what is pending, once even when several run at the same moment;
 * `copy` moves a SQLite vault to PostgreSQL and verifies its audit chain there.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openAuditLog } from "../audit/log.js";
import { loadClientConfig } from "../config/index.js";
import { migrateSchema, schemaStatus } from "../services/schema.js";
import { copyVault } from "../store/copy.js";
import { engineOf, openSql, sqliteFile } from "../store/sql/index.js";

const USAGE =
  "usage: db status [--url=U] | db migrate [--url=U] | db copy --from=sqlite:FILE --to=postgres://…";

export async function dbCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: "string" },
      "data-dir": { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
    },
  });
  const action = positionals[0];
  const defaultUrl = () =>
    `sqlite:${join(values["data-dir"] ?? loadClientConfig().dataDir, "vault.sqlite")}`;
  if (action === "copy") {
    if (!values.to) throw new Error(USAGE);
    return copyCommand(values.from ?? defaultUrl(), values.to);
  }
  if (action !== "status" && action !== "migrate") throw new Error(USAGE);
  const url = values.url ?? defaultUrl();
  const sql = openExisting(url);
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

/** A mistyped SQLite path must not leave a new empty database behind. */
function openExisting(url: string) {
  const file = engineOf(url) === "sqlite" ? sqliteFile(url) : undefined;
  if (file !== undefined && !existsSync(file)) throw new Error(`no vault database at ${file}`);
  return openSql(url);
}

/**
 * Moves a vault to another database: both are migrated to this build (the source as the
 * vault itself would on start), the rows copied in one transaction (src/store/copy.ts), then
 * the audit chain is verified on the target. Stop the vault first: rows written during the
 * copy would be left behind.
 */
async function copyCommand(fromUrl: string, toUrl: string): Promise<number> {
  if (engineOf(fromUrl) !== "sqlite") throw new Error("db copy: --from must be a sqlite: file");
  const from = openExisting(fromUrl);
  const to = openSql(toUrl);
  try {
    await migrateSchema(from);
    await migrateSchema(to);
    const report = await copyVault(from, to);
    const chain = await (await openAuditLog(to)).verify();
    console.log(JSON.stringify({ ...report, audit: chain }, null, 2));
    return chain.ok ? 0 : 1;
  } finally {
    await Promise.allSettled([from.close(), to.close()]);
  }
}
