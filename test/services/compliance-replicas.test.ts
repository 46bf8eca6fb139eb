/**
 * Proof jobs shared by replicas (src/services/compliance.ts, src/store/proof-jobs.ts) on a
 * real PostgreSQL: a replica starting (or recovering) leaves a job another live replica is
 * proving alone, and takes back one whose holder's lease lapsed. In process, with no circuit
 * here: a job taken back is then failed as PROOF_NOT_RESUMABLE, which makes the takeover
 * visible without a prover.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { openAuditLog } from "../../src/audit/log.js";
import type { CheckpointService } from "../../src/services/checkpoints.js";
import { createComplianceService } from "../../src/services/compliance.js";
import { openProofJobStore, type ProofJobStore } from "../../src/store/proof-jobs.js";
import { createPostgresSql } from "../../src/store/sql/index.js";
import { openVaultStore } from "../../src/store/vault-store.js";
import { GENESIS_CHECKPOINT } from "../../src/zk/bundle.js";
import { PG_URL, pgSchema } from "../helpers/pg.js";

const cp = { ...GENESIS_CHECKPOINT, signers: [] };
const request = JSON.stringify({
  asked: { agentId: "agt_x", fromSeq: 1, toSeq: 1 },
  asset: "ETH",
  bound: "1",
  policy: {},
  policyVersion: 1,
  fromSeq: 1,
  toSeq: 1,
  start: cp,
  end: { ...cp, seq: 1 },
});

/** A job another replica claimed, its lease running until `leaseUntil` (ms). */
async function provingElsewhere(jobs: ProofJobStore, id: string, leaseUntil: number) {
  await jobs.put({
    id,
    agent_id: "agt_x",
    dedup_key: `k_${id}`,
    status: "queued",
    request,
    from_seq: 1,
    to_seq: 1,
    progress_done: 0,
    progress_batches: 1,
    created_at: new Date().toISOString(),
  });
  assert.equal(await jobs.claim(id, "another-replica", new Date().toISOString(), leaseUntil), true);
}

test("a replica leaves a job a live replica proves, and takes back one whose lease lapsed", {
  timeout: 30_000,
}, async () => {
  const { schema, drop } = await pgSchema();
  const sql = createPostgresSql(PG_URL, { schema });
  try {
    const jobs = await openProofJobStore(sql);
    await provingElsewhere(jobs, "prf_live", Date.now() + 60_000);
    await provingElsewhere(jobs, "prf_lapsed", Date.now() - 1);
    const proofs = await createComplianceService({
      store: await openVaultStore(sql),
      jobs,
      audit: await openAuditLog(sql),
      checkpoints: { clusterAddress: async () => undefined } as unknown as CheckpointService,
      params: { n: 4, depth: 2, buildRoot: join(mkdtempSync(join(tmpdir(), "av-")), "none") },
      replicas: true,
    });
    try {
      const lapsed = await proofs.wait("prf_lapsed");
      assert.equal(lapsed.status, "failed");
      assert.equal(lapsed.error?.code, "PROOF_NOT_RESUMABLE");
      // The live one is left to its holder, also by the periodic recovery.
      await proofs.recover();
      assert.equal((await proofs.job("prf_live")).status, "proving");
      assert.deepEqual(proofs.prover().queued, []);
      // Its holder dies: once its lease lapses, the next recovery takes it.
      await sql.run("UPDATE proof_jobs SET lease_ms = $1 WHERE id = 'prf_live'", [Date.now() - 1]);
      await proofs.recover();
      const taken = await proofs.wait("prf_live");
      assert.equal(taken.status, "failed");
      assert.equal(taken.error?.code, "PROOF_NOT_RESUMABLE");
    } finally {
      await proofs.stop();
    }
  } finally {
    await sql.close();
    await drop();
  }
});
