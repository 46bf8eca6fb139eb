/**
 * verifyMandate against mandates the tests issue: one valid mandate read in full, and one
 * refusal per check (untrusted issuer, altered disclosure, broken issuer signature, no
 * key binding, a key binding by another key, wrong aud, stale iat, sd_hash, nonce, expiry).
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { verifyMandate } from "../../../src/auth/mandate/verify.js";
import { codeOf } from "../../helpers/errors.js";
import {
  AUDIENCE,
  bind,
  constraintsUsd,
  ISSUER,
  issue,
  NOW,
  type Party,
  party,
  trusted,
} from "./helpers.js";

let issuer: Party;
let holder: Party;
let other: Party;

before(async () => {
  [issuer, holder, other] = await Promise.all([party(), party(), party()]);
});

const opts = (o: { nonce?: string; now?: number } = {}) => ({
  trustedIssuers: trusted(issuer),
  audience: AUDIENCE,
  now: o.now ?? NOW,
  ...(o.nonce !== undefined ? { nonce: o.nonce } : {}),
});

test("a valid mandate verifies and its constraints are read", async () => {
  const token = await bind(await issue({ issuer, holder }), holder.privateKey);
  const m = await verifyMandate(token, opts({ nonce: "n-1" }));
  assert.equal(m.issuer, ISSUER);
  assert.equal(m.holderJwk.x, holder.publicJwk.x);
  assert.equal(m.expiresAt, NOW + 3600_000);
  assert.match(m.id, /^[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(m.constraints, {
    amountRange: { asset: "USD", min: "1", max: "25" },
    budget: { asset: "USD", amount: "100" },
    allowedPayees: ["0x1111111111111111111111111111111111111111"],
    recurrence: { frequency: "WEEKLY", maxOccurrences: 8 },
    executionWindow: {
      notBefore: Date.parse("2026-04-01T00:00:00Z"),
      notAfter: Date.parse("2026-06-30T23:59:59Z"),
    },
    reference: "FzLoxbbtgQGYZxoSM2NJ",
  });
});

test("AP2's delegate_payload form (the mandate as one disclosed array element) verifies", async () => {
  const token = await bind(await issue({ issuer, holder, wrapped: true }), holder.privateKey);
  const m = await verifyMandate(token, opts());
  assert.equal(m.constraints.budget?.amount, "100");
});

test("a withheld constraint is refused: leaving out a budget or the payees would widen", async () => {
  const full = await issue({ issuer, holder });
  const [jwt, ...disclosures] = full.split("~").slice(0, -1);
  // Keep only the first disclosure (amount_range).
  const token = await bind(`${jwt}~${disclosures[0]}~`, holder.privateKey);
  assert.equal(await codeOf(verifyMandate(token, opts())), "MANDATE_MALFORMED");
});

test("a re-encoded issuer signature is the same mandate (same id)", async () => {
  const full = await issue({ issuer, holder });
  const cut = full.indexOf("~");
  const jwt = full.slice(0, cut);
  // The last base64url character of a 64-byte signature carries 2 bits and 4 unused ones.
  const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const twin = ALPHABET[ALPHABET.indexOf(jwt.at(-1) as string) ^ 1] as string;
  const a = await verifyMandate(await bind(full, holder.privateKey), opts());
  const b = await verifyMandate(
    await bind(`${jwt.slice(0, -1)}${twin}${full.slice(cut)}`, holder.privateKey),
    opts(),
  ).catch(() => undefined);
  assert.ok(b, "jose accepts the re-encoded signature");
  assert.equal(b.id, a.id);
  assert.equal(a.id.length, 43);
});

test("a mandate from an issuer the operator does not trust is refused", async () => {
  const token = await bind(
    await issue({ issuer, holder, iss: "https://other.example" }),
    holder.privateKey,
  );
  assert.equal(await codeOf(verifyMandate(token, opts())), "MANDATE_ISSUER_UNKNOWN");
});

test("a mandate signed by a key not in the trusted issuer's JWKS is refused", async () => {
  const token = await bind(await issue({ issuer: other, holder }), holder.privateKey);
  assert.equal(await codeOf(verifyMandate(token, opts())), "MANDATE_SIGNATURE_INVALID");
});

test("a broken issuer signature is refused", async () => {
  const full = await issue({ issuer, holder });
  const [h, p, s = ""] = full.slice(0, full.indexOf("~")).split(".");
  const i = 10;
  const flipped = s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
  const token = await bind(
    `${h}.${p}.${flipped}${full.slice(full.indexOf("~"))}`,
    holder.privateKey,
  );
  assert.equal(await codeOf(verifyMandate(token, opts())), "MANDATE_SIGNATURE_INVALID");
});

test("an altered disclosure is refused, even under a fresh key binding", async () => {
  const full = await issue({ issuer, holder });
  const parts = full.split("~");
  const d = JSON.parse(Buffer.from(parts[1] ?? "", "base64url").toString()) as unknown[];
  const c = d[1] as { max: number };
  assert.equal(c.max, 2500);
  c.max = 2_500_000;
  parts[1] = Buffer.from(JSON.stringify(d)).toString("base64url");
  const token = await bind(parts.join("~"), holder.privateKey);
  assert.equal(await codeOf(verifyMandate(token, opts())), "MANDATE_MALFORMED");
});

test("a mandate without a key-binding JWT is refused", async () => {
  const token = await issue({ issuer, holder });
  assert.ok(token.endsWith("~"));
  assert.equal(await codeOf(verifyMandate(token, opts())), "MANDATE_KEY_BINDING_INVALID");
});

test("a key-binding JWT signed by a key other than cnf is refused", async () => {
  const token = await bind(await issue({ issuer, holder }), other.privateKey);
  assert.equal(await codeOf(verifyMandate(token, opts())), "MANDATE_KEY_BINDING_INVALID");
});

test("a key-binding JWT for another audience is refused", async () => {
  const token = await bind(await issue({ issuer, holder }), holder.privateKey, {
    aud: "https://elsewhere.example",
  });
  assert.equal(await codeOf(verifyMandate(token, opts())), "MANDATE_KEY_BINDING_INVALID");
});

test("a key-binding JWT whose iat is more than 60 s from now is refused", async () => {
  const base = await issue({ issuer, holder });
  const at = (iat: number) => bind(base, holder.privateKey, { iat });
  const t = Math.floor(NOW / 1000);
  assert.equal(await codeOf(verifyMandate(await at(t - 59), opts())), "accepted");
  assert.equal(
    await codeOf(verifyMandate(await at(t - 61), opts())),
    "MANDATE_KEY_BINDING_INVALID",
  );
  assert.equal(
    await codeOf(verifyMandate(await at(t + 61), opts())),
    "MANDATE_KEY_BINDING_INVALID",
  );
});

test("a key-binding JWT over another presentation (sd_hash) is refused", async () => {
  const token = await bind(await issue({ issuer, holder }), holder.privateKey, {
    sdHash: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
  });
  assert.equal(await codeOf(verifyMandate(token, opts())), "MANDATE_KEY_BINDING_INVALID");
});

test("when the caller gives a nonce, the key-binding JWT must carry it", async () => {
  const token = await bind(await issue({ issuer, holder }), holder.privateKey, { nonce: "old" });
  assert.equal(await codeOf(verifyMandate(token, opts())), "accepted");
  assert.equal(
    await codeOf(verifyMandate(token, opts({ nonce: "fresh" }))),
    "MANDATE_KEY_BINDING_INVALID",
  );
});

test("an expired mandate is refused (top level and in delegate_payload)", async () => {
  const exp = Math.floor(NOW / 1000) - 1;
  const top = await bind(await issue({ issuer, holder, exp }), holder.privateKey);
  assert.equal(await codeOf(verifyMandate(top, opts())), "MANDATE_EXPIRED");
  const wrapped = await bind(
    await issue({ issuer, holder, exp, wrapped: true }),
    holder.privateKey,
  );
  assert.equal(await codeOf(verifyMandate(wrapped, opts())), "MANDATE_EXPIRED");
});

test("constraints the vault cannot enforce are refused, not ignored", async () => {
  for (const extra of [
    { type: "payment.allowed_pisps", allowed: [{ domain_name: "pay.example" }] },
    { type: "payment.allowed_payment_instruments", allowed: [{ id: "x", type: "card" }] },
    { type: "payment.something_new" },
  ]) {
    const token = await bind(
      await issue({ issuer, holder, constraints: [...constraintsUsd(), extra] }),
      holder.privateKey,
    );
    assert.equal(await codeOf(verifyMandate(token, opts())), "MANDATE_UNSUPPORTED", extra.type);
  }
});

test("a currency outside the ISO 4217 table is refused", async () => {
  const token = await bind(
    await issue({
      issuer,
      holder,
      constraints: [{ type: "payment.amount_range", currency: "XTS", max: 100 }],
    }),
    holder.privateKey,
  );
  assert.equal(await codeOf(verifyMandate(token, opts())), "MANDATE_UNSUPPORTED");
});

test("EdDSA issuers and holders verify; an issuer alg outside EdDSA/ES256 is refused", async () => {
  const [edIssuer, edHolder, es384] = await Promise.all([
    party("EdDSA"),
    party("EdDSA"),
    party("ES384"),
  ]);
  const ed = await bind(await issue({ issuer: edIssuer, holder: edHolder }), edHolder.privateKey, {
    alg: "EdDSA",
  });
  const m = await verifyMandate(ed, { ...opts(), trustedIssuers: trusted(edIssuer) });
  assert.equal(m.holderJwk.crv, "Ed25519");
  const p384 = await bind(await issue({ issuer: es384, holder }), holder.privateKey);
  assert.equal(
    await codeOf(verifyMandate(p384, { ...opts(), trustedIssuers: trusted(es384) })),
    "MANDATE_SIGNATURE_INVALID",
  );
});

test("a mandate with no exp, or before its nbf, is refused", async () => {
  const noExp = await bind(await issue({ issuer, holder, exp: null }), holder.privateKey);
  assert.equal(await codeOf(verifyMandate(noExp, opts())), "MANDATE_MALFORMED");
  const early = await bind(
    await issue({ issuer, holder, nbf: Math.floor(NOW / 1000) + 600 }),
    holder.privateKey,
  );
  assert.equal(await codeOf(verifyMandate(early, opts())), "MANDATE_NOT_YET_VALID");
});
