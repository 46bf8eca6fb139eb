/**
 * x402 end to end, with real settlement: ganache on 127.0.0.1 with the EIP-3009 test token,
 * the local facilitator as its own OS process (`agent-vault facilitator`), and a vault
 * (three signer node processes) whose GET /v1/cluster costs 0.01 USDC. Agent A's vault
 * wallet pays it; the facilitator settles on chain; replays, parallel reuse, over-cap
 * requests, and malformed, forged, expired and wrong-network payments are refused.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { after, before, test } from "node:test";
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from "@x402/core/http";
import type { PaymentPayload, PaymentRequired } from "@x402/core/types";
import { Wallet } from "ethers";
import { encodePaymentSignature } from "../../src/auth/x402/headers.js";
import {
  CHAIN_ID,
  type LocalChain,
  localTokenPrice,
  startFacilitatorProcess,
  startLocalChain,
  TOKEN_NAME,
  TOKEN_VERSION,
} from "../helpers/chain.js";
import { TRANSFER_WITH_AUTHORIZATION_FIELDS } from "../helpers/eip3009.js";
import { freePort, killed, runCli } from "../helpers/process.js";
import { startTestVault, type TestVault } from "../helpers/vault.js";

const PAY_TO = "0x9999999999999999999999999999999999999999";
const PRICE = 10_000n; // 0.01 USDC (6 decimals)

let chain: LocalChain;
let facilitator: ChildProcess;
let facilitatorUrl: string;
let tv: TestVault;
let agentA: { id: string; address: string };
let keyA: Record<string, string>;
let keyAraw: string;
const figures: Record<string, number> = {};

function policy(maxPerTx = "1", approvalAbove?: string) {
  const limit = { symbol: "USDC", decimals: 6, maxPerTx, maxPer24h: "10" };
  return {
    chains: [CHAIN_ID],
    assets: { [chain.tokenAddress]: approvalAbove ? { ...limit, approvalAbove } : limit },
    allowTypedData: ["TransferWithAuthorization"],
    rateLimitPerMinute: 1000,
    validUntil: "2099-01-01T00:00:00Z",
  };
}

/** An agent whose payments above 0.005 USDC wait for an operator, funded with 1 USDC. */
async function agentWithApprovals() {
  const agent = await tv.createAgent(policy("1", "0.005"));
  await (await chain.token.getFunction("mint")(agent.address, 1_000_000n)).wait();
  return { agent, key: await tv.issueKey(agent.id, ["READ", "EXECUTE", "SPEND"]) };
}

async function unpaid(): Promise<{ header: string; pr: PaymentRequired }> {
  const res = await tv.app.inject({ method: "GET", url: "/v1/cluster" });
  assert.equal(res.statusCode, 402);
  const header = res.headers["payment-required"] as string;
  return { header, pr: decodePaymentRequiredHeader(header) };
}

async function pay(paymentRequired: unknown, auth = keyA, agentId = agentA.id) {
  return tv.app.inject({
    method: "POST",
    url: `/v1/agents/${agentId}/x402/pay`,
    headers: auth,
    payload: { paymentRequired },
  });
}

async function paidCall(signature: string) {
  return tv.app.inject({
    method: "GET",
    url: "/v1/cluster",
    headers: { "payment-signature": signature },
  });
}

/** The vault on a real socket, for the CLI (listens on first use). */
async function listening(): Promise<string> {
  if (!tv.app.server.listening) await tv.app.listen({ port: 0, host: "127.0.0.1" });
  return `http://127.0.0.1:${(tv.app.server.address() as { port: number }).port}`;
}

function decode(sig: string): PaymentPayload {
  return JSON.parse(Buffer.from(sig, "base64").toString("utf8")) as PaymentPayload;
}

before(async () => {
  let t = Date.now();
  chain = await startLocalChain();
  figures.chainAndTokenMs = Date.now() - t;
  t = Date.now();
  // The facilitator process and the vault start side by side (each takes a few seconds).
  const port = await freePort();
  facilitatorUrl = `http://127.0.0.1:${port}`;
  const started = startFacilitatorProcess(chain.rpcUrl, port);
  tv = await startTestVault({
    VAULT_X402_PRICES: JSON.stringify({
      "GET /v1/cluster": localTokenPrice(chain.tokenAddress, PAY_TO, "0.01", "cluster status"),
      "GET /v1/agents/:id/credential": localTokenPrice(
        chain.tokenAddress,
        PAY_TO,
        "0.001",
        "an agent's provenance credential (its DID bound to its vault address)",
      ),
    }),
    VAULT_X402_FACILITATOR_URL: facilitatorUrl,
  });
  ({ child: facilitator } = await started);
  figures.facilitatorAndVaultStartMs = Date.now() - t;
  agentA = await tv.createAgent(policy());
  await (await chain.token.getFunction("mint")(agentA.address, 5_000_000n)).wait();
  const k = await tv.issueKey(agentA.id, ["READ", "EXECUTE", "SPEND"]);
  keyA = k.auth;
  keyAraw = k.key;
});

after(async () => {
  await tv?.stop();
  facilitator?.kill("SIGTERM");
  if (facilitator) await killed(facilitator);
  await chain?.stop();
  console.log(`# x402 e2e figures ${JSON.stringify(figures)}`);
});

test("an unpaid request gets 402 with PAYMENT-REQUIRED before body validation", async () => {
  const { pr } = await unpaid();
  assert.equal(pr.x402Version, 2);
  const [req] = pr.accepts;
  assert.equal(req?.network, `eip155:${CHAIN_ID}`);
  assert.equal(req?.amount, PRICE.toString());
  assert.equal(req?.asset.toLowerCase(), chain.tokenAddress);
  assert.ok(pr.extensions?.bazaar, "the Bazaar discovery extension is declared");
  // An API key still works on the same route (front doors composed with @fastify/auth).
  const withKey = await tv.app.inject({ method: "GET", url: "/v1/cluster", headers: keyA });
  assert.equal(withKey.statusCode, 200);
  // Unpriced routes are untouched.
  assert.equal((await tv.app.inject({ method: "GET", url: "/v1/agents" })).statusCode, 401);
});

test("agent A pays through the vault; the facilitator settles on chain; balances move", async () => {
  const { header } = await unpaid();
  const before = [await chain.balanceOf(agentA.address), await chain.balanceOf(PAY_TO)];
  let t = Date.now();
  const signed = await pay(header);
  figures.paySignMs = Date.now() - t;
  assert.equal(signed.statusCode, 200, signed.body);
  const { paymentSignature } = signed.json() as { paymentSignature: string };
  const auth = decode(paymentSignature).payload.authorization as {
    from: string;
    nonce: string;
  };
  assert.equal(auth.from.toLowerCase(), agentA.address.toLowerCase());
  assert.match(auth.nonce, /^0x[0-9a-f]{64}$/);
  t = Date.now();
  const res = await paidCall(paymentSignature);
  figures.verifySettleMs = Date.now() - t;
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json() as { threshold: unknown; nodes: Array<Record<string, unknown>> };
  assert.ok(body.threshold);
  assert.ok(
    body.nodes.every((n) => !("url" in n)),
    "a payer does not learn node addresses",
  );
  const settlement = decodePaymentResponseHeader(res.headers["payment-response"] as string);
  assert.equal(settlement.success, true);
  assert.match(settlement.transaction, /^0x[0-9a-f]{64}$/);
  const receipt = await chain.provider.getTransactionReceipt(settlement.transaction);
  assert.equal(receipt?.status, 1);
  assert.equal(await chain.balanceOf(agentA.address), (before[0] as bigint) - PRICE);
  assert.equal(await chain.balanceOf(PAY_TO), (before[1] as bigint) + PRICE);

  // The payer's address is the caller's identity in the audit log.
  const entries = await tv.vault.audit.list(1, 10_000);
  const paid = entries.filter((e) => e.type === "x402.paid").at(-1);
  assert.equal(paid?.actor, `x402:${agentA.address.toLowerCase()}`);
  assert.equal(paid?.data.transaction, settlement.transaction);
  assert.ok(entries.some((e) => e.type === "x402.pay_signed" && e.agentId === agentA.id));
  assert.ok(entries.some((e) => e.type === "sign.signed" && e.agentId === agentA.id));

  // Replaying the same payment is refused, and moves nothing.
  const replay = await paidCall(paymentSignature);
  assert.equal(replay.statusCode, 402);
  assert.equal((replay.json() as { error: { code: string } }).error.code, "X402_REPLAYED");
  assert.ok(replay.headers["payment-required"]);
  assert.equal(await chain.balanceOf(PAY_TO), (before[1] as bigint) + PRICE);

  const id = (replay.json() as { error: { paymentId: string } }).error.paymentId;
  const status = await tv.app.inject({ method: "GET", url: `/v1/x402/payments/${id}` });
  assert.equal((status.json() as { status: string }).status, "settled");
});

test("two parallel uses of one payment: exactly one succeeds, one transfer on chain", async () => {
  const { header } = await unpaid();
  const signed = await pay(header);
  const { paymentSignature } = signed.json() as { paymentSignature: string };
  const before = await chain.balanceOf(PAY_TO);
  const results = await Promise.all([paidCall(paymentSignature), paidCall(paymentSignature)]);
  const codes = results.map((r) => r.statusCode).sort();
  assert.deepEqual(codes, [200, 402]);
  const refused = results.find((r) => r.statusCode === 402);
  assert.ok(refused);
  assert.equal((refused.json() as { error: { code: string } }).error.code, "X402_REPLAYED");
  assert.equal(await chain.balanceOf(PAY_TO), before + PRICE);
});

test("an over-cap payment request is refused by the agent's policy (POLICY_DENIED)", async () => {
  const { pr } = await unpaid();
  const costly = {
    ...pr,
    accepts: pr.accepts.map((r) => ({ ...r, amount: "2000000" })), // 2 USDC > maxPerTx 1
  };
  const res = await pay(costly);
  assert.equal(res.statusCode, 403);
  const err = (res.json() as { error: { code: string; rule: string } }).error;
  assert.equal(err.code, "POLICY_DENIED");
  assert.equal(err.rule, "maxPerTx");
  // A network outside policy.chains is not even considered.
  const elsewhere = { ...pr, accepts: pr.accepts.map((r) => ({ ...r, network: "eip155:8453" })) };
  const res2 = await pay(elsewhere);
  assert.equal(res2.statusCode, 403);
  assert.equal(
    (res2.json() as { error: { code: string } }).error.code,
    "X402_NO_ACCEPTABLE_REQUIREMENT",
  );
  // Without SPEND the key cannot move value.
  const noSpend = await tv.issueKey(agentA.id, ["EXECUTE"]);
  const res3 = await pay(pr, noSpend.auth);
  assert.equal((res3.json() as { error: { code: string } }).error.code, "FORBIDDEN_SCOPE");
  assert.equal((await pay("%%%")).statusCode, 400);
});

test("above approvalAbove: parked, approved by an operator, collected, settled on chain", async () => {
  const { agent: b, key: issuedB } = await agentWithApprovals();
  const keyB = issuedB.auth;
  const collect = (approvalId: string, auth = keyB, agentId = b.id) =>
    tv.app.inject({
      method: "GET",
      url: `/v1/agents/${agentId}/x402/pay/${approvalId}`,
      headers: auth,
    });
  const decide = (approvalId: string, verdict: "approve" | "reject") =>
    tv.app.inject({
      method: "POST",
      url: `/v1/approvals/${approvalId}/${verdict}`,
      headers: tv.admin,
    });

  const parked = await pay((await unpaid()).header, keyB, b.id);
  assert.equal(parked.statusCode, 202, parked.body);
  const { approvalId } = parked.json() as { approvalId: string };
  assert.equal((await collect(approvalId)).statusCode, 202);
  // Another agent's key cannot collect it, nor name it under its own agent.
  assert.equal((await collect(approvalId, keyA)).statusCode, 403);
  const foreign = await collect(approvalId, keyA, agentA.id);
  assert.equal((foreign.json() as { error: { code: string } }).error.code, "APPROVAL_NOT_FOUND");
  // Another credential of the same agent cannot take it either, nor one without SPEND.
  const sibling = (await tv.issueKey(b.id, ["READ", "EXECUTE", "SPEND"])).auth;
  const taken = await collect(approvalId, sibling);
  assert.equal((taken.json() as { error: { code: string } }).error.code, "APPROVAL_NOT_FOUND");
  const execOnly = (await tv.issueKey(b.id, ["EXECUTE"])).auth;
  const noSpend = await collect(approvalId, execOnly);
  assert.equal((noSpend.json() as { error: { code: string } }).error.code, "FORBIDDEN_SCOPE");

  const approved = await decide(approvalId, "approve");
  assert.equal(approved.statusCode, 200, approved.body);
  const ready = await collect(approvalId);
  assert.equal(ready.statusCode, 200, ready.body);
  const { paymentSignature } = ready.json() as { paymentSignature: string };
  const before = await chain.balanceOf(b.address);
  const res = await paidCall(paymentSignature);
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(await chain.balanceOf(b.address), before - PRICE);
  assert.ok(
    (await tv.vault.audit.list(1, 100_000)).some(
      (e) => e.type === "x402.pay_collected" && e.agentId === b.id,
    ),
  );
  // After its validBefore, an approved authorization is not handed out.
  await assert.rejects(
    tv.vault.x402Payer.collect(
      b.id,
      approvalId,
      { actor: "operator:test", credential: "admin", operator: true },
      Date.now() + 86_400_000,
    ),
    (e: { code?: string }) => e.code === "X402_AUTHORIZATION_EXPIRED",
  );

  // A rejected payment has no signature to collect.
  const second = await pay((await unpaid()).header, keyB, b.id);
  const secondId = (second.json() as { approvalId: string }).approvalId;
  assert.equal((await decide(secondId, "reject")).statusCode, 200);
  const none = await collect(secondId);
  assert.equal(none.statusCode, 409);
  assert.equal((none.json() as { error: { code: string } }).error.code, "APPROVAL_NOT_SIGNED");
});

test("bad payments get 402 with a stable code, quickly, and the server keeps serving", async () => {
  const { header, pr } = await unpaid();
  const good = (await pay(header)).json() as { paymentSignature: string };
  const payload = decode(good.paymentSignature);
  const auth = payload.payload.authorization as Record<string, string>;
  const variants: Array<[string, string]> = [
    ["garbage", "X402_MALFORMED"],
    [Buffer.from("{not json").toString("base64"), "X402_MALFORMED"],
    ["A".repeat(20_000), "X402_MALFORMED"],
    [
      encodePaymentSignature({
        ...payload,
        accepted: { ...payload.accepted, network: "eip155:8453" },
      }),
      "X402_WRONG_NETWORK",
    ],
    [
      encodePaymentSignature({
        ...payload,
        payload: { ...payload.payload, authorization: { ...auth, validBefore: "1" } },
      }),
      "X402_EXPIRED",
    ],
    [
      encodePaymentSignature({
        ...payload,
        payload: { ...payload.payload, authorization: { ...auth, nonce: `0x${"ab".repeat(32)}` } },
      }),
      "X402_INVALID_SIGNATURE",
    ],
  ];
  // Wrongly signed: a valid EIP-3009 signature, by a wallet that is not the payer.
  const stranger = Wallet.createRandom();
  const req = pr.accepts[0] as PaymentPayload["accepted"];
  // The local token's EIP-712 domain, and its TransferWithAuthorization fields.
  const signAuth = (a: typeof auth) =>
    stranger.signTypedData(
      { name: TOKEN_NAME, version: TOKEN_VERSION, chainId: CHAIN_ID, verifyingContract: req.asset },
      { TransferWithAuthorization: TRANSFER_WITH_AUTHORIZATION_FIELDS },
      a,
    );
  const forgedSig = await signAuth(auth);
  variants.push([
    encodePaymentSignature({ ...payload, payload: { authorization: auth, signature: forgedSig } }),
    "X402_INVALID_SIGNATURE",
  ]);
  // A well-formed payment by a wallet with no tokens: refused by the facilitator's checks.
  const poorAuth = { ...auth, from: stranger.address };
  const poorSig = await signAuth(poorAuth);
  variants.push([
    encodePaymentSignature({
      ...payload,
      payload: { authorization: poorAuth, signature: poorSig },
    }),
    "X402_INSUFFICIENT_FUNDS",
  ]);
  for (const [value, expected] of variants) {
    const res = await paidCall(value);
    assert.equal(res.statusCode, 402, `${expected}: ${res.body}`);
    assert.equal((res.json() as { error: { code: string } }).error.code, expected);
    assert.ok(res.headers["payment-required"], "every 402 carries PAYMENT-REQUIRED");
  }
  // Refusals are audited with their reason.
  const refused = (await tv.vault.audit.list(1, 100_000))
    .filter((e) => e.type === "x402.refused")
    .map((e) => e.data.code);
  for (const [, expected] of variants) assert.ok(refused.includes(expected), expected);

  // 200 hostile requests do not slow the server down.
  const t = Date.now();
  await Promise.all(
    Array.from({ length: 200 }, (_, i) => paidCall(i % 2 ? "junk" : (variants[3]?.[0] ?? ""))),
  );
  figures.hostile200Ms = Date.now() - t;
  assert.ok(figures.hostile200Ms < 15_000, `200 hostile requests took ${figures.hostile200Ms} ms`);
  const health = await tv.app.inject({ method: "GET", url: "/healthz" });
  assert.equal(health.statusCode, 200);
  // The unused good payment still works afterwards.
  assert.equal((await paidCall(good.paymentSignature)).statusCode, 200);
});

test("a second priced route: an agent's provenance credential is bought; credentials skip the price", async () => {
  const url = `/v1/agents/${agentA.id}/credential`;
  const unpaidVc = await tv.app.inject({ method: "GET", url });
  assert.equal(unpaidVc.statusCode, 402);
  const pr = decodePaymentRequiredHeader(unpaidVc.headers["payment-required"] as string);
  assert.equal(pr.accepts[0]?.amount, "1000");
  const signed = await pay(unpaidVc.headers["payment-required"]);
  assert.equal(signed.statusCode, 200, signed.body);
  const before = await chain.balanceOf(PAY_TO);
  const res = await tv.app.inject({
    method: "GET",
    url,
    headers: {
      "payment-signature": (signed.json() as { paymentSignature: string }).paymentSignature,
    },
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.ok((res.json() as { credential: unknown }).credential);
  assert.equal(await chain.balanceOf(PAY_TO), before + 1000n);

  // An agent token is another way in: no payment asked.
  const issued = await tv.app.inject({
    method: "POST",
    url: "/v1/tokens",
    headers: tv.admin,
    payload: { agentId: agentA.id, capabilities: ["read"] },
  });
  const jwt = { authorization: `Bearer ${(issued.json() as { token: string }).token}` };
  assert.equal((await tv.app.inject({ method: "GET", url, headers: jwt })).statusCode, 200);
  // A presentation is a credential too: a bad one is refused for what it is (401 with the
  // VC door's code), not answered with "payment required"; the price is still offered.
  const badVp = await tv.app.inject({
    method: "GET",
    url: "/v1/cluster",
    headers: { "x-agent-presentation": "not-a-presentation" },
  });
  assert.equal(badVp.statusCode, 401, badVp.body);
  assert.notEqual(
    (badVp.json() as { error: { code: string } }).error.code,
    "X402_PAYMENT_REQUIRED",
  );
  assert.ok(badVp.headers["payment-required"]);
});

test("discovery listing, OpenAPI front doors", async () => {
  const listing = await tv.app.inject({ method: "GET", url: "/.well-known/x402" });
  assert.equal(listing.statusCode, 200);
  const body = listing.json() as {
    x402Version: number;
    items: Array<{ resource: string; accepts: unknown[]; extensions: { bazaar: unknown } }>;
  };
  assert.equal(body.x402Version, 2);
  assert.equal(body.items.length, 2);
  assert.ok(body.items.some((i) => /\/v1\/cluster$/.test(i.resource)));
  assert.ok(body.items[0]?.extensions.bazaar);
  const doc = (await tv.app.inject({ method: "GET", url: "/openapi.json" })).json() as {
    paths: Record<string, Record<string, { security?: unknown[] }>>;
    components: { securitySchemes: Record<string, unknown> };
  };
  assert.deepEqual(doc.paths["/v1/cluster"]?.get?.security, [
    { apiKey: [] },
    { jwt: [] },
    { vc: [] },
    { x402: [] },
  ]);
  assert.ok(doc.components.securitySchemes.x402);
  assert.ok(doc.paths["/v1/agents/{id}/x402/pay"]?.post);
});

test("CLI: agent-vault x402 fetch <url> --agent <id> does the whole round trip", async () => {
  const address = await listening();
  const before = await chain.balanceOf(PAY_TO);
  const t = Date.now();
  const out = await runCli(["x402", "fetch", `${address}/v1/cluster`, "--agent", agentA.id], {
    VAULT_URL: address,
    VAULT_API_KEY: keyAraw,
  });
  figures.cliRoundTripMs = Date.now() - t;
  assert.equal(out.code, 0, out.stdout);
  const printed = JSON.parse(out.stdout) as {
    status: number;
    settlement: { success: boolean };
    body: { threshold: unknown };
  };
  assert.equal(printed.status, 200);
  assert.equal(printed.settlement.success, true);
  assert.ok(printed.body.threshold);
  assert.equal(await chain.balanceOf(PAY_TO), before + PRICE);
});

test("CLI: x402 fetch waits for an operator's approval above approvalAbove, then pays", async () => {
  const address = await listening();
  const { agent: c, key: issuedC } = await agentWithApprovals();
  const key = issuedC.key;
  let approved: Promise<unknown> | undefined;
  const out = await runCli(
    ["x402", "fetch", `${address}/v1/cluster`, "--agent", c.id, "--wait", "60"],
    { VAULT_URL: address, VAULT_API_KEY: key },
    (line) => {
      const m = /approve (req_\S+?)…/.exec(line);
      if (m?.[1])
        approved = tv.app.inject({
          method: "POST",
          url: `/v1/approvals/${m[1]}/approve`,
          headers: tv.admin,
        });
    },
  );
  assert.ok(approved, "the CLI named the approval it waits for");
  assert.equal(out.code, 0, out.stdout);
  assert.equal((JSON.parse(out.stdout) as { status: number }).status, 200);
  assert.equal(await chain.balanceOf(c.address), 1_000_000n - PRICE);
});

test("a parked payment whose record cannot be written is withdrawn, never left uncollectable", async () => {
  const { agent, key } = await agentWithApprovals();
  // A real SQLite failure on that one table (as a full disk would give).
  await tv.vault.store.sql.exec(`CREATE TEMP TRIGGER parked_fails BEFORE INSERT ON x402_parked
    BEGIN SELECT RAISE(ABORT, 'simulated storage failure'); END;`);
  try {
    const res = await pay((await unpaid()).header, key.auth, agent.id);
    assert.ok(res.statusCode >= 500, res.body);
    assert.ok(!res.body.includes("simulated"), "no internals reach the client");
  } finally {
    await tv.vault.store.sql.exec("DROP TRIGGER parked_fails");
  }
  const withdrawn = (await tv.vault.audit.list(1, 100_000)).filter(
    (e) => e.type === "approval.rejected" && e.agentId === agent.id,
  );
  assert.equal(withdrawn.length, 1);
  assert.equal(withdrawn[0]?.actor, "system:x402");
  const view = await tv.vault.signing.approval(withdrawn[0]?.data.requestId as string);
  assert.equal(view.status, "rejected");
});
