import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { exportJWK, generateKeyPair, SignJWT } from "jose";

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

import { createAuditLog } from "../../src/audit/log.js";
import type { AuditLog } from "../../src/audit/types.js";
import type { Principal, Scope } from "../../src/auth/apikey/index.js";
import { createTokenService, type TokenService } from "../../src/auth/jwt/index.js";
import { createTokenKeyStore, type TokenKeyStore } from "../../src/auth/jwt/keys.js";
import { type AuthConfig, parseAuthConfig } from "../../src/config/auth.js";
import { type Db, openDatabase } from "../../src/store/db.js";
import { codeOf } from "../helpers/errors.js";

const admin: Principal = {
  kind: "operator",
  keyId: "admin",
  agentId: null,
  scopes: new Set<Scope>(["ADMIN"]),
};
let clock = Date.now();
const now = () => clock;
let db: Db;
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
  db = openDatabase(":memory:");
  audit = createAuditLog(db);
  keys = createTokenKeyStore({ db, passphrase: "test-passphrase", now });
  svc = createTokenService({ db, audit, keys, config, now });
});
after(() => {
  server?.close();
  db?.close();
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
  const entry = audit.list(1, 100).find((e) => e.type === "token.issued");
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
  svc.revoke(t.jti, "test");
  assert.equal(await code(svc.verify(t.token, {})), "TOKEN_REVOKED");
  const n = 20_000;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) svc.isRevoked(`tok_${i}`);
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
  const r = svc.rotate("test");
  assert.equal(r.retired, old.kid);
  const fresh = await issue({ ttlSeconds: 60 });
  assert.equal(fresh.kid, r.kid);
  assert.equal(await code(svc.verify(old.token, {})), "accepted");
  let kids = svc.jwks().keys.map((k) => k.kid);
  assert.ok(kids.includes(old.kid) && kids.includes(r.kid), `both kids: ${kids}`);
  assert.ok(svc.jwks().keys.every((k) => !("d" in k)));
  clock += 700_000; // past the 600 s tokens the old key signed in earlier tests
  kids = svc.jwks().keys.map((k) => k.kid);
  assert.ok(!kids.includes(old.kid), `old gone: ${kids}`);
  assert.ok(kids.includes(r.kid), `new kept: ${kids}`);
  // The private key is stored encrypted, never in clear.
  const row = db.prepare("SELECT private_pem FROM token_keys WHERE kid = ?").get(r.kid) as {
    private_pem: string;
  };
  assert.match(row.private_pem, /ENCRYPTED PRIVATE KEY/);
});

test("bounded storage: foreign tokens older than a day are refused; expired tokens and revocations are forgotten", async () => {
  const count = (table: string) =>
    (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  // A foreign token that claims a week of life is refused once it is a day old.
  const long = await foreign(otherKey, {}, { exp: Math.floor(clock / 1000) + 7 * 86_400 });
  assert.equal(await code(svc.verify(long, {})), "accepted");
  clock += 86_400_000 + 10_000;
  assert.equal(await code(svc.verify(long, {})), "TOKEN_EXPIRED");

  const t = await issue({ ttlSeconds: 60 });
  svc.revoke(t.jti, "test");
  svc.revoke("ext_foreign_jti", "test"); // a jti this vault never issued
  const before = [count("tokens"), count("token_revocations")];
  assert.equal(svc.issuedFor(t.jti)?.agentId, "agt_a");
  clock += 2 * 86_400_000;
  await issue({ ttlSeconds: 60 }); // issuing prunes expired tokens
  svc.revoke("another", "test"); // revoking prunes stale revocations
  assert.equal(before[1], 2);
  assert.equal(svc.issuedFor(t.jti), undefined, "the expired token's row is pruned");
  assert.equal(count("tokens"), 1, "only the fresh token is kept");
  assert.equal(count("token_revocations"), 1, "only the fresh revocation is kept");
});

test("a token is not recorded for a key revoked while it was being signed", async () => {
  const revoked = new Set<string>();
  const guarded = createTokenService({
    db,
    audit,
    keys,
    config: parseAuthConfig({}),
    now,
    keyIsLive: (keyId) => !revoked.has(keyId),
  });
  const by: Principal = { ...admin, keyId: "key_w", scopes: new Set<Scope>(["WRITE", "READ"]) };
  const req = { agentId: "agt_a", capabilities: ["read"], ttlSeconds: 60 };
  assert.ok((await guarded.issue(req, by, "test")).token);
  revoked.add("key_w"); // what DELETE /v1/keys/key_w does between sign() and the insert
  assert.equal(await code(guarded.issue(req, by, "test")), "INVALID_CREDENTIALS");
});
