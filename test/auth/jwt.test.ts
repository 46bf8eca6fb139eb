import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { exportJWK, generateKeyPair, SignJWT } from "jose";

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

import { openAuditLog } from "../../src/audit/log.js";
import type { AuditLog } from "../../src/audit/types.js";
import { createApiKeyService, type Principal, type Scope } from "../../src/auth/apikey/index.js";
import { createTokenService, type TokenService } from "../../src/auth/jwt/index.js";
import { openTokenKeyStore, type TokenKeyStore } from "../../src/auth/jwt/keys.js";
import { type AuthConfig, parseAuthConfig } from "../../src/config/auth.js";
import { openDatabase } from "../../src/store/db.js";
import { createSqliteSql } from "../../src/store/sql/sqlite.js";
import type { Sql } from "../../src/store/sql/types.js";
import { openVaultStore } from "../../src/store/vault-store.js";
import { type Fixture, onBothEngines } from "../helpers/engines.js";
import { codeOf } from "../helpers/errors.js";

const admin: Principal = {
  kind: "operator",
  keyId: "admin",
  agentId: null,
  scopes: new Set<Scope>(["ADMIN"]),
};
let clock = Date.now();
const now = () => clock;
let sql: Sql;
let audit: AuditLog;
let keys: TokenKeyStore;
let svc: TokenService;
let server: Server;
let otherKey: PrivateKey;
let otherPub: Record<string, unknown>;
let urlKey: PrivateKey;

function foreign(
  key: PrivateKey,
  claims: Record<string, unknown>,
  o: { iss?: string; aud?: string; kid?: string; exp?: number } = {},
) {
  const iat = Math.floor(clock / 1000);
  return new SignJWT({ agent_id: "agt_x", capabilities: ["read"], operator_id: "other", ...claims })
    .setProtectedHeader({ alg: "EdDSA", kid: o.kid ?? "k1" })
    .setIssuer(o.iss ?? "https://other.example")
    .setAudience(o.aud ?? "urn:agent-vault:local")
    .setIssuedAt(iat)
    .setExpirationTime(o.exp ?? iat + 300)
    .setJti(`ext_${Math.random()}`)
    .sign(key);
}

before(async () => {
  const a = await generateKeyPair("EdDSA", { extractable: true });
  otherKey = a.privateKey;
  otherPub = { ...(await exportJWK(a.publicKey)), kid: "k1", alg: "EdDSA" };
  const b = await generateKeyPair("EdDSA", { extractable: true });
  urlKey = b.privateKey;
  const urlJwks = { keys: [{ ...(await exportJWK(b.publicKey)), kid: "u1", alg: "EdDSA" }] };
  server = createServer((_req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(urlJwks));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const config: AuthConfig = parseAuthConfig({
    VAULT_TRUSTED_ISSUERS: JSON.stringify([
      { issuer: "https://other.example", jwks: { keys: [otherPub] }, operatorId: "other" },
      {
        issuer: "https://by-url.example",
        jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
        operatorId: "third",
        capabilities: ["read"],
      },
    ]),
  });
  sql = createSqliteSql(openDatabase(":memory:"));
  audit = await openAuditLog(sql);
  keys = await openTokenKeyStore(sql, { passphrase: "test-passphrase", now });
  svc = await createTokenService({ sql, audit, keys, config, now });
});
after(async () => {
  server?.close();
  await sql?.close();
});

const issue = (extra: Record<string, unknown> = {}) =>
  svc.issue(
    { agentId: "agt_a", capabilities: ["read", "execute"], ttlSeconds: 600, ...extra },
    admin,
    "test",
  );

const code = codeOf;

test("an issued token verifies to an agent principal with its capabilities as scopes", async () => {
  const t = await issue({ task: "task-1" });
  const p = await svc.verify(t.token, { taskId: "task-1" });
  assert.equal(p.agentId, "agt_a");
  assert.equal(p.kind, "agent");
  assert.deepEqual([...p.scopes].sort(), ["EXECUTE", "READ"]);
  assert.equal(p.taskId, "task-1");
  assert.equal(p.jti, t.jti);
  const header = JSON.parse(Buffer.from(t.token.split(".")[0] as string, "base64url").toString());
  assert.equal(header.alg, "EdDSA");
  assert.equal(header.kid, t.kid);
  const claims = JSON.parse(Buffer.from(t.token.split(".")[1] as string, "base64url").toString());
  for (const c of [
    "agent_id",
    "capabilities",
    "operator_id",
    "issued_for_task",
    "iat",
    "exp",
    "jti",
  ])
    assert.ok(c in claims, c);
  const entry = (await audit.list(1, 100)).find((e) => e.type === "token.issued");
  assert.ok(entry && !JSON.stringify(entry.data).includes(t.token));
});

test("capabilities must lie within the issuer's scopes; ttl at most 3600 s", async () => {
  const agentKey: Principal = {
    kind: "agent",
    keyId: "key_1",
    agentId: "agt_a",
    scopes: new Set<Scope>(["READ", "WRITE"]),
  };
  assert.equal(
    await code(
      svc.issue({ agentId: "agt_a", capabilities: ["execute"], ttlSeconds: 60 }, agentKey, "t"),
    ),
    "FORBIDDEN_SCOPE",
  );
  assert.equal(
    await code(
      svc.issue({ agentId: "agt_a", capabilities: ["read"], ttlSeconds: 60 }, agentKey, "t"),
    ),
    "accepted",
  );
  assert.equal(await code(issue({ ttlSeconds: 3601 })), "VALIDATION_FAILED");
  assert.equal(await code(issue({ capabilities: ["admin"] })), "VALIDATION_FAILED");
});

test("task binding: the header is required and must name the token's task", async () => {
  const t = await issue({ task: "task-1" });
  assert.equal(await code(svc.verify(t.token, {})), "TASK_MISMATCH");
  assert.equal(await code(svc.verify(t.token, { taskId: "task-2" })), "TASK_MISMATCH");
  const free = await issue();
  assert.equal(await code(svc.verify(free.token, { taskId: "anything" })), "accepted");
});

test("bad tokens are refused with a specific code each", async () => {
  const t = await issue();
  const [h, p, s] = t.token.split(".") as [string, string, string];
  // Change one character that carries signature bits (the 10th), whatever it was.
  const flipped = `${s.slice(0, 9)}${s[9] === "A" ? "B" : "A"}${s.slice(10)}`;
  const cases: Array<[string, string]> = [
    ["not-a-jwt.x", "TOKEN_MALFORMED"],
    ["a.b.c", "TOKEN_MALFORMED"],
    ["x".repeat(9000), "TOKEN_MALFORMED"],
    [`${h}.${p}.${flipped}`, "SIGNATURE_INVALID"],
    [await foreign(otherKey, {}, { iss: "https://nobody.example" }), "ISSUER_UNKNOWN"],
    [await foreign(otherKey, {}, { aud: "urn:agent-vault:someone-else" }), "AUDIENCE_MISMATCH"],
    [await foreign(otherKey, {}, { exp: Math.floor(clock / 1000) - 60 }), "TOKEN_EXPIRED"],
    [await foreign(otherKey, {}, { kid: "unknown" }), "SIGNATURE_INVALID"],
    [await foreign(urlKey, {}, { kid: "k1" }), "SIGNATURE_INVALID"],
    [await foreign(otherKey, { operator_id: "impostor" }), "TOKEN_INVALID"],
    [await foreign(otherKey, { agent_id: 7 }), "TOKEN_INVALID"],
  ];
  for (const [jwt, expected] of cases) {
    assert.equal(await code(svc.verify(jwt, {})), expected, `${expected}: ${jwt.slice(0, 40)}`);
  }
  // A token of this vault signed by a key it does not hold.
  const forged = await new SignJWT({
    agent_id: "agt_a",
    capabilities: ["read"],
    operator_id: "local",
  })
    .setProtectedHeader({ alg: "EdDSA", kid: t.kid })
    .setIssuer("urn:agent-vault:local")
    .setAudience("urn:agent-vault:local")
    .setIssuedAt()
    .setExpirationTime("5m")
    .setJti("forged")
    .sign(otherKey);
  assert.equal(await code(svc.verify(forged, {})), "SIGNATURE_INVALID");
  // Own tokens expire.
  const short = await issue({ ttlSeconds: 1 });
  clock += 2000;
  assert.equal(await code(svc.verify(short.token, {})), "TOKEN_EXPIRED");
});

test("trusted issuers: inline JWKS and a JWKS URL on loopback, with a capability ceiling", async () => {
  const a = await svc.verify(
    await foreign(otherKey, { capabilities: ["read", "execute", "bogus"] }),
    {},
  );
  assert.equal(a.issuer, "https://other.example");
  assert.deepEqual([...a.scopes].sort(), ["EXECUTE", "READ"]);
  const b = await svc.verify(
    await foreign(
      urlKey,
      { operator_id: "third", capabilities: ["read", "spend"] },
      {
        iss: "https://by-url.example",
        kid: "u1",
      },
    ),
    {},
  );
  assert.deepEqual([...b.scopes], ["READ"]);
});

test("revocation takes effect on the next verification; the check costs microseconds", async () => {
  const t = await issue();
  assert.equal(await code(svc.verify(t.token, {})), "accepted");
  await svc.revoke(t.jti, "test");
  assert.equal(await code(svc.verify(t.token, {})), "TOKEN_REVOKED");
  const n = 20_000;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await svc.isRevoked(`tok_${i}`);
  const us = Number(process.hrtime.bigint() - start) / 1000 / n;
  console.log(`# revocation check: ${us.toFixed(2)} µs per lookup (${n} lookups)`);
  const fresh = await issue();
  await svc.verify(fresh.token, {});
  const vstart = process.hrtime.bigint();
  for (let i = 0; i < 200; i++) await svc.verify(fresh.token, {});
  const vus = Number(process.hrtime.bigint() - vstart) / 1000 / 200;
  console.log(`# full verification of a vault token: ${vus.toFixed(0)} µs`);
  assert.ok(us < 200);
});

test("rotation: old tokens stay valid, the old key leaves the JWKS once its tokens expired", async () => {
  const old = await issue({ ttlSeconds: 120 });
  const r = await svc.rotate("test");
  assert.equal(r.retired, old.kid);
  const fresh = await issue({ ttlSeconds: 60 });
  assert.equal(fresh.kid, r.kid);
  assert.equal(await code(svc.verify(old.token, {})), "accepted");
  let kids = (await svc.jwks()).keys.map((k) => k.kid);
  assert.ok(kids.includes(old.kid) && kids.includes(r.kid), `both kids: ${kids}`);
  assert.ok((await svc.jwks()).keys.every((k) => !("d" in k)));
  clock += 700_000; // past the 600 s tokens the old key signed in earlier tests
  kids = (await svc.jwks()).keys.map((k) => k.kid);
  assert.ok(!kids.includes(old.kid), `old gone: ${kids}`);
  assert.ok(kids.includes(r.kid), `new kept: ${kids}`);
  // The private key is stored encrypted, never in clear.
  const row = await sql.get<{ private_pem: string }>(
    "SELECT private_pem FROM token_keys WHERE kid = $1",
    [r.kid],
  );
  assert.match(row?.private_pem ?? "", /ENCRYPTED PRIVATE KEY/);
});

test("bounded storage: foreign tokens older than a day are refused; expired tokens and revocations are forgotten", async () => {
  const count = async (table: string) =>
    Number((await sql.get<{ n: number }>(`SELECT count(*) AS n FROM ${table}`))?.n);
  // A foreign token that claims a week of life is refused once it is a day old.
  const long = await foreign(otherKey, {}, { exp: Math.floor(clock / 1000) + 7 * 86_400 });
  assert.equal(await code(svc.verify(long, {})), "accepted");
  clock += 86_400_000 + 10_000;
  assert.equal(await code(svc.verify(long, {})), "TOKEN_EXPIRED");

  const t = await issue({ ttlSeconds: 60 });
  await svc.revoke(t.jti, "test");
  await svc.revoke("ext_foreign_jti", "test"); // a jti this vault never issued
  const before = [await count("tokens"), await count("token_revocations")];
  assert.equal((await svc.issuedFor(t.jti))?.agentId, "agt_a");
  clock += 2 * 86_400_000;
  await issue({ ttlSeconds: 60 }); // issuing prunes expired tokens
  await svc.revoke("another", "test"); // revoking prunes stale revocations
  assert.equal(before[1], 2);
  assert.equal(await svc.issuedFor(t.jti), undefined, "the expired token's row is pruned");
  assert.equal(await count("tokens"), 1, "only the fresh token is kept");
  assert.equal(await count("token_revocations"), 1, "only the fresh revocation is kept");
});

test("a token is not recorded for a key revoked while it was being signed", async () => {
  const revoked = new Set<string>();
  const guarded = await createTokenService({
    sql,
    audit,
    keys,
    config: parseAuthConfig({}),
    now,
    keyIsLive: async (keyId) => !revoked.has(keyId),
  });
  const by: Principal = { ...admin, keyId: "key_w", scopes: new Set<Scope>(["WRITE", "READ"]) };
  const req = { agentId: "agt_a", capabilities: ["read"], ttlSeconds: 60 };
  assert.ok((await guarded.issue(req, by, "test")).token);
  revoked.add("key_w"); // what DELETE /v1/keys/key_w does between sign() and the insert
  assert.equal(await code(guarded.issue(req, by, "test")), "INVALID_CREDENTIALS");
});

/** A vault replica's token side on `sql`: its store, audit log, keys, tokens and API keys. */
async function replica(sql: Sql, onRevokedFails = false) {
  const store = await openVaultStore(sql);
  const log = await openAuditLog(sql);
  const tokenKeys = await openTokenKeyStore(sql, { passphrase: "p" });
  const tokens = await createTokenService({
    sql,
    audit: log,
    keys: tokenKeys,
    config: parseAuthConfig({}),
    keyIsLive: async (keyId) => (await store.key(keyId))?.revokedAt === null,
  });
  const apiKeys = createApiKeyService({
    store,
    audit: log,
    onRevoked: async (keyIds, actor) => {
      await tokens.revokeIssuedWith(keyIds, actor);
      if (onRevokedFails) throw new Error("the tokens' revocation failed");
    },
  });
  return { store, log, tokenKeys, tokens, apiKeys };
}

const agentKey = (keyId: string): Principal => ({
  kind: "agent",
  keyId,
  agentId: "agt_a",
  scopes: new Set<Scope>(["READ", "WRITE"]),
});
const readToken = { agentId: "agt_a", capabilities: ["read"], ttlSeconds: 600 };

onBothEngines({
  "replicas opening together make one key per purpose; a rotation on one is active on the other":
    async (f: Fixture) => {
      const [a, b] = await Promise.all([
        openTokenKeyStore(f.open(), { passphrase: "p" }),
        openTokenKeyStore(f.open(), { passphrase: "p" }),
      ]);
      const [ka, kb] = await Promise.all([a.active(), b.active()]);
      assert.equal(ka.kid, kb.kid, "one token key");
      assert.deepEqual(
        a.credentialKey().publicKey.export({ format: "jwk" }),
        b.credentialKey().publicKey.export({ format: "jwk" }),
        "one credential key",
      );
      const r = await a.rotate();
      assert.equal(r.retired, ka.kid);
      assert.equal((await b.active()).kid, r.kid, "the other replica signs with the new key");
      await b.noteIssued(ka.kid, Date.now() + 60_000);
      assert.ok(await b.publicKey(ka.kid), "the retired key verifies while its tokens live");
      const kids = (await a.jwks()).keys.map((k) => k.kid);
      assert.deepEqual(kids.sort(), [ka.kid, r.kid].sort());
    },

  "revoking a key revokes its tree and the tokens issued against it, even while another replica issues":
    async (f: Fixture) => {
      const a = await replica(f.open());
      const b = await replica(f.open());
      const parent = await a.apiKeys.issue(null, ["READ", "WRITE"], "test");
      const child = await a.apiKeys.issue(null, ["READ"], "test", parent.keyId);
      const before = await b.tokens.issue(readToken, agentKey(child.keyId), "test");
      // Replica b issues against the child while replica a revokes the parent.
      const [issued, revoked] = await Promise.all([
        Promise.allSettled(
          Array.from({ length: 10 }, () =>
            b.tokens.issue(readToken, agentKey(child.keyId), "test"),
          ),
        ),
        a.apiKeys.revoke(parent.keyId, "test"),
      ]);
      assert.deepEqual(revoked.sort(), [parent.keyId, child.keyId].sort());
      for (const r of issued) {
        if (r.status === "rejected") assert.equal(r.reason.code, "INVALID_CREDENTIALS");
      }
      // Every token the ledger holds for the child is revoked: none outlived its key.
      const held = await f
        .open()
        .all<{ jti: string }>("SELECT jti FROM tokens WHERE key_id = $1", [child.keyId]);
      assert.ok(held.some((t) => t.jti === before.jti));
      for (const t of held) assert.equal(await a.tokens.isRevoked(t.jti), true, t.jti);
      // One audit entry per revoked key and per revoked token, on one chain.
      const entries = await a.log.list(1, 1000);
      const keyEntries = entries.filter((e) => e.type === "key.revoked");
      assert.deepEqual(
        keyEntries.map((e) => e.data.keyId).sort(),
        [parent.keyId, child.keyId].sort(),
      );
      const tokenEntries = entries.filter((e) => e.type === "token.revoked");
      assert.deepEqual(tokenEntries.map((e) => e.data.jti).sort(), held.map((t) => t.jti).sort());
      assert.equal((await a.log.verify()).ok, true);
      assert.deepEqual(await a.apiKeys.revoke(parent.keyId, "test"), [], "nothing left to revoke");
    },

  "a revocation whose tokens cannot be revoked leaves the keys live and nothing audited": async (
    f: Fixture,
  ) => {
    const a = await replica(f.open(), true);
    const k = await a.apiKeys.issue(null, ["READ", "WRITE"], "test");
    const t = await a.tokens.issue(readToken, agentKey(k.keyId), "test");
    const head = await a.log.head();
    await assert.rejects(a.apiKeys.revoke(k.keyId, "test"), /the tokens' revocation failed/);
    assert.equal((await a.apiKeys.get(k.keyId)).revoked, false);
    assert.equal(await a.tokens.isRevoked(t.jti), false);
    assert.deepEqual(await a.log.head(), head);
    assert.ok(await a.apiKeys.authenticate(k.key));
  },

  "a tokens table from before key_id is adopted with its rows": {
    only: "sqlite",
    run: async (f: Fixture) => {
      const db = openDatabase(f.file as string);
      db.exec(`CREATE TABLE tokens (
        jti TEXT PRIMARY KEY, agent_id TEXT NOT NULL, kid TEXT NOT NULL, capabilities TEXT NOT NULL,
        task TEXT, audience TEXT NOT NULL, issued_ms INTEGER NOT NULL, exp_ms INTEGER NOT NULL,
        actor TEXT NOT NULL);
        INSERT INTO tokens VALUES ('tok_old', 'agt_a', 'tk_1', 'read', NULL, 'aud', 1, ${Date.now() + 600_000}, 't')`);
      db.close();
      const sql = f.open();
      const log = await openAuditLog(sql);
      const tokens = await createTokenService({
        sql,
        audit: log,
        keys: await openTokenKeyStore(sql, { passphrase: "p" }),
        config: parseAuthConfig({}),
      });
      assert.equal((await tokens.issuedFor("tok_old"))?.agentId, "agt_a");
      const t = await tokens.issue(readToken, agentKey("key_x"), "test");
      assert.deepEqual(await tokens.revokeIssuedWith(["key_x"], "test"), [t.jti]);
    },
  },
});
