/**
 * End to end through HTTP: real signed spends of an agent on a real vault (3 node
 * processes), a cluster-signed checkpoint over both heads, POST /v1/proofs with an
 * auditor's AUDIT key, polling, the bundle download, and verification with the library,
 * the `agent-vault verify-bundle` CLI and the trusted cluster address.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Bundle, verifyBundle, vkeySha256 } from "../../src/zk/bundle.js";
import { releaseCurve as releaseCurveFn } from "../../src/zk/setup.js";
import { CLI } from "../helpers/process.js";
import { startTestVault, type TestVault } from "../helpers/vault.js";
import { testArtifacts } from "./helpers.js";
import { auditorHeaders, PAYMENT_POLICY, signTwoPayments, ZK_VAULT_ENV } from "./vault-helpers.js";

let tv: TestVault;
let agentId: string;
let auditor: Record<string, string>;

// snarkjs keeps curve worker threads alive: release them so this file's process ends.
after(releaseCurveFn);

before(async () => {
  await testArtifacts();
  tv = await startTestVault(ZK_VAULT_ENV);
  agentId = (await tv.createAgent(PAYMENT_POLICY)).id;
  const spender = await tv.issueKey(agentId, ["EXECUTE", "SPEND"]);
  await signTwoPayments(tv, agentId, spender.auth);
  auditor = await auditorHeaders(tv);
});
after(async () => tv?.stop());

test("an auditor gets a bundle of the agent's real signed spends and verifies it without the vault", async () => {
  const head = (await tv.vault.audit.head()).seq;
  const started = await tv.app.inject({
    method: "POST",
    url: "/v1/proofs",
    headers: auditor,
    payload: { agentId, fromSeq: 1, toSeq: head },
  });
  assert.equal(started.statusCode, 202, started.body);
  const { proofId } = started.json();
  // The server answers while the worker proves.
  const polled = await tv.app.inject({
    method: "GET",
    url: `/v1/proofs/${proofId}`,
    headers: auditor,
  });
  assert.equal(polled.statusCode, 200);
  assert.ok(["queued", "proving", "done"].includes(polled.json().status), polled.body);

  const job = await tv.vault.proofs.wait(proofId);
  assert.equal(job.status, "done", JSON.stringify(job.error));
  const status = await tv.app.inject({
    method: "GET",
    url: `/v1/proofs/${proofId}`,
    headers: auditor,
  });
  assert.equal(status.json().result.spendCount, 2);
  assert.equal(status.json().progress.done, status.json().progress.batches);

  const res = await tv.app.inject({
    method: "GET",
    url: `/v1/proofs/${proofId}/bundle`,
    headers: auditor,
  });
  assert.equal(res.statusCode, 200);
  const bundle = res.json() as Bundle;
  assert.equal(bundle.setup.setup, "development");
  assert.equal(bundle.checkpoints.start.seq, 0);
  assert.ok(bundle.checkpoints.end.seq >= head);

  const cps = await tv.app.inject({
    method: "GET",
    url: "/v1/audit/checkpoints",
    headers: auditor,
  });
  const clusterAddress = cps.json().clusterAddress as string;
  const check = await verifyBundle(bundle, { clusterAddress });
  assert.equal(check.ok, true, check.error);
  assert.match(check.statement ?? "", /made 2 signed spend\(s\) of ETH/);

  // The same with the CLI, from a file.
  const file = join(mkdtempSync(join(tmpdir(), "av-bundle-")), "bundle.json");
  writeFileSync(file, res.body);
  const verifyWithCli = () =>
    spawnSync(
      process.execPath,
      [...CLI, "verify-bundle", file, `--cluster-address=${clusterAddress}`],
      { encoding: "utf8" },
    );
  const cli = verifyWithCli();
  // 3: everything verifies, but the key is not one the auditor trusts (development setup).
  assert.equal(cli.status, 3, `${cli.stdout}${cli.stderr}`);
  assert.match(cli.stdout, /^VERIFIED/);
  assert.match(cli.stderr, /WARNING: development setup/);

  // A bundle whose checkpoint is edited is refused by the CLI too.
  const edited = structuredClone(bundle);
  edited.checkpoints.end.hash = "1".repeat(64);
  writeFileSync(file, JSON.stringify(edited));
  const bad = verifyWithCli();
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /NOT VERIFIED: the end checkpoint/);

  const vk = await tv.app.inject({
    method: "GET",
    url: "/v1/proofs/verification-key",
    headers: auditor,
  });
  assert.equal(vk.statusCode, 200);
  assert.deepEqual(vk.json().verificationKey, bundle.verificationKey);
  assert.deepEqual(vk.json().setup, bundle.setup);
  assert.equal(vk.json().verificationKeySha256, vkeySha256(bundle.verificationKey));
});

test("proof routes need the AUDIT scope; an unknown proof is 404", async () => {
  const spender = await tv.issueKey(agentId, ["EXECUTE"]);
  const denied = await tv.app.inject({
    method: "POST",
    url: "/v1/proofs",
    headers: spender.auth,
    payload: { agentId, fromSeq: 1, toSeq: 2 },
  });
  assert.equal(denied.statusCode, 403);
  const missing = await tv.app.inject({
    method: "GET",
    url: "/v1/proofs/prf_nothing",
    headers: auditor,
  });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json().error.code, "PROOF_NOT_FOUND");
});
