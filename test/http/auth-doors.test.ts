import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { verifyCredential } from "did-jwt-vc";
import { Resolver } from "did-resolver";
import { exportJWK, generateKeyPair, SignJWT } from "jose";

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

import { getResolver as keyResolver } from "key-did-resolver";
import {
  agentAuthorization,
  didKey,
  didPkh,
  didWebHost,
  presentation,
  selfSignedCert,
  type TestDid,
} from "../helpers/did.js";
import { BASIC_POLICY, ethTx, startTestVault, type TestVault } from "../helpers/vault.js";

const AUD = "urn:agent-vault:local";
let tv: TestVault;
let agent: { id: string; address: string };
let other: { id: string };
let jwksServer: Server;
let web: Awaited<ReturnType<typeof didWebHost>>;
let peerKey: PrivateKey;
const vcIssuer = didKey();

before(async () => {
  // Another operator's vault: its own key set, served on loopback.
  const peer = await generateKeyPair("EdDSA", { extractable: true });
  peerKey = peer.privateKey;
  const jwks = { keys: [{ ...(await exportJWK(peer.publicKey)), kid: "peer-1", alg: "EdDSA" }] };
  jwksServer = createServer((_req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(jwks));
  });
  await new Promise<void>((r) => jwksServer.listen(0, "127.0.0.1", r));
  const port = (jwksServer.address() as AddressInfo).port;
  const tls = selfSignedCert();
  web = await didWebHost(tls);
  const caFile = join((await import("node:os")).tmpdir(), `av-ca-${process.pid}-${Date.now()}.pem`);
  writeFileSync(caFile, tls.cert);
  tv = await startTestVault({
    VAULT_TRUSTED_ISSUERS: JSON.stringify([
      {
        issuer: "urn:agent-vault:peer",
        jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
        operatorId: "peer",
      },
    ]),
    VAULT_TRUSTED_VC_ISSUERS: JSON.stringify([vcIssuer.did]),
    VAULT_DID_WEB_CA_FILE: caFile,
  });
  agent = await tv.createAgent(BASIC_POLICY);
  other = await tv.createAgent(BASIC_POLICY);
});
after(async () => {
  await tv?.stop();
  jwksServer?.close();
  await web?.close();
});

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

async function token(body: Record<string, unknown>, headers = tv.admin) {
  const res = await tv.app.inject({ method: "POST", url: "/v1/tokens", headers, payload: body });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as { token: string; jti: string; kid: string; expiresAt: string };
}

const signMessage = (headers: Record<string, string>, id = agent.id) =>
  tv.app.inject({
    method: "POST",
    url: `/v1/agents/${id}/sign/message`,
    headers,
    payload: { message: `hello ${Math.random()}` },
  });

const signTx = (headers: Record<string, string>, value: string, nonce: number) =>
  tv.app.inject({
    method: "POST",
    url: `/v1/agents/${agent.id}/sign/transaction`,
    headers,
    payload: { tx: ethTx({ value, nonce }) },
  });

function peerToken(claims: Record<string, unknown>, o: { exp?: number; aud?: string } = {}) {
  const iat = Math.floor(Date.now() / 1000);
  return new SignJWT({
    agent_id: agent.id,
    capabilities: ["read", "execute"],
    operator_id: "peer",
    ...claims,
  })
    .setProtectedHeader({ alg: "EdDSA", kid: "peer-1" })
    .setIssuer("urn:agent-vault:peer")
    .setAudience(o.aud ?? AUD)
    .setIssuedAt(iat)
    .setExpirationTime(o.exp ?? iat + 300)
    .setJti(`peer_${Math.random()}`)
    .sign(peerKey);
}

async function vp(holder: TestDid, subject: Record<string, unknown> = {}, aud = AUD) {
  const ch = await tv.app.inject({ method: "GET", url: "/v1/auth/challenge" });
  assert.equal(ch.statusCode, 200);
  const { challenge, audience } = ch.json() as { challenge: string; audience: string };
  assert.equal(audience, AUD);
  const vc = await agentAuthorization(vcIssuer, holder.did, {
    agentId: agent.id,
    operator: "local",
    capabilities: ["read", "execute", "spend"],
    ...subject,
  });
  return presentation(holder, [vc], challenge, aud);
}

test("a token from POST /v1/tokens signs for its agent; capabilities stay within the issuer's scopes", async () => {
  const t = await token({ agentId: agent.id, capabilities: ["read", "execute"], ttlSeconds: 300 });
  const ok = await signMessage(bearer(t.token));
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal((await signMessage(bearer(t.token), other.id)).json().error.code, "FORBIDDEN_AGENT");
  const readOnly = await token({ agentId: agent.id, capabilities: ["read"] });
  assert.equal((await signMessage(bearer(readOnly.token))).json().error.code, "FORBIDDEN_SCOPE");
  // An agent key with WRITE issues tokens for its own agent, within its scopes.
  const k = await tv.issueKey(agent.id, ["READ", "WRITE"]);
  await token({ agentId: agent.id, capabilities: ["read"] }, k.auth);
  const wider = await tv.app.inject({
    method: "POST",
    url: "/v1/tokens",
    headers: k.auth,
    payload: { agentId: agent.id, capabilities: ["execute"] },
  });
  assert.equal(wider.json().error.code, "FORBIDDEN_SCOPE");
  const elsewhere = await tv.app.inject({
    method: "POST",
    url: "/v1/tokens",
    headers: k.auth,
    payload: { agentId: other.id, capabilities: ["read"] },
  });
  assert.equal(elsewhere.json().error.code, "FORBIDDEN_AGENT");
  const long = await tv.app.inject({
    method: "POST",
    url: "/v1/tokens",
    headers: tv.admin,
    payload: { agentId: agent.id, capabilities: ["read"], ttlSeconds: 7200 },
  });
  assert.equal(long.json().error.code, "VALIDATION_FAILED");
  // A token cannot mint tokens.
  const minted = await tv.app.inject({
    method: "POST",
    url: "/v1/tokens",
    headers: bearer(t.token),
    payload: { agentId: agent.id, capabilities: ["read"] },
  });
  assert.equal(minted.statusCode, 401);
});

test("a task-bound token requires X-Task-Id naming its task", async () => {
  const t = await token({ agentId: agent.id, capabilities: ["execute"], task: "task-42" });
  const none = await signMessage(bearer(t.token));
  assert.equal(none.statusCode, 401);
  assert.equal(none.json().error.code, "TASK_MISMATCH");
  const wrong = await signMessage({ ...bearer(t.token), "x-task-id": "task-41" });
  assert.equal(wrong.json().error.code, "TASK_MISMATCH");
  const right = await signMessage({ ...bearer(t.token), "x-task-id": "task-42" });
  assert.equal(right.statusCode, 200, right.body);
  // A token without a task ignores the header, even one that could name no task.
  const free = await token({ agentId: agent.id, capabilities: ["execute"] });
  const long = await signMessage({ ...bearer(free.token), "x-task-id": "t".repeat(500) });
  assert.equal(long.statusCode, 200, long.body);
  const boundLong = await signMessage({ ...bearer(t.token), "x-task-id": "t".repeat(500) });
  assert.equal(boundLong.json().error.code, "TASK_MISMATCH");
});

test("revocation takes effect on the very next request", async () => {
  const k = await tv.issueKey(agent.id, ["READ", "WRITE", "EXECUTE"]);
  const t = await token({ agentId: agent.id, capabilities: ["read", "execute"] }, k.auth);
  assert.equal((await signMessage(bearer(t.token))).statusCode, 200);
  const rev = await tv.app.inject({
    method: "POST",
    url: `/v1/tokens/${t.jti}/revoke`,
    headers: k.auth,
  });
  assert.equal(rev.statusCode, 200, rev.body);
  const after = await signMessage(bearer(t.token));
  assert.equal(after.statusCode, 401);
  assert.equal(after.json().error.code, "TOKEN_REVOKED");
  const notOurs = await tv.app.inject({
    method: "POST",
    url: "/v1/tokens/tok_unknown/revoke",
    headers: k.auth,
  });
  assert.equal(notOurs.json().error.code, "TOKEN_NOT_FOUND");
});

test("key rotation keeps earlier tokens valid and publishes both keys", async () => {
  const before = await token({ agentId: agent.id, capabilities: ["read"] });
  const rot = await tv.app.inject({
    method: "POST",
    url: "/v1/tokens/keys/rotate",
    headers: tv.admin,
  });
  assert.equal(rot.statusCode, 200, rot.body);
  assert.equal(rot.json().retired, before.kid);
  const afterRot = await token({ agentId: agent.id, capabilities: ["read"] });
  assert.notEqual(afterRot.kid, before.kid);
  for (const t of [before, afterRot]) {
    const res = await tv.app.inject({
      method: "GET",
      url: `/v1/agents/${agent.id}`,
      headers: bearer(t.token),
    });
    assert.equal(res.statusCode, 200, res.body);
  }
  const jwks = (await tv.app.inject({ method: "GET", url: "/.well-known/jwks.json" })).json();
  const kids = jwks.keys.map((k: { kid: string }) => k.kid);
  assert.ok(kids.includes(before.kid) && kids.includes(afterRot.kid));
  assert.ok(jwks.keys.every((k: Record<string, unknown>) => k.d === undefined));
  const agentRotates = await tv.app.inject({
    method: "POST",
    url: "/v1/tokens/keys/rotate",
    headers: bearer(afterRot.token),
  });
  assert.equal(agentRotates.statusCode, 401);
});

test("another operator's tokens are accepted through its JWKS URL", async () => {
  const res = await tv.app.inject({
    method: "GET",
    url: `/v1/agents/${agent.id}`,
    headers: bearer(await peerToken({})),
  });
  assert.equal(res.statusCode, 200, res.body);
});

test("JWT door: each bad token is 401 with its own code, and the server keeps serving", async () => {
  const t = await token({ agentId: agent.id, capabilities: ["read"] });
  const [h, p] = t.token.split(".");
  const otherKey = (await generateKeyPair("EdDSA")).privateKey;
  const wrongKey = await new SignJWT({
    agent_id: agent.id,
    capabilities: ["read"],
    operator_id: "peer",
  })
    .setProtectedHeader({ alg: "EdDSA", kid: "peer-1" })
    .setIssuer("urn:agent-vault:peer")
    .setAudience(AUD)
    .setIssuedAt()
    .setExpirationTime("5m")
    .setJti("x")
    .sign(otherKey);
  const cases: Array<[string, string]> = [
    ["a.b.c", "TOKEN_MALFORMED"],
    [`${h}.${p}.AAAA`, "SIGNATURE_INVALID"],
    [wrongKey, "SIGNATURE_INVALID"],
    [await peerToken({}, { exp: Math.floor(Date.now() / 1000) - 30 }), "TOKEN_EXPIRED"],
    [await peerToken({}, { aud: "urn:agent-vault:peer" }), "AUDIENCE_MISMATCH"],
    [
      await new SignJWT({}).setProtectedHeader({ alg: "EdDSA" }).setIssuer("urn:x").sign(otherKey),
      "ISSUER_UNKNOWN",
    ],
  ];
  for (const [jwt, code] of cases) {
    const res = await tv.app.inject({
      method: "GET",
      url: `/v1/agents/${agent.id}`,
      headers: bearer(jwt),
    });
    assert.equal(res.statusCode, 401, `${code}: ${res.body}`);
    assert.equal(res.json().error.code, code);
  }
  assert.equal((await tv.app.inject({ method: "GET", url: "/healthz" })).statusCode, 200);

  // A did:web holder is fetched only once a trusted issuer has vouched for that DID.
  const unvouched = web.add("unvouched");
  const challenge = async () =>
    (await tv.app.inject({ method: "GET", url: "/v1/auth/challenge" })).json().challenge;
  const someoneElses = await agentAuthorization(vcIssuer, didKey().did, {
    agentId: agent.id,
    operator: "local",
    capabilities: ["read"],
  });
  for (const creds of [[], [someoneElses]]) {
    const res = await signMessage({
      "x-agent-presentation": await presentation(unvouched, creds, await challenge(), AUD),
    });
    assert.equal(res.json().error.code, "CREDENTIAL_INVALID", res.body);
  }
  assert.ok(!web.fetched.some((p) => p.startsWith("/unvouched/")), "nothing fetched");
});

test("VC door: did:key, did:pkh and did:web agents sign; the spend limit narrows the policy", async () => {
  for (const holder of [didKey(), didPkh(), web.add("agent")]) {
    const res = await signMessage({ "x-agent-presentation": await vp(holder) });
    assert.equal(res.statusCode, 200, `${holder.did}: ${res.body}`);
  }
  const holder = didKey();
  const limited = (v: string, n: number) =>
    vp(holder, { spendLimit: { ETH: "0.005" } }).then((p) =>
      signTx({ "x-agent-presentation": p }, v, n),
    );
  assert.equal((await limited("1000000000000000", 101)).statusCode, 200); // 0.001 ETH
  const over = await limited("8000000000000000", 102); // 0.008 ETH: policy allows 0.01, the VC 0.005
  assert.equal(over.statusCode, 403, over.body);
  assert.equal(over.json().error.code, "POLICY_DENIED");
  assert.equal(over.json().error.rule, "maxPerTx");
  // Capabilities narrow too: without "spend" nothing that moves value is signed.
  const noSpend = await vp(holder, { capabilities: ["read", "execute"] });
  const res = await signTx({ "x-agent-presentation": noSpend }, "1000000000000000", 103);
  assert.equal(res.json().error.code, "FORBIDDEN_SCOPE");
});

test("VC door: each bad presentation is 401 with its own code; a replay is refused", async () => {
  const holder = didKey();
  const good = await vp(holder);
  assert.equal((await signMessage({ "x-agent-presentation": good })).statusCode, 200);
  const stranger = didKey();
  const ch = (await tv.app.inject({ method: "GET", url: "/v1/auth/challenge" })).json().challenge;
  const untrusted = await presentation(
    holder,
    [
      await agentAuthorization(stranger, holder.did, {
        agentId: agent.id,
        operator: "local",
        capabilities: ["read"],
      }),
    ],
    ch,
    AUD,
  );
  const ch2 = (await tv.app.inject({ method: "GET", url: "/v1/auth/challenge" })).json().challenge;
  const expired = await presentation(
    holder,
    [
      await agentAuthorization(
        vcIssuer,
        holder.did,
        { agentId: agent.id, operator: "local", capabilities: ["read"] },
        { exp: Math.floor(Date.now() / 1000) - 30 },
      ),
    ],
    ch2,
    AUD,
  );
  const cases: Array<[string, string]> = [
    ["garbage", "CREDENTIAL_MALFORMED"],
    [good, "CHALLENGE_REPLAYED"],
    [await vp({ ...holder, signer: stranger.signer }), "SIGNATURE_INVALID"],
    [await vp(holder, {}, "urn:agent-vault:peer"), "AUDIENCE_MISMATCH"],
    [untrusted, "ISSUER_UNKNOWN"],
    [expired, "CREDENTIAL_EXPIRED"],
  ];
  for (const [presented, code] of cases) {
    const res = await signMessage({ "x-agent-presentation": presented });
    assert.equal(res.statusCode, 401, `${code}: ${res.body}`);
    assert.equal(res.json().error.code, code);
  }
  assert.equal((await tv.app.inject({ method: "GET", url: "/healthz" })).statusCode, 200);
});

test("revoking a holder DID refuses its next presentation, and the revocation is an event", async () => {
  const holder = didKey();
  assert.equal((await signMessage({ "x-agent-presentation": await vp(holder) })).statusCode, 200);
  const res = await tv.app.inject({
    method: "DELETE",
    url: `/v1/credentials/${encodeURIComponent(holder.did)}`,
    headers: tv.admin,
  });
  assert.deepEqual(res.json(), { id: holder.did, revoked: true });
  const after = await signMessage({ "x-agent-presentation": await vp(holder) });
  assert.equal(after.statusCode, 401);
  assert.equal(after.json().error.code, "CREDENTIAL_REVOKED");
  const other = didKey();
  assert.equal((await signMessage({ "x-agent-presentation": await vp(other) })).statusCode, 200);
  const events = tv.vault.revocations;
  const last = await events.after((await events.head()) - 1, 1);
  assert.match(String(last[0]?.set), /^ey/);
  assert.equal(
    JSON.parse(Buffer.from(String(last[0]?.set).split(".")[1] ?? "", "base64url").toString())
      .events["https://schemas.openid.net/secevent/caep/event-type/credential-change"].subject.id,
    `vc:${holder.did}`,
  );
});

test("the agent's vault credential binds its DID to its address", async () => {
  const holder = didKey();
  const res = await tv.app.inject({
    method: "GET",
    url: `/v1/agents/${agent.id}/credential`,
    headers: { "x-agent-presentation": await vp(holder) },
  });
  assert.equal(res.statusCode, 200, res.body);
  const { credential, issuer, subject } = res.json();
  assert.equal(subject, holder.did);
  const v = await verifyCredential(credential, new Resolver(keyResolver()));
  assert.equal(v.issuer, issuer);
  const s = v.verifiableCredential.credentialSubject as Record<string, unknown>;
  assert.equal(s.vaultAddress, agent.address);
  assert.equal(s.agentId, agent.id);
});

test("every authentication outcome is audited, without the credential; the chain verifies", async () => {
  const entries = await tv.vault.audit.list(1, 100_000);
  const ok = entries.filter((e) => e.type === "auth.succeeded");
  const refused = entries.filter((e) => e.type === "auth.refused");
  for (const door of ["apiKey", "jwt", "vc"])
    assert.ok(
      ok.some((e) => e.data.door === door && e.data.route),
      `${door} success audited`,
    );
  const badKey = await tv.app.inject({
    method: "GET",
    url: `/v1/agents/${agent.id}`,
    headers: bearer("avk_not_a_key"),
  });
  assert.equal(badKey.statusCode, 401);
  const last = (await tv.vault.audit.list((await tv.vault.audit.head()).seq, 1))[0];
  assert.equal(last?.type, "auth.refused");
  assert.equal(last?.data.door, "apiKey");
  assert.equal(last?.data.code, "INVALID_CREDENTIALS");
  // An Authorization header no door can read is refused and audited too.
  const basic = await tv.app.inject({
    method: "GET",
    url: `/v1/agents/${agent.id}`,
    headers: { authorization: "Basic dXNlcjpwYXNz" },
  });
  assert.equal(basic.json().error.code, "UNAUTHENTICATED");
  const unreadable = (await tv.vault.audit.list((await tv.vault.audit.head()).seq, 1))[0];
  assert.equal(unreadable?.type, "auth.refused");
  assert.equal(unreadable?.data.code, "UNAUTHENTICATED");
  assert.ok(!JSON.stringify(unreadable).includes("dXNlcjpwYXNz"), "the credential is not kept");
  const codes = new Set(refused.map((e) => e.data.code));
  for (const c of [
    "TOKEN_MALFORMED",
    "TOKEN_EXPIRED",
    "TOKEN_REVOKED",
    "SIGNATURE_INVALID",
    "AUDIENCE_MISMATCH",
    "ISSUER_UNKNOWN",
    "TASK_MISMATCH",
    "CHALLENGE_REPLAYED",
    "CREDENTIAL_EXPIRED",
    "CREDENTIAL_MALFORMED",
  ])
    assert.ok(codes.has(c), c);
  const text = JSON.stringify(entries);
  assert.ok(!/eyJ[A-Za-z0-9_-]{20,}\.eyJ/.test(text), "no JWT in the audit log");
  assert.ok(!text.includes(tv.admin.authorization?.slice(7) as string), "no API key either");
  assert.equal((await tv.vault.audit.verify()).ok, true);
});

test("audit, proofs and cluster routes take tokens and presentations; an agent's own entries only", async () => {
  const t = await token({ agentId: agent.id, capabilities: ["read", "audit"] });
  const asAgent = bearer(t.token);
  const list = await tv.app.inject({
    method: "GET",
    url: "/v1/audit?limit=1000",
    headers: asAgent,
  });
  assert.equal(list.statusCode, 200, list.body);
  const mine = list.json() as { entries: Array<{ agentId?: string }>; agentId: string };
  assert.equal(mine.agentId, agent.id);
  assert.ok(mine.entries.length > 0);
  assert.ok(
    mine.entries.every((e) => e.agentId === agent.id),
    "only the agent's own entries",
  );
  const all = await tv.app.inject({
    method: "GET",
    url: "/v1/audit?limit=1000",
    headers: tv.admin,
  });
  const everyone = (all.json() as { entries: Array<{ agentId?: string }> }).entries;
  assert.ok(
    everyone.some((e) => e.agentId === other.id),
    "an operator sees every agent",
  );
  // Agents see the cluster's state, not where its nodes live or why they failed.
  const seen = (
    await tv.app.inject({ method: "GET", url: "/v1/cluster", headers: asAgent })
  ).json();
  assert.ok(seen.nodes.every((n: Record<string, unknown>) => !("url" in n) && "up" in n));
  const op = (await tv.app.inject({ method: "GET", url: "/v1/cluster", headers: tv.admin })).json();
  assert.ok(op.nodes.every((n: Record<string, unknown>) => typeof n.url === "string"));
  for (const url of ["/v1/audit/checkpoints", "/v1/cluster"]) {
    const res = await tv.app.inject({ method: "GET", url, headers: asAgent });
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    const byVp = await tv.app.inject({
      method: "GET",
      url,
      headers: { "x-agent-presentation": await vp(didKey(), { capabilities: ["read", "audit"] }) },
    });
    assert.equal(byVp.statusCode, 200, `${url} by presentation: ${byVp.body}`);
  }
  // A token without "audit" reads no audit routes, and no token can take a checkpoint.
  const reader = bearer((await token({ agentId: agent.id, capabilities: ["read"] })).token);
  const denied = await tv.app.inject({ method: "GET", url: "/v1/audit", headers: reader });
  assert.equal(denied.json().error.code, "FORBIDDEN_SCOPE");
  const cp = await tv.app.inject({
    method: "POST",
    url: "/v1/audit/checkpoints",
    headers: asAgent,
  });
  assert.equal(cp.statusCode, 401);
});

test("the OpenAPI document shows the doors and which routes accept which", async () => {
  const doc = (await tv.app.inject({ method: "GET", url: "/openapi.json" })).json();
  const schemes = doc.components.securitySchemes;
  assert.equal(schemes.jwt.bearerFormat, "JWT");
  assert.equal(schemes.vc.name, "X-Agent-Presentation");
  const sign = doc.paths["/v1/agents/{id}/sign/message"].post.security;
  assert.deepEqual(sign, [{ apiKey: [] }, { jwt: [] }, { vc: [] }, { delegation: [] }]);
  assert.equal(schemes.delegation.scheme, "Delegation");
  assert.deepEqual(doc.paths["/v1/tokens"].post.security, [{ apiKey: [] }]);
  assert.deepEqual(doc.paths["/v1/auth/challenge"].get.security, []);
});

test("cost per request of each door (GET /v1/agents/:id, app.inject)", async () => {
  const k = await tv.issueKey(agent.id, ["READ"]);
  const t = await token({ agentId: agent.id, capabilities: ["read"] });
  const time = async (n: number, headers: () => Promise<Record<string, string>>) => {
    const hs = [];
    for (let i = 0; i < n; i++) hs.push(await headers());
    const start = performance.now();
    for (const h of hs) {
      const res = await tv.app.inject({ method: "GET", url: `/v1/agents/${agent.id}`, headers: h });
      assert.equal(res.statusCode, 200, res.body);
    }
    return (performance.now() - start) / n;
  };
  const apiKey = await time(200, async () => k.auth);
  const jwt = await time(200, async () => bearer(t.token));
  const holder = didKey();
  await time(3, async () => ({ "x-agent-presentation": await vp(holder) }));
  const vcMs = await time(20, async () => ({ "x-agent-presentation": await vp(holder) }));
  console.log(
    `# per request: apiKey ${apiKey.toFixed(2)} ms, jwt ${jwt.toFixed(2)} ms, vc (did:key) ${vcMs.toFixed(1)} ms`,
  );
});
