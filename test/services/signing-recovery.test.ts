import assert from "node:assert/strict";
import { test } from "node:test";
import { verifyMessage } from "ethers";
import { decodeIntent } from "../../src/policy/decode.js";
import { decide } from "../../src/services/signing/decide.js";
import { ethTransfer, message, signingFixture } from "./signing-fixture.js";

const tick = () => new Promise((r) => setTimeout(r, 10));

test("restart with a request left reserved (never reached the cluster): budget released, audited abandoned", async () => {
  const f = await signingFixture();
  const intent = ethTransfer(1);
  // The vault died between the decision and the cluster call.
  const d = await decide(
    { store: f.store, audit: f.audit, now: () => f.clock.ms },
    { agentId: f.agentId, intent, decoded: decodeIntent(intent), actor: "agent:unit" },
  );
  assert.equal((await f.store.sign(d.id))?.status, "reserved");
  assert.equal(await f.spendRows(), 1);
  await (await f.restart()).recoverAll();
  assert.equal((await f.store.sign(d.id))?.status, "failed");
  assert.equal(await f.spendRows(), 0, "the reservation no longer counts against the budget");
  assert.equal(f.cluster.calls.length, 0, "nothing was sent to the cluster");
  const abandoned = (await f.audit.list(1, 1000)).find((e) => e.type === "sign.abandoned");
  assert.equal(abandoned?.actor, "system:recovery");
  assert.equal(abandoned?.data.requestId, d.id);
  await f.close();
});

test("restart with a request left incomplete that no node recorded: finished at the same seq", async () => {
  const f = await signingFixture();
  f.cluster.next({ kind: "hang" });
  void f.signing.sign(f.agentId, message("hung"), "agent:unit");
  await tick();
  const [row] = await f.store.incomplete(f.agentId);
  assert.equal(row?.seq, 1);
  await (await f.restart()).recoverAll();
  const done = await f.store.sign(row?.id as string);
  assert.equal(done?.status, "signed");
  assert.equal(done?.seq, 1);
  assert.equal(verifyMessage("hung", done?.signature as string), f.cluster.address);
  assert.deepEqual(
    f.cluster.calls.map((c) => c.seq),
    [1, 1],
  );
  const signed = (await f.audit.list(1, 1000)).filter((e) => e.type === "sign.signed");
  assert.equal(signed.length, 1);
  assert.equal(signed[0]?.actor, "system:recovery");
  await f.close();
});

test("restart with a request the nodes recorded but the vault never stored: finished once, spent once", async () => {
  const f = await signingFixture();
  f.cluster.next({ kind: "hang-after-record" });
  void f.signing.sign(f.agentId, ethTransfer(1), "agent:unit");
  await tick();
  assert.equal(
    f.cluster.records.get(f.agentId)?.get(1),
    (await f.store.incomplete(f.agentId))[0]?.digest,
  );
  const vault = await f.restart();
  await vault.recoverAll();
  assert.equal((await f.store.incomplete(f.agentId)).length, 0);
  assert.equal(await f.spendRows(), 1, "one spend, not two");
  // The next request takes the next seq: the recovered one kept seq 1.
  const next = await vault.sign(f.agentId, ethTransfer(2), "agent:unit");
  assert.equal(next.status, "signed");
  assert.deepEqual(
    f.cluster.calls.map((c) => c.seq),
    [1, 1, 2],
  );
  await f.close();
});

test("restart while the cluster is unavailable: the incomplete request is finished before the agent's next", async () => {
  const f = await signingFixture();
  f.cluster.next({ kind: "hang" });
  void f.signing.sign(f.agentId, message("first"), "agent:unit");
  await tick();
  const vault = await f.restart();
  f.cluster.next({ kind: "unavailable" });
  await assert.rejects(vault.recoverAll(), { code: "QUORUM_UNAVAILABLE" });
  assert.equal((await f.store.incomplete(f.agentId)).length, 1, "still incomplete, seq kept");
  const second = await vault.sign(f.agentId, message("second"), "agent:unit");
  assert.equal(second.status, "signed");
  assert.deepEqual(
    f.cluster.calls.map((c) => c.seq),
    [1, 1, 1, 2],
  );
  assert.equal((await f.store.incomplete(f.agentId)).length, 0);
  await f.close();
});

test("restart leaves parked approvals pending and signed requests untouched", async () => {
  const f = await signingFixture();
  const { usdcTransfer } = await import("./signing-fixture.js");
  const parked = await f.signing.sign(f.agentId, usdcTransfer(1, 7_000_000n), "agent:unit");
  const signed = await f.signing.sign(f.agentId, message("kept"), "agent:unit");
  assert.equal(parked.status, "pending");
  assert.equal(signed.status, "signed");
  const vault = await f.restart();
  await vault.recoverAll();
  assert.equal(
    (await vault.approval(parked.status === "pending" ? parked.approvalId : "")).status,
    "pending",
  );
  assert.equal(f.cluster.calls.length, 1);
  assert.ok(!(await f.types()).includes("sign.abandoned"));
  await f.close();
});

test("an incomplete request the nodes refuse at recovery is released, and the next request is signed", async () => {
  const f = await signingFixture();
  f.cluster.next({ kind: "unavailable" });
  await assert.rejects(f.signing.sign(f.agentId, ethTransfer(1), "agent:unit"), {
    code: "QUORUM_UNAVAILABLE",
  });
  const [row] = await f.store.incomplete(f.agentId);
  // At recovery a node refuses it on policy (its own record says so); no node recorded it.
  f.cluster.next({ kind: "refuse", code: "POLICY_DENIED", details: { rule: "maxPer24h" } });
  const next = await f.signing.sign(f.agentId, message("unrelated"), "agent:unit");
  assert.equal(next.status, "signed", "the new request is not failed by the old one's refusal");
  assert.equal((await f.store.sign(row?.id as string))?.status, "denied");
  const failed = (await f.audit.list(1, 1000)).filter((e) => e.type === "sign.failed");
  assert.equal(failed.at(-1)?.actor, "system:recovery");
  assert.deepEqual(
    f.cluster.calls.map((c) => c.seq),
    [1, 1, 1],
    "the released seq 1 went to the new request",
  );
  await f.close();
});
