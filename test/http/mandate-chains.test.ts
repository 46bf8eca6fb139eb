/**
 * A human's AP2 open payment mandate with a delegation chain (README "Human mandates"),
 * against a real vault and its signer nodes: mandates issued by the SD-JWT library, key
 * binding signed with jose, chains and invocations made with iso-ucan. The mandate narrows
 * the chain (per payment, payees, a budget counted like a link's), is bound to the chain's
 * holder and to the request's body, and is refused where a rolling window cannot hold it.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import { EdDSASigner, invoke } from "../auth/delegation/helpers.js";
import { bind, ISSUER, issue, type Party, party } from "../auth/mandate/helpers.js";
import {
  BASE_SEPOLIA,
  startTestVault,
  type TestVault,
  USDC_BASE_SEPOLIA,
} from "../helpers/vault.js";

const PAY = "/vault/x402/pay";
const MERCHANT = "0x1111111111111111111111111111111111111111";
const OTHER = "0x2222222222222222222222222222222222222222";
const AUDIENCE = "urn:agent-vault:local";

let tv: TestVault;
let issuer: Party;
let agent: { id: string; address: string };

interface Holder {
  party: Party;
  signer: EdDSASigner;
  chain: string[];
}

before(async () => {
  issuer = await party("ES256");
  tv = await startTestVault({
    VAULT_TRUSTED_MANDATE_ISSUERS: JSON.stringify([
      { issuer: ISSUER, jwks: { keys: [issuer.publicJwk] } },
    ]),
  });
  agent = await tv.createAgent({
    chains: [BASE_SEPOLIA],
    assets: {
      [USDC_BASE_SEPOLIA]: {
        symbol: "USDC",
        decimals: 6,
        maxPerTx: "5",
        maxPer24h: "100",
        approvalAbove: "1.6",
      },
    },
    allowTypedData: ["TransferWithAuthorization"],
    rateLimitPerMinute: 1000,
    validUntil: "2099-01-01T00:00:00Z",
  });
});
after(() => tv.stop());

/** A holder whose Ed25519 key is both its did:key (UCAN) and the mandate's cnf (JWK). */
async function holder(extra: Record<string, unknown> = {}): Promise<Holder> {
  const p = await party("EdDSA");
  const signer = await EdDSASigner.generate(Buffer.from(String(p.privateJwk.d), "base64url"));
  const res = await tv.app.inject({
    method: "POST",
    url: "/v1/delegations",
    headers: tv.admin,
    payload: {
      agentId: agent.id,
      audience: signer.did,
      commands: [PAY],
      caps: { [USDC_BASE_SEPOLIA]: { maxPerTx: "5", maxPer24h: "50" } },
      chains: [BASE_SEPOLIA],
      expiresAt: new Date(Date.now() + 3600_000).toISOString(),
      ...extra,
    },
  });
  assert.equal(res.statusCode, 201, res.body);
  return { party: p, signer, chain: [res.json().delegation] };
}

const nowS = () => Math.floor(Date.now() / 1000);

/**
 * Up to 2 USD a payment (amount_range is in cents, per AP2's schema), 3 USD in all (budget
 * is in dollars), to MERCHANT only, on demand (without recurrence a mandate is for one
 * payment).
 */
const usd = (extra: unknown[] = []) => [
  { type: "payment.agent_recurrence", frequency: "ON_DEMAND", max_occurrences: 5 },
  { type: "payment.amount_range", currency: "USD", max: 200 },
  { type: "payment.budget", currency: "USD", max: 3 },
  { type: "payment.allowed_payees", allowed: [{ id: MERCHANT, name: "Shop" }] },
  ...extra,
];

async function mandateFor(
  h: Holder,
  o: { constraints?: unknown[]; exp?: number; by?: Party; iss?: string } = {},
) {
  return issue({
    issuer: o.by ?? issuer,
    ...(o.iss ? { iss: o.iss } : {}),
    holder: h.party,
    constraints: o.constraints ?? usd(),
    nbf: nowS() - 60,
    exp: o.exp ?? nowS() + 3600,
  });
}

function body(amount: string, payTo = MERCHANT) {
  return JSON.stringify({
    paymentRequired: {
      x402Version: 2,
      resource: { url: "https://shop.example/item" },
      accepts: [
        {
          scheme: "exact",
          network: `eip155:${BASE_SEPOLIA}`,
          asset: USDC_BASE_SEPOLIA,
          amount,
          payTo,
          maxTimeoutSeconds: 120,
          extra: { name: "USDC", version: "2" },
        },
      ],
    },
  });
}

/** The headers of a payment through the chain, the mandate bound to this very body. */
async function headersFor(
  h: Holder,
  mandate: string | undefined,
  payload: string,
  kb: { nonceOf?: string; key?: Party } = {},
) {
  const path = `/v1/agents/${agent.id}/x402/pay`;
  const inv = await invoke({
    chain: h.chain,
    by: h.signer,
    cmd: PAY,
    method: "POST",
    path,
    body: payload,
  });
  const nonce = createHash("sha256")
    .update(kb.nonceOf ?? payload)
    .digest("hex");
  const bound = mandate
    ? await bind(mandate, (kb.key ?? h.party).privateKey, {
        aud: AUDIENCE,
        iat: nowS(),
        nonce,
        alg: "EdDSA",
      })
    : undefined;
  return {
    authorization: `Delegation ${h.chain.join(",")}`,
    "ucan-invocation": inv,
    "content-type": "application/json",
    ...(bound ? { "ap2-mandate": bound } : {}),
  };
}

/** Pays through the chain with the mandate bound to this very body (KB nonce). */
async function pay(
  h: Holder,
  mandate: string | undefined,
  payload: string,
  kb: { nonceOf?: string; key?: Party } = {},
) {
  const res = await tv.app.inject({
    method: "POST",
    url: `/v1/agents/${agent.id}/x402/pay`,
    headers: await headersFor(h, mandate, payload, kb),
    payload,
  });
  const json = res.json() as { error?: { code: string; message?: string } };
  return { status: res.statusCode, code: json.error?.code, message: json.error?.message };
}

test("the mandate narrows the chain: per payment, payees, and its budget over every payment", async () => {
  const h = await holder();
  const m = await mandateFor(h);
  const first = await pay(h, m, body("1500000"));
  assert.equal(first.status, 200, `${first.code} ${first.message}`);
  const tooBig = await pay(h, m, body("2500000"));
  assert.equal(tooBig.status, 403, tooBig.message);
  const elsewhere = await pay(h, m, body("100000", OTHER));
  assert.equal(elsewhere.status, 403, elsewhere.message);
  assert.equal((await pay(h, m, body("1500000"))).status, 200);
  const overBudget = await pay(h, m, body("100000"));
  assert.equal(overBudget.status, 403);
  assert.match(String(overBudget.message), /link 1/, "the mandate's own budget refuses it");
  // Without the mandate the chain alone allows 5 a payment (this one waits for the
  // operator, above the policy's 1.6): the mandate was the limit.
  assert.equal((await pay(h, undefined, body("2500000"))).status, 202);
});

test("a mandate bound to another key, another body or issued by a stranger is refused", async () => {
  const h = await holder();
  const m = await mandateFor(h);
  const other = await party("EdDSA");
  assert.equal((await pay(h, m, body("1000"), { key: other })).code, "MANDATE_KEY_BINDING_INVALID");
  assert.equal(
    (await pay(h, m, body("1000"), { nonceOf: body("2000") })).code,
    "MANDATE_KEY_BINDING_INVALID",
  );
  // A mandate for another holder's key, presented with this holder's binding.
  const stranger = await holder();
  const theirs = await mandateFor(stranger);
  assert.equal(
    (await pay(h, theirs, body("1000"), { key: stranger.party })).code,
    "MANDATE_KEY_BINDING_INVALID",
  );
  const rogue = await party("ES256");
  const forged = await mandateFor(h, { by: rogue, iss: "https://rogue.example" });
  assert.equal((await pay(h, forged, body("1000"))).code, "MANDATE_ISSUER_UNKNOWN");
});

test("what a rolling window cannot hold is refused: a budget valid past a day, a floor", async () => {
  const h = await holder();
  const long = await mandateFor(h, { exp: nowS() + 2 * 24 * 3600 });
  assert.equal((await pay(h, long, body("1000"))).code, "MANDATE_UNSUPPORTED");
  const floor = await mandateFor(h, {
    constraints: [{ type: "payment.amount_range", currency: "USD", max: 200, min: 100 }],
  });
  assert.equal((await pay(h, floor, body("1000000"))).code, "MANDATE_UNSUPPORTED");
  // A monthly allowance valid for a month: one payment a rolling day would be 30 of them.
  const monthly = await mandateFor(h, {
    exp: nowS() + 30 * 24 * 3600,
    constraints: [
      { type: "payment.agent_recurrence", frequency: "MONTHLY" },
      { type: "payment.amount_range", currency: "USD", max: 200 },
    ],
  });
  assert.equal((await pay(h, monthly, body("1000"))).code, "MANDATE_UNSUPPORTED");
});

test("a mandate cannot widen the chain or be stretched past what it says", async () => {
  // The chain pays OTHER only, the mandate MERCHANT only: nobody is left.
  const narrow = await holder({ recipients: [OTHER] });
  const m = await mandateFor(narrow);
  assert.equal((await pay(narrow, m, body("1000"))).status, 403);
  assert.equal((await pay(narrow, m, body("1000", OTHER))).status, 403);
  // A checkout reference, a chain not pinned to one network, a route other than paying.
  const h = await holder();
  const withRef = await mandateFor(h, {
    constraints: [
      ...usd(),
      { type: "payment.reference", conditional_transaction_id: "FzLoxbbtgQGYZxoSM2NJ" },
    ],
  });
  assert.equal((await pay(h, withRef, body("1000"))).code, "MANDATE_UNSUPPORTED");
  const twoNetworks = await holder({ chains: [BASE_SEPOLIA, 1] });
  assert.equal(
    (await pay(twoNetworks, await mandateFor(twoNetworks), body("1000"))).code,
    "MANDATE_UNSUPPORTED",
  );
  const signer = await holder({ commands: [PAY, "/vault/sign/message"] });
  const path = `/v1/agents/${agent.id}/sign/message`;
  const msg = JSON.stringify({ message: "hello" });
  const inv = await invoke({
    chain: signer.chain,
    by: signer.signer,
    cmd: "/vault/sign/message",
    method: "POST",
    path,
    body: msg,
  });
  const bound = await bind(await mandateFor(signer), signer.party.privateKey, {
    aud: AUDIENCE,
    iat: nowS(),
    nonce: createHash("sha256").update(msg).digest("hex"),
    alg: "EdDSA",
  });
  const res = await tv.app.inject({
    method: "POST",
    url: path,
    headers: {
      authorization: `Delegation ${signer.chain.join(",")}`,
      "ucan-invocation": inv,
      "content-type": "application/json",
      "ap2-mandate": bound,
    },
    payload: msg,
  });
  assert.equal(res.json().error?.code, "MANDATE_UNSUPPORTED");
});

test("a chain that requires a mandate refuses payments without one", async () => {
  const h = await holder({ mandateIssuer: ISSUER });
  const none = await pay(h, undefined, body("1000"));
  assert.equal(none.code, "MANDATE_REQUIRED");
  assert.equal((await pay(h, await mandateFor(h), body("1000"))).status, 200);
});

test("a mandate naming only payees keeps the chain's amounts and narrows the payees", async () => {
  const h = await holder();
  const m = await mandateFor(h, {
    exp: nowS() + 3600,
    constraints: [{ type: "payment.allowed_payees", allowed: [{ id: MERCHANT, name: "Shop" }] }],
  });
  assert.equal((await pay(h, m, body("1000000"))).status, 200);
  assert.equal((await pay(h, m, body("1000", OTHER))).status, 403);
});

test("a payment parked for approval is not signed once the mandate has ended", async () => {
  const h = await holder();
  const m = await mandateFor(h, { exp: nowS() + 3 });
  const parked = await tv.app.inject({
    method: "POST",
    url: `/v1/agents/${agent.id}/x402/pay`,
    headers: await headersFor(h, m, body("1700000")),
    payload: body("1700000"),
  });
  assert.equal(parked.statusCode, 202, parked.body);
  await new Promise((r) => setTimeout(r, 4000));
  const approved = await tv.app.inject({
    method: "POST",
    url: `/v1/approvals/${parked.json().approvalId}/approve`,
    headers: tv.admin,
  });
  assert.equal(approved.json().error?.code, "POLICY_DENIED", approved.body);
  assert.equal(approved.json().error?.rule, "validUntil");
});

test("revoking the mandate refuses it on the next payment", async () => {
  const h = await holder();
  const m = await mandateFor(h);
  assert.equal((await pay(h, m, body("1000"))).status, 200);
  const admitted = (await tv.vault.audit.list(1, 100_000))
    .filter((e) => e.type === "auth.succeeded" && e.data.door === "delegation")
    .at(-1);
  const link = (admitted?.data.chain as string[] | undefined)?.at(-1);
  assert.match(String(link), /^mandate-/);
  const res = await tv.app.inject({
    method: "DELETE",
    url: `/v1/delegations/${link}`,
    headers: tv.admin,
  });
  assert.equal(res.statusCode, 200, res.body);
  const after = await pay(h, m, body("1000"));
  assert.equal(after.code, "DELEGATION_REVOKED");
});
