/**
 * Priced routes as a client without credentials sees them: an unpaid HEAD is 402 like the
 * GET, and a parametrised route's PAYMENT-REQUIRED names its Bazaar routeTemplate and this
 * request's pathParams. No payment is made, so the facilitator (a closed loopback port) is
 * never called.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type QueryDiscoveryExtension, validateDiscoveryExtension } from "@x402/extensions/bazaar";
import { decodePaymentRequired, PAYMENT_REQUIRED } from "../../src/auth/x402/headers.js";
import { BASIC_POLICY, startTestVault, type TestVault } from "../helpers/vault.js";

const PRICE = {
  price: "0.01",
  network: "eip155:1337",
  payTo: "0x9999999999999999999999999999999999999999",
  asset: "0x00000000000000000000000000000000000000aa",
  assetName: "USD Coin",
  assetVersion: "2",
  decimals: 6,
};

let tv: TestVault;
let agent: { id: string };

before(async () => {
  tv = await startTestVault({
    VAULT_X402_PRICES: JSON.stringify({
      "GET /v1/cluster": PRICE,
      "GET /v1/agents/:id/credential": PRICE,
    }),
    VAULT_X402_FACILITATOR_URL: "http://127.0.0.1:9",
  });
  agent = await tv.createAgent(BASIC_POLICY);
});
after(async () => tv?.stop());

const required = (res: { headers: Record<string, unknown> }) =>
  decodePaymentRequired(res.headers[PAYMENT_REQUIRED]);

test("an unpaid HEAD on a priced route is 402 with PAYMENT-REQUIRED, like the GET", async () => {
  for (const url of ["/v1/cluster", `/v1/agents/${agent.id}/credential`]) {
    const get = await tv.app.inject({ method: "GET", url });
    const head = await tv.app.inject({ method: "HEAD", url });
    assert.equal(get.statusCode, 402, url);
    assert.equal(head.statusCode, 402, url);
    assert.equal(head.body, "");
    assert.deepEqual(required(head).accepts, required(get).accepts);
  }
  // An unpriced route's HEAD still asks for credentials.
  const agents = await tv.app.inject({ method: "HEAD", url: "/v1/agents" });
  assert.equal(agents.statusCode, 401);
});

test("a paid route's PAYMENT-REQUIRED names its Bazaar routeTemplate and this request's pathParams", async () => {
  const res = await tv.app.inject({ url: `/v1/agents/${agent.id}/credential` });
  assert.equal(res.statusCode, 402);
  const bazaar = required(res).extensions?.bazaar as QueryDiscoveryExtension;
  assert.deepEqual(validateDiscoveryExtension(bazaar), { valid: true });
  assert.equal(bazaar.routeTemplate, "/v1/agents/:id/credential");
  assert.deepEqual(bazaar.info.input.pathParams, { id: agent.id });
  assert.equal(bazaar.info.input.method, "GET");
  const listing = (await tv.app.inject({ url: "/.well-known/x402" })).json();
  const item = listing.items.find((i: { resource: string }) =>
    i.resource.endsWith(":id/credential"),
  );
  assert.equal(item?.extensions.bazaar.routeTemplate, "/v1/agents/:id/credential");
});
