/**
 * Proof jobs shared by replicas (src/services/compliance.ts, src/store/proof-jobs.ts) on a
 * real PostgreSQL: a replica starting (or recovering) leaves a job another live replica is
 * proving alone, takes back one whose holder's lease lapsed only if it can prove it, and a
 * stale holder's late writes do not land on another's claim. In process: a job taken back
 * whose range is not in this log is failed as PROOF_NOT_RESUMABLE, which shows the takeover
 * without a prover.
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
import { PG_URL, pgSchema } from "../helpers/pg.js";
import { storedJob, TEST_BUILD_ROOT, TEST_PARAMS, testArtifacts } from "./helpers.js";

/** A job another replica claimed, its lease running until `leaseUntil` (ms). */
async function provingElsewhere(jobs: ProofJobStore, id: string, leaseUntil: number) {
  await jobs.put(storedJob(id, "queued"));
  assert.equal(await jobs.claim(id, "another-replica", new Date().toISOString(), leaseUntil), true);
}

const noCheckpoints = { clusterAddress: async () => undefined } as unknown as CheckpointService;

test("a replica leaves a job a live replica proves, and takes back one whose lease lapsed", {
  timeout: 120_000,
}, async () => {
  await testArtifacts();
  const { schema, drop } = await pgSchema();
  const sql = createPostgresSql(PG_URL, { schema });
  const replica = async (buildRoot: string) =>
    createComplianceService({
      store: await openVaultStore(sql),
      jobs: await openProofJobStore(sql),
      audit: await openAuditLog(sql),
      checkpoints: noCheckpoints,
      params: { ...TEST_PARAMS, buildRoot },
      replicas: true,
    });
  try {
    const jobs = await openProofJobStore(sql);
    await provingElsewhere(jobs, "prf_live", Date.now() + 60_000);
    await provingElsewhere(jobs, "prf_lapsed", Date.now() - 1);
    // A replica that cannot prove (no circuit here) touches no job, lapsed or not.
    const blind = await replica(join(mkdtempSync(join(tmpdir(), "av-")), "none"));
    await blind.recover();
    assert.equal((await jobs.get("prf_lapsed"))?.status, "proving");
    assert.deepEqual(blind.prover().queued, []);
    await blind.stop();
    // One that can takes the lapsed job back (its range is not in this log: then it fails
    // it as unprovable, which shows the takeover) and leaves the live one to its holder.
    const able = await replica(TEST_BUILD_ROOT);
    try {
      const lapsed = await able.wait("prf_lapsed");
      assert.equal(lapsed.status, "failed");
      assert.equal(lapsed.error?.code, "PROOF_NOT_RESUMABLE");
      await able.recover();
      assert.equal((await able.job("prf_live")).status, "proving");
      assert.deepEqual(able.prover().queued, []);
      // Its holder dies: once its lease lapses, the next recovery takes it.
      await sql.run("UPDATE proof_jobs SET lease_ms = $1 WHERE id = 'prf_live'", [Date.now() - 1]);
      await able.recover();
      const taken = await able.wait("prf_live");
      assert.equal(taken.status, "failed");
      assert.equal(taken.error?.code, "PROOF_NOT_RESUMABLE");
    } finally {
      await able.stop();
    }
  } finally {
    await sql.close();
    await drop();
  }
});

test("a stale holder's writes are refused once another replica claimed the job", {
  timeout: 30_000,
}, async () => {
  const { schema, drop } = await pgSchema();
  const sql = createPostgresSql(PG_URL, { schema });
  try {
    const jobs = await openProofJobStore(sql);
    await provingElsewhere(jobs, "prf_moved", Date.now() - 1);
    assert.equal(await jobs.takeBack("prf_moved", Date.now()), true);
    assert.equal(await jobs.claim("prf_moved", "new-holder", "t", Date.now() + 60_000), true);
    const job = (await jobs.get("prf_moved")) as NonNullable<
      Awaited<ReturnType<ProofJobStore["get"]>>
    >;
    const done = { ...job, status: "done" as const, result: "{}", finished_at: "t2" };
    // The old holder's prover finished late: its outcome does not land on the new claim.
    assert.equal(await jobs.update(done, ["proving"], "another-replica"), false);
    assert.equal((await jobs.get("prf_moved"))?.status, "proving");
    assert.equal(await jobs.update(done, ["proving"], "new-holder"), true);
  } finally {
    await sql.close();
    await drop();
  }
});
