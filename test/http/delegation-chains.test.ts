/**
 * Delegation chains over HTTP against a real vault and its signer nodes (README "Delegation
 * chains"): the agent's key delegates, a holder re-delegates with iso-ucan, the final holder
 * signs through the chain; budgets of every link hold, an invocation is used once, and a
 * revoked link refuses the next request.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { Transaction } from "ethers";
import { DIDKey } from "iso-did/key";
import { decodeProtectedHeader, importJWK, jwtVerify } from "jose";
import { holder, invoke, redelegate, revocation } from "../auth/delegation/helpers.js";
import { BASIC_POLICY, ethTx, startTestVault, type TestVault } from "../helpers/vault.js";

let tv: TestVault;
let agent: { id: string; address: string };
let agentAuth: Record<string, string>;

before(async () => {
  tv = await startTestVault();
  agent = await tv.createAgent(BASIC_POLICY);
  agentAuth = (await tv.issueKey(agent.id, ["EXECUTE", "SPEND"])).auth;
});
after(() => tv.stop());

const TX_CMD = "/vault/sign/transaction";

async function rootTo(audience: string, extra: Record<string, unknown> = {}) {
  const res = await tv.app.inject({
    method: "POST",
    url: "/v1/delegations",
    headers: agentAuth,
    payload: {
      agentId: agent.id,
      audience,
      commands: [TX_CMD, "/vault/sign/message"],
      caps: { ETH: { maxPerTx: "0.002", maxPer24h: "0.004" } },
      expiresAt: new Date(Date.now() + 3600_000).toISOString(),
      ...extra,
    },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as { delegation: string; cid: string; issuer: string };
}

async function through(
  chain: string[],
  by: Awaited<ReturnType<typeof holder>>,
  route: "transaction" | "message",
  payload: unknown,
  reuse?: string,
) {
  const url = `/v1/agents/${agent.id}/sign/${route}`;
  const body = JSON.stringify(payload);
  const inv =
    reuse ??
    (await invoke({ chain, by, cmd: `/vault/sign/${route}`, method: "POST", path: url, body }));
  const res = await tv.app.inject({
    method: "POST",
    url,
    headers: {
      authorization: `Delegation ${chain.join(",")}`,
      "ucan-invocation": inv,
      "content-type": "application/json",
    },
    payload: body,
  });
  return { res, inv };
}

test("the agent's key delegates; a re-delegated holder signs through the chain", async () => {
  const [alice, bob] = await Promise.all([holder(), holder()]);
  const root = await rootTo(alice.did);
  assert.match(root.issuer, /^did:key:z6Mk/);
  const d1 = await redelegate({
    chain: [root.delegation],
    from: alice,
    audience: bob.did,
    vault: {
      agent: agent.id,
      commands: [TX_CMD],
      caps: { ETH: { maxPerTx: "0.0015", maxPer24h: "0.003" } },
    },
  });
  const chain = [root.delegation, d1];
  const first = await through(chain, bob, "transaction", {
    tx: ethTx({ value: "1500000000000000" }),
  });
  assert.equal(first.res.statusCode, 200, first.res.body);
  assert.equal(Transaction.from(first.res.json().signedTransaction).from, agent.address);
  // The same invocation again: refused, nothing signed.
  const replay = await through(
    chain,
    bob,
    "transaction",
    { tx: ethTx({ value: "1500000000000000" }) },
    first.inv,
  );
  assert.equal(replay.res.json().error.code, "INVOCATION_REPLAYED");
  // Bob's link allows 0.003 a day: a second 0.0015 fits, a third 0.0005 does not.
  const second = await through(chain, bob, "transaction", {
    tx: ethTx({ nonce: 2, value: "1500000000000000" }),
  });
  assert.equal(second.res.statusCode, 200, second.res.body);
  const third = await through(chain, bob, "transaction", {
    tx: ethTx({ nonce: 3, value: "500000000000000" }),
  });
  assert.equal(third.res.statusCode, 403);
  assert.equal(third.res.json().error.code, "POLICY_DENIED");
  // Alice's own link (0.004 a day) has 0.001 left after bob's 0.003: bob's spends were hers too.
  const aliceOver = await through([root.delegation], alice, "transaction", {
    tx: ethTx({ nonce: 4, value: "1500000000000000" }),
  });
  assert.equal(aliceOver.res.json().error.code, "POLICY_DENIED");
  const aliceFits = await through([root.delegation], alice, "transaction", {
    tx: ethTx({ nonce: 5, value: "1000000000000000" }),
  });
  assert.equal(aliceFits.res.statusCode, 200, aliceFits.res.body);
  // Bob may not sign messages: his link narrowed the commands to transactions.
  const msg = await through(chain, bob, "message", { message: "hello" });
  assert.equal(msg.res.json().error.code, "DELEGATION_COMMAND_NOT_ALLOWED");
  // The audit log names the chain behind each signature.
  const entries = await tv.vault.audit.list(1, 100_000, agent.id);
  const signed = entries.filter((e) => e.type === "sign.signed");
  assert.ok(signed.some((e) => e.actor?.includes(`ucan:${root.cid}.`)));
  const admitted = entries.filter(
    (e) => e.type === "auth.succeeded" && e.data.door === "delegation",
  );
  const bobs = admitted.filter((e) => e.data.holder === bob.did);
  assert.ok(bobs.length > 0);
  // Every invocation is audited with the whole chain behind it.
  for (const e of bobs) {
    assert.equal((e.data.chain as string[]).length, 2);
    assert.match(String(e.data.invocation), /^bafy/);
  }
});

test("revoking a link refuses the next request through it; links above it still work", async () => {
  const [alice, bob] = await Promise.all([holder(), holder()]);
  const root = await rootTo(alice.did);
  const d1 = await redelegate({ chain: [root.delegation], from: alice, audience: bob.did });
  const chain = [root.delegation, d1];
  const ok = await through(chain, bob, "message", { message: "before" });
  assert.equal(ok.res.statusCode, 200, ok.res.body);
  const { Delegation } = await import("../auth/delegation/helpers.js");
  const cid = (await Delegation.fromString(d1)).cid.toString();
  // Bob's link is not a root this vault issued: revoking it takes the operator.
  const byAgent = await tv.app.inject({
    method: "DELETE",
    url: `/v1/delegations/${cid}`,
    headers: agentAuth,
  });
  assert.equal(byAgent.json().error.code, "FORBIDDEN_SCOPE");
  const byAdmin = await tv.app.inject({
    method: "DELETE",
    url: `/v1/delegations/${cid}`,
    headers: tv.admin,
  });
  assert.deepEqual(byAdmin.json(), { cid, revoked: true });
  const refused = await through(chain, bob, "message", { message: "after" });
  assert.equal(refused.res.statusCode, 401);
  assert.equal(refused.res.json().error.code, "DELEGATION_REVOKED");
  const alice2 = await through([root.delegation], alice, "message", { message: "still" });
  assert.equal(alice2.res.statusCode, 200, alice2.res.body);
  // The agent revokes its own root: everything below it goes.
  const rootGone = await tv.app.inject({
    method: "DELETE",
    url: `/v1/delegations/${root.cid}`,
    headers: agentAuth,
  });
  assert.equal(rootGone.json().revoked, true);
  const aliceAfter = await through([root.delegation], alice, "message", { message: "gone" });
  assert.equal(aliceAfter.res.json().error.code, "DELEGATION_REVOKED");
});

test("a holder revokes what it delegated with a signed UCAN; nobody else can", async () => {
  const [alice, bob, carol, mallory] = await Promise.all([holder(), holder(), holder(), holder()]);
  const root = await rootTo(alice.did);
  const toBob = await redelegate({ chain: [root.delegation], from: alice, audience: bob.did });
  const toCarol = await redelegate({
    chain: [root.delegation, toBob],
    from: bob,
    audience: carol.did,
  });
  const path = [root.delegation, toBob, toCarol];
  assert.equal((await through(path, carol, "message", { message: "before" })).res.statusCode, 200);
  const revoke = (by: typeof alice, target: string, claim?: string) =>
    revocation({ by, revoke: target, sub: root.issuer, ...(claim ? { claim } : {}) });
  const post = async (rev: string, p: string[]) => {
    const res = await tv.app.inject({
      method: "POST",
      url: "/v1/revocations",
      payload: { revocation: rev, path: p },
    });
    return { status: res.statusCode, body: res.json() };
  };
  // Not in the path above the link: a stranger, and carol (the link's audience) herself.
  const byMallory = await post(await revoke(mallory, toCarol), path);
  assert.equal(byMallory.body.error.code, "REVOCATION_NOT_ALLOWED");
  assert.equal(
    (await post(await revoke(carol, toBob), path)).body.error.code,
    "REVOCATION_NOT_ALLOWED",
  );
  // A revocation naming alice, signed by mallory.
  const forged = await post(await revoke(mallory, toCarol, alice.did), path);
  assert.equal(forged.body.error.code, "INVOCATION_SIGNATURE_INVALID");
  // A path that is not a chain (bob's link missing) proves nothing.
  assert.equal(
    (await post(await revoke(alice, toCarol), [root.delegation, toCarol])).body.error.code,
    "DELEGATION_AUDIENCE_MISMATCH",
  );
  assert.equal((await through(path, carol, "message", { message: "still" })).res.statusCode, 200);
  // Alice, two links above, revokes bob → carol: carol is refused, bob is not.
  const byAlice = await post(await revoke(alice, toCarol), path);
  assert.equal(byAlice.status, 200, JSON.stringify(byAlice.body));
  assert.equal(byAlice.body.revoked, true);
  const refused = await through(path, carol, "message", { message: "after" });
  assert.equal(refused.res.json().error.code, "DELEGATION_REVOKED");
  const bobStill = await through([root.delegation, toBob], bob, "message", { message: "bob" });
  assert.equal(bobStill.res.statusCode, 200, bobStill.res.body);
  const entry = (await tv.vault.audit.list(1, 100_000))
    .filter((e) => e.type === "delegation.revoked")
    .at(-1);
  assert.equal(entry?.actor, `ucan:${alice.did}`);
});

test("delegating needs the agent's own key with SPEND to move value", async () => {
  const alice = await holder();
  const execOnly = (await tv.issueKey(agent.id, ["EXECUTE"])).auth;
  const res = await tv.app.inject({
    method: "POST",
    url: "/v1/delegations",
    headers: execOnly,
    payload: {
      agentId: agent.id,
      audience: alice.did,
      commands: [TX_CMD],
      caps: { ETH: { maxPerTx: "0.001", maxPer24h: "0.001" } },
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    },
  });
  assert.equal(res.json().error.code, "FORBIDDEN_SCOPE");
  const other = await tv.createAgent(BASIC_POLICY);
  const otherKey = (await tv.issueKey(other.id, ["EXECUTE", "SPEND"])).auth;
  const cross = await tv.app.inject({
    method: "POST",
    url: "/v1/delegations",
    headers: otherKey,
    payload: {
      agentId: agent.id,
      audience: alice.did,
      commands: [TX_CMD],
      caps: {},
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    },
  });
  assert.equal(cross.json().error.code, "FORBIDDEN_AGENT");
});

test("roots carry a Bitstring Status List entry; the signed list sets the bit when the root is revoked", async () => {
  const alice = await holder();
  const root = await rootTo(alice.did);
  const { Delegation } = await import("../auth/delegation/helpers.js");
  const d = await Delegation.fromString(root.delegation);
  const entry = (d.meta as { status: Record<string, string> }).status;
  assert.equal(entry.type, "BitstringStatusListEntry");
  assert.equal(entry.statusPurpose, "revocation");
  const index = Number(entry.statusListIndex);
  const url = new URL(entry.statusListCredential as string);
  const list = async () => {
    const res = await tv.app.inject({ method: "GET", url: url.pathname });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers["content-type"], "application/vc+jwt");
    // The list is signed by the vault's did:key: check it with that key (jose), not our code.
    const did = tv.vault.credentials.did;
    const header = decodeProtectedHeader(res.body);
    assert.equal(header.typ, "vc+jwt");
    const raw = DIDKey.fromString(did).publicKey;
    const x = Buffer.from(raw).toString("base64url");
    const key = await importJWK({ kty: "OKP", crv: "Ed25519", x }, "EdDSA");
    const { payload } = await jwtVerify(res.body, key, { issuer: did, typ: "vc+jwt" });
    const subject = payload.credentialSubject as { encodedList: string; statusPurpose: string };
    assert.equal(subject.statusPurpose, "revocation");
    const bytes = gunzipSync(Buffer.from(subject.encodedList.slice(1), "base64url"));
    assert.ok(bytes.length >= 16_384, "at least 131,072 bits");
    return ((bytes[index >> 3] ?? 0) & (0x80 >> (index & 7))) !== 0;
  };
  assert.equal(await list(), false);
  await tv.app.inject({ method: "DELETE", url: `/v1/delegations/${root.cid}`, headers: agentAuth });
  assert.equal(await list(), true);
});
