import assert from "node:assert/strict";
import { test } from "node:test";
import { Transaction } from "ethers";
import { ethTransfer, message, signingFixture } from "./signing-fixture.js";

const settle = <T>(ps: Array<Promise<T>>) => Promise.allSettled(ps);

test("10 identical concurrent requests reserve the budget once and all get the same signature", async () => {
  const f = await signingFixture();
  let open = () => {};
  const until = new Promise<void>((r) => {
    open = r;
  });
  // The first request is still at the cluster when the other nine arrive.
  f.cluster.next({ kind: "gate", until });
  const intent = ethTransfer(7);
  const all = Array.from({ length: 10 }, () => f.signing.sign(f.agentId, intent, "agent:unit"));
  setTimeout(open, 20);
  const outcomes = await settle(all);
  const refused = outcomes.filter((o) => o.status === "rejected");
  assert.deepEqual(refused, [], "no identical request is refused");
  const signedTxs = new Set(
    outcomes.map((o) =>
      o.status === "fulfilled" && o.value.status === "signed"
        ? (o.value.result as { signedTransaction: string }).signedTransaction
        : "",
    ),
  );
  assert.equal(signedTxs.size, 1, "one signed transaction for all ten");
  assert.equal(Transaction.from([...signedTxs][0]).from, f.cluster.address);
  assert.equal(f.cluster.calls.length, 1, "the cluster was asked once");
  assert.equal(await f.spendRows(), 1, "the budget was reserved once");
  const types = await f.types();
  assert.equal(types.filter((t) => t === "sign.requested").length, 1);
  assert.equal(types.filter((t) => t === "sign.signed").length, 1);
  assert.equal(types.filter((t) => t === "sign.repeated").length, 9);
  await f.close();
});

test("identical requests after a lost answer: the first is finished, the second gets its signature", async () => {
  const f = await signingFixture();
  // The nodes recorded seq 1, but the answer never reached the vault: the row stays incomplete.
  f.cluster.next({ kind: "lose-answer" });
  const intent = message("once");
  await assert.rejects(f.signing.sign(f.agentId, intent, "agent:unit"), {
    code: "QUORUM_UNAVAILABLE",
  });
  const again = await f.signing.sign(f.agentId, intent, "agent:unit");
  assert.equal(again.status, "signed");
  assert.deepEqual(
    f.cluster.calls.map((c) => c.seq),
    [1, 1],
    "recovery retried seq 1; the repeat took no new seq",
  );
  assert.equal((await f.types()).filter((t) => t === "sign.repeated").length, 1);
  assert.equal(await f.store.lastSeq(f.agentId), 1);
  await f.close();
});

test("different requests at the same moment each get their own sequence number, in arrival order", async () => {
  const f = await signingFixture();
  const outs = await Promise.all(
    [1, 2, 3].map((n) => f.signing.sign(f.agentId, ethTransfer(n), "agent:unit")),
  );
  assert.ok(outs.every((o) => o.status === "signed"));
  assert.deepEqual(
    f.cluster.calls.map((c) => c.seq),
    [1, 2, 3],
  );
  assert.equal(await f.spendRows(), 3);
  await f.close();
});
