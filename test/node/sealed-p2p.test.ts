/**
 * DKLs23 protocol messages are sealed node to node (X25519 + HKDF + AES-256-GCM, the
 * session, round, sender and receiver bound as associated data); the vault relays
 * them but can neither read, alter, redirect nor replay them in another context.
 * First at the level of src/transport/p2p.ts, then against real node processes.
 */
import assert from "node:assert/strict";
import { createPublicKey, randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { authorize } from "../../src/auth/admin-authority.js";
import type { NodeOp, NodeParams } from "../../src/protocol/node/ops.js";
import type { WithMessages } from "../../src/protocol/node/wire.js";
import { inboxFor, runPresign } from "../../src/signers/local/protocol.js";
import { generateIdentity } from "../../src/transport/identity.js";
import { openFrom, type P2pContext, type SealedMessage, sealFor } from "../../src/transport/p2p.js";
import { startTestCluster, TEST_ADMIN_KEY, type TestCluster } from "../helpers/cluster.js";
import {
  CHAIN_ID,
  contribute,
  createAgent,
  ethTransfer,
  newSessionId,
  presign,
  refused,
} from "../signers/local/by-hand.js";

/** Flips one bit of a base64 field. */
function flip(b64: string, at = 0): string {
  const bytes = Buffer.from(b64, "base64");
  bytes[at] = (bytes[at] as number) ^ 0x01;
  return bytes.toString("base64");
}

/** A node refusal because a sealed message did not authenticate (not a routing check). */
function unauthenticated(err: unknown): true {
  refused("BAD_MESSAGE")(err);
  assert.match((err as Error).message, /failed authentication/);
  return true;
}

describe("p2p sealing (src/transport/p2p.ts)", () => {
  const [a, b, c] = [generateIdentity(), generateIdentity(), generateIdentity()];
  const pub = (id: typeof a) => createPublicKey(id.agreement);
  const ctx: P2pContext = { sessionId: "dkg-s1", round: "dkg1" };
  const payload = randomBytes(64);
  // Node 0 (a) seals for node 1 (b).
  const sealed = sealFor(a.agreement, pub(b), ctx, { from: 0, to: 1, broadcast: false, payload });
  const opensAtB = (s: SealedMessage, context = ctx) => openFrom(b.agreement, pub(a), context, s);

  test("the receiver opens it (control)", () => {
    assert.deepEqual(Buffer.from(opensAtB(sealed)), payload);
    assert.ok(!Buffer.from(sealed.ct, "base64").equals(payload), "the relay sees ciphertext");
  });

  test("another node's key cannot open a message sealed for B", () => {
    assert.throws(() => openFrom(c.agreement, pub(a), ctx, sealed));
    // Nor can C pass off its own message as A's.
    const forged = sealFor(c.agreement, pub(b), ctx, { from: 0, to: 1, broadcast: false, payload });
    assert.throws(() => opensAtB(forged));
  });

  test("a flipped ciphertext, tag or IV byte fails", () => {
    assert.throws(() => opensAtB({ ...sealed, ct: flip(sealed.ct, 5) }));
    assert.throws(() => opensAtB({ ...sealed, tag: flip(sealed.tag) }));
    assert.throws(() => opensAtB({ ...sealed, iv: flip(sealed.iv) }));
  });

  test("another session id or round in the context fails", () => {
    assert.throws(() => opensAtB(sealed, { ...ctx, sessionId: "dkg-s2" }));
    assert.throws(() => opensAtB(sealed, { ...ctx, round: "dkg2" }));
  });

  test("relabelled sender, receiver or broadcast flag fails; so does reflecting it back", () => {
    assert.throws(() => opensAtB({ ...sealed, from: 2 }));
    assert.throws(() => opensAtB({ ...sealed, to: 2 }));
    assert.throws(() => opensAtB({ ...sealed, broadcast: true }));
    // X25519 is symmetric, so A shares B's key: the bound direction keeps A from
    // accepting its own message back as one from B.
    assert.throws(() => openFrom(a.agreement, pub(b), ctx, { ...sealed, from: 1, to: 0 }));
  });
});

describe("nodes refuse tampered protocol messages (BAD_MESSAGE)", () => {
  let tc: TestCluster;
  before(async () => {
    tc = await startTestCluster(2, 3);
  });
  after(async () => tc?.stop());

  const call = <K extends NodeOp>(i: number, op: K, sid: string, body: NodeParams<K>) =>
    tc.cluster.client(i).call(op, sid, body);

  async function dkgStart(agentId: string, sid: string): Promise<WithMessages[]> {
    const authorization = authorize(TEST_ADMIN_KEY, {
      op: "agent.create",
      agentId,
      policyVersion: 0,
      policy: null,
    });
    return Promise.all([0, 1, 2].map((i) => call(i, "dkg.start", sid, { agentId, authorization })));
  }

  test("dkg.round: flipped, redirected, replayed-in-another-round or another-session messages", async () => {
    const sid = `dkg-${randomUUID()}`;
    const r1 = await dkgStart("p2p-dkg", sid);
    const sidB = `dkg-${randomUUID()}`;
    const r1B = await dkgStart("p2p-dkg-b", sidB);

    // Node 0: one ciphertext bit flipped.
    const inbox0 = inboxFor(0, r1).map((m, k) => (k === 0 ? { ...m, ct: flip(m.ct, 3) } : m));
    await assert.rejects(
      call(0, "dkg.round", sid, { round: 2, messages: inbox0 }),
      unauthenticated,
    );
    // Node 1: honest relay (control), then round-1 messages offered again as round 3.
    const ok = await call(1, "dkg.round", sid, { round: 2, messages: inboxFor(1, r1) });
    assert.ok(ok.messages.length > 0, "an untampered round passes");
    await assert.rejects(
      call(1, "dkg.round", sid, { round: 3, messages: inboxFor(1, r1) }),
      unauthenticated,
    );
    // Node 2: session B's round-1 messages relayed into session A.
    await assert.rejects(
      call(2, "dkg.round", sid, { round: 2, messages: inboxFor(2, r1B) }),
      unauthenticated,
    );
    // Node 0 in session B: node 1's message for node 2 relabelled as for node 0.
    const for2from1 = r1B[1]?.messages.find((m) => m.to === 2) as SealedMessage;
    const redirected = inboxFor(0, r1B).map((m) => (m.from === 1 ? { ...for2from1, to: 0 } : m));
    await assert.rejects(
      call(0, "dkg.round", sidB, { round: 2, messages: redirected }),
      unauthenticated,
    );
  });

  test("presign.round and sign.combine: a flipped message is refused", async () => {
    const agentId = "p2p-sign";
    await createAgent(tc, agentId, {
      chains: [CHAIN_ID],
      assets: { ETH: { maxPerTx: "0.01", maxPer24h: "1" } },
    });
    const sid = `pre-${randomUUID()}`;
    const parties = [0, 1];
    const r1 = await Promise.all(
      parties.map((i) =>
        call(i, "presign.start", sid, { agentId, presigId: `ps-${randomUUID()}`, parties }),
      ),
    );
    const tampered = inboxFor(1, r1).map((m) => ({ ...m, tag: flip(m.tag) }));
    await assert.rejects(
      call(1, "presign.round", sid, { round: 2, messages: tampered }),
      unauthenticated,
    );

    // The online step: both contribute honestly, node 0 gets node 1's last message flipped.
    const presigId = await presign(tc, agentId, parties);
    const signSid = newSessionId();
    const body = { agentId, seq: 1, intent: ethTransfer("0.001", 0), presigId };
    const replies = await Promise.all(parties.map((i) => contribute(tc, i, signSid, body)));
    const lastMessages = inboxFor(0, replies).map((m) => ({ ...m, ct: flip(m.ct, 7) }));
    await assert.rejects(
      call(0, "sign.combine", signSid, { messages: lastMessages }),
      unauthenticated,
    );
    await call(1, "sign.release", signSid, {});
    // Presignatures on the same nodes still work afterwards (nothing else broke).
    await runPresign([tc.cluster.client(0), tc.cluster.client(1)], agentId, `ps-${randomUUID()}`);
  });
});
