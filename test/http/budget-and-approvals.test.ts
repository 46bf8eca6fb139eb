import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Interface, Transaction } from "ethers";
import {
  BASE_SEPOLIA,
  ethTx,
  startTestVault,
  type TestVault,
  USDC_BASE_SEPOLIA,
} from "../helpers/vault.js";

let tv: TestVault;
const ERC20 = new Interface(["function transfer(address to, uint256 amount)"]);
const RECIPIENT = "0x4444444444444444444444444444444444444444";

before(async () => {
  tv = await startTestVault();
});
after(async () => tv?.stop());

test("100 concurrent requests never exceed the rolling 24 h cap (budget reserved atomically)", async () => {
  const agent = await tv.createAgent({
    chains: [BASE_SEPOLIA],
    assets: { ETH: { maxPerTx: "0.001", maxPer24h: "0.01" } },
  });
  const key = await tv.issueKey(agent.id, ["EXECUTE", "SPEND"]);
  const responses = await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      tv.app.inject({
        method: "POST",
        url: `/v1/agents/${agent.id}/sign/transaction`,
        headers: key.auth,
        payload: { tx: ethTx({ value: "1000000000000000", nonce: i + 1 }) },
      }),
    ),
  );
  const signed = responses.filter((r) => r.statusCode === 200);
  const denied = responses.filter((r) => r.statusCode === 403);
  assert.equal(signed.length, 10, "exactly cap / amount requests may be signed");
  assert.equal(denied.length, 90);
  assert.ok(denied.every((r) => r.json().error.rule === "maxPer24h"));
  const total = signed.reduce(
    (sum, r) => sum + Transaction.from(r.json().signedTransaction).value,
    0n,
  );
  assert.ok(total <= 10_000_000_000_000_000n);
});

test("above approvalAbove the request parks (202) until an operator approves; then it is signed", async () => {
  const agent = await tv.createAgent({
    chains: [BASE_SEPOLIA],
    assets: { [USDC_BASE_SEPOLIA]: { maxPerTx: "10", maxPer24h: "100", approvalAbove: "5" } },
  });
  const key = await tv.issueKey(agent.id, ["EXECUTE", "SPEND"]);
  const transfer = (amount: bigint, nonce: number) => ({
    tx: ethTx({
      to: USDC_BASE_SEPOLIA,
      value: "0",
      data: ERC20.encodeFunctionData("transfer", [RECIPIENT, amount]),
      nonce,
    }),
  });
  const small = await tv.app.inject({
    method: "POST",
    url: `/v1/agents/${agent.id}/sign/transaction`,
    headers: key.auth,
    payload: transfer(5_000_000n, 1),
  });
  assert.equal(small.statusCode, 200, "exactly approvalAbove does not park");

  const parked = await tv.app.inject({
    method: "POST",
    url: `/v1/agents/${agent.id}/sign/transaction`,
    headers: key.auth,
    payload: transfer(7_000_000n, 2),
  });
  assert.equal(parked.statusCode, 202, parked.body);
  const { approvalId } = parked.json();
  const pending = await tv.app.inject({
    method: "GET",
    url: `/v1/approvals/${approvalId}`,
    headers: tv.admin,
  });
  assert.equal(pending.json().status, "pending");
  assert.equal(pending.json().result, undefined);

  const byAgent = await tv.app.inject({
    method: "POST",
    url: `/v1/approvals/${approvalId}/approve`,
    headers: key.auth,
  });
  assert.equal(byAgent.statusCode, 403, "the agent cannot approve its own request");

  const approved = await tv.app.inject({
    method: "POST",
    url: `/v1/approvals/${approvalId}/approve`,
    headers: tv.admin,
  });
  assert.equal(approved.statusCode, 200, approved.body);
  assert.equal(Transaction.from(approved.json().signedTransaction).from, agent.address);
  const done = await tv.app.inject({
    method: "GET",
    url: `/v1/approvals/${approvalId}`,
    headers: tv.admin,
  });
  assert.equal(done.json().status, "signed");
  assert.equal(done.json().result.signedTransaction, approved.json().signedTransaction);

  const again = await tv.app.inject({
    method: "POST",
    url: `/v1/approvals/${approvalId}/approve`,
    headers: tv.admin,
  });
  assert.equal(again.json().error.code, "APPROVAL_NOT_PENDING");
});

test("a rejected approval is never signed", async () => {
  const agent = await tv.createAgent({
    chains: [BASE_SEPOLIA],
    assets: { [USDC_BASE_SEPOLIA]: { maxPerTx: "10", maxPer24h: "100", approvalAbove: "1" } },
  });
  const key = await tv.issueKey(agent.id, ["EXECUTE", "SPEND"]);
  const data = ERC20.encodeFunctionData("transfer", [RECIPIENT, 2_000_000n]);
  const parked = await tv.app.inject({
    method: "POST",
    url: `/v1/agents/${agent.id}/sign/transaction`,
    headers: key.auth,
    payload: { tx: ethTx({ to: USDC_BASE_SEPOLIA, value: "0", data }) },
  });
  const { approvalId } = parked.json();
  const rejected = await tv.app.inject({
    method: "POST",
    url: `/v1/approvals/${approvalId}/reject`,
    headers: tv.admin,
  });
  assert.equal(rejected.json().status, "rejected");
  const approve = await tv.app.inject({
    method: "POST",
    url: `/v1/approvals/${approvalId}/approve`,
    headers: tv.admin,
  });
  assert.equal(approve.statusCode, 409);
  const types = (await tv.vault.audit.list(1, 10_000))
    .filter((e) => e.agentId === agent.id)
    .map((e) => e.type);
  assert.ok(types.includes("approval.requested") && types.includes("approval.rejected"));
  assert.ok(!types.includes("sign.signed"));
});

test("the rate limit per minute is enforced (rule rateLimitPerMinute)", async () => {
  const agent = await tv.createAgent({
    chains: [BASE_SEPOLIA],
    assets: {},
    allowMessageSigning: true,
    rateLimitPerMinute: 3,
  });
  const key = await tv.issueKey(agent.id, ["EXECUTE"]);
  const codes: number[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await tv.app.inject({
      method: "POST",
      url: `/v1/agents/${agent.id}/sign/message`,
      headers: key.auth,
      payload: { message: `m${i}` },
    });
    codes.push(r.statusCode);
    if (r.statusCode === 403) assert.equal(r.json().error.rule, "rateLimitPerMinute");
  }
  assert.deepEqual(codes, [200, 200, 200, 403]);
});
