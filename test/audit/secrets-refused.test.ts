import assert from "node:assert/strict";
import { test } from "node:test";
import { isSecretFieldName } from "../../src/audit/index.js";
import { filledLog } from "./helpers.js";

const refused = { code: "INTERNAL", message: "refusing to audit a secret field" };

test("a secret-named field is refused at any depth and in any case, and nothing is written", async () => {
  const { log } = await filledLog(1);
  for (const data of [
    { key: "abc" },
    { apiKey: "abc" },
    { API_KEY: "abc" },
    { nested: { privateKey: "0x01" } },
    { list: [{ ok: 1 }, { Password: "hunter2" }] },
    { deep: { a: { b: { token: "t" } } } },
    { share: "s" },
    { adminKey: "k" },
    { "secret-key": "k" },
    { secret: null },
  ]) {
    await assert.rejects(log.append({ type: "key.issued", data }), refused);
  }
  assert.equal((await log.head()).seq, 1);
});

test("names that merely contain a secret word are allowed", async () => {
  const { log } = await filledLog(0);
  const data = {
    keyId: "k1",
    publicKey: "0x04ab",
    tokenId: "tok_1",
    jti: "j1",
    scopes: ["sign"],
    shares: 3,
    keys: ["k1"],
    passwordChangedAt: "2025-01-01",
  };
  assert.equal((await log.append({ type: "key.issued", data })).seq, 1);
  assert.equal(isSecretFieldName("keyId"), false);
  assert.equal(isSecretFieldName("Private_Key"), true);
});
