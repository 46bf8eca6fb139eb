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

  "a job is claimed once, renewed only by its holder, and taken back only once its lease lapsed":
    async (f) => {
      // Two connections: on PostgreSQL, two replicas.
      const [a, b] = [await openProofJobStore(f.open()), await openProofJobStore(f.open())];
      await a.put(job("prf_l", "queued"));
      const claims = await Promise.all([
        a.claim("prf_l", "owner-a", AT, 10_000),
        b.claim("prf_l", "owner-b", AT, 10_000),
      ]);
      assert.equal(claims.filter(Boolean).length, 1, "one claim wins");
      const [holder, other] = claims[0] ? ["owner-a", "owner-b"] : ["owner-b", "owner-a"];
      const claimed = await a.get("prf_l");
      assert.equal(claimed?.status, "proving");
      assert.equal(claimed?.started_at, AT);
      assert.equal(await b.renew("prf_l", other, 20_000), false, "only the holder renews");
      assert.equal(await b.renew("prf_l", holder, 20_000), true);
      // Live until 20 000: not taken back before, taken back once it lapsed.
      assert.equal(await b.takeBack("prf_l", 19_999), false);
      assert.equal((await a.get("prf_l"))?.status, "proving");
      assert.equal(await b.takeBack("prf_l", 20_001), true);
      assert.equal((await a.get("prf_l"))?.status, "queued");
      assert.equal(await a.renew("prf_l", holder, 30_000), false, "the old holder lost it");
      assert.equal(await b.claim("prf_l", other, AT, 40_000), true, "and it can be claimed again");
      // A job that moved on (cancelled) can be neither renewed nor taken back nor claimed.
      assert.equal(await a.update(moved("prf_l", "cancelled"), ["proving"]), true);
      assert.equal(await b.renew("prf_l", other, 50_000), false);
      assert.equal(await b.takeBack("prf_l", Number.MAX_SAFE_INTEGER), false);
      assert.equal(await a.claim("prf_l", holder, AT, 50_000), false);
    },
});
