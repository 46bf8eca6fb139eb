import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import Database from "better-sqlite3";
import { canonicalJson, entryHash, GENESIS_HASH } from "../../src/audit/canonical.js";
import type { AuditEntry } from "../../src/audit/types.js";
import { checkpointSigner } from "../../src/threshold/checkpoint.js";
import { BASIC_POLICY, startTestVault, type TestVault } from "../helpers/vault.js";

let tv: TestVault;
let agent: { id: string };
let auth: Record<string, string>;

before(async () => {
  tv = await startTestVault();
  agent = await tv.createAgent(BASIC_POLICY);
  auth = (await tv.issueKey(agent.id, ["EXECUTE", "AUDIT"])).auth;
});
after(async () => tv?.stop());

const sign = (message: string) =>
  tv.app.inject({
    method: "POST",
    url: `/v1/agents/${agent.id}/sign/message`,
    headers: auth,
    payload: { message },
  });

test("the audit log fails closed: when it cannot be written, no signature is released", async () => {
  // The vault's SQLite file, through the storage seam: cap it at the pages it has.
  const sql = tv.vault.store.sql;
  const pages = (await sql.get<{ page_count: number }>("PRAGMA page_count"))?.page_count;
  await sql.get(`PRAGMA max_page_count = ${pages}`);
  let res: Awaited<ReturnType<typeof sign>> | undefined;
  try {
    // Fill the remaining free pages so the next write needs a new one.
    for (let i = 0; i < 200; i++) {
      res = await sign(`disk full ${i} ${"x".repeat(2000)}`);
      if (res.statusCode !== 200) break;
    }
  } finally {
    await sql.get("PRAGMA max_page_count = 1073741823");
  }
  assert.ok(res);
  assert.equal(res.statusCode, 503, res.body);
  // Whichever write hits the full disk first (the audit entry or the ledger row), the
  // request fails closed with a 503 and no signature.
  assert.ok(["AUDIT_UNAVAILABLE", "STORE_UNAVAILABLE"].includes(res.json().error.code), res.body);
  assert.equal(res.json().signature, undefined);
  assert.equal((await tv.vault.audit.verify()).ok, true);
  const again = await sign("disk has room again");
  assert.equal(again.statusCode, 200, again.body);
});

test("cluster-signed checkpoints: the cluster key signs EIP-712 heads that every signer node also keeps", async () => {
  await sign("before checkpoint");
  const res = await tv.app.inject({
    method: "POST",
    url: "/v1/audit/checkpoints",
    headers: tv.admin,
  });
  assert.equal(res.statusCode, 200, res.body);
  const cp = res.json().checkpoint;
  const list = await tv.app.inject({ method: "GET", url: "/v1/audit/checkpoints", headers: auth });
  // Version-2 checkpoints cover the Poseidon head too (src/signers/local/checkpoint.ts).
  assert.match(cp.extra.zkHead, /^[0-9]+$/);
  assert.equal(
    checkpointSigner(cp.seq, cp.hash, cp.signature, cp.extra.zkHead),
    list.json().clusterAddress,
  );
  assert.notEqual(checkpointSigner(cp.seq, cp.hash, cp.signature), list.json().clusterAddress);
  const verify = await tv.app.inject({ method: "GET", url: "/v1/audit/verify", headers: auth });
  assert.equal(verify.json().ok, true, verify.body);
  assert.ok(verify.json().nodes.filter((n: { heads: number }) => n.heads > 0).length >= 2);
  // The nodes that co-signed pinned the vault's zk v2 start (src/node/protocol/checkpoint.ts):
  // 1, for a new vault; a node that took no part has pinned nothing yet.
  const pinned = [0, 1, 2].map((i) => {
    const db = new Database(join(tv.dir, `node-${i}`, "node.sqlite"), { readonly: true });
    try {
      return (db.prepare("SELECT v FROM meta WHERE k = 'zk_v2_start'").get() as { v: string })?.v;
    } finally {
      db.close();
    }
  });
  assert.ok(pinned.filter((v) => v === "1").length >= 2, String(pinned));
  assert.ok(
    pinned.every((v) => v === undefined || v === "1"),
    String(pinned),
  );
});

test("a rewritten vault database is caught against the heads the signer nodes kept", async () => {
  await sign("more history");
  const covered = ((await tv.vault.audit.checkpoints.latest()) as { seq: number }).seq;
  const db = new Database(join(tv.dir, "vault.sqlite"));
  db.exec(
    "DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete;",
  );
  // The attacker owns the file: rewrites entry 2 and recomputes every later hash so the
  // chain is self-consistent, and drops the checkpoints it cannot re-sign.
  const entries = await tv.vault.audit.list(1, 100_000);
  let prev = GENESIS_HASH;
  const update = db.prepare("UPDATE audit_log SET data = ?, prev_hash = ?, hash = ? WHERE seq = ?");
  for (const e of entries) {
    const data = e.seq === 2 ? { ...e.data, name: "rewritten" } : e.data;
    const body: Omit<AuditEntry, "hash"> = { ...e, data, prevHash: prev };
    delete (body as Partial<AuditEntry>).hash;
    const hash = entryHash(body);
    update.run(canonicalJson(data), prev, hash, e.seq);
    prev = hash;
  }
  db.exec("DELETE FROM audit_checkpoints");
  db.close();
  assert.equal((await tv.vault.audit.verify()).ok, true, "the forged chain is self-consistent");
  const verify = await tv.app.inject({ method: "GET", url: "/v1/audit/verify", headers: auth });
  assert.equal(verify.json().ok, false, verify.body);
  assert.equal(verify.json().firstBadSeq, covered);
  assert.ok(verify.json().nodes.some((n: { mismatchAt?: number }) => n.mismatchAt === covered));
  // And the nodes refuse to co-sign a checkpoint for the rewritten history.
  const cp = await tv.app.inject({
    method: "POST",
    url: "/v1/audit/checkpoints",
    headers: tv.admin,
  });
  assert.equal(cp.statusCode, 403, cp.body);
  assert.equal(cp.json().error.code, "NODE_REFUSED");
});

test("editing, deleting or reordering entries is detected and the first bad seq is named", async () => {
  const file = join(tv.dir, "vault.sqlite");
  const db = new Database(file);
  db.exec(
    "DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete;",
  );
  db.prepare("UPDATE audit_log SET type = 'sign.denied' WHERE seq = 3").run();
  db.close();
  const res = await tv.app.inject({ method: "GET", url: "/v1/audit/verify", headers: auth });
  assert.equal(res.json().ok, false);
  assert.equal(res.json().firstBadSeq, 3);
  assert.notEqual(GENESIS_HASH, res.json().head);
});
