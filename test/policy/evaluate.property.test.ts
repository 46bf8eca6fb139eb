// Property-based tests (fast-check) of decoder + evaluator together: for any intent the
// evaluator allows, the value its signed bytes can move (computed here from the generated
// amounts, not from the decoder) fits every cap it falls under, given the rolling usage.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Interface } from "ethers";
import fc from "fast-check";
import {
  decodeIntent,
  evaluatePolicy,
  type SignIntent,
  type Spend,
  usageFromRecords,
  validatePolicy,
} from "../../src/policy/index.js";
import { ALICE, NOW, ROUTER, USDC_BASE_SEPOLIA } from "./fixtures.js";
import {
  eip2612,
  FC_OPTIONS,
  permitSingle,
  permitTransfer,
  txTo,
  UINT160_MAX,
  UINT256_MAX,
} from "./permits.js";

const USDC = USDC_BASE_SEPOLIA.toLowerCase();
const erc20 = new Interface([
  "function transfer(address to, uint256 amount)",
  "function approve(address spender, uint256 amount)",
]);

/** A request and the most its bytes let `to` take, and whether it is an unlimited grant. */
interface Case {
  intent: SignIntent;
  moves: bigint;
  unlimited: boolean;
  to: string;
}

const amount = fc.oneof(
  fc.bigInt({ min: 1n, max: 200_000_000n }),
  fc.constantFrom(UINT160_MAX, UINT256_MAX),
);
const to = fc.constantFrom(ROUTER, ALICE);

const request: fc.Arbitrary<Case> = fc
  .record({ kind: fc.integer({ min: 0, max: 4 }), amount, to })
  .map(({ kind, amount: a, to: spender }) => {
    const unlimitedAt = (max: bigint) => a >= max;
    switch (kind) {
      case 0:
        return {
          intent: eip2612(spender, a),
          moves: a,
          unlimited: unlimitedAt(UINT256_MAX),
          to: spender,
        };
      case 1: {
        const amt = a & UINT160_MAX; // Permit2 amounts are uint160
        return {
          intent: permitSingle(spender, { token: USDC_BASE_SEPOLIA, amount: amt }),
          moves: amt,
          unlimited: unlimitedAt(UINT160_MAX),
          to: spender,
        };
      }
      case 2:
        return {
          intent: permitTransfer(spender, [{ token: USDC_BASE_SEPOLIA, amount: a }]),
          moves: a,
          unlimited: false,
          to: spender,
        };
      case 3:
        return {
          intent: {
            kind: "transaction",
            tx: txTo(USDC_BASE_SEPOLIA, erc20.encodeFunctionData("approve", [spender, a])),
          },
          moves: a,
          unlimited: unlimitedAt(UINT256_MAX),
          to: spender,
        };
      default:
        return {
          intent: {
            kind: "transaction",
            tx: txTo(USDC_BASE_SEPOLIA, erc20.encodeFunctionData("transfer", [spender, a])),
          },
          moves: a,
          unlimited: false,
          to: spender,
        };
    }
  });

/** Limits in USDC base units: maxPerTx ≤ maxPer24h, for all chains and for 84532 alone. */
const limits = fc
  .tuple(fc.bigInt({ min: 0n, max: 100_000_000n }), fc.bigInt({ min: 0n, max: 100_000_000n }))
  .map(([x, y]) => (x <= y ? { perTx: x, perDay: y } : { perTx: y, perDay: x }));
const fmt = (units: bigint) => (Number(units) / 1e6).toFixed(6);

const history = fc.array(
  fc.record({
    chainId: fc.constantFrom(8453, 84532),
    amount: fc.bigInt({ min: 0n, max: 50_000_000n }),
    ago: fc.integer({ min: 0, max: 2 * 24 * 3600 * 1000 }),
  }),
  { maxLength: 6 },
);

test("property: an allowed intent never moves more than its caps allow, and untrusted unlimited grants are refused", () => {
  fc.assert(
    fc.property(request, limits, limits, history, fc.boolean(), (c, global, chain, past, trust) => {
      const policy = validatePolicy({
        chains: [8453, 84532],
        assets: { [USDC]: { maxPerTx: fmt(global.perTx), maxPer24h: fmt(global.perDay) } },
        assetsByChain: {
          "84532": { [USDC]: { maxPerTx: fmt(chain.perTx), maxPer24h: fmt(chain.perDay) } },
        },
        allowTypedData: ["Permit", "PermitSingle", "PermitTransferFrom"],
        ...(trust ? { unlimitedAllowanceSpenders: [ROUTER] } : {}),
      });
      const records = past.map((p) => ({
        ts: NOW.getTime() - p.ago,
        spends: [{ chainId: p.chainId, asset: USDC, amount: p.amount, recipient: ALICE } as Spend],
      }));
      const inDay = past.filter((p) => p.ago < 24 * 3600 * 1000);
      const usedAll = inDay.reduce((n, p) => n + p.amount, 0n);
      const usedHere = inDay.filter((p) => p.chainId === 84532).reduce((n, p) => n + p.amount, 0n);
      const decision = evaluatePolicy(
        policy,
        decodeIntent(c.intent),
        usageFromRecords(records, NOW),
        NOW,
      );
      const trusted = c.unlimited && trust && c.to === ROUTER;
      if (c.unlimited && !trusted) assert.equal(decision.allow, false);
      if (decision.allow && !trusted) {
        assert.ok(c.moves <= global.perTx && c.moves <= chain.perTx, "over maxPerTx");
        assert.ok(usedAll + c.moves <= global.perDay, "over the all-chains maxPer24h");
        assert.ok(usedHere + c.moves <= chain.perDay, "over the chain's maxPer24h");
      }
      // And nothing within every limit is refused (no over-refusal hides a decoding gap).
      const fits =
        !c.unlimited &&
        c.moves <= global.perTx &&
        c.moves <= chain.perTx &&
        usedAll + c.moves <= global.perDay &&
        usedHere + c.moves <= chain.perDay;
      if (fits) assert.equal(decision.allow, true, decision.allow ? "" : decision.message);
    }),
    FC_OPTIONS,
  );
});

test("property: usageFromRecords' per-chain sums add up to its all-chains sums", () => {
  fc.assert(
    fc.property(history, (past) => {
      const usage = usageFromRecords(
        past.map((p) => ({
          ts: NOW.getTime() - p.ago,
          spends: [{ chainId: p.chainId, asset: USDC, amount: p.amount, recipient: ALICE }],
        })),
        NOW,
      );
      const byChain = Object.values(usage.spentLast24hByChain ?? {}).reduce((n, v) => n + v, 0n);
      assert.equal(byChain, usage.spentLast24h[USDC] ?? 0n);
    }),
    FC_OPTIONS,
  );
});
