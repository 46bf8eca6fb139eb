import assert from "node:assert/strict";
import { test } from "node:test";
import { ethTransfer, message, signingFixture } from "./signing-fixture.js";

test("a node that refuses on policy: POLICY_DENIED naming the node; seq and budget released", async () => {
  const f = await signingFixture();
  f.cluster.next({ kind: "refuse", code: "POLICY_DENIED", details: { rule: "maxPerTx" } });
  await assert.rejects(f.signing.sign(f.agentId, ethTransfer(1), "agent:unit"), {
    code: "POLICY_DENIED",
    details: { rule: "maxPerTx", enforcedBy: "node-0" },
  });
  assert.equal(await f.spendRows(), 0, "the reservation was released");
  const failed = (await f.audit.list(1, 1000)).find((e) => e.type === "sign.failed");
  assert.equal(failed?.data.seqReleased, true);
  assert.equal(failed?.data.code, "POLICY_DENIED");
  // The agent is not wedged: the next request reuses the released seq.
  const next = await f.signing.sign(f.agentId, ethTransfer(2), "agent:unit");
  assert.equal(next.status, "signed");
  assert.deepEqual(
    f.cluster.calls.map((c) => c.seq),
    [1, 1],
  );
  assert.equal((await f.store.sign((failed?.data.requestId as string) ?? ""))?.status, "denied");
  await f.close();
});

test("a node that refuses for another reason: NODE_REFUSED with its code, request failed", async () => {
  const f = await signingFixture();
  f.cluster.next({ kind: "refuse", code: "PRESIG_UNKNOWN" });
  await assert.rejects(f.signing.sign(f.agentId, message("m"), "agent:unit"), {
    code: "NODE_REFUSED",
    details: { nodeCode: "PRESIG_UNKNOWN" },
  });
  const failed = (await f.audit.list(1, 1000)).find((e) => e.type === "sign.failed");
  assert.equal((await f.store.sign(failed?.data.requestId as string))?.status, "failed");
  assert.equal((await f.store.incomplete(f.agentId)).length, 0);
  await f.close();
});

test("a cluster that is unavailable: QUORUM_UNAVAILABLE; the request keeps its seq and is finished first next time", async () => {
  const f = await signingFixture();
  f.cluster.next({ kind: "unavailable" });
  await assert.rejects(f.signing.sign(f.agentId, ethTransfer(1), "agent:unit"), {
    code: "QUORUM_UNAVAILABLE",
  });
  const [row] = await f.store.incomplete(f.agentId);
  assert.equal(row?.seq, 1, "its seq may be recorded on a node: it is kept");
  assert.equal(await f.spendRows(), 1, "and so is its budget");
  const failed = (await f.audit.list(1, 1000)).find((e) => e.type === "sign.failed");
  assert.equal(failed?.data.seqReleased, false);
  const next = await f.signing.sign(f.agentId, ethTransfer(2), "agent:unit");
  assert.equal(next.status, "signed");
  assert.equal((await f.store.sign(row?.id as string))?.status, "signed");
  assert.deepEqual(
    f.cluster.calls.map((c) => c.seq),
    [1, 1, 2],
  );
  await f.close();
});

test("while the cluster stays unavailable, a new request is refused before it reserves anything", async () => {
  const f = await signingFixture();
  f.cluster.next({ kind: "unavailable" }, { kind: "unavailable" });
  await assert.rejects(f.signing.sign(f.agentId, ethTransfer(1), "agent:unit"), {
    code: "QUORUM_UNAVAILABLE",
  });
  await assert.rejects(f.signing.sign(f.agentId, ethTransfer(2), "agent:unit"), {
    code: "QUORUM_UNAVAILABLE",
  });
  assert.equal(await f.spendRows(), 1, "only the first request holds budget");
  assert.equal((await f.types()).filter((t) => t === "sign.requested").length, 1);
  await f.close();
});

test("a repeated request after the first one was refused is decided afresh", async () => {
  const f = await signingFixture();
  f.cluster.next({ kind: "refuse", code: "PRESIG_UNKNOWN" });
  const intent = message("retry me");
  await assert.rejects(f.signing.sign(f.agentId, intent, "agent:unit"), { code: "NODE_REFUSED" });
  const again = await f.signing.sign(f.agentId, intent, "agent:unit");
  assert.equal(again.status, "signed");
  assert.ok(!(await f.types()).includes("sign.repeated"));
  await f.close();
});
