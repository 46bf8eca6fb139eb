/**
 * The bytes signed are the bytes sent: no schema coercion, canonical integers only, valid
 * UTF-8 text only, bounded nesting, and an empty JSON body meaning "no body".
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { getBytes, Transaction, verifyMessage } from "ethers";
import { BASIC_POLICY, ethTx, startTestVault, type TestVault } from "../helpers/vault.js";

let tv: TestVault;
let agent: { id: string; address: string };
let auth: Record<string, string>;

before(async () => {
  tv = await startTestVault();
  agent = await tv.createAgent(BASIC_POLICY);
  auth = (await tv.issueKey(agent.id, ["EXECUTE", "SPEND", "READ"])).auth;
});
after(async () => tv?.stop());

const json = { "content-type": "application/json" };
const post = (url: string, payload: string | Buffer, headers = auth) =>
  tv.app.inject({ method: "POST", url, headers: { ...headers, ...json }, payload });
const signTx = (tx: Record<string, unknown>) =>
  post(`/v1/agents/${agent.id}/sign/transaction`, JSON.stringify({ tx }));
const signMessage = (payload: string | Buffer) =>
  post(`/v1/agents/${agent.id}/sign/message`, payload);

function assertRefused(res: Awaited<ReturnType<typeof post>>, code: string, field?: string) {
  assert.equal(res.statusCode, 400, res.body);
  assert.equal(res.json().error.code, code);
  if (field) {
    assert.equal(res.json().error.field, field);
    assert.match(res.json().error.message, new RegExp(`body\\.${field.replace(".", "\\.")} `));
  }
}

test("a JSON number beyond 2^53 for value is refused, never signed as its rounded double", async () => {
  const body = JSON.stringify({ tx: ethTx() }).replace(
    '"value":"1000000000000000"',
    '"value":123456789012345678901',
  );
  assert.match(body, /"value":123456789012345678901,/);
  assertRefused(await post(`/v1/agents/${agent.id}/sign/transaction`, body), "VALIDATION_FAILED");
  const res = await post(`/v1/agents/${agent.id}/sign/transaction`, body);
  assert.equal(res.json().error.field, "tx.value");
});

test("an unsafe JSON integer for nonce is refused (only safe integers are numbers)", async () => {
  const res = await signTx(ethTx({ nonce: 2 ** 53 }));
  assertRefused(res, "VALIDATION_FAILED", "tx.nonce");
});

for (const form of ["1e3", " 7", "0X10", "0b101", "0o17", "1.0"]) {
  test(`the non-canonical integer string ${JSON.stringify(form)} is refused for value, nonce and gasLimit`, async () => {
    for (const field of ["value", "nonce", "gasLimit"]) {
      assertRefused(await signTx(ethTx({ [field]: form })), "VALIDATION_FAILED", `tx.${field}`);
    }
  });
}

test("fees accept strings only: a JSON number for maxFeePerGas is refused", async () => {
  assertRefused(await signTx(ethTx({ maxFeePerGas: 1000000000 })), "VALIDATION_FAILED");
});

test("canonical decimal and 0x-hex strings and safe integers are signed as sent", async () => {
  const res = await signTx(
    ethTx({ value: "0x2386f26fc10000", nonce: "0x7", gasLimit: 21000, maxFeePerGas: "1000000000" }),
  );
  assert.equal(res.statusCode, 200, res.body);
  const tx = Transaction.from(res.json().signedTransaction);
  assert.equal(tx.value, 10n ** 16n);
  assert.equal(tx.nonce, 7);
  assert.equal(tx.gasLimit, 21000n);
  assert.equal(tx.from, agent.address);
});

test("tx.data must be whole bytes; a proof bound must be a canonical decimal", async () => {
  for (const data of ["0x123", "0xzz", "a9059cbb"]) {
    assertRefused(await signTx(ethTx({ data })), "VALIDATION_FAILED", "tx.data");
  }
  for (const bound of ["007", "1e3", " 7", "0x10"]) {
    const payload = JSON.stringify({ agentId: agent.id, fromSeq: 1, toSeq: 2, bound });
    assertRefused(await post("/v1/proofs", payload, tv.admin), "VALIDATION_FAILED", "bound");
  }
});

test("query integers: canonical decimals are read, other forms are refused", async () => {
  const ok = await tv.app.inject({ url: "/v1/audit?fromSeq=2&limit=3", headers: tv.admin });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal(ok.json().entries.length, 3);
  assert.equal(ok.json().entries[0].seq, 2);
  for (const bad of ["1e3", "0x10", "%207", "1.0"]) {
    const res = await tv.app.inject({ url: `/v1/audit?fromSeq=${bad}`, headers: tv.admin });
    assert.equal(res.statusCode, 400, `${bad}: ${res.body}`);
    assert.equal(res.json().error.field, "fromSeq");
  }
});

test("invalid UTF-8 in a message is refused with INVALID_UTF8, never signed as U+FFFD", async () => {
  const head = (await tv.vault.audit.head()).seq;
  const raw = Buffer.concat([
    Buffer.from('{"message":"pay '),
    Buffer.from([0xff, 0xc3, 0x28]),
    Buffer.from('"}'),
  ]);
  assertRefused(await signMessage(raw), "INVALID_UTF8");
  assert.equal((await tv.vault.audit.head()).seq, head, "nothing was signed");
});

test("a lone surrogate escaped in JSON is not text: refused with INVALID_UTF8", async () => {
  assertRefused(await signMessage('{"message":"a\\ud800b"}'), "INVALID_UTF8");
  assertRefused(await signMessage('{"message":"x","\\udfff":1}'), "INVALID_UTF8");
});

test("valid UTF-8 text is signed as itself; arbitrary bytes go as encoding hex", async () => {
  const text = "héllo ✓ 🙂 \ud83d\ude00";
  const res = await signMessage(JSON.stringify({ message: text }));
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(verifyMessage(text, res.json().signature), agent.address);
  const bytes = await signMessage(JSON.stringify({ message: "0xff00c328", encoding: "hex" }));
  assert.equal(bytes.statusCode, 200, bytes.body);
  assert.equal(verifyMessage(getBytes("0xff00c328"), bytes.json().signature), agent.address);
  for (const bad of ["hello", "0xabc", "0xzz"]) {
    const res = await signMessage(JSON.stringify({ message: bad, encoding: "hex" }));
    assertRefused(res, "VALIDATION_FAILED", "message");
  }
});

test("a 100,000-deep array is 400 BODY_TOO_DEEP, not 500; 32 levels still parse", async () => {
  const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
  assertRefused(await signMessage(`{"message":${deep}}`), "BODY_TOO_DEEP");
  assertRefused(await signMessage(deep), "BODY_TOO_DEEP");
  // A key or string holding brackets does not count as nesting.
  assert.equal((await signMessage(JSON.stringify({ message: "[".repeat(100) }))).statusCode, 200);
  const d32 = `{"message":"x","n":${"[".repeat(31)}${"]".repeat(31)}}`;
  assertRefused(await signMessage(d32), "VALIDATION_FAILED", "n");
  const d33 = `{"message":"x","n":${"[".repeat(32)}${"]".repeat(32)}}`;
  assertRefused(await signMessage(d33), "BODY_TOO_DEEP");
  const after = await tv.app.inject({ url: "/healthz" });
  assert.equal(after.statusCode, 200);
});

test("a body over VAULT_BODY_LIMIT is 413 BODY_TOO_LARGE", async () => {
  const res = await signMessage(JSON.stringify({ message: "x".repeat(300_000) }));
  assert.equal(res.statusCode, 413);
  assert.equal(res.json().error.code, "BODY_TOO_LARGE");
});

test("a route that needs a body still refuses an empty one with VALIDATION_FAILED", async () => {
  assertRefused(await signMessage(""), "VALIDATION_FAILED");
});

const bodyless = (method: "DELETE" | "POST", url: string, headers: Record<string, string>) =>
  tv.app.inject({ method, url, headers: { ...headers, ...json } });

test("DELETE /v1/keys/:id with content-type JSON and no body revokes the key", async () => {
  const victim = await tv.issueKey(agent.id, ["READ"]);
  assert.equal(
    (await tv.app.inject({ url: `/v1/agents/${agent.id}`, headers: victim.auth })).statusCode,
    200,
  );
  const res = await bodyless("DELETE", `/v1/keys/${victim.keyId}`, tv.admin);
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().revoked, true);
  const after = await tv.app.inject({ url: `/v1/agents/${agent.id}`, headers: victim.auth });
  assert.equal(after.statusCode, 401);
});

test("POST /v1/audit/checkpoints with content-type JSON and no body signs a checkpoint", async () => {
  const before = (await tv.vault.audit.checkpoints.list()).length;
  const res = await bodyless("POST", "/v1/audit/checkpoints", tv.admin);
  assert.equal(res.statusCode, 200, res.body);
  assert.ok(res.json().checkpoint);
  assert.ok((await tv.vault.audit.checkpoints.list()).length > before);
});

test("POST /v1/tokens/keys/rotate with content-type JSON and no body rotates the key", async () => {
  const before = (await tv.app.inject({ url: "/.well-known/jwks.json" })).json().keys;
  const res = await bodyless("POST", "/v1/tokens/keys/rotate", tv.admin);
  assert.equal(res.statusCode, 200, res.body);
  assert.ok(!before.some((k: { kid: string }) => k.kid === res.json().kid));
});
