import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { authorize } from "../../src/auth/admin-authority.js";
import {
  ADMIN_KEY,
  BASIC_POLICY,
  ethTx,
  startTestVault,
  type TestVault,
} from "../helpers/vault.js";

let tv: TestVault;
let agent: { id: string; address: string };

before(async () => {
  tv = await startTestVault();
  agent = await tv.createAgent(BASIC_POLICY);
});
after(async () => tv?.stop());

const signTx = (nonce: number, value = "5000000000000000") =>
  tv.app.inject({
    method: "POST",
    url: `/v1/agents/${agent.id}/sign/transaction`,
    headers: tv.admin,
    payload: { tx: ethTx({ value, nonce }) },
  });

test("the nodes enforce the policy they hold, whatever the vault believes, and a refusal does not wedge the agent", async () => {
  // The operator tightens the policy on the nodes only (as if the vault's copy were stale
  // or tampered with): maxPerTx drops from 0.01 to 0.001 ETH.
  const strict = {
    ...BASIC_POLICY,
    assets: { ...BASIC_POLICY.assets, ETH: { maxPerTx: "0.001", maxPer24h: "0.05" } },
  };
  const action = { op: "policy.set" as const, agentId: agent.id, version: 2, policy: strict };
  // The body is the op's params only: the node refuses unknown fields (NODE_BAD_REQUEST).
  const { op: _op, ...params } = action;
  await tv.vault.cluster.broadcast("policy.set", () => ({
    ...params,
    authorization: authorize(ADMIN_KEY, action),
  }));

  const refused = await signTx(1);
  assert.equal(refused.statusCode, 403, refused.body);
  assert.equal(refused.json().error.code, "POLICY_DENIED");
  assert.equal(refused.json().error.rule, "maxPerTx");
  assert.match(refused.json().error.enforcedBy, /^node-\d$/);

  // No node recorded it, so the sequence number and the budget were released: the next
  // request that every party allows is signed at once.
  const small = await signTx(2, "1000000000000000");
  assert.equal(small.statusCode, 200, small.body);
  const failed = tv.vault.audit.list(1, 10_000).find((e) => e.type === "sign.failed");
  assert.equal(failed?.data.seqReleased, true);
  const row = tv.vault.store.db
    .prepare("SELECT count(*) AS n FROM sign_requests WHERE status IN ('incomplete', 'reserved')")
    .get() as { n: number };
  assert.equal(row.n, 0);
});

test("the nodes cap fees too: a transaction whose gasLimit × maxFeePerGas exceeds maxFeePerTx is refused", async () => {
  const capped = { ...BASIC_POLICY, maxFeePerTx: "0.0001" };
  const action = { op: "policy.set" as const, agentId: agent.id, version: 3, policy: capped };
  // The body is the op's params only: the node refuses unknown fields (NODE_BAD_REQUEST).
  const { op: _op, ...params } = action;
  await tv.vault.cluster.broadcast("policy.set", () => ({
    ...params,
    authorization: authorize(ADMIN_KEY, action),
  }));
  const burn = await tv.app.inject({
    method: "POST",
    url: `/v1/agents/${agent.id}/sign/transaction`,
    headers: tv.admin,
    // 21000 gas × 10 gwei = 0.00021 ETH of fees for a 0.001 ETH transfer.
    payload: { tx: ethTx({ nonce: 3, maxFeePerGas: "10000000000" }) },
  });
  assert.equal(burn.statusCode, 403, burn.body);
  assert.equal(burn.json().error.rule, "maxFeePerTx");
  assert.match(burn.json().error.enforcedBy, /^node-\d$/);
  const cheap = await tv.app.inject({
    method: "POST",
    url: `/v1/agents/${agent.id}/sign/transaction`,
    headers: tv.admin,
    payload: { tx: ethTx({ nonce: 4 }) }, // 21000 × 1 gwei = 0.000021 ETH
  });
  assert.equal(cheap.statusCode, 200, cheap.body);
});
