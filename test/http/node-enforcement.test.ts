import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { authorize } from "../../src/auth/admin-authority.js";
import type { Policy } from "../../src/policy/types.js";
import {
  ADMIN_KEY,
  BASIC_POLICY,
  ethTx,
  startTestVault,
  type TestVault,
  USDC_BASE_SEPOLIA,
} from "../helpers/vault.js";
import { EIP2612_FIELDS } from "../policy/permits.js";

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

/**
 * Gives the nodes (only) a stricter policy, authorised by the admin key as the vault would:
 * the vault keeps its wider one, so a refusal can only come from the nodes. The body is the
 * op's params only: the node refuses unknown fields (NODE_BAD_REQUEST).
 */
async function setPolicyOnNodesOnly(agentId: string, version: number, policy: Policy) {
  const action = { op: "policy.set" as const, agentId, version, policy };
  await tv.vault.cluster.broadcast("policy.set", () => ({
    agentId,
    version,
    policy,
    authorization: authorize(ADMIN_KEY, action),
  }));
}

test("the nodes enforce the policy they hold, whatever the vault believes, and a refusal does not wedge the agent", async () => {
  // The operator tightens the policy on the nodes only (as if the vault's copy were stale
  // or tampered with): maxPerTx drops from 0.01 to 0.001 ETH.
  const strict = {
    ...BASIC_POLICY,
    assets: { ...BASIC_POLICY.assets, ETH: { maxPerTx: "0.001", maxPer24h: "0.05" } },
  };
  await setPolicyOnNodesOnly(agent.id, 2, strict);

  const refused = await signTx(1);
  assert.equal(refused.statusCode, 403, refused.body);
  assert.equal(refused.json().error.code, "POLICY_DENIED");
  assert.equal(refused.json().error.rule, "maxPerTx");
  assert.match(refused.json().error.enforcedBy, /^node-\d$/);

  // No node recorded it, so the sequence number and the budget were released: the next
  // request that every party allows is signed at once.
  const small = await signTx(2, "1000000000000000");
  assert.equal(small.statusCode, 200, small.body);
  const failed = (await tv.vault.audit.list(1, 10_000)).find((e) => e.type === "sign.failed");
  assert.equal(failed?.data.seqReleased, true);
  const row = await tv.vault.store.sql.get<{ n: number }>(
    "SELECT count(*) AS n FROM sign_requests WHERE status IN ('incomplete', 'reserved')",
  );
  assert.equal(row?.n, 0);
});

test("the nodes cap fees too: a transaction whose gasLimit × maxFeePerGas exceeds maxFeePerTx is refused", async () => {
  const capped = { ...BASIC_POLICY, maxFeePerTx: "0.0001" };
  await setPolicyOnNodesOnly(agent.id, 3, capped);
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

test("the nodes count an EIP-2612 Permit as a spend: over the cap they hold, they refuse it; without SPEND the vault refuses it", async () => {
  const usdc = { maxPerTx: "10", maxPer24h: "100" };
  const permitPolicy = {
    ...BASIC_POLICY,
    assets: { ...BASIC_POLICY.assets, [USDC_BASE_SEPOLIA]: usdc },
    allowTypedData: ["TransferWithAuthorization", "Permit"],
  };
  const permitAgent = await tv.createAgent(permitPolicy);
  const permit = (value: string, nonce: number) => ({
    domain: { name: "USDC", version: "2", chainId: 84532, verifyingContract: USDC_BASE_SEPOLIA },
    types: { Permit: EIP2612_FIELDS },
    primaryType: "Permit",
    message: {
      owner: permitAgent.address,
      spender: `0x${"c3".repeat(20)}`,
      value,
      nonce: String(nonce),
      deadline: "4102444800",
    },
  });
  const sign = (payload: object, headers = tv.admin) =>
    tv.app.inject({
      method: "POST",
      url: `/v1/agents/${permitAgent.id}/sign/typed-data`,
      headers,
      payload,
    });

  // A key with EXECUTE but no SPEND cannot sign a Permit: it moves value.
  const executeOnly = await tv.issueKey(permitAgent.id, ["READ", "EXECUTE"]);
  const noSpend = await sign(permit("1000000", 0), executeOnly.auth);
  assert.equal(noSpend.statusCode, 403, noSpend.body);
  assert.equal(noSpend.json().error.code, "FORBIDDEN_SCOPE");

  // The nodes alone hold a 1 USDC cap: a 3 USDC Permit passes the vault, not the nodes.
  const strict = {
    ...permitPolicy,
    assets: { ...permitPolicy.assets, [USDC_BASE_SEPOLIA]: { ...usdc, maxPerTx: "1" } },
  };
  await setPolicyOnNodesOnly(permitAgent.id, 2, strict);
  const refused = await sign(permit("3000000", 1));
  assert.equal(refused.statusCode, 403, refused.body);
  assert.equal(refused.json().error.code, "POLICY_DENIED");
  assert.equal(refused.json().error.rule, "maxPerTx");
  assert.match(refused.json().error.enforcedBy, /^node-\d$/);
  const within = await sign(permit("500000", 2));
  assert.equal(within.statusCode, 200, within.body);
});
