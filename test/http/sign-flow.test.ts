import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Transaction, verifyMessage, verifyTypedData } from "ethers";
import { transferWithAuthorization } from "../helpers/eip3009.js";
import {
  ADMIN_KEY,
  BASE_SEPOLIA,
  BASIC_POLICY,
  ethTx,
  startTestVault,
  type TestVault,
} from "../helpers/vault.js";

let tv: TestVault;
let agent: { id: string; address: string };
let key: { keyId: string; auth: Record<string, string> };

const usdcAuthorization = (to: string, value: string, nonce: string) =>
  transferWithAuthorization(agent.address, to, value, nonce);

before(async () => {
  tv = await startTestVault();
  agent = await tv.createAgent(BASIC_POLICY);
  key = await tv.issueKey(agent.id, ["READ", "EXECUTE", "SPEND"]);
});
after(async () => tv?.stop());

describe("signing through HTTP with the agent's threshold key", () => {
  test("a message signature recovers to the agent's address (EIP-191)", async () => {
    const res = await tv.app.inject({
      method: "POST",
      url: `/v1/agents/${agent.id}/sign/message`,
      headers: key.auth,
      payload: { message: "hello" },
    });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(verifyMessage("hello", body.signature), agent.address);
    assert.equal(body.address, agent.address);
    assert.ok((await tv.vault.audit.get(body.auditSeq))?.type === "sign.signed");
  });

  test("EIP-3009 typed data within the USDC cap is signed and recovers (EIP-712)", async () => {
    const td = usdcAuthorization(
      "0x2222222222222222222222222222222222222222",
      "4000000",
      `0x${"11".repeat(32)}`,
    );
    const res = await tv.app.inject({
      method: "POST",
      url: `/v1/agents/${agent.id}/sign/typed-data`,
      headers: key.auth,
      payload: td,
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(
      verifyTypedData(td.domain, td.types, td.message, res.json().signature),
      agent.address,
    );
  });

  test("an EIP-1559 transaction is signed and serialised by ethers, from the agent", async () => {
    const res = await tv.app.inject({
      method: "POST",
      url: `/v1/agents/${agent.id}/sign/transaction`,
      headers: key.auth,
      payload: { tx: ethTx({ nonce: 7 }) },
    });
    assert.equal(res.statusCode, 200, res.body);
    const tx = Transaction.from(res.json().signedTransaction);
    assert.equal(tx.from, agent.address);
    assert.equal(tx.hash, res.json().hash);
    assert.equal(tx.value, 1_000_000_000_000_000n);
    assert.equal(tx.chainId, BigInt(BASE_SEPOLIA));
  });

  test("the same bytes asked twice return the first signature and do not spend twice", async () => {
    const payload = { tx: ethTx({ nonce: 8 }) };
    const first = await tv.app.inject({
      method: "POST",
      url: `/v1/agents/${agent.id}/sign/transaction`,
      headers: key.auth,
      payload,
    });
    const second = await tv.app.inject({
      method: "POST",
      url: `/v1/agents/${agent.id}/sign/transaction`,
      headers: key.auth,
      payload,
    });
    assert.equal(second.json().signedTransaction, first.json().signedTransaction);
    const repeated = await tv.vault.audit.get(second.json().auditSeq);
    assert.equal(repeated?.type, "sign.repeated");
  });
});

describe("policy is enforced before any signature", () => {
  test("over maxPerTx is refused with the rule, audited, and nothing is signed", async () => {
    const before = (await tv.vault.audit.head()).seq;
    const res = await tv.app.inject({
      method: "POST",
      url: `/v1/agents/${agent.id}/sign/transaction`,
      headers: key.auth,
      payload: { tx: ethTx({ value: "20000000000000000", nonce: 9 }) },
    });
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().error.code, "POLICY_DENIED");
    assert.equal(res.json().error.rule, "maxPerTx");
    const entries = (await tv.vault.audit.list(before + 1, 10)).map((e) => e.type);
    assert.deepEqual(entries, ["auth.succeeded", "sign.requested", "sign.denied"]);
  });

  test("a chain outside the policy is refused (rule chains)", async () => {
    const res = await tv.app.inject({
      method: "POST",
      url: `/v1/agents/${agent.id}/sign/transaction`,
      headers: key.auth,
      payload: { tx: ethTx({ chainId: 1 }) },
    });
    assert.equal(res.json().error.rule, "chains");
  });

  test("USDC transfer calldata to an unknown contract is decoded, never trusted: unlisted contract call is refused", async () => {
    const res = await tv.app.inject({
      method: "POST",
      url: `/v1/agents/${agent.id}/sign/transaction`,
      headers: key.auth,
      payload: {
        tx: ethTx({
          to: "0x3333333333333333333333333333333333333333",
          value: "0",
          data: "0xdeadbeef",
          nonce: 10,
        }),
      },
    });
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().error.rule, "contracts");
  });

  test("an agent without a policy is denied by default", async () => {
    const bare = await tv.createAgent();
    const res = await tv.app.inject({
      method: "POST",
      url: `/v1/agents/${bare.id}/sign/message`,
      headers: tv.admin,
      payload: { message: "x" },
    });
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().error.rule, "no-policy");
  });

  test("a policy change is versioned, audited and applies to the next request", async () => {
    const res = await tv.app.inject({
      method: "PUT",
      url: `/v1/agents/${agent.id}/policy`,
      headers: tv.admin,
      payload: { policy: { ...BASIC_POLICY, allowMessageSigning: false } },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().version, 2);
    const denied = await tv.app.inject({
      method: "POST",
      url: `/v1/agents/${agent.id}/sign/message`,
      headers: key.auth,
      payload: { message: "after" },
    });
    assert.equal(denied.json().error.rule, "allowMessageSigning");
    await tv.app.inject({
      method: "PUT",
      url: `/v1/agents/${agent.id}/policy`,
      headers: tv.admin,
      payload: { policy: BASIC_POLICY },
    });
    const types = (await tv.vault.audit.list(1, 1000)).filter(
      (e) => e.agentId === agent.id && e.type === "policy.changed",
    );
    assert.equal(types.length, 3);
  });
});

describe("scoped API keys", () => {
  test("a key without SPEND can sign a message but not move value", async () => {
    const execOnly = await tv.issueKey(agent.id, ["EXECUTE"]);
    const msg = await tv.app.inject({
      method: "POST",
      url: `/v1/agents/${agent.id}/sign/message`,
      headers: execOnly.auth,
      payload: { message: "m" },
    });
    assert.equal(msg.statusCode, 200, msg.body);
    const tx = await tv.app.inject({
      method: "POST",
      url: `/v1/agents/${agent.id}/sign/transaction`,
      headers: execOnly.auth,
      payload: { tx: ethTx({ nonce: 11 }) },
    });
    assert.equal(tx.statusCode, 403);
    assert.equal(tx.json().error.code, "FORBIDDEN_SCOPE");
  });

  test("a key bound to one agent cannot act for another", async () => {
    const other = await tv.createAgent(BASIC_POLICY);
    const res = await tv.app.inject({
      method: "POST",
      url: `/v1/agents/${other.id}/sign/message`,
      headers: key.auth,
      payload: { message: "m" },
    });
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().error.code, "FORBIDDEN_AGENT");
  });

  test("a READ-only key cannot sign, and agent keys cannot create agents", async () => {
    const readOnly = await tv.issueKey(agent.id, ["READ"]);
    const sign = await tv.app.inject({
      method: "POST",
      url: `/v1/agents/${agent.id}/sign/message`,
      headers: readOnly.auth,
      payload: { message: "m" },
    });
    assert.equal(sign.json().error.code, "FORBIDDEN_SCOPE");
    const create = await tv.app.inject({
      method: "POST",
      url: "/v1/agents",
      headers: key.auth,
      payload: { name: "x" },
    });
    assert.equal(create.json().error.code, "FORBIDDEN_SCOPE");
  });

  test("a revoked key is refused on the very next request", async () => {
    const k = await tv.issueKey(agent.id, ["READ"]);
    const ok = await tv.app.inject({
      method: "GET",
      url: `/v1/agents/${agent.id}`,
      headers: k.auth,
    });
    assert.equal(ok.statusCode, 200);
    const del = await tv.app.inject({
      method: "DELETE",
      url: `/v1/keys/${k.keyId}`,
      headers: tv.admin,
    });
    assert.equal(del.statusCode, 200);
    const after = await tv.app.inject({
      method: "GET",
      url: `/v1/agents/${agent.id}`,
      headers: k.auth,
    });
    assert.equal(after.statusCode, 401);
    assert.equal(after.json().error.code, "INVALID_CREDENTIALS");
  });

  test("revoking a key revokes the keys and tokens issued with it, at any depth", async () => {
    const post = (url: string, headers: Record<string, string>, payload: unknown) =>
      tv.app.inject({ method: "POST", url, headers, payload: payload as object });
    const parent = await tv.issueKey(agent.id, ["READ", "WRITE", "EXECUTE"]);
    const childRes = await post(`/v1/agents/${agent.id}/keys`, parent.auth, {
      scopes: ["READ", "WRITE"],
    });
    assert.equal(childRes.statusCode, 201, childRes.body);
    const child = childRes.json() as { keyId: string; key: string };
    const grandchild = (
      await post(
        `/v1/agents/${agent.id}/keys`,
        { authorization: `Bearer ${child.key}` },
        {
          scopes: ["READ"],
        },
      )
    ).json() as { keyId: string; key: string };
    const token = (
      await post(
        "/v1/tokens",
        { authorization: `Bearer ${child.key}` },
        {
          agentId: agent.id,
          capabilities: ["read"],
        },
      )
    ).json() as { token: string };
    const read = (secret: string) =>
      tv.app.inject({
        method: "GET",
        url: `/v1/agents/${agent.id}`,
        headers: { authorization: `Bearer ${secret}` },
      });
    for (const secret of [child.key, grandchild.key, token.token])
      assert.equal((await read(secret)).statusCode, 200);

    const del = await tv.app.inject({
      method: "DELETE",
      url: `/v1/keys/${parent.keyId}`,
      headers: tv.admin,
    });
    assert.deepEqual(del.json().alsoRevoked.sort(), [child.keyId, grandchild.keyId].sort());
    assert.equal((await read(parent.key)).statusCode, 401);
    assert.equal((await read(child.key)).json().error.code, "INVALID_CREDENTIALS");
    assert.equal((await read(grandchild.key)).json().error.code, "INVALID_CREDENTIALS");
    assert.equal((await read(token.token)).json().error.code, "TOKEN_REVOKED");
  });

  test("below ADMIN, a WRITE key only mints keys within its own scopes (operator keys too)", async () => {
    const writer = (
      await tv.app.inject({
        method: "POST",
        url: "/v1/keys",
        headers: tv.admin,
        payload: { scopes: ["WRITE"] },
      })
    ).json() as { key: string };
    const res = await tv.app.inject({
      method: "POST",
      url: `/v1/agents/${agent.id}/keys`,
      headers: { authorization: `Bearer ${writer.key}` },
      payload: { scopes: ["EXECUTE", "SPEND"] },
    });
    assert.equal(res.statusCode, 403, res.body);
    assert.equal(res.json().error.code, "FORBIDDEN_SCOPE");
  });

  test("missing or unknown bearer credentials get 401 with distinct codes", async () => {
    const none = await tv.app.inject({ method: "GET", url: "/v1/agents" });
    assert.equal(none.json().error.code, "UNAUTHENTICATED");
    const wrong = await tv.app.inject({
      method: "GET",
      url: "/v1/agents",
      headers: { authorization: "Bearer avk_nope" },
    });
    assert.equal(wrong.json().error.code, "INVALID_CREDENTIALS");
  });

  test("keys are shown once and stored only hashed; the audit log holds no secret", async () => {
    const k = await tv.issueKey(agent.id, ["READ"]);
    const row = await tv.vault.store.key(k.keyId);
    assert.ok(row && row.hash !== k.key && !JSON.stringify(row).includes(k.key));
    const log = JSON.stringify(await tv.vault.audit.list(1, 10_000));
    assert.ok(!log.includes(k.key));
    assert.ok(!log.includes(ADMIN_KEY), "the admin key itself");
  });
});
