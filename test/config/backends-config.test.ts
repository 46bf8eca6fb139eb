/**
 * Signer-backend configuration (src/config/lit.ts, issue 10 "Required" 1): the local default
 * needs nothing, a Lit backend is on only when its variables are set, secrets come from
 * files, and every mistake stops start-up naming the variable without quoting a secret.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, loadConfig } from "../../src/config/index.js";

const dir = mkdtempSync(join(tmpdir(), "av-backends-config-"));
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  chmodSync(path, 0o600);
  return path;
};
const OPERATOR_KEY = `0x${"ab".repeat(32)}`;
const operatorFile = file("operator.key", `${OPERATOR_KEY}\n`);
const apiKeyFile = file("chipotle.key", "sk_live_secret_value_123\n");

test("the default is local with no Lit backend configured", () => {
  const c = loadConfig({});
  assert.deepEqual(c.backends, { defaultBackend: "local" });
});

test("lit-v7: network, optional RPC URL, operator key read from its file", () => {
  const c = loadConfig({
    LIT_V7_NETWORK: "datil-test",
    LIT_V7_RPC_URL: "https://yellowstone-rpc.litprotocol.com",
    LIT_V7_OPERATOR_KEY_FILE: operatorFile,
    LIT_V7_CAPACITY_TOKEN_ID: "1234",
  });
  assert.deepEqual(c.backends.litV7, {
    network: "datil-test",
    rpcUrl: "https://yellowstone-rpc.litprotocol.com",
    operatorKey: OPERATOR_KEY,
    capacityTokenId: "1234",
  });
  const bare = loadConfig({
    LIT_V7_NETWORK: "datil",
    LIT_V7_OPERATOR_KEY_FILE: file("bare.key", "cd".repeat(32)),
  });
  assert.equal(bare.backends.litV7?.operatorKey, `0x${"cd".repeat(32)}`);
  assert.equal(bare.backends.litV7?.rpcUrl, undefined);
});

test("lit-chipotle: base URL without a trailing slash, API key read from its file", () => {
  const c = loadConfig({
    LIT_CHIPOTLE_URL: "https://api.chipotle.litprotocol.com/",
    LIT_CHIPOTLE_API_KEY_FILE: apiKeyFile,
    VAULT_DEFAULT_BACKEND: "lit-chipotle",
  });
  assert.deepEqual(c.backends, {
    defaultBackend: "lit-chipotle",
    chipotle: { url: "https://api.chipotle.litprotocol.com", apiKey: "sk_live_secret_value_123" },
  });
  // Plain http is accepted to this machine only (the test fake, a local tunnel).
  const local = loadConfig({
    LIT_CHIPOTLE_URL: "http://127.0.0.1:4567",
    LIT_CHIPOTLE_API_KEY_FILE: apiKeyFile,
  });
  assert.equal(local.backends.chipotle?.url, "http://127.0.0.1:4567");
});

test("mistakes stop start-up with a message naming the variable and never the secret", () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ VAULT_DEFAULT_BACKEND: "lit" }, /VAULT_DEFAULT_BACKEND must be one of local, lit-v7/],
    [{ VAULT_DEFAULT_BACKEND: "lit-v7" }, /VAULT_DEFAULT_BACKEND is lit-v7 but LIT_V7_NETWORK/],
    [{ VAULT_DEFAULT_BACKEND: "lit-chipotle" }, /LIT_CHIPOTLE_URL is not set/],
    [{ LIT_V7_NETWORK: "habanero" }, /LIT_V7_NETWORK must be one of datil-dev, datil-test, datil/],
    [{ LIT_V7_NETWORK: "datil" }, /LIT_V7_OPERATOR_KEY_FILE is required/],
    [{ LIT_V7_OPERATOR_KEY_FILE: operatorFile }, /set without LIT_V7_NETWORK/],
    [
      { LIT_V7_NETWORK: "datil", LIT_V7_OPERATOR_KEY_FILE: join(dir, "missing") },
      /LIT_V7_OPERATOR_KEY_FILE cannot be read/,
    ],
    [
      { LIT_V7_NETWORK: "datil", LIT_V7_OPERATOR_KEY_FILE: apiKeyFile },
      /LIT_V7_OPERATOR_KEY_FILE must hold a 32-byte hex private key/,
    ],
    [
      {
        LIT_V7_NETWORK: "datil",
        LIT_V7_OPERATOR_KEY_FILE: operatorFile,
        LIT_V7_RPC_URL: "yellowstone",
      },
      /LIT_V7_RPC_URL must be an http\(s\) URL/,
    ],
    [
      {
        LIT_V7_NETWORK: "datil",
        LIT_V7_OPERATOR_KEY_FILE: operatorFile,
        LIT_V7_CAPACITY_TOKEN_ID: "0x12",
      },
      /LIT_V7_CAPACITY_TOKEN_ID must be a decimal token id/,
    ],
    [{ LIT_CHIPOTLE_URL: "https://api.chipotle.litprotocol.com" }, /LIT_CHIPOTLE_API_KEY_FILE/],
    [{ LIT_CHIPOTLE_API_KEY_FILE: apiKeyFile }, /set without LIT_CHIPOTLE_URL/],
    [
      {
        LIT_CHIPOTLE_URL: "http://api.chipotle.litprotocol.com",
        LIT_CHIPOTLE_API_KEY_FILE: apiKeyFile,
      },
      /LIT_CHIPOTLE_URL must use https/,
    ],
    [
      {
        LIT_CHIPOTLE_URL: "https://api.chipotle.litprotocol.com/core/v1/",
        LIT_CHIPOTLE_API_KEY_FILE: apiKeyFile,
      },
      /LIT_CHIPOTLE_URL must be the server's base URL/,
    ],
    [
      { LIT_CHIPOTLE_URL: "https://x.example", LIT_CHIPOTLE_API_KEY_FILE: file("empty", "\n") },
      /LIT_CHIPOTLE_API_KEY_FILE names an empty file/,
    ],
    [
      {
        LIT_CHIPOTLE_URL: "https://x.example",
        LIT_CHIPOTLE_API_KEY_FILE: file("two", "key one\nkey two"),
      },
      /LIT_CHIPOTLE_API_KEY_FILE must hold one key/,
    ],
  ];
  for (const [env, message] of cases) {
    assert.throws(
      () => loadConfig(env),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, `${JSON.stringify(env)}: ${String(err)}`);
        assert.match(err.message, message);
        assert.doesNotMatch(err.message, /sk_live_secret_value_123|abababab/);
        return true;
      },
    );
  }
});
