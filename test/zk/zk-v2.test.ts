/**
 * The versioned Poseidon chain (src/audit/commitment.ts, issue 11 item 3): a new log chains
 * every entry by v2 (one Poseidon10 of the fields and the previous head); a log that
 * already held entries when this code first opened it keeps v1 for them and chains by v2
 * from the next one on; the start is pinned in the meta table. A proof of a range before
 * it is refused with PROOF_RANGE_BEFORE_ZK_V2. In process: no circuit, no nodes.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { poseidon10 } from "poseidon-lite/poseidon10";
import {
  chainFieldsV2,
  entryCommitment,
  entryFields,
  nextZkHead,
  ZK_GENESIS,
} from "../../src/audit/commitment.js";
import { openAuditLog } from "../../src/audit/log.js";
import { isVaultError, VaultError } from "../../src/errors/index.js";
import type { CheckpointService } from "../../src/services/checkpoints.js";
import { createComplianceService } from "../../src/services/compliance.js";
import { openDatabase } from "../../src/store/db.js";
import { openProofJobStore } from "../../src/store/proof-jobs.js";
import { createSqliteSql } from "../../src/store/sql/sqlite.js";
import { openVaultStore } from "../../src/store/vault-store.js";
import { prepareRange } from "../../src/zk/prover.js";
import { AGENT, appendNoise, appendSpend, POLICY, TEST_PARAMS, WEI } from "./helpers.js";

const dbFile = () => join(mkdtempSync(join(tmpdir(), "av-zkv2-")), "vault.sqlite");
const openSql = (file: string) => createSqliteSql(openDatabase(file));

test("a new log starts zk chain v2 at seq 1: zkHead_i = Poseidon10(fields, zkHead_{i-1})", async () => {
  const db = openSql(dbFile());
  const log = await openAuditLog(db);
  assert.equal(await log.zkV2Start(), 1);
  assert.equal(await (await openVaultStore(db)).meta("zk_v2_start"), "1");
  await appendSpend(log, { amount: WEI("0.001") });
  await appendNoise(log);
  let zk = ZK_GENESIS;
  for (const e of await log.list(1, 2)) {
    const f = entryFields(e);
    const expected = poseidon10([
      f.kind,
      f.agent,
      f.asset,
      f.amount,
      f.recipient,
      f.time,
      f.policyVersion,
      f.policy,
      f.salt,
      BigInt(zk),
    ]).toString();
    assert.equal(chainFieldsV2(zk, f), expected);
    zk = expected;
    assert.equal(await log.zkHeadAt(e.seq), zk);
  }
  assert.deepEqual(
    (await log.zkRange(1, 2)).map((r) => r.commitment),
    ["", ""],
    "a v2 entry has no separate commitment",
  );
  await db.close();
});

test("an existing log keeps v1 for its entries and chains by v2 from last seq + 1, pinned once", async () => {
  const file = dbFile();
  let db = openSql(file);
  const before = await openAuditLog(db);
  await appendSpend(before, { amount: WEI("0.001") });
  await appendNoise(before);
  await appendSpend(before, { amount: WEI("0.002") });
  // As code from before zk chain v2 left it: three entries, no v2 start recorded.
  await db.run("DELETE FROM meta WHERE k = 'zk_v2_start'");
  await db.close();

  db = openSql(file);
  const log = await openAuditLog(db);
  assert.equal(await log.zkV2Start(), 4);
  await appendSpend(log, { amount: WEI("0.003") });
  await appendNoise(log);
  const entries = await log.list(1, 5);
  let zk = ZK_GENESIS;
  for (const e of entries) {
    zk = e.seq < 4 ? nextZkHead(zk, entryCommitment(e)) : chainFieldsV2(zk, entryFields(e));
    assert.equal(await log.zkHeadAt(e.seq), zk, `head at ${e.seq}`);
  }
  const stored = await log.zkRange(1, 5);
  assert.deepEqual(
    stored.map((r) => r.commitment === ""),
    [false, false, false, true, true],
  );
  assert.equal(stored[0]?.commitment, entryCommitment(entries[0] as (typeof entries)[number]));
  await db.close();

  // Reopened: the start stays where it was pinned.
  db = openSql(file);
  const again = await openAuditLog(db);
  assert.equal(await again.zkV2Start(), 4);
  assert.equal(await again.zkHeadAt(5), zk);
  await db.close();
});

test("the prover refuses a range that starts before the zk v2 start", async () => {
  const file = dbFile();
  let db = openSql(file);
  const before = await openAuditLog(db);
  await appendSpend(before, { amount: WEI("0.001") });
  await db.run("DELETE FROM meta WHERE k = 'zk_v2_start'");
  await db.close();
  db = openSql(file);
  const log = await openAuditLog(db);
  await appendSpend(log, { amount: WEI("0.001") });
  const range = async (fromSeq: number) => ({
    agentId: AGENT,
    asset: "ETH",
    policy: POLICY,
    policyVersion: 1,
    bound: WEI("0.05"),
    entries: await log.list(fromSeq, 2),
    startZkHead: (await log.zkHeadAt(fromSeq - 1)) as string,
    zkV2Start: await log.zkV2Start(),
    stored: await log.zkRange(fromSeq, 2),
    ...TEST_PARAMS,
  });
  const from1 = await range(1);
  assert.throws(
    () => prepareRange(from1),
    (err) =>
      err instanceof VaultError &&
      err.code === "PROOF_RANGE_BEFORE_ZK_V2" &&
      err.details.fromSeq === 1 &&
      err.details.zkV2Start === 2,
  );
  const prepared = prepareRange(await range(2));
  assert.equal(prepared.endZkHead, await log.zkHeadAt(2));
  await db.close();
});

test("a proof request for a range before the zk v2 start is refused: 422 PROOF_RANGE_BEFORE_ZK_V2", async () => {
  const file = dbFile();
  let db = openSql(file);
  await appendNoise(await openAuditLog(db));
  await appendNoise(await openAuditLog(db));
  await db.run("DELETE FROM meta WHERE k = 'zk_v2_start'");
  await db.close();
  db = openSql(file);
  const dir = mkdtempSync(join(tmpdir(), "av-zkv2-svc-"));
  const proofs = await createComplianceService({
    store: await openVaultStore(db),
    jobs: await openProofJobStore(db),
    audit: await openAuditLog(db),
    checkpoints: { clusterAddress: async () => undefined } as unknown as CheckpointService,
    params: { n: 4, depth: 2, buildRoot: join(dir, "no-circuits") },
  });
  await assert.rejects(proofs.request({ agentId: AGENT, fromSeq: 2, toSeq: 2 }, "test"), (err) => {
    assert.ok(isVaultError(err), String(err));
    assert.equal(err.code, "PROOF_RANGE_BEFORE_ZK_V2");
    assert.equal(err.status, 422);
    assert.deepEqual(err.toJSON().error, {
      code: "PROOF_RANGE_BEFORE_ZK_V2",
      message: err.message,
      fromSeq: 2,
      zkV2Start: 3,
    });
    return true;
  });
  await proofs.stop();
  await db.close();
});
