/** Front doors composed with @fastify/auth on a bare app: all-of narrows, any-of reports the specific refusal. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import fastifyAuth from "@fastify/auth";
import Fastify, { type FastifyInstance } from "fastify";
import { openAuditLog } from "../../src/audit/log.js";
import type { ApiKeyService, Principal, Scope } from "../../src/auth/apikey/index.js";
import { createTokenService } from "../../src/auth/jwt/index.js";
import { openTokenKeyStore } from "../../src/auth/jwt/keys.js";
import { createRefusalLog } from "../../src/auth/refusals.js";
import { type CredentialService, createCredentialService } from "../../src/auth/vc/index.js";
import { parseAuthConfig } from "../../src/config/auth.js";
import { apiKeyDoor } from "../../src/http/auth/apikey.js";
import { allOf, anyOf } from "../../src/http/auth/doors.js";
import { jwtDoor } from "../../src/http/auth/jwt.js";
import { vcDoor } from "../../src/http/auth/vc.js";
import { installErrorHandling } from "../../src/http/errors.js";
import { openDatabase } from "../../src/store/db.js";
import { createSqliteSql } from "../../src/store/sql/sqlite.js";
import type { Sql } from "../../src/store/sql/types.js";
import { agentAuthorization, didKey, presentation } from "../helpers/did.js";

let app: FastifyInstance;
let sql: Sql;
let credentials: CredentialService;
const issuer = didKey();
const keyPrincipal: Principal = {
  kind: "agent",
  keyId: "key_1",
  agentId: "agt_a",
  scopes: new Set<Scope>(["READ", "EXECUTE", "SPEND"]),
};

before(async () => {
  sql = createSqliteSql(openDatabase(":memory:"));
  const audit = await openAuditLog(sql);
  const config = parseAuthConfig({ VAULT_TRUSTED_VC_ISSUERS: JSON.stringify([issuer.did]) });
  const keys = await openTokenKeyStore(sql, { passphrase: "p" });
  credentials = await createCredentialService({ sql, config, keys });
  const tokens = await createTokenService({ sql, audit, keys, config });
  const apiKeys = {
    authenticate: async (s: string) => (s === "avk_good" ? keyPrincipal : undefined),
  } as unknown as ApiKeyService;
  app = Fastify();
  installErrorHandling(app);
  await app.register(fastifyAuth);
  const out = { audit, refusals: createRefusalLog(audit, { perMinute: 1000 }) };
  await app.register(apiKeyDoor, { keys: apiKeys, ...out });
  await app.register(jwtDoor, { tokens, ...out });
  await app.register(vcDoor, { credentials, ...out });
  const show = async (req: { principal?: Principal }) => ({
    agentId: req.principal?.agentId,
    scopes: [...(req.principal?.scopes ?? [])].sort(),
    spendLimits: req.principal?.spendLimits ?? [],
  });
  const both = allOf(app, ["apiKey", "vc"]);
  app.get("/both", { preHandler: both.auth, schema: { security: both.security } }, show);
  app.get("/any", { preHandler: anyOf(app, ["apiKey", "jwt", "vc"]).auth }, show);
  await app.ready();
});
after(async () => {
  await app?.close();
  await sql?.close();
});

async function vp(agentId: string, capabilities: string[]) {
  const holder = didKey();
  const vc = await agentAuthorization(issuer, holder.did, {
    agentId,
    operator: "local",
    capabilities,
    spendLimit: { ETH: "0.001" },
  });
  const { challenge } = await credentials.challenge();
  return presentation(holder, [vc], challenge, "urn:agent-vault:local");
}

test("all-of: an API key and a presentation together; the presentation narrows the key", async () => {
  const res = await app.inject({
    method: "GET",
    url: "/both",
    headers: {
      authorization: "Bearer avk_good",
      "x-agent-presentation": await vp("agt_a", ["read"]),
    },
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(res.json(), {
    agentId: "agt_a",
    scopes: ["READ"],
    spendLimits: [{ ETH: "0.001" }],
  });
  const keyOnly = await app.inject({
    method: "GET",
    url: "/both",
    headers: { authorization: "Bearer avk_good" },
  });
  assert.equal(keyOnly.statusCode, 401);
  const otherAgent = await app.inject({
    method: "GET",
    url: "/both",
    headers: {
      authorization: "Bearer avk_good",
      "x-agent-presentation": await vp("agt_b", ["read"]),
    },
  });
  assert.equal(otherAgent.json().error.code, "FORBIDDEN_AGENT");
});

test("any-of: the refusal of the door that recognised the credential is what the client sees", async () => {
  const none = await app.inject({ method: "GET", url: "/any" });
  assert.equal(none.json().error.code, "UNAUTHENTICATED");
  const badKey = await app.inject({
    method: "GET",
    url: "/any",
    headers: { authorization: "Bearer avk_bad" },
  });
  assert.equal(badKey.json().error.code, "INVALID_CREDENTIALS");
  const badJwt = await app.inject({
    method: "GET",
    url: "/any",
    headers: { authorization: "Bearer x.y.z" },
  });
  assert.equal(badJwt.json().error.code, "TOKEN_MALFORMED");
  const badVp = await app.inject({
    method: "GET",
    url: "/any",
    headers: { "x-agent-presentation": "nope" },
  });
  assert.equal(badVp.json().error.code, "CREDENTIAL_MALFORMED");
  const good = await app.inject({
    method: "GET",
    url: "/any",
    headers: { "x-agent-presentation": await vp("agt_a", ["read", "execute"]) },
  });
  assert.deepEqual(good.json().scopes, ["EXECUTE", "READ"]);
});
