/**
 * mandateNarrowing: a verified mandate mapped onto caps, recipients and time bounds; refusals
 * for what cannot be mapped; and, by property (fast-check), that the mapping never widens:
 * no cap exceeds the mandate's amount_range max or budget, and a 24 h cap never exceeds the
 * budget or per-payment cap × occurrences.
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { parseUnits } from "ethers";
import fc from "fast-check";
import { mandateNarrowing } from "../../../src/auth/mandate/constraints.js";
import {
  type Mandate,
  RECURRENCE_FREQUENCIES,
  verifyMandate,
} from "../../../src/auth/mandate/verify.js";
import { codeOf } from "../../helpers/errors.js";
import { AUDIENCE, bind, issue, NOW, type Party, party, trusted } from "./helpers.js";

const RUNS = Number(process.env.FC_RUNS ?? 300);
const BASE = 8453;
const USDC_BASE = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913";
const PAYEE = "0x1111111111111111111111111111111111111111";

let issuer: Party;
let holder: Party;
before(async () => {
  [issuer, holder] = await Promise.all([party(), party()]);
});

const verify = async (constraints?: unknown[]) =>
  verifyMandate(await bind(await issue({ issuer, holder, constraints }), holder.privateKey), {
    trustedIssuers: trusted(issuer),
    audience: AUDIENCE,
    now: NOW,
  });

const mandate = (constraints: Mandate["constraints"]): Mandate => ({
  id: "m-1",
  issuer: "https://wallet.example/issuer",
  holderJwk: {},
  expiresAt: NOW + 3_600_000,
  constraints,
});

test("a verified USD mandate maps to USDC caps, recipients and a time window on Base", async () => {
  const n = mandateNarrowing(await verify(), BASE);
  assert.deepEqual(n, {
    // per tx: amount_range max 25.00 USD; per 24 h: WEEKLY, so one payment a day at most.
    caps: { [USDC_BASE]: { maxPerTx: "25.0", maxPer24h: "25.0" } },
    lifetimeBudget: { asset: USDC_BASE, amount: "100" },
    minPerTx: { asset: USDC_BASE, amount: "1" },
    recipients: [PAYEE],
    notBefore: Date.parse("2026-04-01T00:00:00Z"),
    // The mandate's exp (NOW + 1 h) is earlier than execution_date.not_after.
    notAfter: NOW + 3_600_000,
    recurrence: { frequency: "WEEKLY", maxOccurrences: 8 },
    checkoutReference: "FzLoxbbtgQGYZxoSM2NJ",
  });
});

test("a currency that maps to no vault asset is refused", async () => {
  const m = await verify([{ type: "payment.amount_range", currency: "EUR", max: 1000 }]);
  assert.equal(m.constraints.amountRange?.asset, "EUR");
  assert.equal(await codeOf((async () => mandateNarrowing(m, BASE))()), "MANDATE_UNSUPPORTED");
});

test("USD on a chain with no known USDC is refused", () => {
  const m = mandate({ budget: { asset: "USD", amount: "10" } });
  assert.throws(() => mandateNarrowing(m, 1), { code: "MANDATE_UNSUPPORTED" });
});

test("a payee that is not a 0x address is refused, not dropped", () => {
  const m = mandate({ allowedPayees: [PAYEE, "merchant_1"] });
  assert.throws(() => mandateNarrowing(m, BASE), { code: "MANDATE_UNSUPPORTED" });
});

test("a single-use mandate caps 24 h at one payment; ON_DEMAND without bounds sets no 24 h cap", () => {
  const one = mandateNarrowing(mandate({ amountRange: { asset: "USD", max: "5" } }), BASE);
  assert.deepEqual(one.caps, { [USDC_BASE]: { maxPerTx: "5.0", maxPer24h: "5.0" } });
  const open = mandateNarrowing(
    mandate({
      amountRange: { asset: "USD", max: "5" },
      recurrence: { frequency: "ON_DEMAND" },
    }),
    BASE,
  );
  assert.deepEqual(open.caps, { [USDC_BASE]: { maxPerTx: "5.0" } });
  const counted = mandateNarrowing(
    mandate({
      amountRange: { asset: "USD", max: "5" },
      recurrence: { frequency: "ON_DEMAND", maxOccurrences: 3 },
    }),
    BASE,
  );
  assert.deepEqual(counted.caps, { [USDC_BASE]: { maxPerTx: "5.0", maxPer24h: "15.0" } });
});

test("property: the mapping never widens the mandate's amounts", () => {
  const cents = fc.integer({ min: 0, max: 10_000_000_000 });
  const major = (c: number) => (c / 100).toFixed(2);
  fc.assert(
    fc.property(
      fc.option(cents, { nil: undefined }),
      fc.option(cents, { nil: undefined }),
      fc.option(
        fc.record({
          frequency: fc.constantFrom(...RECURRENCE_FREQUENCIES),
          maxOccurrences: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }),
        }),
        { nil: undefined },
      ),
      (rangeMax, budget, rec) => {
        const c: Mandate["constraints"] = {};
        if (rangeMax !== undefined) c.amountRange = { asset: "USD", max: major(rangeMax) };
        if (budget !== undefined) c.budget = { asset: "USD", amount: major(budget) };
        if (rec) {
          c.recurrence = {
            frequency: rec.frequency,
            ...(rec.maxOccurrences !== undefined ? { maxOccurrences: rec.maxOccurrences } : {}),
          };
        }
        const n = mandateNarrowing(mandate(c), BASE);
        const cap = n.caps?.[USDC_BASE];
        if (rangeMax === undefined && budget === undefined) return cap === undefined;
        assert.ok(cap, "an amount constraint always yields a cap");
        const u = (s: string) => parseUnits(s, 6);
        const perTx = u(cap.maxPerTx);
        if (rangeMax !== undefined) assert.ok(perTx <= u(major(rangeMax)));
        if (budget !== undefined) assert.ok(perTx <= u(major(budget)));
        if (cap.maxPer24h !== undefined) {
          const per24h = u(cap.maxPer24h);
          if (budget !== undefined) assert.ok(per24h <= u(major(budget)));
          if (!rec) assert.ok(per24h <= perTx, "one payment: 24 h ≤ per tx");
          if (rec?.maxOccurrences !== undefined) {
            assert.ok(per24h <= perTx * BigInt(rec.maxOccurrences));
          }
          if (rec && rec.frequency !== "ON_DEMAND") assert.ok(per24h <= perTx);
        } else {
          // Only an unbounded recurrence may leave the 24 h cap to the agent's policy.
          assert.ok(
            rec?.frequency === "ON_DEMAND" &&
              rec.maxOccurrences === undefined &&
              budget === undefined,
          );
        }
        return true;
      },
    ),
    { numRuns: RUNS },
  );
});

test("property: the time window is never wider than the mandate's exp and execution_date", () => {
  fc.assert(
    fc.property(
      fc.option(fc.integer({ min: 0, max: 2 ** 42 }), { nil: undefined }),
      fc.option(fc.integer({ min: 0, max: 2 ** 42 }), { nil: undefined }),
      fc.integer({ min: 0, max: 2 ** 42 }),
      (nb, na, exp) => {
        const w: { notBefore?: number; notAfter?: number } = {};
        if (nb !== undefined) w.notBefore = nb;
        if (na !== undefined) w.notAfter = na;
        const n = mandateNarrowing({ ...mandate({ executionWindow: w }), expiresAt: exp }, BASE);
        assert.ok(n.notAfter <= exp);
        if (na !== undefined) assert.ok(n.notAfter <= na);
        if (nb !== undefined) assert.ok(n.notBefore !== undefined && n.notBefore >= nb);
      },
    ),
    { numRuns: RUNS },
  );
});
