/**
 * x402 units: header encode/decode, requirement selection under a policy, the replay
 * ledger, and the gate's refusals and settlement outcomes against a scripted facilitator
 * (payments signed locally with an ethers Wallet; no chain, no vault).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { FacilitatorClient } from "@x402/core/server";
import {
  FacilitatorTimeoutError,
  type PaymentPayload,
  type PaymentRequirements,
} from "@x402/core/types";
import * as evm from "@x402/evm";
import { authorizationTypes } from "@x402/evm";
import {
  extractDiscoveryInfo,
  type QueryDiscoveryExtension,
  validateDiscoveryExtension,
  validateDiscoveryExtensionSpec,
} from "@x402/extensions/bazaar";
import { type BaseWallet, hexlify, randomBytes, Wallet } from "ethers";
import type { AuditEntryInput, AuditLog } from "../../src/audit/types.js";
import { createRefusalLog } from "../../src/auth/refusals.js";
import { createX402Gate } from "../../src/auth/x402/gate.js";
import {
  decodePaymentRequired,
  decodePaymentSignature,
  encodePaymentRequired,
  encodePaymentSignature,
  MAX_HEADER_BYTES,
} from "../../src/auth/x402/headers.js";
import { buildOffer, discoveryListing, paymentRequiredFor } from "../../src/auth/x402/offers.js";
import { selectRequirement } from "../../src/auth/x402/payer.js";
import { openPaymentStore, type PaymentStore } from "../../src/auth/x402/store.js";
import { ConfigError, loadConfig } from "../../src/config/index.js";
import { isVaultError } from "../../src/errors/index.js";
import type { Policy } from "../../src/policy/types.js";
import { openDatabase } from "../../src/store/db.js";
import { createSqliteSql } from "../../src/store/sql/sqlite.js";
import { StoreUnavailable } from "../../src/store/sql/types.js";

const TOKEN = "0x00000000000000000000000000000000000000aa";
const PAY_TO = "0x9999999999999999999999999999999999999999";
const PRICE = {
  price: "0.01",
  network: "eip155:1337",
  payTo: PAY_TO,
  asset: TOKEN,
  assetName: "USD Coin",
  assetVersion: "2",
  decimals: 6,
};
const ROUTE = "GET /v1/cluster";

function code(err: unknown): string {
  return isVaultError(err) ? err.code : `not a VaultError: ${(err as Error).message}`;
}

async function rejectsWith(p: Promise<unknown>, expected: string) {
  await assert.rejects(p, (err) => {
    assert.equal(code(err), expected);
    return true;
  });
}

/** An EIP-3009 payment for `req`, signed by `wallet` (what a client such as the vault sends). */
async function signPayment(
  wallet: BaseWallet,
  req: PaymentRequirements,
  over: { validBefore?: number; value?: string; network?: string } = {},
): Promise<PaymentPayload> {
  const now = Math.floor(Date.now() / 1000);
  const authorization = {
    from: wallet.address,
    to: req.payTo,
    value: over.value ?? req.amount,
    validAfter: "0",
    validBefore: String(over.validBefore ?? now + 300),
    nonce: hexlify(randomBytes(32)),
  };
  const signature = await wallet.signTypedData(
    {
      name: req.extra.name as string,
      version: req.extra.version as string,
      chainId: Number(req.network.split(":")[1]),
      verifyingContract: req.asset,
    },
    { TransferWithAuthorization: [...authorizationTypes.TransferWithAuthorization] },
    authorization,
  );
  return {
    x402Version: 2,
    accepted: { ...req, ...(over.network ? { network: over.network as never } : {}) },
    payload: { authorization, signature },
  };
}

function fakeAudit() {
  const entries: AuditEntryInput[] = [];
  return {
    entries,
    log: {
      append: (e: AuditEntryInput) => {
        entries.push(e);
        return { seq: entries.length };
      },
    } as unknown as AuditLog,
  };
}

/** A gate on `store` (a replica, when several share one). */
function gateOn(
  store: PaymentStore,
  facilitator: Partial<FacilitatorClient> = {},
  extra: { leaseMs?: number } = {},
) {
  const audit = fakeAudit();
  const calls = { verify: 0, settle: 0 };
  const gate = createX402Gate({
    config: { prices: { [ROUTE]: PRICE }, facilitatorUrl: "http://f", timeoutMs: 1000 },
    evm,
    facilitator: {
      verify: async (p, r) => {
        calls.verify++;
        return facilitator.verify
          ? facilitator.verify(p, r)
          : { isValid: true, payer: (p.payload.authorization as { from: string }).from };
      },
      settle: async (p, r) => {
        calls.settle++;
        return facilitator.settle
          ? facilitator.settle(p, r)
          : { success: true, transaction: `0x${"ab".repeat(32)}`, network: r.network };
      },
      getSupported: async () => ({ kinds: [], extensions: [], signers: {} }),
    },
    store,
    audit: audit.log,
    refusals: createRefusalLog(audit.log, { perMinute: 1000 }),
    ...extra,
  });
  return { gate, audit, calls };
}

async function gateWith(
  facilitator: Partial<FacilitatorClient>,
  wrap: (s: PaymentStore) => PaymentStore = (s) => s,
  extra: { leaseMs?: number } = {},
) {
  const store = wrap(await openPaymentStore(createSqliteSql(openDatabase(":memory:"))));
  const { gate, audit, calls } = gateOn(store, facilitator, extra);
  const offer = gate.offer(ROUTE);
  assert.ok(offer);
  return { gate, offer, store, audit, calls };
}

test("offers: exact EIP-3009 requirements from the price, Bazaar extension, listing", () => {
  const o = buildOffer(ROUTE, PRICE, evm);
  assert.equal(o.requirements.amount, "10000");
  assert.equal(o.requirements.scheme, "exact");
  assert.deepEqual(o.requirements.extra, { name: "USD Coin", version: "2" });
  const bazaar = o.extensions.bazaar as { info: { input: { method: string } } };
  assert.equal(bazaar.info.input.method, "GET");
  const known = buildOffer("POST /x", { price: "1", network: "eip155:84532", payTo: PAY_TO }, evm);
  assert.equal(known.requirements.asset, "0x036CbD53842c5426634e7929541eC2318f3dCF7e");
  assert.equal(known.requirements.amount, "1000000");
  assert.throws(() =>
    buildOffer("GET /y", { price: "1", network: "eip155:1337", payTo: PAY_TO }, evm),
  );
  const listing = discoveryListing([o], "https://vault.example");
  assert.equal(listing.items[0]?.resource, "https://vault.example/v1/cluster");
  assert.equal(listing.pagination.total, 1);
});

test("offers: every Bazaar extension passes @x402/extensions' validators", () => {
  for (const route of [ROUTE, "GET /v1/agents/:id/credential", "POST /v1/things/:a/:b"]) {
    const o = buildOffer(route, PRICE, evm);
    const bazaar = o.extensions.bazaar as QueryDiscoveryExtension;
    assert.deepEqual(validateDiscoveryExtension(bazaar), { valid: true }, route);
    assert.deepEqual(
      validateDiscoveryExtensionSpec(o.extensions.bazaar as Record<string, unknown>),
      {
        valid: true,
      },
    );
    assert.equal(bazaar.info.input.method, route.split(" ")[0]);
  }
});

test("offers: a parametrised priced route is one Bazaar resource (routeTemplate + pathParams)", () => {
  const o = buildOffer("GET /v1/agents/:id/credential", PRICE, evm);
  const listed = o.extensions.bazaar as QueryDiscoveryExtension;
  assert.equal(listed.routeTemplate, "/v1/agents/:id/credential");
  assert.equal(
    (buildOffer(ROUTE, PRICE, evm).extensions.bazaar as QueryDiscoveryExtension).routeTemplate,
    undefined,
  );
  const catalogued = ["agt_alice", "agt_bob"].map((id) => {
    const url = `https://vault.example/v1/agents/${id}/credential`;
    const required = paymentRequiredFor(o, url);
    const bazaar = required.extensions?.bazaar as QueryDiscoveryExtension;
    assert.deepEqual(validateDiscoveryExtension(bazaar), { valid: true });
    assert.equal(bazaar.routeTemplate, "/v1/agents/:id/credential");
    assert.deepEqual(bazaar.info.input.pathParams, { id });
    // What a facilitator does with the payment that echoes these extensions.
    const payload = {
      x402Version: 2,
      resource: required.resource,
      accepted: o.requirements,
      payload: {},
      ...(required.extensions ? { extensions: required.extensions } : {}),
    };
    return extractDiscoveryInfo(payload, o.requirements)?.resourceUrl;
  });
  assert.deepEqual(catalogued, [
    "https://vault.example/v1/agents/:id/credential",
    "https://vault.example/v1/agents/:id/credential",
  ]);
});

test("headers: round trip through @x402/core; hostile values fail with X402_MALFORMED", async () => {
  const offer = buildOffer(ROUTE, PRICE, evm);
  const pr = paymentRequiredFor(offer, "http://v/v1/cluster", "payment required");
  assert.deepEqual(decodePaymentRequired(encodePaymentRequired(pr)), pr);
  assert.deepEqual(decodePaymentRequired(pr), pr);
  const payload = await signPayment(Wallet.createRandom(), offer.requirements);
  assert.deepEqual(decodePaymentSignature(encodePaymentSignature(payload)), payload);
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64");
  for (const bad of [
    "",
    "!!!not base64!!!",
    Buffer.from("not json").toString("base64"),
    b64([1, 2]),
    b64({ ...payload, x402Version: 1 }),
    b64({ x402Version: 2, payload: {} }),
    "A".repeat(MAX_HEADER_BYTES + 4),
    undefined,
  ]) {
    assert.throws(
      () => decodePaymentSignature(bad),
      (e) => code(e) === "X402_MALFORMED",
    );
  }
  for (const bad of ["@@", b64({ x402Version: 2, accepts: [] }), 42, { x402Version: 1 }]) {
    assert.throws(
      () => decodePaymentRequired(bad),
      (e) => code(e) === "VALIDATION_FAILED",
    );
  }
});

test("requirement selection: policy chains, listed assets, recipients, EIP-3009 only, cheapest", () => {
  const base = buildOffer(ROUTE, PRICE, evm).requirements;
  const policy: Policy = {
    chains: [1337],
    assets: { [TOKEN]: { symbol: "USDC", decimals: 6, maxPerTx: "1", maxPer24h: "10" } },
    allowTypedData: ["TransferWithAuthorization"],
  };
  const pr = (accepts: unknown[]) => ({ x402Version: 2, resource: { url: "u" }, accepts }) as never;
  const cheap = { ...base, amount: "5000" };
  assert.equal(selectRequirement(pr([base, cheap]), policy).amount, "5000");
  const other = { ...base, network: "eip155:8453" };
  assert.equal(selectRequirement(pr([other, base]), policy).network, "eip155:1337");
  const refusals: Array<[unknown, RegExp]> = [
    [other, /chain 8453/],
    [{ ...base, asset: "0x00000000000000000000000000000000000000bb" }, /policy.assets/],
    [{ ...base, scheme: "upto" }, /scheme/],
    [{ ...base, extra: { ...base.extra, assetTransferMethod: "permit2" } }, /EIP-3009/],
    [{ ...base, extra: {} }, /EIP-712/],
  ];
  for (const [r, why] of refusals) {
    assert.throws(
      () => selectRequirement(pr([r]), policy),
      (e) => code(e) === "X402_NO_ACCEPTABLE_REQUIREMENT" && why.test(JSON.stringify(e)),
    );
  }
  assert.throws(
    () => selectRequirement(pr([base]), { ...policy, recipients: [TOKEN] }),
    (e) => /recipients/.test(JSON.stringify(e)),
  );
  assert.throws(
    () => selectRequirement(pr([base]), undefined),
    (e) => code(e) === "POLICY_DENIED",
  );
});

test("gate: a settlement whose ledger write fails still answers and is audited; the payment is never reusable", async () => {
  const { gate, offer, audit } = await gateWith({}, (s) => ({
    ...s,
    finish: async () => {
      throw new StoreUnavailable("the database went away");
    },
  }));
  const wallet = Wallet.createRandom();
  const header = encodePaymentSignature(await signPayment(wallet, offer.requirements));
  const p = await gate.authorize(offer, header);
  const settled = await gate.settle(p);
  assert.equal(settled.success, true, "the money moved: the client is told so");
  assert.ok(audit.entries.some((e) => e.type === "x402.paid"));
  assert.equal((await gate.status(p.id)).status, "verified");
  await rejectsWith(gate.authorize(offer, header), "X402_REPLAYED");
});

test("gate: a good payment is verified, locked, settled and audited with the payer as actor", async () => {
  const { gate, offer, audit, calls } = await gateWith({});
  const wallet = Wallet.createRandom();
  const header = encodePaymentSignature(await signPayment(wallet, offer.requirements));
  const p = await gate.authorize(offer, header);
  assert.equal(p.payer, wallet.address);
  const settled = await gate.settle(p);
  assert.equal(settled.success, true);
  assert.equal((await gate.status(p.id)).status, "settled");
  const paid = audit.entries.find((e) => e.type === "x402.paid");
  assert.equal(paid?.actor, `x402:${wallet.address.toLowerCase()}`);
  assert.ok(!JSON.stringify(paid).includes("signature"));
  await rejectsWith(gate.authorize(offer, header), "X402_REPLAYED");
  assert.equal(calls.verify, 1, "a replay never reaches the facilitator");
});

test("gate: two parallel uses of one payment → exactly one passes", async () => {
  const { gate, offer } = await gateWith({});
  const header = encodePaymentSignature(
    await signPayment(Wallet.createRandom(), offer.requirements),
  );
  const results = await Promise.allSettled([1, 2, 3, 4].map(() => gate.authorize(offer, header)));
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
  for (const r of results)
    if (r.status === "rejected") assert.equal(code(r.reason), "X402_REPLAYED");
});

test("gate: wrong network, wrong amount, bad signature, expired → specific codes, audited", async () => {
  const { gate, offer, audit, calls } = await gateWith({});
  const wallet = Wallet.createRandom();
  const req = offer.requirements;
  const enc = encodePaymentSignature;
  await rejectsWith(
    gate.authorize(offer, enc(await signPayment(wallet, req, { network: "eip155:8453" }))),
    "X402_WRONG_NETWORK",
  );
  await rejectsWith(
    gate.authorize(offer, enc(await signPayment(wallet, req, { value: "1" }))),
    "X402_REQUIREMENTS_MISMATCH",
  );
  const now = Math.floor(Date.now() / 1000);
  await rejectsWith(
    gate.authorize(offer, enc(await signPayment(wallet, req, { validBefore: now - 1 }))),
    "X402_EXPIRED",
  );
  const good = await signPayment(wallet, req);
  const forged = structuredClone(good);
  (forged.payload.authorization as { from: string }).from = Wallet.createRandom().address;
  await rejectsWith(gate.authorize(offer, enc(forged)), "X402_INVALID_SIGNATURE");
  const badSig = structuredClone(good);
  badSig.payload.signature = `0x${"00".repeat(65)}`;
  await rejectsWith(gate.authorize(offer, enc(badSig)), "X402_INVALID_SIGNATURE");
  const junk = structuredClone(good);
  junk.payload.authorization = { from: 1 };
  await rejectsWith(gate.authorize(offer, enc(junk)), "X402_MALFORMED");
  await rejectsWith(gate.authorize(offer, "%%%"), "X402_MALFORMED");
  const badChecksum = structuredClone(good);
  (badChecksum.payload.authorization as { from: string }).from =
    "0xAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAaa";
  await rejectsWith(gate.authorize(offer, enc(badChecksum)), "X402_MALFORMED");
  assert.equal(calls.verify, 0, "local checks refuse before the facilitator is asked");
  const refused = audit.entries.filter((e) => e.type === "x402.refused");
  assert.equal(refused.length, 8);
  assert.ok(refused.every((e) => typeof (e.data as { code: string }).code === "string"));
});

test("gate: facilitator refusals and outages map to stable codes", async () => {
  const wallet = Wallet.createRandom();
  const cases: Array<[Partial<FacilitatorClient>, string]> = [
    [
      { verify: async () => ({ isValid: false, invalidReason: "insufficient_funds" }) },
      "X402_INSUFFICIENT_FUNDS",
    ],
    [
      {
        verify: async () => ({
          isValid: false,
          invalidReason: "invalid_exact_evm_payload_signature",
        }),
      },
      "X402_INVALID_SIGNATURE",
    ],
    [
      { verify: async () => ({ isValid: false, invalidReason: "something_else" }) },
      "X402_INVALID_PAYMENT",
    ],
    [
      { verify: async () => Promise.reject(new Error("ECONNREFUSED")) },
      "X402_FACILITATOR_UNAVAILABLE",
    ],
  ];
  for (const [f, expected] of cases) {
    const { gate, offer } = await gateWith(f);
    const header = encodePaymentSignature(await signPayment(wallet, offer.requirements));
    await rejectsWith(gate.authorize(offer, header), expected);
  }
});

test("gate: a settle timeout is recorded as unknown, exposed, and the payment is never reused", async () => {
  const { gate, offer, audit } = await gateWith({
    settle: async () => Promise.reject(new FacilitatorTimeoutError("settle", 1000)),
  });
  const header = encodePaymentSignature(
    await signPayment(Wallet.createRandom(), offer.requirements),
  );
  const p = await gate.authorize(offer, header);
  await rejectsWith(gate.settle(p), "X402_SETTLEMENT_UNKNOWN");
  assert.equal((await gate.status(p.id)).status, "unknown");
  assert.ok(audit.entries.some((e) => e.type === "x402.settle_unknown"));
  await gate.release(p, "too late");
  await rejectsWith(gate.authorize(offer, header), "X402_REPLAYED");
});

test("gate: a payment a stopped vault left verified becomes unknown at start, never reusable", async () => {
  const { gate, offer, audit } = await gateWith({});
  const header = encodePaymentSignature(
    await signPayment(Wallet.createRandom(), offer.requirements),
  );
  const p = await gate.authorize(offer, header); // taken; the vault "stops" before settling
  assert.equal((await gate.status(p.id)).status, "verified");
  // One process at its start: whatever is verified was left by its own stop, leased or not.
  assert.equal(await gate.recoverStranded({ all: true }), 1);
  assert.equal((await gate.status(p.id)).status, "unknown");
  const swept = audit.entries.find((e) => e.type === "x402.settle_unknown");
  assert.equal(swept?.actor, "system:recovery");
  assert.equal(await gate.recoverStranded({ all: true }), 0, "only once");
  await rejectsWith(gate.authorize(offer, header), "X402_REPLAYED");
});

test("gate: a failed settlement is recorded as failed; a released payment can be used again", async () => {
  const { gate, offer } = await gateWith({
    settle: async (_p, r) => ({
      success: false,
      errorReason: "transaction_failed",
      transaction: "",
      network: r.network,
    }),
  });
  const wallet = Wallet.createRandom();
  const p = await gate.authorize(
    offer,
    encodePaymentSignature(await signPayment(wallet, offer.requirements)),
  );
  await rejectsWith(gate.settle(p), "X402_SETTLEMENT_FAILED");
  assert.equal((await gate.status(p.id)).status, "failed");
  const header = encodePaymentSignature(await signPayment(wallet, offer.requirements));
  const q = await gate.authorize(offer, header);
  await gate.release(q, "route failed");
  await assert.rejects(gate.status(q.id), (e) => code(e) === "X402_PAYMENT_NOT_FOUND");
  await gate.authorize(offer, header);
});

test("config: VAULT_X402_PRICES is validated at start", () => {
  const ok = loadConfig({
    VAULT_X402_PRICES: JSON.stringify({ [ROUTE]: PRICE }),
    VAULT_X402_FACILITATOR_URL: "http://127.0.0.1:4020/",
  });
  assert.equal(ok.x402.facilitatorUrl, "http://127.0.0.1:4020");
  assert.equal(ok.x402.prices[ROUTE]?.price, "0.01");
  const bad: Array<Record<string, string>> = [
    { VAULT_X402_PRICES: "{", VAULT_X402_FACILITATOR_URL: "http://f" },
    { VAULT_X402_PRICES: JSON.stringify({ [ROUTE]: PRICE }) },
    {
      VAULT_X402_PRICES: JSON.stringify({ "FETCH /x": PRICE }),
      VAULT_X402_FACILITATOR_URL: "http://f",
    },
    {
      VAULT_X402_PRICES: JSON.stringify({ [ROUTE]: { ...PRICE, price: "0" } }),
      VAULT_X402_FACILITATOR_URL: "http://f",
    },
    {
      VAULT_X402_PRICES: JSON.stringify({ [ROUTE]: { ...PRICE, network: "base" } }),
      VAULT_X402_FACILITATOR_URL: "http://f",
    },
    {
      VAULT_X402_PRICES: JSON.stringify({ [ROUTE]: { ...PRICE, payTo: "0x1" } }),
      VAULT_X402_FACILITATOR_URL: "http://f",
    },
    { VAULT_X402_FACILITATOR_URL: "ftp://f" },
  ];
  for (const env of bad) assert.throws(() => loadConfig(env), ConfigError, JSON.stringify(env));
});

test("gate: replicas leave a payment a live replica holds, however long its route runs, and take one whose holder died", async () => {
  // Two replicas on one ledger, with 60 ms leases: A serves a long paid route, B recovers.
  const { gate: a, offer, store } = await gateWith({}, (s) => s, { leaseMs: 60 });
  const b = gateOn(store, {}, { leaseMs: 60 }).gate;
  const header = encodePaymentSignature(
    await signPayment(Wallet.createRandom(), offer.requirements),
  );
  const p = await a.authorize(offer, header);
  // Five lease lengths later A still renews it: B leaves it alone.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await b.recoverStranded(), 0);
  assert.equal((await a.status(p.id)).status, "verified");
  await a.settle(p);
  assert.equal((await a.status(p.id)).status, "settled");
  // A payment whose holder died is no longer renewed: once its lease lapses B takes it.
  // A holder that can no longer renew: its process died right after taking the payment.
  const dead = gateOn({ ...store, renew: async () => 0 }, {}, { leaseMs: 60 }).gate;
  const q = await dead.authorize(
    offer,
    encodePaymentSignature(await signPayment(Wallet.createRandom(), offer.requirements)),
  );
  assert.equal(await b.recoverStranded(), 0, "not before its lease lapsed");
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(await b.recoverStranded(), 1);
  assert.equal((await b.status(q.id)).status, "unknown");
});
