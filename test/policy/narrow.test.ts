import assert from "node:assert/strict";
import { test } from "node:test";
import { narrowPolicy } from "../../src/policy/narrow.js";
import type { Policy } from "../../src/policy/types.js";

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
