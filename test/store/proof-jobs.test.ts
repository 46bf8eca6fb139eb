/**
 * Proof jobs (src/store/proof-jobs.ts) on both storage engines: rows round-trip, the live job
 * for a request is the newest queued, proving or done one, listings filter and keep the
 * order rows were made in (also within one millisecond), an update without a bundle keeps
 * the one stored, and an update from named statuses never overwrites a job that moved on.
 */
import assert from "node:assert/strict";
import { openProofJobStore, type ProofJobRow } from "../../src/store/proof-jobs.js";
import { onBothEngines } from "../helpers/engines.js";

const AT = "2026-12-03T00:00:00.000Z";

const job = (id: string, status: ProofJobRow["status"], key = "k", agent = "agt_a") => ({
  id,
  agent_id: agent,
  dedup_key: key,
  status,
  request: JSON.stringify({ id }),
  from_seq: 1,
  to_seq: 2 ** 40,
  progress_done: 0,
  progress_batches: 3,
  created_at: AT,
});

/** What an update writes when a job moves to `status` without progress or outcome. */
const moved = (id: string, status: ProofJobRow["status"]) => ({
  id,
  status,
  progress_done: 0,
  progress_batches: 3,
  error: null,
  result: null,
  started_at: null,
  finished_at: null,
});

onBothEngines({
  "a job round-trips, and an update without a bundle keeps the stored one": async (f) => {
    const jobs = await openProofJobStore(f.open());
    await jobs.put(job("prf_1", "queued"));
    const done = {
      id: "prf_1",
      status: "done" as const,
      progress_done: 3,
      progress_batches: 3,
      error: null,
      result: '{"ok":true}',
      started_at: AT,
      finished_at: AT,
    };
    await jobs.update({ ...done, bundle: '{"format":"b"}' });
    await jobs.update(done);
    assert.deepEqual(await jobs.get("prf_1"), {
      ...job("prf_1", "done"),
      ...done,
    });
    assert.equal(await jobs.bundle("prf_1"), '{"format":"b"}');
    assert.equal(await jobs.get("prf_none"), undefined);
  },

  "an update from named statuses leaves a job that moved on as it is": async (f) => {
    const jobs = await openProofJobStore(f.open());
    await jobs.put(job("prf_1", "queued"));
    const as = (status: ProofJobRow["status"]) => moved("prf_1", status);
    assert.equal(await jobs.update(as("cancelled"), ["queued", "proving"]), true);
    assert.equal(await jobs.update(as("done"), ["proving"]), false, "a cancelled job stays so");
    assert.equal(await jobs.update(as("proving"), []), false);
    assert.equal((await jobs.get("prf_1"))?.status, "cancelled");
    assert.equal(await jobs.update(as("failed")), true, "no guard: any status");
  },

  "same-millisecond rows keep their order: live, unfinished and list": async (f) => {
    const jobs = await openProofJobStore(f.open());
    for (const [id, status] of [
      ["prf_a", "done"],
      ["prf_b", "proving"],
      ["prf_c", "queued"],
      ["prf_d", "failed"],
    ] as const) {
      await jobs.put(job(id, "queued"));
      if (status !== "queued") {
        await jobs.update(moved(id, status));
      }
    }
    await jobs.put(job("prf_other", "queued", "k2", "agt_b"));
    assert.equal((await jobs.live("k"))?.id, "prf_c", "the newest live one");
    assert.deepEqual(
      (await jobs.unfinished()).map((j) => j.id),
      ["prf_b", "prf_c", "prf_other"],
    );
    assert.deepEqual(
      (await jobs.list({ agentId: "agt_a", limit: 3 })).map((j) => j.id),
      ["prf_d", "prf_c", "prf_b"],
    );
    assert.deepEqual(
      (await jobs.list({ status: "queued", limit: 10 })).map((j) => j.id),
      ["prf_other", "prf_c"],
    );
  },
});
