import assert from "node:assert/strict";
import { test } from "node:test";
import { Transaction } from "ethers";
import type { SignOutcome } from "../../src/services/signing.js";
import { signingFixture, usdcTransfer } from "./signing-fixture.js";

const approvalId = (o: SignOutcome) => {
  assert.equal(o.status, "pending");
  return o.status === "pending" ? o.approvalId : "";
};

test("above approvalAbove a request parks, reserving nothing and asking no node", async () => {
  const f = await signingFixture();
  const id = approvalId(await f.signing.sign(f.agentId, usdcTransfer(1, 7_000_000n), "agent:unit"));
  const view = await f.signing.approval(id);
  assert.equal(view.status, "pending");
  assert.equal(view.result, undefined);
  assert.deepEqual(
    view.spends.map((s) => s.amount),
    ["7000000"],
  );
  assert.equal(await f.spendRows(), 0);
  assert.equal(f.cluster.calls.length, 0);
  assert.deepEqual(await f.types(), ["sign.requested", "approval.requested"]);
  await f.close();
});

test("an approved request is signed; approving twice is APPROVAL_NOT_PENDING", async () => {
  const f = await signingFixture();
  const id = approvalId(await f.signing.sign(f.agentId, usdcTransfer(1, 7_000_000n), "agent:unit"));
  const out = await f.signing.approve(id, "operator:admin");
  assert.equal(out.status, "signed");
  const tx = (out.status === "signed" ? out.result : undefined) as { signedTransaction: string };
  assert.equal(Transaction.from(tx.signedTransaction).from, f.cluster.address);
  assert.equal((await f.signing.approval(id)).status, "signed");
  assert.equal(await f.spendRows(), 1);
  await assert.rejects(f.signing.approve(id, "operator:admin"), { code: "APPROVAL_NOT_PENDING" });
  assert.deepEqual(await f.types(), [
    "sign.requested",
    "approval.requested",
    "approval.approved",
    "sign.signed",
  ]);
  await f.close();
});

test("two approvals of one request at the same moment sign it once", async () => {
  const f = await signingFixture();
  const id = approvalId(await f.signing.sign(f.agentId, usdcTransfer(1, 7_000_000n), "agent:unit"));
  const both = await Promise.allSettled([
    f.signing.approve(id, "operator:a"),
    f.signing.approve(id, "operator:b"),
  ]);
  assert.deepEqual(
    both.map((r) => r.status),
    ["fulfilled", "rejected"],
  );
  assert.equal((both[1] as PromiseRejectedResult).reason.code, "APPROVAL_NOT_PENDING");
  assert.equal(f.cluster.calls.length, 1);
  await f.close();
});

test("a rejected request is never signed, and cannot be approved afterwards", async () => {
  const f = await signingFixture();
  const id = approvalId(await f.signing.sign(f.agentId, usdcTransfer(1, 7_000_000n), "agent:unit"));
  assert.equal((await f.signing.reject(id, "operator:admin")).status, "rejected");
  await assert.rejects(f.signing.approve(id, "operator:admin"), { code: "APPROVAL_NOT_PENDING" });
  await assert.rejects(f.signing.reject(id, "operator:admin"), { code: "APPROVAL_NOT_PENDING" });
  await assert.rejects(f.signing.approval("req_nope"), { code: "APPROVAL_NOT_FOUND" });
  await assert.rejects(f.signing.approve("req_nope", "operator:admin"), {
    code: "APPROVAL_NOT_FOUND",
  });
  assert.equal(f.cluster.calls.length, 0);
  assert.ok(!(await f.types()).includes("sign.signed"));
  await f.close();
});

test("an approval given after the policy expired is denied (validUntil), not signed", async () => {
  const f = await signingFixture();
  const id = approvalId(await f.signing.sign(f.agentId, usdcTransfer(1, 7_000_000n), "agent:unit"));
  f.clock.ms = Date.parse("2030-01-02T00:00:00Z"); // the parked request waited past validUntil
  await assert.rejects(f.signing.approve(id, "operator:admin"), {
    code: "POLICY_DENIED",
    details: { rule: "validUntil" },
  });
  assert.equal((await f.signing.approval(id)).status, "denied");
  assert.equal(f.cluster.calls.length, 0);
  assert.equal(await f.spendRows(), 0);
  await f.close();
});

test("caps still apply at approval: budget spent while the request waited denies it (maxPer24h)", async () => {
  const f = await signingFixture();
  const id = approvalId(await f.signing.sign(f.agentId, usdcTransfer(1, 7_000_000n), "agent:unit"));
  // 5 USDC (not above approvalAbove) signs at once; 7 more would pass the 11 USDC day cap.
  assert.equal(
    (await f.signing.sign(f.agentId, usdcTransfer(2, 5_000_000n), "agent:unit")).status,
    "signed",
  );
  await assert.rejects(f.signing.approve(id, "operator:admin"), {
    code: "POLICY_DENIED",
    details: { rule: "maxPer24h" },
  });
  assert.equal((await f.signing.approval(id)).status, "denied");
  assert.equal(await f.spendRows(), 1);
  await f.close();
});

test("an approved request counts in the 24 h window from its approval, not from when it parked", async () => {
  const f = await signingFixture();
  // maxPer24h is 11 USDC; 7 parks (approvalAbove 5) and is approved a minute before 24 h pass.
  const id = approvalId(await f.signing.sign(f.agentId, usdcTransfer(1, 7_000_000n), "agent:unit"));
  f.clock.ms += 24 * 3_600_000 - 60_000;
  assert.equal((await f.signing.approve(id, "operator:admin")).status, "signed");
  // Two minutes later the 7 USDC moved one minute ago: 5 more would be 12 in 24 h.
  f.clock.ms += 120_000;
  await assert.rejects(
    f.signing.sign(f.agentId, usdcTransfer(2, 5_000_000n), "agent:unit"),
    (err: { code?: string; details?: { rule?: string } }) =>
      err.code === "POLICY_DENIED" && err.details?.rule === "maxPer24h",
  );
  await f.close();
});
