import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeIntent, evaluatePolicy } from "../../src/policy/index.js";
import { narrowPolicy } from "../../src/policy/narrow.js";
import type { Policy } from "../../src/policy/types.js";
import { eip2612, UINT256_MAX } from "./permits.js";

const USDC = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";
const policy: Policy = {
  chains: [84532],
  assets: {
    ETH: { maxPerTx: "0.01", maxPer24h: "0.05" },
    [USDC]: { maxPerTx: "10", maxPer24h: "100" },
  },
};

test("caps lower maxPerTx, never raise it, and drop assets they do not name", () => {
  const n = narrowPolicy(policy, [{ ETH: "0.005" }]) as Policy;
  assert.deepEqual(Object.keys(n.assets), ["ETH"]);
  assert.equal(n.assets.ETH?.maxPerTx, "0.005");
  assert.equal(n.assets.ETH?.maxPer24h, "0.05");
  const wider = narrowPolicy(policy, [{ ETH: "5", [USDC.toLowerCase()]: "3" }]) as Policy;
  assert.equal(wider.assets.ETH?.maxPerTx, "0.01");
  assert.equal(wider.assets[USDC]?.maxPerTx, "3");
  const both = narrowPolicy(policy, [{ ETH: "0.008" }, { ETH: "0.002" }]) as Policy;
  assert.equal(both.assets.ETH?.maxPerTx, "0.002");
  assert.equal((narrowPolicy(policy, [{ ETH: "junk" }]) as Policy).assets.ETH?.maxPerTx, "0");
  assert.equal(narrowPolicy(policy, []), policy);
  assert.equal(narrowPolicy(undefined, [{ ETH: "1" }]), undefined);
});

test("a capped credential cannot grant an unlimited allowance, even to a spender the policy trusts", () => {
  const ROUTER = "0x2222222222222222222222222222222222222222";
  const trusting: Policy = {
    ...policy,
    allowTypedData: ["Permit"],
    unlimitedAllowanceSpenders: [ROUTER],
  };
  const decoded = decodeIntent(eip2612(ROUTER, UINT256_MAX));
  const usage = { spentLast24h: {}, requestsLastMinute: 0 };
  const now = new Date("2026-01-01T00:00:00Z");
  // The operator's own policy allows it (uncounted: the spender is trusted)...
  assert.equal(evaluatePolicy(trusting, decoded, usage, now).allow, true);
  // ...but a credential capped at 3 USDC per request must not sign an allowance without limit.
  const capped = narrowPolicy(trusting, [{ [USDC]: "3" }]);
  const decision = evaluatePolicy(capped, decoded, usage, now);
  assert.equal(decision.allow, false);
  assert.equal(decision.allow === false && decision.rule, "unlimitedAllowance");
});
