/**
 * An AP2 open payment mandate's constraints in the vault's narrowing vocabulary (the caps,
 * recipients and time bounds of src/policy/narrow.ts and src/auth/delegation/constraints.ts).
 * Pure and synchronous. The result only narrows: every number is the mandate's or smaller,
 * and what the vocabulary cannot say comes back in its own field, never dropped.
 *
 * Currency → asset. AP2 amounts are fiat (ISO 4217); vault assets are "ETH" or a lower-case
 * ERC-20 address. Only USD maps: to the USDC token of the request's chain in KNOWN_TOKENS
 * (src/policy/assets.ts), on the premise that the operator who trusts the issuer accepts
 * 1 USDC as 1 USD. A chain with no known USDC, or any other currency, is refused
 * (MANDATE_UNSUPPORTED): there is no price oracle here, and guessing a rate could widen.
 *
 * Caps (token units, decimal strings; USDC has 6 decimals, USD 2, so amounts are exact):
 * - maxPerTx: amount_range.max, or the budget when there is no range; the smaller of the two
 *   when both (one payment cannot spend more than the whole budget).
 * - maxPer24h: without agent_recurrence the mandate is for one payment, so maxPerTx. With it,
 *   the smallest of: the budget (a lifetime total bounds any 24 h), maxPerTx × max_occurrences,
 *   and maxPerTx when the frequency is DAILY or slower (uses at least a day apart). AP2 does
 *   not define whether DAILY is calendar or rolling; reading it as "at most one per rolling
 *   24 h" may refuse a second payment the issuer meant to allow, never the reverse. With
 *   ON_DEMAND, no max_occurrences and no budget the mandate sets no 24 h bound: maxPer24h is
 *   absent, and the caller keeps the agent policy's own (linkCapsPolicy needs both fields).
 * Stateful parts are returned as they are, for a caller with a spend store: `lifetimeBudget`
 * (keyed by Mandate.id), `recurrence`, `minPerTx` (amount_range.min: a floor, which narrowing
 * cannot express), `checkoutReference` (payment.reference; nothing here can match it, so a
 * caller without checkout mandates must refuse a mandate that carries one, or accept it
 * knowingly).
 *
 * Recipients: allowed_payees must all be 0x addresses; a Merchant id that is not one is
 * refused (narrowing to it would name no on-chain recipient; dropping it would widen).
 * Time: notBefore = the later of the mandate's nbf and execution_date.not_before; notAfter =
 * the earlier of the mandate's exp and execution_date.not_after (epoch ms).
 */
import { formatUnits, parseUnits } from "ethers";
import { VaultError } from "../../errors/index.js";
import { KNOWN_TOKENS, normaliseAddress } from "../../policy/assets.js";
import { type Mandate, RECURRENCE_FREQUENCIES, type RecurrenceFrequency } from "./verify.js";

export interface MandateCaps {
  maxPerTx: string;
  /** Absent: the mandate sets no 24 h bound; keep the agent policy's. */
  maxPer24h?: string;
}

export interface MandateNarrowing {
  /** One entry: the asset the mandate's currency maps to on this chain. */
  caps?: Record<string, MandateCaps>;
  recipients?: string[];
  notBefore?: number;
  notAfter: number;
  /** payment.budget: a total over every use of this mandate (state: track by mandate id). */
  lifetimeBudget?: { asset: string; amount: string };
  /** payment.amount_range.min: each payment must be at least this. */
  minPerTx?: { asset: string; amount: string };
  /** payment.agent_recurrence; absent: one payment. */
  recurrence?: { frequency: RecurrenceFrequency; maxOccurrences?: number };
  /** payment.reference: not enforceable here (no checkout mandates). */
  checkoutReference?: string;
}

/** Every frequency but ON_DEMAND allows at most one payment in 24 h. */
const SLOW_FREQUENCIES: readonly RecurrenceFrequency[] = RECURRENCE_FREQUENCIES.filter(
  (f) => f !== "ON_DEMAND",
);

/** The vault asset key and decimals a mandate currency stands for on `chainId`. */
export function mandateAsset(currency: string, chainId: number): { key: string; decimals: number } {
  if (currency === "USD") {
    const usdc = KNOWN_TOKENS.find((t) => t.symbol === "USDC" && t.chainId === chainId);
    if (usdc) return { key: usdc.address, decimals: usdc.decimals };
    throw new VaultError("MANDATE_UNSUPPORTED", `No USD stablecoin is known on chain ${chainId}.`, {
      currency,
      chainId,
    });
  }
  throw new VaultError("MANDATE_UNSUPPORTED", `Currency ${currency} maps to no vault asset.`, {
    currency,
  });
}

const minOf = (xs: bigint[]): bigint | undefined =>
  xs.reduce<bigint | undefined>((m, x) => (m === undefined || x < m ? x : m), undefined);

/** The mandate's constraints as a narrowing of the agent's policy for requests on `chainId`. */
export function mandateNarrowing(mandate: Mandate, chainId: number): MandateNarrowing {
  const c = mandate.constraints;
  const out: MandateNarrowing = { notAfter: mandate.expiresAt };

  const currency = c.amountRange?.asset ?? c.budget?.asset;
  if (currency !== undefined) {
    if (c.budget && c.budget.asset !== currency) {
      throw new VaultError(
        "MANDATE_UNSUPPORTED",
        "Budget and amount range use different currencies.",
      );
    }
    const { key, decimals } = mandateAsset(currency, chainId);
    const units = (v: string) => parseUnits(v, decimals);
    const text = (v: bigint) => formatUnits(v, decimals);
    const budget = c.budget ? units(c.budget.amount) : undefined;
    const perTx = minOf([c.amountRange && units(c.amountRange.max), budget].filter(isBig));
    if (perTx !== undefined) {
      const per24h = c.recurrence
        ? minOf(
            [
              budget,
              c.recurrence.maxOccurrences !== undefined
                ? perTx * BigInt(c.recurrence.maxOccurrences)
                : undefined,
              SLOW_FREQUENCIES.includes(c.recurrence.frequency) ? perTx : undefined,
            ].filter(isBig),
          )
        : perTx;
      out.caps = {
        [key]: {
          maxPerTx: text(perTx),
          ...(per24h !== undefined ? { maxPer24h: text(per24h) } : {}),
        },
      };
    }
    if (c.budget) out.lifetimeBudget = { asset: key, amount: c.budget.amount };
    if (c.amountRange?.min !== undefined) out.minPerTx = { asset: key, amount: c.amountRange.min };
  }

  if (c.allowedPayees !== undefined) {
    out.recipients = c.allowedPayees.map((p) => {
      const a = normaliseAddress(p);
      if (a === undefined) {
        throw new VaultError("MANDATE_UNSUPPORTED", "An allowed payee is not a 0x address.", {
          payee: p,
        });
      }
      return a;
    });
  }

  const nbs = [mandate.notBefore, c.executionWindow?.notBefore].filter(isNum);
  if (nbs.length > 0) out.notBefore = Math.max(...nbs);
  out.notAfter = Math.min(mandate.expiresAt, ...[c.executionWindow?.notAfter].filter(isNum));
  if (c.recurrence) out.recurrence = { ...c.recurrence };
  if (c.reference !== undefined) out.checkoutReference = c.reference;
  return out;
}

function isBig(x: bigint | undefined): x is bigint {
  return x !== undefined;
}

function isNum(x: number | undefined): x is number {
  return x !== undefined;
}
