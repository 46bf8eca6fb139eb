// Limits scoped per chain (assetsByChain), beside the all-chains `assets` form.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseEther } from "ethers";
import { isVaultError } from "../../src/errors/index.js";
import {
  type Decision,
  type DecodedRequest,
  evaluatePolicy,
  type Policy,
  type Spend,
  usageFromRecords,
  validatePolicy,
} from "../../src/policy/index.js";
import { narrowPolicy } from "../../src/policy/narrow.js";
import { ALICE, NOW, USDC_BASE } from "./fixtures.js";

const eth = (s: string) => parseEther(s);
const spend = (chainId: number, amount: bigint): Spend => ({
  chainId,
  asset: "ETH",
  amount,
  recipient: ALICE.toLowerCase(),
});
const tx = (chainId: number, amount: bigint): DecodedRequest => ({
  kind: "transaction",
  digest: `0x${"11".repeat(32)}`,
  chainId,
  spends: [spend(chainId, amount)],
});
const rule = (d: Decision) => (d.allow ? "allowed" : d.rule);

/** ETH: 1 per tx / 2 a day across both chains; on 8453 alone 0.1 per tx / 0.2 a day. */
const P: Policy = validatePolicy({
  chains: [8453, 84532],
  assets: { ETH: { maxPerTx: "1", maxPer24h: "2" } },
  assetsByChain: { "8453": { ETH: { maxPerTx: "0.1", maxPer24h: "0.2" } } },
});

function at(offsetMs: number, spends: Spend[]) {
  return { ts: NOW.getTime() + offsetMs, spends };
}

test("a chain-scoped maxPerTx applies on its chain only; the all-chains limit still applies", () => {
  const none = { spentLast24h: {}, requestsLastMinute: 0 };
  assert.equal(rule(evaluatePolicy(P, tx(8453, eth("0.1")), none, NOW)), "allowed");
  assert.equal(rule(evaluatePolicy(P, tx(8453, eth("0.2")), none, NOW)), "maxPerTx");
  assert.equal(rule(evaluatePolicy(P, tx(84532, eth("0.5")), none, NOW)), "allowed");
  assert.equal(rule(evaluatePolicy(P, tx(84532, eth("1.5")), none, NOW)), "maxPerTx");
  const denial = evaluatePolicy(P, tx(8453, eth("0.2")), none, NOW);
  assert.match((denial as { message: string }).message, /on chain 8453$/);
});

test("usageFromRecords sums per chain, and a chain's 24 h limit sees only its chain's spends", () => {
  const usage = usageFromRecords(
    [at(-1000, [spend(8453, eth("0.15"))]), at(-500, [spend(84532, eth("1"))])],
    NOW,
  );
  assert.deepEqual(usage.spentLast24hByChain, { "8453/ETH": eth("0.15"), "84532/ETH": eth("1") });
  assert.deepEqual(usage.spentLast24h, { ETH: eth("1.15") });
  // 0.15 + 0.1 > 0.2 on 8453, although the 1 ETH spent on 84532 is another chain's.
  assert.equal(rule(evaluatePolicy(P, tx(8453, eth("0.1")), usage, NOW)), "maxPer24h");
  assert.equal(rule(evaluatePolicy(P, tx(8453, eth("0.05")), usage, NOW)), "allowed");
  // The all-chains budget counts both chains: 1.15 + 0.9 > 2.
  assert.equal(rule(evaluatePolicy(P, tx(84532, eth("0.9")), usage, NOW)), "maxPer24h");
});

test("without per-chain usage the all-chains sum stands in (never under-counts)", () => {
  const usage = { spentLast24h: { ETH: eth("0.15") }, requestsLastMinute: 0 };
  assert.equal(rule(evaluatePolicy(P, tx(8453, eth("0.1")), usage, NOW)), "maxPer24h");
});

test("an asset listed only for one chain is denied on the others", () => {
  const onlyBase = validatePolicy({
    chains: [8453, 84532],
    assets: {},
    assetsByChain: { "8453": { [USDC_BASE]: { maxPerTx: "10", maxPer24h: "20" } } },
  });
  const usdc = (chainId: number): DecodedRequest => ({
    ...tx(chainId, 1n),
    spends: [{ chainId, asset: USDC_BASE.toLowerCase(), amount: 1n, recipient: ALICE }],
  });
  const none = { spentLast24h: {}, requestsLastMinute: 0 };
  assert.equal(rule(evaluatePolicy(onlyBase, usdc(8453), none, NOW)), "allowed");
  assert.equal(rule(evaluatePolicy(onlyBase, usdc(84532), none, NOW)), "assets");
});

test("assetsByChain is validated: chains it names must be listed, entries as in assets", () => {
  const bad: Array<[unknown, string]> = [
    [{ "1": { ETH: { maxPerTx: "1", maxPer24h: "1" } } }, "assetsByChain.1"],
    [{ base: {} }, "assetsByChain.base"],
    [{ "8453": { ETH: { maxPerTx: "2", maxPer24h: "1" } } }, "assetsByChain.8453.ETH.maxPerTx"],
    [{ "8453": { nope: { maxPerTx: "1", maxPer24h: "1" } } }, "assetsByChain.8453.nope"],
    [[], "assetsByChain"],
  ];
  for (const [assetsByChain, field] of bad) {
    assert.throws(
      () => validatePolicy({ chains: [8453], assets: {}, assetsByChain }),
      (err: unknown) =>
        isVaultError(err) && err.code === "INVALID_POLICY" && err.details.field === field,
      field,
    );
  }
});

test("credential caps narrow chain-scoped limits too, so they cannot widen a cap", () => {
  const n = narrowPolicy(P, [{ ETH: "0.05" }]) as Policy;
  assert.equal(n.assetsByChain?.["8453"]?.ETH?.maxPerTx, "0.05");
  const dropped = narrowPolicy(P, [{ [USDC_BASE]: "1" }]) as Policy;
  assert.deepEqual(dropped.assetsByChain, { "8453": {} });
});
