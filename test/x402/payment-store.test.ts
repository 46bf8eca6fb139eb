/**
 * The x402 replay ledger (src/auth/x402/store.ts) on both storage engines: one row per
 * (network, asset, payer, nonce), taken insert-or-fail before settlement, so an
 * authorization used twice at the same moment, even on two vault replicas, is taken once.
 */
import assert from "node:assert/strict";
import { openPaymentStore, paymentId } from "../../src/auth/x402/store.js";
import { onBothEngines } from "../helpers/engines.js";

const TOKEN = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";

function row(nonce: string) {
  return {
    id: paymentId("eip155:1", TOKEN, "0xabc", nonce),
    network: "eip155:1",
    asset: TOKEN.toLowerCase(),
    payer: "0xabc",
    nonce,
    route: "GET /v1/cluster",
    amount: "1",
    pay_to: "0xdef",
  };
}

onBothEngines({
  "insert-or-fail per authorization; release frees it; an unknown settlement never": async (f) => {
    const store = await openPaymentStore(f.open());
    const r = row("0x01");
    assert.equal(r.id, paymentId("EIP155:1", TOKEN.toUpperCase(), "0xABC", "0x01"));
    assert.equal(await store.lock(r), true);
    assert.equal(await store.lock(r), false);
    assert.equal(await store.release(r.id), true);
    assert.equal(await store.lock(r), true);
    await store.finish(r.id, "unknown", undefined, "settle timed out");
    assert.equal(await store.release(r.id), false, "an unknown settlement is never released");
    assert.equal((await store.get(r.id))?.status, "unknown");
    assert.deepEqual(await store.verified(), []);
  },

  "the same authorization on two replicas at once: exactly one takes it, 20 times over": async (
    f,
  ) => {
    const [a, b] = [await openPaymentStore(f.open()), await openPaymentStore(f.open())];
    for (let i = 0; i < 20; i++) {
      const r = row(`0x${(i + 16).toString(16)}`);
      const taken = await Promise.all([a.lock(r), b.lock(r), a.lock(r), b.lock(r)]);
      assert.equal(taken.filter(Boolean).length, 1, `nonce ${r.nonce}`);
    }
    assert.equal((await a.verified()).length, 20);
  },

  "a payment in flight is held by its owner's lease: renewed by it, lapsed once it stops": async (
    f,
  ) => {
    const [a, b] = [await openPaymentStore(f.open()), await openPaymentStore(f.open())];
    assert.equal(await a.lock(row("0xa1"), { owner: "replica-a", untilMs: 1_000 }), true);
    assert.equal(await a.lock(row("0xa2"), { owner: "replica-a", untilMs: 1_000 }), true);
    assert.equal(await b.lock(row("0xb1"), { owner: "replica-b", untilMs: 1_000 }), true);
    assert.equal(await a.lock(row("0xc1")), true, "taken without a lease (an earlier build)");
    // An earlier build's payment (no lease) counts as lapsed only once old enough.
    const lapsedAt = async (ms: number) =>
      (await b.lapsed(ms, Number.MAX_SAFE_INTEGER)).map((r) => r.nonce).sort();
    assert.deepEqual(await lapsedAt(999), ["0xc1"]);
    assert.deepEqual(await b.lapsed(999, 0), []);
    // A renews both of its payments; B's lapses.
    assert.equal(
      await a.renew({ owner: "replica-a", untilMs: 5_000 }, [row("0xa1").id, row("0xa2").id]),
      2,
    );
    assert.deepEqual(await lapsedAt(2_000), ["0xb1", "0xc1"]);
    // A finished payment is no longer renewed nor lapsed: it is not in flight.
    await a.finish(row("0xa1").id, "settled", "0xtx");
    assert.equal(
      await a.renew({ owner: "replica-a", untilMs: 9_000 }, [row("0xa1").id, row("0xa2").id]),
      1,
    );
    assert.deepEqual(await lapsedAt(6_000), ["0xb1", "0xc1"]);
    assert.deepEqual(await lapsedAt(9_001), ["0xa2", "0xb1", "0xc1"]);
    // Stranding is conditional: not while the lease holds; once, by one of two replicas.
    const lapsed = (nowMs: number) => ({ nowMs, legacyBeforeMs: 0 });
    assert.equal(await b.strand(row("0xa2").id, "stopped", lapsed(8_000)), false);
    const both = await Promise.all([
      a.strand(row("0xa2").id, "stopped", lapsed(9_001)),
      b.strand(row("0xa2").id, "stopped", lapsed(9_001)),
    ]);
    assert.deepEqual(both.filter(Boolean).length, 1);
    assert.equal((await a.get(row("0xa2").id))?.status, "unknown");
    assert.equal(await b.strand(row("0xa1").id, "stopped"), false, "a settled one stays settled");
  },
});
