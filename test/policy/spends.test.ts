/** The one spends codec (src/policy/spends.ts): what the vault and the nodes store. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { spendsFromJson, spendsToJson } from "../../src/policy/spends.js";
import type { Spend } from "../../src/policy/types.js";

const SPENDS: Spend[] = [
  {
    chainId: 84532,
    asset: "ETH",
    amount: 2n ** 200n + 1n,
    recipient: "0x1111111111111111111111111111111111111111",
  },
  {
    chainId: 8453,
    asset: "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913",
    amount: 0n,
    recipient: "0x2222222222222222222222222222222222222222",
  },
];

test("spends round-trip exactly, amounts as decimal strings on disk (beyond 2^53 too)", () => {
  const json = spendsToJson(SPENDS);
  assert.deepEqual(JSON.parse(json)[0].amount, (2n ** 200n + 1n).toString());
  assert.deepEqual(spendsFromJson(json), SPENDS);
  assert.deepEqual(spendsFromJson(spendsToJson([])), []);
});
