/**
 * `agent-vault audit verify|export`: works on the database file itself, offline, so
 * anyone holding it can check the chain without trusting a running vault. With a
 * running vault (`--remote`), verification also checks the checkpoint signatures and
 * the heads each signer node kept.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { exportJsonl } from "../audit/export.js";
import { openAuditLog } from "../audit/log.js";
import type { AuditLog } from "../audit/types.js";
import { loadClientConfig } from "../config/index.js";
import { openSql, type Sql } from "../store/sql/index.js";
import { checkpointSigner } from "../threshold/checkpoint.js";

export async function auditCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      "data-dir": { type: "string" },
      url: { type: "string" },
      remote: { type: "boolean", default: false },
    },
  });
  const dataDir = values["data-dir"] ?? loadClientConfig().dataDir;
  if (positionals[0] === "verify" && values.remote) return remoteVerify();
  if (positionals[0] !== "export" && positionals[0] !== "verify")
    throw new Error(
      "usage: audit verify [--data-dir=D | --url=U] [--remote] | audit export [--data-dir=D | --url=U]",
    );
  // The vault's database: --url, else VAULT_DATABASE_URL, else the data directory's file.
  const url =
    values.url ?? process.env.VAULT_DATABASE_URL ?? `sqlite:${join(dataDir, "vault.sqlite")}`;
  const sql = openSql(url);
  try {
    const log = await openAuditLog(sql);
    if (positionals[0] === "export") {
      await exportJsonl(log, (line) => process.stdout.write(line));
      return 0;
    }
    return await verifyLocal(log, sql);
  } finally {
    await sql.close();
  }
}

async function verifyLocal(log: AuditLog, sql: Sql): Promise<number> {
  const result = await log.verify();
  const clusterAddress = (
    await sql.get<{ v: string }>("SELECT v FROM meta WHERE k = 'cluster_address'")
  )?.v;
  const checkpoints = await log.checkpoints.list();
  let badSig: (typeof checkpoints)[number] | undefined;
  for (const cp of checkpoints) {
    try {
      const zk = typeof cp.extra?.zkHead === "string" ? cp.extra.zkHead : undefined;
      if (zk !== undefined && (await log.zkHeadAt(cp.seq)) !== zk) badSig = cp;
      else if (checkpointSigner(cp.seq, cp.hash, cp.signature, zk) !== clusterAddress) badSig = cp;
    } catch {
      badSig = cp;
    }
    if (badSig) break;
  }
  const ok = result.ok && !badSig;
  console.log(
    JSON.stringify(
      {
        ...result,
        ok,
        checkpoints: checkpoints.length,
        ...(badSig ? { badCheckpointSeq: badSig.seq } : {}),
      },
      null,
      2,
    ),
  );
  return ok ? 0 : 1;
}

async function remoteVerify(): Promise<number> {
  const config = loadClientConfig();
  const token = config.apiKey ?? config.adminKey;
  const res = await fetch(`${config.url}/v1/audit/verify`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = (await res.json()) as { ok?: boolean };
  console.log(JSON.stringify(body, null, 2));
  return body.ok ? 0 : 1;
}
