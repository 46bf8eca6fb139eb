/**
 * A Lit-backed agent's spends are proved like a local agent's (issue 10, "shows up in
 * the audit log and in compliance proofs"): a lit-chipotle agent (the Chipotle fake,
 * running the pinned policy action) signs two payments through HTTP, and an auditor's
 * compliance bundle over its entries verifies with the cluster's checkpoint key and
 * counts both spends.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Bundle, verifyBundle } from "../../src/zk/bundle.js";
import { releaseCurve } from "../../src/zk/setup.js";
import { type ChipotleFake, startChipotleFake } from "../helpers/lit/chipotle-fake.js";
import { startTestVault, type TestVault } from "../helpers/vault.js";
import { testArtifacts } from "./helpers.js";
import { auditorHeaders, PAYMENT_POLICY, signTwoPayments, ZK_VAULT_ENV } from "./vault-helpers.js";

let tv: TestVault;
let chipotle: ChipotleFake;

after(releaseCurve);
before(async () => {
  await testArtifacts();
  chipotle = await startChipotleFake();
  const apiKeyFile = join(mkdtempSync(join(tmpdir(), "av-lit-zk-")), "chipotle.key");
  writeFileSync(apiKeyFile, chipotle.newAccount(), { mode: 0o600 });
  tv = await startTestVault({
    ...ZK_VAULT_ENV,
    LIT_CHIPOTLE_URL: chipotle.url,
    LIT_CHIPOTLE_API_KEY_FILE: apiKeyFile,
  });
});
after(async () => {
  await tv?.stop();
  await chipotle?.close();
});

test("a lit-chipotle agent's signed spends are proved and the bundle verifies", async () => {
  const created = await tv.app.inject({
    method: "POST",
    url: "/v1/agents",
    headers: tv.admin,
    payload: { name: "lit-payer", policy: PAYMENT_POLICY, backend: "lit-chipotle" },
  });
  assert.equal(created.statusCode, 201, created.body);
  const agentId = created.json().id as string;
  await signTwoPayments(tv, agentId, tv.admin);
  const signed = (await tv.vault.audit.list(1, 1000, agentId)).filter(
    (e) => e.type === "sign.signed",
  );
  assert.equal(signed.length, 2);
  assert.ok(signed.every((e) => (e.data as { backend?: string }).backend === "lit-chipotle"));

  const auditor = await auditorHeaders(tv);
  const started = await tv.app.inject({
    method: "POST",
    url: "/v1/proofs",
    headers: auditor,
    payload: { agentId, fromSeq: 1, toSeq: (await tv.vault.audit.head()).seq },
  });
  assert.equal(started.statusCode, 202, started.body);
  const job = await tv.vault.proofs.wait(started.json().proofId);
  assert.equal(job.status, "done", JSON.stringify(job.error));
  const res = await tv.app.inject({
    method: "GET",
    url: `/v1/proofs/${started.json().proofId}/bundle`,
    headers: auditor,
  });
  const cps = await tv.app.inject({
    method: "GET",
    url: "/v1/audit/checkpoints",
    headers: auditor,
  });
  const check = await verifyBundle(res.json() as Bundle, {
    clusterAddress: cps.json().clusterAddress,
  });
  assert.equal(check.ok, true, check.error);
  assert.match(check.statement ?? "", /made 2 signed spend\(s\) of ETH/);
});
