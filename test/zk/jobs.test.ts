/**
 * Durable proof jobs (src/services/compliance.ts, src/store/proof-jobs.ts) on a real vault:
 * the same request returns the same job, different ones are proved one after the other by a
 * single prover process, queued and running jobs are cancelled (the child is gone), GET
 * /v1/proofs lists with filters and the agent access rule, and a vault restarted on the same
 * data dir lists the old jobs, serves a done job's bundle and finishes the interrupted ones.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ProofJob } from "../../src/services/compliance.js";
import { isAlive } from "../../src/store/data-dir-lock.js";
import { type Bundle, verifyBundle } from "../../src/zk/bundle.js";
import { releaseCurve } from "../../src/zk/setup.js";
import { startTestVault, type TestVault } from "../helpers/vault.js";
import { testArtifacts } from "./helpers.js";
import { auditorHeaders, PAYMENT_POLICY, signTwoPayments, ZK_VAULT_ENV } from "./vault-helpers.js";

// A short lease: the prover of a job cancelled elsewhere stops within half a second.
const ENV = { ...ZK_VAULT_ENV, VAULT_ZK_LEASE_MS: "1500" };

let tv: TestVault;
let agentId: string;
let otherId: string;
let auditor: Record<string, string>;
let ownKey: Record<string, string>;
let otherKey: Record<string, string>;
let fromSeq: number;
let head: number;

after(releaseCurve);
after(async () => tv?.stop());

before(async () => {
  await testArtifacts();
  tv = await startTestVault(ENV);
  agentId = (await tv.createAgent(PAYMENT_POLICY)).id;
  otherId = (await tv.createAgent(PAYMENT_POLICY)).id;
  const spender = await tv.issueKey(agentId, ["EXECUTE", "SPEND"]);
  ownKey = (await tv.issueKey(agentId, ["AUDIT"])).auth;
  otherKey = (await tv.issueKey(otherId, ["AUDIT"])).auth;
  // A checkpoint before the spends keeps the proved range (and its batches) short.
  const cp = await tv.app.inject({
    method: "POST",
    url: "/v1/audit/checkpoints",
    headers: tv.admin,
  });
  assert.equal(cp.statusCode, 200, cp.body);
  fromSeq = (await tv.vault.audit.head()).seq + 1;
  await signTwoPayments(tv, agentId, spender.auth);
  auditor = await auditorHeaders(tv);
  head = (await tv.vault.audit.head()).seq;
});

async function ask(bound?: string, who = agentId, headers = auditor): Promise<string> {
  const res = await tv.app.inject({
    method: "POST",
    url: "/v1/proofs",
    headers,
    payload: { agentId: who, fromSeq, toSeq: head, ...(bound ? { bound } : {}) },
  });
  assert.equal(res.statusCode, 202, res.body);
  return res.json().proofId as string;
}

const cancel = (id: string, headers = auditor) =>
  tv.app.inject({ method: "DELETE", url: `/v1/proofs/${id}`, headers });

const list = async (query = "", headers = auditor) => {
  const res = await tv.app.inject({ method: "GET", url: `/v1/proofs${query}`, headers });
  assert.equal(res.statusCode, 200, res.body);
  return res.json().proofs as ProofJob[];
};

async function until(what: string, cond: () => boolean, ms = 20_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// Shared across the tests below (they run in order).
const ids = { a: "", b: "", c: "", c2: "", other: "", d: "" };

test("the same request twice is one job; different ones queue behind one prover; queued and running jobs are cancelled", async () => {
  ids.a = await ask();
  assert.equal(await ask(), ids.a, "the same request returns the same job");
  ids.b = await ask("50000000000000000");
  assert.notEqual(ids.b, ids.a);
  ids.c = await ask("60000000000000000");
  const p = tv.vault.proofs.prover();
  assert.equal(p.running?.jobId, ids.a);
  assert.deepEqual(p.queued, [ids.b, ids.c]);
  assert.equal((await tv.vault.proofs.job(ids.b)).status, "queued");

  // A queued job: cancelled, idempotently; the same request then makes a new job.
  const c1 = await cancel(ids.c);
  assert.equal(c1.statusCode, 200, c1.body);
  assert.equal(c1.json().status, "cancelled");
  const c2 = await cancel(ids.c);
  assert.equal(c2.statusCode, 200, c2.body);
  assert.equal(c2.json().status, "cancelled");
  assert.deepEqual(tv.vault.proofs.prover().queued, [ids.b]);
  ids.c2 = await ask("60000000000000000");
  assert.notEqual(ids.c2, ids.c, "a cancelled job is not reused");

  const a = await tv.vault.proofs.wait(ids.a);
  assert.equal(a.status, "done", JSON.stringify(a.error));
  // The done job is still the answer to the same request.
  assert.equal(await ask(), ids.a);

  // B runs once A has finished, never beside it.
  await until(
    "B proving",
    () =>
      tv.vault.proofs.prover().running?.pid !== undefined &&
      tv.vault.proofs.prover().running?.jobId === ids.b,
  );
  const b = await tv.vault.proofs.job(ids.b);
  assert.equal(b.status, "proving");
  assert.ok((b.startedAt ?? "") >= (a.finishedAt ?? "z"), `${b.startedAt} < ${a.finishedAt}`);
  const pid = tv.vault.proofs.prover().running?.pid as number;
  assert.equal(isAlive(pid), true);
  const cb = await cancel(ids.b);
  assert.equal(cb.statusCode, 200, cb.body);
  assert.equal(cb.json().status, "cancelled");
  assert.equal(isAlive(pid), false, "the prover child of a cancelled job is gone");
  assert.equal((await tv.vault.proofs.job(ids.b)).status, "cancelled");
  // A cancelled job has no bundle.
  const nb = await tv.app.inject({
    method: "GET",
    url: `/v1/proofs/${ids.b}/bundle`,
    headers: auditor,
  });
  assert.equal(nb.statusCode, 409);

  // A finished job cannot be cancelled.
  const ca = await cancel(ids.a);
  assert.equal(ca.statusCode, 409, ca.body);
  assert.equal(ca.json().error.code, "PROOF_FINISHED");
  assert.equal(tv.vault.proofs.prover().maxRunning, 1, "never two prover children at once");
});

test("GET /v1/proofs lists newest first, filters by agent and status, and an agent's credential sees its own only", async () => {
  ids.other = await ask(undefined, otherId, otherKey);
  const all = await list();
  assert.deepEqual(
    all.map((j) => j.id),
    [ids.other, ids.c2, ids.c, ids.b, ids.a],
  );
  assert.deepEqual(
    (await list("?status=cancelled")).map((j) => j.id),
    [ids.c, ids.b],
  );
  assert.deepEqual(
    (await list(`?agentId=${otherId}`)).map((j) => j.id),
    [ids.other],
  );
  assert.equal((await list("?limit=2")).length, 2);
  // An agent's own credential: its own jobs, never the other agent's.
  assert.deepEqual(
    (await list("", ownKey)).map((j) => j.id),
    [ids.c2, ids.c, ids.b, ids.a],
  );
  assert.deepEqual(
    (await list("", otherKey)).map((j) => j.id),
    [ids.other],
  );
  const denied = await tv.app.inject({
    method: "GET",
    url: `/v1/proofs?agentId=${agentId}`,
    headers: otherKey,
  });
  assert.equal(denied.statusCode, 403);
  assert.equal(denied.json().error.code, "FORBIDDEN_AGENT");
  // Cancelling follows the same rule.
  const foreign = await cancel(ids.c2, otherKey);
  assert.equal(foreign.statusCode, 403);
  const mine = await cancel(ids.other, otherKey);
  assert.equal(mine.statusCode, 200, mine.body);
  assert.equal(mine.json().status, "cancelled");
  const bad = await tv.app.inject({
    method: "GET",
    url: "/v1/proofs?status=nope",
    headers: auditor,
  });
  assert.equal(bad.statusCode, 400);
});

test("a vault restarted on the same data dir lists the old jobs, serves a done bundle and finishes the interrupted ones", async () => {
  ids.d = await ask("70000000000000000");
  // C2 may have finished meanwhile: then D is proving, else D waits behind it.
  await until("a job proving", () => tv.vault.proofs.prover().running?.pid !== undefined);
  const before = await Promise.all(
    [ids.c2, ids.d].map(async (id) => (await tv.vault.proofs.job(id)).status),
  );
  assert.ok(before.includes("proving"), before.join());
  if (before[0] === "proving") assert.equal(before[1], "queued");
  await tv.stop();
  tv = await startTestVault({ ...ENV, VAULT_DATA_DIR: tv.dir });

  const jobs = await list();
  assert.deepEqual(
    jobs.map((j) => j.id),
    [ids.d, ids.other, ids.c2, ids.c, ids.b, ids.a],
  );
  assert.equal(jobs.find((j) => j.id === ids.a)?.status, "done");
  const res = await tv.app.inject({
    method: "GET",
    url: `/v1/proofs/${ids.a}/bundle`,
    headers: auditor,
  });
  assert.equal(res.statusCode, 200, res.body);
  const check = await verifyBundle(res.json() as Bundle, {
    clusterAddress: (await tv.vault.checkpoints.clusterAddress()) ?? "",
  });
  assert.equal(check.ok, true, check.error);
  // The done job still answers the same request.
  assert.equal(await ask(), ids.a);

  const c2 = await tv.vault.proofs.wait(ids.c2);
  assert.equal(c2.status, "done", JSON.stringify(c2.error));
  const d = await tv.vault.proofs.wait(ids.d);
  assert.equal(d.status, "done", JSON.stringify(d.error));
  assert.ok((d.startedAt ?? "") >= (c2.finishedAt ?? "z"), "proved one after the other");
  assert.equal(tv.vault.proofs.prover().maxRunning, 1);
  assert.equal(d.result?.spendCount, 2);
});

test("a job cancelled by another replica (its row) stops this prover at its next lease renewal", async () => {
  const id = await ask("80000000000000000");
  await until(
    "E proving",
    () =>
      tv.vault.proofs.prover().running?.jobId === id &&
      tv.vault.proofs.prover().running?.pid !== undefined,
  );
  const pid = tv.vault.proofs.prover().running?.pid as number;
  // What another replica's DELETE /v1/proofs/:id writes: this process is not told.
  const { changes } = await tv.vault.store.sql.run(
    "UPDATE proof_jobs SET status = 'cancelled' WHERE id = $1 AND status = 'proving'",
    [id],
  );
  assert.equal(changes, 1);
  // Within a renewal or so (every 500 ms), well before the proof itself would end (seconds).
  await until("the prover gone", () => !isAlive(pid), 2_000);
  assert.equal((await tv.vault.proofs.wait(id)).status, "cancelled");
  await until("no prover", () => tv.vault.proofs.prover().running === undefined);
});
