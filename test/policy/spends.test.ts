/** The one spends codec (src/policy/spends.ts): what the vault and the nodes store. */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { spendsAsJson, spendsFromJson, spendsToJson } from "../../src/policy/spends.js";
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

const address = fc
  .uint8Array({ minLength: 20, maxLength: 20 })
  .map((b) => `0x${Buffer.from(b).toString("hex")}`);
const spend: fc.Arbitrary<Spend> = fc.record(
  {
    chainId: fc.integer({ min: 1, max: 2 ** 31 }),
    asset: fc.oneof(fc.constant("ETH"), address),
    amount: fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }),
    recipient: address,
    unlimited: fc.constant(true as const),
  },
  { requiredKeys: ["chainId", "asset", "amount", "recipient"], noNullPrototype: true },
);

test("property: any spends round-trip through the codec unchanged, amounts up to 2^256-1", () => {
  fc.assert(
    fc.property(fc.array(spend, { maxLength: 6 }), (spends) => {
      assert.deepEqual(spendsFromJson(spendsToJson(spends)), spends);
      for (const s of spendsAsJson(spends)) assert.match(s.amount, /^(0|[1-9][0-9]*)$/);
    }),
  );
});
