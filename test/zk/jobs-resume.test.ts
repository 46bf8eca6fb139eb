/**
 * A proof job a stop left queued or proving that can no longer be proved (the circuit
 * setup is gone, or its stored request cannot be read) is failed with PROOF_NOT_RESUMABLE
 * on the next start, never left hanging; finished jobs stay as they were. In process: no
 * prover child, no vault, no circuit.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { openAuditLog } from "../../src/audit/log.js";
import type { CheckpointService } from "../../src/services/checkpoints.js";
import { createComplianceService } from "../../src/services/compliance.js";
import { openDatabase } from "../../src/store/db.js";
import { openProofJobStore } from "../../src/store/proof-jobs.js";
import { createSqliteSql } from "../../src/store/sql/sqlite.js";
import { openVaultStore } from "../../src/store/vault-store.js";
import { storedJob } from "./helpers.js";

test("jobs left unfinished that can no longer be proved fail with PROOF_NOT_RESUMABLE at start", {
  timeout: 10_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "av-jobs-"));
  const db = createSqliteSql(openDatabase(join(dir, "vault.sqlite")));
  const jobs = await openProofJobStore(db);
  await jobs.put(storedJob("prf_queued", "queued"));
  await jobs.put(storedJob("prf_proving", "proving"));
  await jobs.put(storedJob("prf_garbled", "queued", "{not json"));
  await jobs.put(storedJob("prf_done", "done"));
  await jobs.update({
    id: "prf_done",
    status: "done",
    progress_done: 1,
    progress_batches: 1,
    error: null,
    result: JSON.stringify({ spendCount: 0 }),
    started_at: null,
    finished_at: new Date().toISOString(),
    bundle: JSON.stringify({ format: "stub" }),
  });

  const proofs = await createComplianceService({
    store: await openVaultStore(db),
    jobs,
    audit: await openAuditLog(db),
    checkpoints: { clusterAddress: async () => undefined } as unknown as CheckpointService,
    // No setup in this folder: nothing can be proved any more.
    params: { n: 4, depth: 2, buildRoot: join(dir, "no-circuits") },
  });
  for (const id of ["prf_queued", "prf_proving", "prf_garbled"]) {
    const job = await proofs.wait(id);
    assert.equal(job.status, "failed", id);
    assert.equal(job.error?.code, "PROOF_NOT_RESUMABLE", id);
    assert.ok(job.finishedAt, id);
  }
  assert.equal((await proofs.job("prf_done")).status, "done");
  assert.deepEqual(await proofs.bundle("prf_done"), { format: "stub" });
  assert.equal(proofs.prover().maxRunning, 0, "no prover was started");
  assert.deepEqual((await proofs.list({ status: "failed", limit: 10 })).map((j) => j.id).sort(), [
    "prf_garbled",
    "prf_proving",
    "prf_queued",
  ]);
  // A finished job is not cancelled.
  await assert.rejects(proofs.cancel("prf_queued", "test"), { code: "PROOF_FINISHED" });
  await proofs.stop();
  await db.close();
});
