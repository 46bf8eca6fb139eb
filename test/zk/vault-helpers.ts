/**
 * What the zk tier's HTTP tests share: a vault proving with the tests' circuit, a policy
 * with an allowlist, two signed payments through HTTP, and an auditor's AUDIT key.
 */
import assert from "node:assert/strict";
import { ethTx, type TestVault } from "../helpers/vault.js";
import { ALICE, BOB, TEST_BUILD_ROOT, TEST_PARAMS } from "./helpers.js";

/** startTestVault env for a vault that proves with the tests' cached circuit. */
export const ZK_VAULT_ENV = {
  VAULT_ZK_BATCH: String(TEST_PARAMS.n),
  VAULT_ZK_DEPTH: String(TEST_PARAMS.depth),
  VAULT_ZK_BUILD_DIR: TEST_BUILD_ROOT,
};

export const PAYMENT_POLICY = {
  chains: [84532],
  assets: { ETH: { maxPerTx: "0.01", maxPer24h: "0.05" } },
  recipients: [ALICE, BOB],
  rateLimitPerMinute: 1000,
};

/** Signs 0.003 ETH to ALICE and 0.01 ETH to BOB for the agent (nonces 1 and 2). */
export async function signTwoPayments(
  tv: TestVault,
  agentId: string,
  headers: Record<string, string>,
): Promise<void> {
  for (const [nonce, to, value] of [
    [1, ALICE, "3000000000000000"],
    [2, BOB, "10000000000000000"],
  ] as const) {
    const res = await tv.app.inject({
      method: "POST",
      url: `/v1/agents/${agentId}/sign/transaction`,
      headers,
      payload: { tx: ethTx({ to, value, nonce }) },
    });
    assert.equal(res.statusCode, 200, res.body);
  }
}

/** Headers with a fresh AUDIT-scoped key issued by the admin. */
export async function auditorHeaders(tv: TestVault): Promise<Record<string, string>> {
  const key = await tv.app.inject({
    method: "POST",
    url: "/v1/keys",
    headers: tv.admin,
    payload: { scopes: ["AUDIT"] },
  });
  assert.equal(key.statusCode, 201, key.body);
  return { authorization: `Bearer ${key.json().key}` };
}
