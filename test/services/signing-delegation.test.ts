/**
 * A spend through a delegation chain counts against every link's budget (README
 * "Delegation chains"): a sub-delegate with 5 USDC a day under a parent with 10 can never
 * make the parent exceed 10, and the lists a chain narrows (recipients, chains) hold.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CHAIN, RECIPIENT, signingFixture, USDC, usdcTransfer } from "./signing-fixture.js";

const USDC_UNITS = 1_000_000n;
const ROOT = { cid: "bafy-root", caps: { [USDC]: { maxPerTx: "5", maxPer24h: "10" } } };
const SUB = { cid: "bafy-sub", caps: { [USDC]: { maxPerTx: "5", maxPer24h: "5" } } };
const viaRoot = { delegation: { links: [ROOT] } };
const viaSub = { delegation: { links: [ROOT, SUB] } };

test("every spend counts against every link above it: the parent's cap holds whoever spends", async () => {
  const f = await signingFixture();
  let nonce = 0;
  const pay = (units: bigint, opts: object) =>
    f.signing.sign(f.agentId, usdcTransfer(nonce++, units * USDC_UNITS), "agent:unit", opts);
  const denied = async (units: bigint, opts: object, link: string) => {
    await assert.rejects(pay(units, opts), (err: Error & { code?: string }) => {
      assert.equal(err.code, "POLICY_DENIED");
      assert.match(err.message, new RegExp(`delegation link \\d \\(${link}\\)`));
      return true;
    });
  };
  assert.equal((await pay(3n, viaSub)).status, "signed"); // sub 3/5, root 3/10
  await denied(3n, viaSub, SUB.cid); // sub would reach 6/5
  assert.equal((await pay(3n, viaRoot)).status, "signed"); // root 6/10
  assert.equal((await pay(3n, viaRoot)).status, "signed"); // root 9/10
  assert.equal((await pay(1n, viaSub)).status, "signed"); // sub 4/5, root 10/10
  // The sub-delegate still has 1 USDC of its own, but its parent has nothing left.
  await denied(1n, viaSub, ROOT.cid);
  await denied(1n, viaRoot, ROOT.cid);
  // The agent's own policy (11 a day) is not the limit here: a credential outside the chain
  // may still spend its remaining 1.
  assert.equal((await pay(1n, {})).status, "signed");
  await f.close();
});

test("a link's window is rolling: spends older than 24 h no longer count", async () => {
  const f = await signingFixture();
  const a = await f.signing.sign(f.agentId, usdcTransfer(1, 5n * USDC_UNITS), "agent:unit", viaSub);
  assert.equal(a.status, "signed");
  await assert.rejects(
    f.signing.sign(f.agentId, usdcTransfer(2, 1n * USDC_UNITS), "agent:unit", viaSub),
    { code: "POLICY_DENIED" },
  );
  f.clock.ms += 24 * 3600_000 + 1000;
  const b = await f.signing.sign(f.agentId, usdcTransfer(3, 5n * USDC_UNITS), "agent:unit", viaSub);
  assert.equal(b.status, "signed");
  await f.close();
});

test("a link without caps of its own spends nothing of an asset its ancestors do not cap", async () => {
  const f = await signingFixture();
  const ethOnly = { cid: "bafy-eth", caps: { ETH: { maxPerTx: "0.001", maxPer24h: "0.002" } } };
  await assert.rejects(
    f.signing.sign(f.agentId, usdcTransfer(1, 1n), "agent:unit", {
      delegation: { links: [ethOnly, { cid: "bafy-nocaps" }] },
    }),
    { code: "POLICY_DENIED" },
  );
  await f.close();
});

test("recipients and chains a chain names narrow the agent's policy", async () => {
  const f = await signingFixture();
  const other = "0x5555555555555555555555555555555555555555";
  await assert.rejects(
    f.signing.sign(f.agentId, usdcTransfer(1, 1n), "agent:unit", {
      delegation: { links: [ROOT], recipients: [other] },
    }),
    { code: "POLICY_DENIED" },
  );
  await assert.rejects(
    f.signing.sign(f.agentId, usdcTransfer(2, 1n), "agent:unit", {
      delegation: { links: [ROOT], chains: [CHAIN + 1] },
    }),
    { code: "POLICY_DENIED" },
  );
  const ok = await f.signing.sign(f.agentId, usdcTransfer(3, 1n), "agent:unit", {
    delegation: { links: [ROOT], recipients: [RECIPIENT], chains: [CHAIN] },
  });
  assert.equal(ok.status, "signed");
  await f.close();
});

test("an approval re-checks every link's budget: parked requests cannot add up past a link's cap", async () => {
  const f = await signingFixture();
  // USDC parks above 5 (fixture policy); this link allows 7 a day, the agent 11.
  const link = { cid: "bafy-parked", caps: { [USDC]: { maxPerTx: "6", maxPer24h: "7" } } };
  const opts = { delegation: { links: [link] } };
  const amount = 5_500_000n; // 5.5 USDC: each alone fits the link, two do not
  const a = await f.signing.sign(f.agentId, usdcTransfer(1, amount), "agent:unit", opts);
  const b = await f.signing.sign(f.agentId, usdcTransfer(2, amount), "agent:unit", opts);
  assert.equal(a.status, "pending");
  assert.equal(b.status, "pending");
  if (a.status !== "pending" || b.status !== "pending") return;
  assert.equal((await f.signing.approve(a.approvalId, "operator:admin")).status, "signed");
  await assert.rejects(
    f.signing.approve(b.approvalId, "operator:admin"),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, "POLICY_DENIED");
      assert.match(err.message, /delegation link 0 \(bafy-parked\)/);
      return true;
    },
  );
  await f.close();
});
