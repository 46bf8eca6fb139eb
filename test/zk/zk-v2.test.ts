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
import { createAuditLog } from "../../src/audit/log.js";
import { isVaultError, VaultError } from "../../src/errors/index.js";
import type { CheckpointService } from "../../src/services/checkpoints.js";
import { createComplianceService } from "../../src/services/compliance.js";
import { openDatabase } from "../../src/store/db.js";
import { openProofJobStore } from "../../src/store/proof-jobs.js";
import { createSqliteSql } from "../../src/store/sql/sqlite.js";
import { createVaultStore } from "../../src/store/vault-store.js";
import { prepareRange } from "../../src/zk/prover.js";
import { AGENT, appendNoise, appendSpend, POLICY, TEST_PARAMS, WEI } from "./helpers.js";

const dbFile = () => join(mkdtempSync(join(tmpdir(), "av-zkv2-")), "vault.sqlite");

test("a new log starts zk chain v2 at seq 1: zkHead_i = Poseidon10(fields, zkHead_{i-1})", () => {
  const db = openDatabase(dbFile());
  const log = createAuditLog(db);
  assert.equal(log.zkV2Start(), 1);
  assert.equal(createVaultStore(db).meta("zk_v2_start"), "1");
  appendSpend(log, { amount: WEI("0.001") });
  appendNoise(log);
  let zk = ZK_GENESIS;
  for (const e of log.list(1, 2)) {
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
    assert.equal(log.zkHeadAt(e.seq), zk);
  }
  assert.deepEqual(
    log.zkRange(1, 2).map((r) => r.commitment),
    ["", ""],
    "a v2 entry has no separate commitment",
  );
  db.close();
});

test("an existing log keeps v1 for its entries and chains by v2 from last seq + 1, pinned once", () => {
  const file = dbFile();
  let db = openDatabase(file);
  const before = createAuditLog(db);
  appendSpend(before, { amount: WEI("0.001") });
  appendNoise(before);
  appendSpend(before, { amount: WEI("0.002") });
  // As code from before zk chain v2 left it: three entries, no v2 start recorded.
  db.prepare("DELETE FROM meta WHERE k = 'zk_v2_start'").run();
  db.close();

  db = openDatabase(file);
  const log = createAuditLog(db);
  assert.equal(log.zkV2Start(), 4);
  appendSpend(log, { amount: WEI("0.003") });
  appendNoise(log);
  const entries = log.list(1, 5);
  let zk = ZK_GENESIS;
  for (const e of entries) {
    zk = e.seq < 4 ? nextZkHead(zk, entryCommitment(e)) : chainFieldsV2(zk, entryFields(e));
    assert.equal(log.zkHeadAt(e.seq), zk, `head at ${e.seq}`);
  }
  const stored = log.zkRange(1, 5);
  assert.deepEqual(
    stored.map((r) => r.commitment === ""),
    [false, false, false, true, true],
  );
  assert.equal(stored[0]?.commitment, entryCommitment(entries[0] as (typeof entries)[number]));
  db.close();

  // Reopened: the start stays where it was pinned.
  db = openDatabase(file);
  const again = createAuditLog(db);
  assert.equal(again.zkV2Start(), 4);
  assert.equal(again.zkHeadAt(5), zk);
  db.close();
});

test("the prover refuses a range that starts before the zk v2 start", () => {
  const file = dbFile();
  let db = openDatabase(file);
  const before = createAuditLog(db);
  appendSpend(before, { amount: WEI("0.001") });
  db.prepare("DELETE FROM meta WHERE k = 'zk_v2_start'").run();
  db.close();
  db = openDatabase(file);
  const log = createAuditLog(db);
  appendSpend(log, { amount: WEI("0.001") });
  const range = (fromSeq: number) => ({
    agentId: AGENT,
    asset: "ETH",
    policy: POLICY,
    policyVersion: 1,
    bound: WEI("0.05"),
    entries: log.list(fromSeq, 2),
    startZkHead: log.zkHeadAt(fromSeq - 1) as string,
    zkV2Start: log.zkV2Start(),
    stored: log.zkRange(fromSeq, 2),
    ...TEST_PARAMS,
  });
  assert.throws(
    () => prepareRange(range(1)),
    (err) =>
      err instanceof VaultError &&
      err.code === "PROOF_RANGE_BEFORE_ZK_V2" &&
      err.details.fromSeq === 1 &&
      err.details.zkV2Start === 2,
  );
  const prepared = prepareRange(range(2));
  assert.equal(prepared.endZkHead, log.zkHeadAt(2));
  db.close();
});

test("a proof request for a range before the zk v2 start is refused: 422 PROOF_RANGE_BEFORE_ZK_V2", async () => {
  const file = dbFile();
  let db = openDatabase(file);
  appendNoise(createAuditLog(db));
  appendNoise(createAuditLog(db));
  db.prepare("DELETE FROM meta WHERE k = 'zk_v2_start'").run();
  db.close();
  db = openDatabase(file);
  const dir = mkdtempSync(join(tmpdir(), "av-zkv2-svc-"));
  const proofs = await createComplianceService({
    store: createVaultStore(db),
    jobs: await openProofJobStore(createSqliteSql(db)),
    audit: createAuditLog(db),
    checkpoints: { clusterAddress: () => undefined } as unknown as CheckpointService,
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
  db.close();
});
