import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  ConfigError,
  loadConfig,
  loadFacilitatorConfig,
  parseThreshold,
} from "../../src/config/index.js";

test("defaults: 127.0.0.1:8080, ./data, 2-of-3", () => {
  const c = loadConfig({});
  assert.equal(c.host, "127.0.0.1");
  assert.equal(c.port, 8080);
  assert.equal(c.dataDir, "./data");
  assert.deepEqual(c.threshold, { t: 2, n: 3 });
  assert.equal(c.adminKey, undefined);
  assert.equal(c.trustProxy, false);
  // Compliance proofs: a size that fits the shipped development ptau, set up on first start.
  assert.deepEqual(c.zk, { n: 11, depth: 4, setup: "auto", system: "groth16", leaseMs: 30_000 });
  assert.equal(loadConfig({ VAULT_ZK_LEASE_MS: "1500" }).zk.leaseMs, 1500);
  assert.throws(() => loadConfig({ VAULT_ZK_LEASE_MS: "10" }), ConfigError);
  assert.equal(loadConfig({ VAULT_ZK_SETUP: "off" }).zk.setup, "off");
  assert.equal(loadConfig({ VAULT_ZK_SYSTEM: "plonk" }).zk.system, "plonk");
  const proxied = loadConfig({ VAULT_TRUST_PROXY: "10.0.0.1, 192.168.0.0/16" });
  assert.equal(proxied.trustProxy, "10.0.0.1,192.168.0.0/16");
  assert.equal(c.tls, undefined);
  assert.deepEqual(c.auth.trustAnchors, []);
});

test("TLS makes the default URL https; trust anchors are did:web DIDs of hosts", () => {
  const c = loadConfig({
    VAULT_TLS_CERT_FILE: "/etc/vault/cert.pem",
    VAULT_TLS_KEY_FILE: "/etc/vault/key.pem",
    VAULT_PORT: "8443",
    VAULT_TRUST_ANCHORS: '["did:web:anchor.example", "did:web:127.0.0.1%3A9443"]',
  });
  assert.deepEqual(c.tls, { certFile: "/etc/vault/cert.pem", keyFile: "/etc/vault/key.pem" });
  assert.equal(c.url, "https://127.0.0.1:8443");
  assert.deepEqual(c.auth.trustAnchors, ["did:web:anchor.example", "did:web:127.0.0.1%3A9443"]);
});

test("bad values stop start-up with a message naming the variable", () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ VAULT_PORT: "80a" }, /VAULT_PORT/],
    [{ VAULT_PORT: "70000" }, /VAULT_PORT/],
    [{ VAULT_THRESHOLD: "3" }, /VAULT_THRESHOLD/],
    [{ VAULT_THRESHOLD: "1-of-3" }, /VAULT_THRESHOLD/],
    [{ VAULT_THRESHOLD: "4-of-3" }, /VAULT_THRESHOLD/],
    [{ VAULT_ADMIN_KEY: "short" }, /VAULT_ADMIN_KEY/],
    [{ VAULT_ADMIN_KEY: `${"a".repeat(32)}.b` }, /VAULT_ADMIN_KEY/],
    [{ VAULT_ADMIN_KEY: `${"a".repeat(32)} b` }, /VAULT_ADMIN_KEY/],
    [{ VAULT_HOST: "bad host!" }, /VAULT_HOST/],
    [{ VAULT_PRESIG_POOL: "-1" }, /VAULT_PRESIG_POOL/],
    [{ VAULT_NODE_WARM_PRESIGS: "-1" }, /VAULT_NODE_WARM_PRESIGS/],
    [{ VAULT_SIGN_REQUIRES_PRESENTATION: "yes" }, /VAULT_SIGN_REQUIRES_PRESENTATION/],
    [{ VAULT_TRUST_PROXY: "everyone" }, /VAULT_TRUST_PROXY/],
    [{ VAULT_TRUST_PROXY: "true" }, /VAULT_TRUST_PROXY/],
    [{ VAULT_ZK_SETUP: "yes" }, /VAULT_ZK_SETUP/],
    [{ VAULT_ZK_SYSTEM: "fflonk" }, /VAULT_ZK_SYSTEM/],
    [{ VAULT_DELEGATION_MAX_DEPTH: "0" }, /VAULT_DELEGATION_MAX_DEPTH/],
    [{ VAULT_DELEGATION_MAX_DEPTH: "65" }, /VAULT_DELEGATION_MAX_DEPTH/],
    [{ VAULT_REVOCATION_STALE_MS: "99" }, /VAULT_REVOCATION_STALE_MS/],
    [{ VAULT_REVOCATION_STALE_MS: "2s" }, /VAULT_REVOCATION_STALE_MS/],
    [{ VAULT_TLS_CERT_FILE: "/tmp/cert.pem" }, /VAULT_TLS_KEY_FILE/],
    [{ VAULT_TLS_KEY_FILE: "/tmp/key.pem" }, /VAULT_TLS_CERT_FILE/],
    [{ VAULT_TRUST_ANCHORS: "did:web:a.example" }, /VAULT_TRUST_ANCHORS/],
    [{ VAULT_TRUST_ANCHORS: '["did:key:z6Mk"]' }, /VAULT_TRUST_ANCHORS\[0\]/],
    [{ VAULT_TRUST_ANCHORS: '["did:web:a.example:path"]' }, /VAULT_TRUST_ANCHORS\[0\]/],
    [{ VAULT_TRUSTED_MANDATE_ISSUERS: '[{"issuer":"https://w.example"}]' }, /\[0\]\.jwks/],
    [{ VAULT_TRUSTED_MANDATE_ISSUERS: '[{"jwks":{"keys":[]}}]' }, /\[0\]\.issuer/],
  ];
  for (const [env, message] of cases) {
    assert.throws(
      () => loadConfig(env),
      (err: unknown) => err instanceof ConfigError && message.test(err.message),
    );
  }
});

test("thresholds must be majorities, so any two quorums share a node", () => {
  assert.deepEqual(parseThreshold("3-of-5"), { t: 3, n: 5 });
  assert.deepEqual(parseThreshold("2-of-2"), { t: 2, n: 2 });
  assert.throws(() => parseThreshold("2-of-4"), /majority/);
  assert.throws(() => parseThreshold("2-of-5"), /majority/);
});

test("the facilitator's key comes from FACILITATOR_KEY or a file, and is checked", () => {
  const key = `0x${"ab".repeat(32)}`;
  assert.equal(loadFacilitatorConfig({ FACILITATOR_KEY: key }).privateKey, key);
  const file = join(mkdtempSync(join(tmpdir(), "av-fac-")), "key");
  writeFileSync(file, `${key}\n`);
  assert.equal(loadFacilitatorConfig({ FACILITATOR_KEY_FILE: file }).privateKey, key);
  const refused: Array<Record<string, string>> = [
    {},
    { FACILITATOR_KEY: "0x1234" },
    { FACILITATOR_KEY_FILE: join(tmpdir(), "av-no-such-file") },
  ];
  for (const env of refused) assert.throws(() => loadFacilitatorConfig(env), ConfigError);
});
