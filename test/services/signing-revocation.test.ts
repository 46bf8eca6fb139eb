import assert from "node:assert/strict";
import { test } from "node:test";
import { VaultError } from "../../src/errors/index.js";
import { createCredentialCheck } from "../../src/services/credentials.js";
import { ethTransfer, type Fixture, signingFixture, usdcTransfer } from "./signing-fixture.js";

/** A fixture whose credential check is the vault's own, over its store and a token list. */
async function withCredentials() {
  const revokedJtis = new Set<string>();
  const holder: { f?: Fixture } = {};
  const check = (c: string) =>
    createCredentialCheck({
      store: (holder.f as Fixture).store,
      tokens: { isRevoked: async (jti) => revokedJtis.has(jti) },
    })(c);
  const f = await signingFixture({ credentialRefusal: check });
  holder.f = f;
  for (const id of ["key_slow", "key_queued"])
    await f.store.putKey({
      id,
      agentId: f.agentId,
      scopes: ["EXECUTE", "SPEND"],
      hash: `h_${id}`,
      parentId: null,
    });
  return { f, revokedJtis };
}

/** The first request holds the agent's lock at the cluster until `open()`. */
function holdLock(f: Fixture) {
  let open = () => {};
  f.cluster.next({ kind: "gate", until: new Promise<void>((r) => (open = r)) });
  const slow = f.signing.sign(f.agentId, ethTransfer(1), "agent:unit:key_slow", {
    credential: "key_slow",
  });
  return { slow, open: () => open() };
}

test("an API key revoked while its request was queued: INVALID_CREDENTIALS, nothing reserved or signed", async () => {
  const { f } = await withCredentials();
  const { slow, open } = holdLock(f);
  const queued = f.signing.sign(f.agentId, ethTransfer(2), "agent:unit:key_queued", {
    credential: "key_queued",
  });
  await f.store.revokeKey("key_queued");
  open();
  assert.equal((await slow).status, "signed", "the request ahead was admitted and stays signed");
  await assert.rejects(queued, { code: "INVALID_CREDENTIALS" });
  assert.equal(f.cluster.calls.length, 1, "the queued request never reached the cluster");
  assert.equal(await f.spendRows(), 1, "and reserved no budget");
  assert.equal((await f.types()).filter((t) => t === "sign.requested").length, 1);
  await f.close();
});

test("an agent token revoked while its request was queued: TOKEN_REVOKED, nothing signed", async () => {
  const { f, revokedJtis } = await withCredentials();
  const { slow, open } = holdLock(f);
  const queued = f.signing.sign(f.agentId, ethTransfer(2), "agent:unit:jwt:j1", {
    credential: "jwt:j1",
  });
  revokedJtis.add("j1");
  open();
  await slow;
  await assert.rejects(
    queued,
    (err: unknown) => err instanceof VaultError && err.code === "TOKEN_REVOKED",
  );
  assert.equal(f.cluster.calls.length, 1);
  await f.close();
});

test("a live credential queued behind another request is signed; the admin key and presentations are not re-checked", async () => {
  const { f } = await withCredentials();
  const { slow, open } = holdLock(f);
  const queued = [
    f.signing.sign(f.agentId, ethTransfer(2), "a", { credential: "key_queued" }),
    f.signing.sign(f.agentId, ethTransfer(3), "a", { credential: "admin" }),
    f.signing.sign(f.agentId, ethTransfer(4), "a", { credential: "vc:did:key:z6Mk" }),
  ];
  open();
  await slow;
  for (const q of queued) assert.equal((await q).status, "signed");
  await assert.rejects(
    f.signing.sign(f.agentId, ethTransfer(5), "a", { credential: "key_unknown" }),
    { code: "INVALID_CREDENTIALS" },
  );
  await f.close();
});

test("a key revoked while its request waited for approval: approving signs nothing (APPROVAL_NOT_SIGNED)", async () => {
  const { f } = await withCredentials();
  const parked = await f.signing.sign(
    f.agentId,
    usdcTransfer(1, 7_000_000n),
    "agent:unit:key_queued",
    {
      credential: "key_queued",
    },
  );
  assert.equal(parked.status, "pending");
  const id = parked.status === "pending" ? parked.approvalId : "";
  await f.store.revokeKey("key_queued");
  await assert.rejects(f.signing.approve(id, "operator:admin"), { code: "APPROVAL_NOT_SIGNED" });
  assert.equal((await f.signing.approval(id)).status, "denied");
  assert.equal(f.cluster.calls.length, 0);
  assert.equal(await f.spendRows(), 0);
  assert.equal((await f.types()).at(-1), "sign.denied");
  // A live key's parked request is still approved and signed.
  const live = await f.signing.sign(f.agentId, usdcTransfer(2, 7_000_000n), "agent:unit:key_slow", {
    credential: "key_slow",
  });
  const liveId = live.status === "pending" ? live.approvalId : "";
  assert.equal((await f.signing.approve(liveId, "operator:admin")).status, "signed");
  await f.close();
});
