/**
 * A human's AP2 open payment mandate (google-agentic-commerce/AP2, `mandate.payment.open.1`,
 * an SD-JWT with key binding, src/auth/mandate) applied to a delegated payment (README
 * "Human mandates"). The mandate's `cnf` key must be the chain's final holder, and its
 * key-binding JWT must name this request (`nonce` = the SHA-256 of the request body, `aud`
 * = this vault), so it cannot be carried to another request or by another holder.
 *
 * It then acts as one more link of the chain: its caps narrow the terms (the smaller of
 * each), its payees narrow the recipients, and its id is a link the spends are counted
 * against, so its amounts hold over a rolling 24 h like any link's. What a rolling window
 * cannot say is refused, never dropped: a budget over a validity longer than 24 h, a
 * floor (amount_range.min), a checkout reference.
 */
import { createHash } from "node:crypto";
import type { JWK } from "jose";
import { VaultError } from "../../errors/index.js";
import { mandateNarrowing } from "../mandate/constraints.js";
import { verifyMandate } from "../mandate/verify.js";
import { didKeyOf } from "../vc/index.js";
import { compareDecimal, type VaultTerms } from "./constraints.js";

export const MANDATE_HEADER = "ap2-mandate";
const PAY = "/vault/x402/pay";
const DAY_MS = 24 * 3600 * 1000;

export interface MandateOptions {
  trustedIssuers: Array<{ issuer: string; jwks: { keys: JWK[] } }>;
  audience: string;
}

export interface MandateLink {
  /** The link id spends are counted against and revocation names: "mandate-<hash>". */
  cid: string;
  /** Absent for a mandate that names no amount (payees only): the chain's caps stay. */
  caps?: NonNullable<VaultTerms["caps"]>;
  terms: VaultTerms;
  /** The mandate's end: a payment parked for approval is not signed after it. */
  expiresMs: number;
}

function unsupported(message: string): never {
  throw new VaultError("MANDATE_UNSUPPORTED", message);
}

const min = (a: string, b: string) => (compareDecimal(a, b) <= 0 ? a : b);

/** The chain's final holder's did:key must be the mandate's cnf key (Ed25519). */
function checkHolder(jwk: JWK, holder: string): void {
  const raw = jwk.kty === "OKP" && jwk.crv === "Ed25519" && jwk.x ? jwk.x : undefined;
  if (!raw || didKeyOf(Buffer.from(raw, "base64url")) !== holder)
    throw new VaultError(
      "MANDATE_KEY_BINDING_INVALID",
      "the mandate is bound to another key than the chain's holder",
    );
}

export async function applyMandate(
  token: string,
  chain: { holder: string; terms: VaultTerms; command: string; bodySha256: string },
  opts: MandateOptions & { now: number },
): Promise<MandateLink> {
  const m = await verifyMandate(token, {
    trustedIssuers: opts.trustedIssuers,
    audience: opts.audience,
    nonce: chain.bodySha256,
    now: opts.now,
  });
  checkHolder(m.holderJwk, chain.holder);
  if (chain.command !== PAY) unsupported("a payment mandate covers x402 payments only");
  const chainId = chain.terms.chains?.length === 1 ? chain.terms.chains[0] : undefined;
  if (chainId === undefined)
    unsupported("a mandate needs the chain pinned to one network (chains: [id])");
  const n = mandateNarrowing(m, chainId);
  if (n.minPerTx) unsupported("amount_range.min cannot be enforced by this vault");
  if (n.checkoutReference) unsupported("payment.reference cannot be enforced by this vault");
  // A rolling 24 h window holds a total (a budget, a count of payments, a slow frequency,
  // or the one payment of a mandate without recurrence) only if every use falls within
  // one day: so such a mandate is accepted only within the last 24 h of its validity.
  const r = m.constraints.recurrence;
  const unboundedCount = r?.frequency === "ON_DEMAND" && r.maxOccurrences === undefined;
  const bounded = !unboundedCount || !!n.lifetimeBudget;
  if (bounded && n.notAfter - opts.now > DAY_MS)
    unsupported("a mandate that bounds a total is enforced over 24 h: it must end within a day");
  if (n.notBefore !== undefined && n.notBefore > opts.now)
    throw new VaultError("MANDATE_NOT_YET_VALID");
  if (n.notAfter <= opts.now) throw new VaultError("MANDATE_EXPIRED");
  const terms: VaultTerms = { ...chain.terms };
  // With amounts, only the mandate's asset stays spendable through it.
  const caps = n.caps ? capsOf(n.caps, chain.terms.caps) : undefined;
  if (caps) terms.caps = caps;
  if (n.recipients) {
    const parent = chain.terms.recipients;
    terms.recipients = parent ? n.recipients.filter((x) => parent.includes(x)) : n.recipients;
  }
  const id = createHash("sha256").update(`${m.issuer}\n${m.id}`).digest("base64url");
  return { cid: `mandate-${id}`, ...(caps ? { caps } : {}), terms, expiresMs: n.notAfter };
}

/** The mandate's caps, each no higher than the chain's for the same asset. */
function capsOf(
  mandate: Record<string, { maxPerTx: string; maxPer24h?: string }>,
  parent: VaultTerms["caps"],
): NonNullable<VaultTerms["caps"]> {
  const out: NonNullable<VaultTerms["caps"]> = {};
  for (const [asset, c] of Object.entries(mandate)) {
    const p = parent?.[asset];
    if (parent && !p) unsupported(`the chain does not delegate the mandate's asset ${asset}`);
    const day = c.maxPer24h ?? p?.maxPer24h;
    if (day === undefined) unsupported("the mandate sets no bound over a day, nor does the chain");
    out[asset] = {
      maxPerTx: p ? min(c.maxPerTx, p.maxPerTx) : c.maxPerTx,
      maxPer24h: p ? min(day, p.maxPer24h) : day,
    };
  }
  return out;
}
