/**
 * Through HTTP, with real signer nodes, requests that queue behind the agent's lock:
 * identical requests at the same moment are signed once; a key revoked while its request
 * waits is refused as the door would refuse it (the cluster is held, not replaced, while the
 * first request is at it, so the second is queued for certain).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Transaction } from "ethers";
import { BASIC_POLICY, ethTx, startTestVault, type TestVault } from "../helpers/vault.js";

let tv: TestVault;
before(async () => {
  tv = await startTestVault();
});
after(async () => tv?.stop());

test("10 identical requests at the same moment: one reservation, one signature for all", async () => {
  const agent = await tv.createAgent(BASIC_POLICY);
  const key = await tv.issueKey(agent.id, ["EXECUTE", "SPEND"]);
  const payload = { tx: ethTx({ nonce: 42 }) };
  const all = await Promise.all(
    Array.from({ length: 10 }, () =>
      tv.app.inject({
        method: "POST",
        url: `/v1/agents/${agent.id}/sign/transaction`,
        headers: key.auth,
        payload,
      }),
    ),
  );
  assert.deepEqual(
    all.map((r) => r.statusCode),
    Array(10).fill(200),
    all.map((r) => r.body).join("\n"),
  );
  const signed = new Set(all.map((r) => r.json().signedTransaction as string));
  assert.equal(signed.size, 1, "the same signed transaction for all ten");
  assert.equal(Transaction.from([...signed][0]).from, agent.address);
  assert.equal(
    (await tv.vault.store.spendsSince(agent.id, 0)).length,
    1,
    "the budget was reserved once",
  );
  const types = (await tv.vault.audit.list(1, 100_000, agent.id)).map((e) => e.type);
  assert.equal(types.filter((t) => t === "sign.signed").length, 1);
  assert.equal(types.filter((t) => t === "sign.repeated").length, 9);
});

async function until(cond: () => boolean | Promise<boolean>, what: string) {
  for (let i = 0; i < 600 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(await cond(), `timed out waiting for ${what}`);
}

test("an API key revoked while its request is queued is refused (INVALID_CREDENTIALS) and reserves nothing", async () => {
  const agent = await tv.createAgent(BASIC_POLICY);
  const first = await tv.issueKey(agent.id, ["EXECUTE", "SPEND"]);
  const second = await tv.issueKey(agent.id, ["EXECUTE", "SPEND"]);
  const cluster = tv.vault.cluster;
  const real = cluster.signDigest.bind(cluster);
  let open = () => {};
  const gate = new Promise<void>((r) => (open = r));
  let atCluster = 0;
  cluster.signDigest = async (req) => {
    atCluster++;
    await gate;
    return real(req);
  };
  const sign = (auth: Record<string, string>, nonce: number) =>
    tv.app.inject({
      method: "POST",
      url: `/v1/agents/${agent.id}/sign/transaction`,
      headers: auth,
      payload: { tx: ethTx({ nonce }) },
    });
  try {
    const a = sign(first.auth, 1);
    await until(() => atCluster === 1, "the first request at the cluster");
    const b = sign(second.auth, 2);
    const admitted = async () =>
      (await tv.vault.audit.list(1, 100_000)).some(
        (e) => e.type === "auth.succeeded" && e.data.keyId === second.keyId,
      );
    await until(admitted, "the second request past the door");
    const revoked = await tv.app.inject({
      method: "DELETE",
      url: `/v1/keys/${second.keyId}`,
      headers: tv.admin,
    });
    assert.equal(revoked.statusCode, 200, revoked.body);
    open();
    assert.equal((await a).statusCode, 200);
    const refused = await b;
    assert.equal(refused.statusCode, 401, refused.body);
    assert.equal(refused.json().error.code, "INVALID_CREDENTIALS");
  } finally {
    open();
    cluster.signDigest = real;
  }
  assert.equal(atCluster, 1, "the revoked key's request never reached the cluster");
  const entries = await tv.vault.audit.list(1, 100_000, agent.id);
  assert.equal(entries.filter((e) => e.type === "sign.requested").length, 1);
  assert.equal((await tv.vault.store.spendsSince(agent.id, 0)).length, 1, "one reservation");
});
