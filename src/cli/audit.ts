/**
 * `agent-vault audit verify|export`: works on the database file itself, offline, so
 * anyone holding it can check the chain without trusting a running vault. With a
 * running vault (`--remote`), verification also checks the checkpoint signatures and
 * the heads each signer node kept.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { exportJsonl } from "../audit/export.js";
import { createAuditLog } from "../audit/log.js";
import { loadClientConfig } from "../config/index.js";
import { openDatabase } from "../store/db.js";
import { checkpointSigner } from "../threshold/checkpoint.js";

export async function auditCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { "data-dir": { type: "string" }, remote: { type: "boolean", default: false } },
  });
  const dataDir = values["data-dir"] ?? loadClientConfig().dataDir;
  if (positionals[0] === "verify" && values.remote) return remoteVerify();
  const db = openDatabase(join(dataDir, "vault.sqlite"));
  const log = createAuditLog(db);
  if (positionals[0] === "export") {
    exportJsonl(log, (line) => process.stdout.write(line));
    return 0;
  }
  if (positionals[0] !== "verify")
    throw new Error("usage: audit verify [--data-dir=D] [--remote] | audit export [--data-dir=D]");
  const result = log.verify();
  const clusterAddress = (
    db.prepare("SELECT v FROM meta WHERE k = 'cluster_address'").get() as { v: string } | undefined
  )?.v;
  const badSig = log.checkpoints.list().find((cp) => {
    try {
      const zk = typeof cp.extra?.zkHead === "string" ? cp.extra.zkHead : undefined;
      if (zk !== undefined && log.zkHeadAt(cp.seq) !== zk) return true;
      return checkpointSigner(cp.seq, cp.hash, cp.signature, zk) !== clusterAddress;
    } catch {
      return true;
    }
  });
  const ok = result.ok && !badSig;
  console.log(
    JSON.stringify(
      {
        ...result,
        ok,
        checkpoints: log.checkpoints.list().length,
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
