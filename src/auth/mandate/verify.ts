/**
 * Google AP2 open payment mandates: an SD-JWT a trusted issuer signs for a user, bound by
 * `cnf` to the key of the agent that may use it (issue 13, item 2). Pure domain code: the
 * caller supplies the trusted issuers, the audience (this vault), an optional nonce and the
 * time; nothing here does I/O.
 *
 * What AP2 says (google-agentic-commerce/AP2, read 2026-12-02):
 * - code/sdk/schemas/ap2/open_payment_mandate.json: required `vct` = "mandate.payment.open.1",
 *   `constraints` (an array of objects, each with a `type`) and `cnf` (RFC 7800 §3.1; the
 *   docs' example carries `cnf.jwk`, an EC P-256 key). Optional `iat`, `exp` (Unix seconds),
 *   and any property of the closed mandate (`payee`, `payment_amount`, `payment_instrument`,
 *   `pisp`, `execution_date`). Constraint types:
 *     payment.budget        { currency: ISO 4217 alpha-3, max: number in MAJOR units }
 *                           (a total over every use; "to be used with agent_recurrence")
 *     payment.amount_range  { currency, max: integer MINOR units, min?: integer MINOR units }
 *     payment.allowed_payees { allowed: Merchant[] } (array elements selectively disclosable)
 *     payment.agent_recurrence { frequency: ON_DEMAND|DAILY|WEEKLY|BIWEEKLY|MONTHLY|
 *                           QUARTERLY|ANNUALLY, max_occurrences?: integer }
 *     payment.execution_date { not_before?: string, not_after?: string } (ISO 8601; the
 *                           docs' example uses "2026-03-31T00:00:00Z")
 *     payment.reference     { conditional_transaction_id: digest of an open checkout mandate }
 *                           (the schema requires one: `contains`)
 *     payment.allowed_payment_instruments, payment.allowed_pisps { allowed: [...] }
 * - docs/ap2/payment_mandate.md: the example wraps the mandate in a selectively disclosed
 *   element of a `delegate_payload` array of the issuer-signed JWT (`_sd_alg` "sha-256",
 *   header alg ES256); the closed mandate that follows is itself an SD-JWT with
 *   `typ: kb+sd-jwt` carrying `aud`, `nonce`, `iat`, `sd_hash` and signed by the cnf key.
 * - Units disagree inside AP2: the schema says amount_range min/max are integer MINOR units
 *   (and the docs' encoded example uses max 20000 for $200), while the docs' amount_range
 *   example shows max 100.50; this module follows the schema and refuses non-integers.
 * - types/merchant.json is referenced but not in the stored snapshot; the docs' examples show
 *   Merchant as { id, name, website }. Here a payee is the Merchant's `id` (lower-cased when
 *   it is a 0x address).
 *
 * What this module accepts, and where it chooses:
 * - An SD-JWT (RFC 9901 / draft-ietf-oauth-selective-disclosure-jwt) ending in a key-binding
 *   JWT (`typ: kb+jwt`) signed by `cnf.jwk`, with `aud` = this vault, `iat` within ±60 s,
 *   `sd_hash` = base64url(SHA-256(the presentation up to and including the last "~")) and
 *   `nonce` when the caller gives one. AP2's chained `kb+sd-jwt` closed mandate is not
 *   accepted: the vault checks each request against the open mandate's constraints itself.
 * - The mandate's claims are read at the top level of the payload, or from AP2's
 *   `delegate_payload` when it holds exactly one object.
 * - `iss` is required (the docs' example has only `kid`): it names the trusted issuer whose
 *   JWKS verifies the signature, alg EdDSA or ES256 only. `exp` is required (top level or in
 *   the mandate); `nbf` is honoured.
 * - Every disclosure must be referenced by a digest in the signed payload or in another
 *   disclosure: an altered disclosure is refused, not silently dropped. `_sd_alg` must be
 *   sha-256 (the default).
 * - Constraints the vault cannot enforce are refused (MANDATE_UNSUPPORTED), never ignored:
 *   allowed_payment_instruments, allowed_pisps, unknown types, and pre-set closed-mandate
 *   properties. `payment.reference` is passed through for the caller (no checkout mandates
 *   here).
 * - Amounts become decimal strings in the currency's major unit; minor units use the
 *   ISO 4217 exponent from a short table below, and other currencies are refused.
 * - `id` is `jti` when present, else base64url(SHA-256(issuer-signed JWT)): stable across
 *   presentations of one mandate, so a lifetime budget can be tracked under it.
 */
import { createHash } from "node:crypto";
import { SDJwt } from "@sd-jwt/core";
import { digest } from "@sd-jwt/crypto-nodejs";
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  importJWK,
  type JWK,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
} from "jose";
import { type ErrorCode, VaultError } from "../../errors/index.js";
import { normaliseAddress } from "../../policy/assets.js";

export const MANDATE_VCT = "mandate.payment.open.1";
export const MANDATE_ALGS = ["EdDSA", "ES256"] as const;
/** Accepted distance between a key-binding JWT's `iat` and now. */
export const KB_IAT_WINDOW_MS = 60_000;
const MAX_TOKEN_CHARS = 64 * 1024;

export const RECURRENCE_FREQUENCIES = [
  "ON_DEMAND",
  "DAILY",
  "WEEKLY",
  "BIWEEKLY",
  "MONTHLY",
  "QUARTERLY",
  "ANNUALLY",
] as const;
export type RecurrenceFrequency = (typeof RECURRENCE_FREQUENCIES)[number];

/** ISO 4217 minor-unit exponents of the currencies a mandate may name. */
const CURRENCY_EXPONENT: Record<string, number> = {
  USD: 2,
  EUR: 2,
  GBP: 2,
  CHF: 2,
  CAD: 2,
  AUD: 2,
  JPY: 0,
};

export interface MandateConstraints {
  /** payment.budget: the total over every use of the mandate, major units. */
  budget?: { asset: string; amount: string };
  /** payment.amount_range: each payment's bounds, major units. */
  amountRange?: { asset: string; min?: string; max: string };
  /** payment.allowed_payees: Merchant ids, 0x addresses lower-cased. */
  allowedPayees?: string[];
  /** payment.agent_recurrence; absent: the mandate is for one payment. */
  recurrence?: { frequency: RecurrenceFrequency; maxOccurrences?: number };
  /** payment.execution_date, epoch ms. */
  executionWindow?: { notBefore?: number; notAfter?: number };
  /** payment.reference: digest of the open checkout mandate this payment belongs to. */
  reference?: string;
}

export interface Mandate {
  id: string;
  issuer: string;
  /** The `cnf.jwk` key: the holder that signed the key-binding JWT. */
  holderJwk: JWK;
  /** Epoch ms. */
  expiresAt: number;
  notBefore?: number;
  issuedAt?: number;
  constraints: MandateConstraints;
}

export interface VerifyMandateOptions {
  trustedIssuers: Array<{ issuer: string; jwks: { keys: JWK[] } }>;
  /** This vault, as the key-binding JWT's `aud` must name it. */
  audience: string;
  nonce?: string;
  /** Epoch ms. */
  now: number;
}

function fail(code: ErrorCode, message?: string, details?: Record<string, unknown>): never {
  throw new VaultError(code, message, details);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const isAlg = (a: unknown): a is (typeof MANDATE_ALGS)[number] =>
  typeof a === "string" && (MANDATE_ALGS as readonly string[]).includes(a);

const sha256url = (s: string) => createHash("sha256").update(s, "ascii").digest("base64url");

/** Every digest the structure points at: `_sd` entries and `{"...": digest}` array elements. */
function collectDigests(v: unknown, into: Set<string>): void {
  if (Array.isArray(v)) {
    for (const el of v) {
      if (isRecord(el) && Object.keys(el).length === 1 && typeof el["..."] === "string") {
        into.add(el["..."]);
      } else collectDigests(el, into);
    }
  } else if (isRecord(v)) {
    const sd = v._sd;
    if (Array.isArray(sd)) for (const d of sd) if (typeof d === "string") into.add(d);
    for (const [k, x] of Object.entries(v)) if (k !== "_sd") collectDigests(x, into);
  }
}

async function verifyIssuerJwt(
  issuerJwt: string,
  opts: VerifyMandateOptions,
): Promise<{ issuer: string; payload: JWTPayload }> {
  let alg: unknown;
  let iss: unknown;
  try {
    alg = decodeProtectedHeader(issuerJwt).alg;
    iss = decodeJwt(issuerJwt).iss;
  } catch {
    fail("MANDATE_MALFORMED", "The mandate's issuer-signed JWT cannot be decoded.");
  }
  if (typeof iss !== "string") fail("MANDATE_MALFORMED", "The mandate names no issuer (iss).");
  const trusted = opts.trustedIssuers.find((t) => t.issuer === iss);
  if (!trusted) fail("MANDATE_ISSUER_UNKNOWN", undefined, { issuer: iss });
  if (!isAlg(alg)) {
    fail("MANDATE_SIGNATURE_INVALID", `The mandate's alg must be one of ${MANDATE_ALGS}.`);
  }
  try {
    const keys = createLocalJWKSet(trusted.jwks as Parameters<typeof createLocalJWKSet>[0]);
    const { payload } = await jwtVerify(issuerJwt, keys, {
      algorithms: [...MANDATE_ALGS],
      issuer: trusted.issuer,
      currentDate: new Date(opts.now),
    });
    return { issuer: trusted.issuer, payload };
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) fail("MANDATE_EXPIRED");
    if (err instanceof joseErrors.JWTClaimValidationFailed) {
      if (err.claim === "nbf") fail("MANDATE_NOT_YET_VALID");
      fail("MANDATE_MALFORMED", `The mandate's ${err.claim} claim is invalid.`);
    }
    fail("MANDATE_SIGNATURE_INVALID");
  }
}

/** The length of the longest `constraints` array anywhere in `values`. */
function longestConstraints(values: unknown[]): number {
  let n = 0;
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (isRecord(v)) {
      if (Array.isArray(v.constraints)) n = Math.max(n, v.constraints.length);
      Object.values(v).forEach(walk);
    }
  };
  values.forEach(walk);
  return n;
}

/** The disclosed claims, refusing disclosures the signed payload does not point at. */
async function resolveDisclosures(
  presentation: string,
  payload: JWTPayload,
): Promise<Record<string, unknown>> {
  if (payload._sd_alg !== undefined && payload._sd_alg !== "sha-256") {
    fail("MANDATE_UNSUPPORTED", "The mandate's _sd_alg must be sha-256.");
  }
  const hasher = (data: string | ArrayBuffer, alg: string) => digest(data, alg);
  try {
    const sdjwt = await SDJwt.fromEncode(presentation, hasher);
    const disclosures = sdjwt.disclosures ?? [];
    const referenced = new Set<string>();
    collectDigests(payload, referenced);
    for (const d of disclosures) collectDigests(d.value, referenced);
    const seen = new Set<string>();
    for (const d of disclosures) {
      const dg = await d.digest({ hasher, alg: "sha-256" });
      if (!referenced.has(dg) || seen.has(dg)) {
        fail("MANDATE_MALFORMED", "A disclosure is not referenced by the signed mandate.");
      }
      seen.add(dg);
    }
    const claims = await sdjwt.getClaims<unknown>(hasher);
    if (!isRecord(claims)) fail("MANDATE_MALFORMED");
    // Every constraint must be disclosed: withholding one (a budget, the payees) would
    // widen the mandate. Undisclosed array elements vanish from the claims, so compare
    // the signed constraints array's length with what resolved.
    const signed = longestConstraints([payload, ...disclosures.map((d) => d.value)]);
    if (signed > longestConstraints([claims]))
      fail("MANDATE_MALFORMED", "A constraint of the mandate is not disclosed.");
    return claims;
  } catch (err) {
    if (err instanceof VaultError) throw err;
    fail("MANDATE_MALFORMED", "The mandate's disclosures cannot be read.");
  }
}

async function verifyKeyBinding(
  kbJwt: string,
  presentation: string,
  cnf: unknown,
  opts: VerifyMandateOptions,
): Promise<JWK> {
  const bad = (why: string): never =>
    fail("MANDATE_KEY_BINDING_INVALID", `The key-binding JWT is refused: ${why}.`);
  if (!isRecord(cnf) || !isRecord(cnf.jwk))
    fail("MANDATE_MALFORMED", "The mandate has no cnf.jwk.");
  const jwk = cnf.jwk as JWK;
  if (jwk.d !== undefined) fail("MANDATE_MALFORMED", "The mandate's cnf.jwk is a private key.");
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(kbJwt);
  } catch {
    return bad("it cannot be decoded");
  }
  if (header.typ !== "kb+jwt") bad("typ must be kb+jwt");
  if (!isAlg(header.alg)) bad(`alg must be one of ${MANDATE_ALGS}`);
  let payload: JWTPayload;
  try {
    const key = await importJWK(jwk, header.alg);
    ({ payload } = await jwtVerify(kbJwt, key, {
      algorithms: [header.alg as string],
      typ: "kb+jwt",
      currentDate: new Date(opts.now),
    }));
  } catch {
    return bad("it is not signed by the mandate's cnf key");
  }
  if (payload.aud !== opts.audience) bad("aud is not this vault");
  if (
    typeof payload.iat !== "number" ||
    Math.abs(payload.iat * 1000 - opts.now) > KB_IAT_WINDOW_MS
  ) {
    bad("iat is not within 60 s of now");
  }
  if (payload.sd_hash !== sha256url(presentation)) bad("sd_hash does not match the presentation");
  if (opts.nonce !== undefined && payload.nonce !== opts.nonce) bad("nonce does not match");
  return jwk;
}

function currency(v: unknown): string {
  if (typeof v !== "string" || !/^[A-Z]{3}$/.test(v)) {
    fail("MANDATE_MALFORMED", "A constraint's currency is not an ISO 4217 alpha-3 code.");
  }
  if (CURRENCY_EXPONENT[v] === undefined) {
    fail("MANDATE_UNSUPPORTED", `Currency ${v} is not supported.`, { currency: v });
  }
  return v;
}

function minorToMajor(v: unknown, cur: string, what: string): string {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    fail("MANDATE_MALFORMED", `${what} must be a non-negative integer of minor units.`);
  }
  const exp = CURRENCY_EXPONENT[cur] ?? 0;
  const s = String(v).padStart(exp + 1, "0");
  const int = s.slice(0, s.length - exp);
  const frac = s.slice(s.length - exp).replace(/0+$/, "");
  return frac ? `${int}.${frac}` : int;
}

function majorAmount(v: unknown, cur: string, what: string): string {
  const s = typeof v === "number" && Number.isFinite(v) && v >= 0 ? String(v) : "";
  const m = /^(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m || (m[2]?.length ?? 0) > (CURRENCY_EXPONENT[cur] ?? 0)) {
    fail("MANDATE_MALFORMED", `${what} must be a non-negative amount in ${cur}.`);
  }
  return s;
}

function date(v: unknown, what: string): number | undefined {
  if (v === undefined) return undefined;
  const ms = typeof v === "string" ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(ms)) fail("MANDATE_MALFORMED", `${what} is not an ISO 8601 date.`);
  return ms;
}

function parseConstraints(raw: unknown): MandateConstraints {
  if (!Array.isArray(raw)) fail("MANDATE_MALFORMED", "The mandate's constraints are not an array.");
  const out: MandateConstraints = {};
  const seen = new Set<string>();
  for (const c of raw) {
    if (!isRecord(c) || typeof c.type !== "string") {
      fail("MANDATE_MALFORMED", "A constraint has no type.");
    }
    if (seen.has(c.type)) fail("MANDATE_MALFORMED", `Constraint ${c.type} appears twice.`);
    seen.add(c.type);
    switch (c.type) {
      case "payment.budget": {
        const cur = currency(c.currency);
        out.budget = { asset: cur, amount: majorAmount(c.max, cur, "payment.budget max") };
        break;
      }
      case "payment.amount_range": {
        const cur = currency(c.currency);
        const max = minorToMajor(c.max, cur, "payment.amount_range max");
        const range: NonNullable<MandateConstraints["amountRange"]> = { asset: cur, max };
        if (c.min !== undefined) {
          range.min = minorToMajor(c.min, cur, "payment.amount_range min");
          if ((c.min as number) > (c.max as number)) {
            fail("MANDATE_MALFORMED", "payment.amount_range min is above max.");
          }
        }
        out.amountRange = range;
        break;
      }
      case "payment.allowed_payees": {
        if (!Array.isArray(c.allowed)) fail("MANDATE_MALFORMED", "allowed_payees is not a list.");
        out.allowedPayees = c.allowed.map((m) => {
          if (!isRecord(m) || typeof m.id !== "string" || m.id === "") {
            fail("MANDATE_MALFORMED", "An allowed payee has no id.");
          }
          return normaliseAddress(m.id) ?? m.id;
        });
        break;
      }
      case "payment.agent_recurrence": {
        const f = c.frequency;
        if (!(RECURRENCE_FREQUENCIES as readonly unknown[]).includes(f)) {
          fail("MANDATE_MALFORMED", "payment.agent_recurrence frequency is unknown.");
        }
        const r: NonNullable<MandateConstraints["recurrence"]> = {
          frequency: f as RecurrenceFrequency,
        };
        if (c.max_occurrences !== undefined) {
          const n = c.max_occurrences;
          if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 1) {
            fail("MANDATE_MALFORMED", "payment.agent_recurrence max_occurrences must be ≥ 1.");
          }
          r.maxOccurrences = n;
        }
        out.recurrence = r;
        break;
      }
      case "payment.execution_date": {
        const notBefore = date(c.not_before, "execution_date not_before");
        const notAfter = date(c.not_after, "execution_date not_after");
        if (notBefore !== undefined && notAfter !== undefined && notBefore > notAfter) {
          fail("MANDATE_MALFORMED", "execution_date not_before is after not_after.");
        }
        out.executionWindow = {
          ...(notBefore !== undefined ? { notBefore } : {}),
          ...(notAfter !== undefined ? { notAfter } : {}),
        };
        break;
      }
      case "payment.reference": {
        if (typeof c.conditional_transaction_id !== "string") {
          fail("MANDATE_MALFORMED", "payment.reference has no conditional_transaction_id.");
        }
        out.reference = c.conditional_transaction_id;
        break;
      }
      default:
        fail("MANDATE_UNSUPPORTED", `Constraint ${c.type} cannot be enforced by this vault.`, {
          constraint: c.type,
        });
    }
  }
  if (out.budget && out.amountRange && out.budget.asset !== out.amountRange.asset) {
    fail("MANDATE_UNSUPPORTED", "The mandate's budget and amount range use different currencies.");
  }
  return out;
}

/** Closed-mandate properties an open mandate may pre-set; this vault does not enforce them. */
const PRESET_FIELDS = ["payee", "payment_amount", "payment_instrument", "pisp", "execution_date"];

function seconds(v: unknown, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v))
    fail("MANDATE_MALFORMED", `${what} is invalid.`);
  return v * 1000;
}

/**
 * Verify an AP2 open payment mandate presented with key binding, and read its constraints.
 * Throws VaultError MANDATE_* on any failure.
 */
export async function verifyMandate(token: string, opts: VerifyMandateOptions): Promise<Mandate> {
  if (typeof token !== "string" || token.length > MAX_TOKEN_CHARS || !token.includes("~")) {
    fail("MANDATE_MALFORMED", "The mandate is not an SD-JWT.");
  }
  const cut = token.lastIndexOf("~") + 1;
  const presentation = token.slice(0, cut);
  const kbJwt = token.slice(cut);
  const issuerJwt = token.slice(0, token.indexOf("~"));

  const { issuer, payload } = await verifyIssuerJwt(issuerJwt, opts);
  if (kbJwt === "") fail("MANDATE_KEY_BINDING_INVALID", "The mandate has no key-binding JWT.");
  const claims = await resolveDisclosures(token, payload);

  let body = claims;
  if (claims.delegate_payload !== undefined) {
    const dp = claims.delegate_payload;
    const first: unknown = Array.isArray(dp) && dp.length === 1 ? dp[0] : undefined;
    if (!isRecord(first)) fail("MANDATE_MALFORMED", "delegate_payload must hold one mandate.");
    body = first;
  }
  if (body.vct !== MANDATE_VCT) {
    fail("MANDATE_UNSUPPORTED", `The mandate's vct must be ${MANDATE_VCT}.`, { vct: body.vct });
  }
  for (const f of PRESET_FIELDS) {
    if (body[f] !== undefined) {
      fail("MANDATE_UNSUPPORTED", `A pre-set ${f} cannot be enforced by this vault.`);
    }
  }

  // The issuer JWT's exp/nbf were checked by jose; the wrapped mandate's own are checked here.
  const exps = [
    seconds(payload.exp, "exp"),
    body === claims ? undefined : seconds(body.exp, "exp"),
  ];
  const nbfs = [
    seconds(payload.nbf, "nbf"),
    body === claims ? undefined : seconds(body.nbf, "nbf"),
  ];
  const expiresAt = Math.min(...exps.filter((x): x is number => x !== undefined));
  if (!Number.isFinite(expiresAt)) fail("MANDATE_MALFORMED", "The mandate has no exp.");
  if (expiresAt <= opts.now) fail("MANDATE_EXPIRED");
  const nbf = nbfs.filter((x): x is number => x !== undefined);
  const notBefore = nbf.length > 0 ? Math.max(...nbf) : undefined;
  if (notBefore !== undefined && notBefore > opts.now) fail("MANDATE_NOT_YET_VALID");

  const holderJwk = await verifyKeyBinding(kbJwt, presentation, body.cnf ?? claims.cnf, opts);
  const constraints = parseConstraints(body.constraints);

  const iat = seconds(body.iat ?? claims.iat, "iat");
  return {
    // The id is the issuer's signing input, never the encoded JWT (the holder can re-encode
    // a signature, e.g. ECDSA's s → n−s) nor a jti (the holder could withhold one): every
    // presentation of one mandate has this same id, so its budget and revocation hold.
    id: sha256url(issuerJwt.slice(0, issuerJwt.lastIndexOf("."))),
    issuer,
    holderJwk,
    expiresAt,
    ...(notBefore !== undefined ? { notBefore } : {}),
    ...(iat !== undefined ? { issuedAt: iat } : {}),
    constraints,
  };
}
