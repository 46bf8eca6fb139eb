/**
 * VAULT_SIGN_REQUIRES_PRESENTATION: the signing and paying routes compose their doors all-of,
 * an API key or agent token AND a presentation of the agent's DID credential. Either factor
 * alone is refused; the two must name the same agent; OpenAPI shows both requirements.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { agentAuthorization, didKey, presentation } from "../helpers/did.js";
import { BASIC_POLICY, startTestVault, type TestVault } from "../helpers/vault.js";

const AUD = "urn:agent-vault:local";
const issuer = didKey();
let tv: TestVault;
let agent: { id: string };
let other: { id: string };
let key: Record<string, string>;

before(async () => {
  tv = await startTestVault({
    VAULT_SIGN_REQUIRES_PRESENTATION: "true",
    VAULT_TRUSTED_VC_ISSUERS: JSON.stringify([issuer.did]),
  });
  agent = await tv.createAgent(BASIC_POLICY);
  other = await tv.createAgent(BASIC_POLICY);
  key = (await tv.issueKey(agent.id, ["READ", "EXECUTE", "SPEND"])).auth;
});
after(async () => tv?.stop());

async function vp(agentId: string) {
  const ch = (await tv.app.inject({ method: "GET", url: "/v1/auth/challenge" })).json();
  const holder = didKey();
  const vc = await agentAuthorization(issuer, holder.did, {
    agentId,
    operator: "local",
    capabilities: ["read", "execute"],
  });
  return { "x-agent-presentation": await presentation(holder, [vc], ch.challenge, AUD) };
}

const sign = (headers: Record<string, string>) =>
  tv.app.inject({
    method: "POST",
    url: `/v1/agents/${agent.id}/sign/message`,
    headers,
    payload: { message: `two factors ${Math.random()}` },
  });

test("an API key and a presentation of the same agent sign; both admissions are audited", async () => {
  const from = (await tv.vault.audit.head()).seq + 1;
  const res = await sign({ ...key, ...(await vp(agent.id)) });
  assert.equal(res.statusCode, 200, res.body);
  const doors = (await tv.vault.audit.list(from, 20))
    .filter((e) => e.type === "auth.succeeded")
    .map((e) => e.data.door);
  assert.deepEqual(doors, ["apiKey", "vc"]);
});

test("an agent token and a presentation sign too", async () => {
  const issued = await tv.app.inject({
    method: "POST",
    url: "/v1/tokens",
    headers: tv.admin,
    payload: { agentId: agent.id, capabilities: ["read", "execute"] },
  });
  const jwt = { authorization: `Bearer ${issued.json().token}` };
  const res = await sign({ ...jwt, ...(await vp(agent.id)) });
  assert.equal(res.statusCode, 200, res.body);
});

test("either factor alone is refused, and so are two factors for different agents", async () => {
  const keyOnly = await sign(key);
  assert.equal(keyOnly.statusCode, 401, keyOnly.body);
  const vpOnly = await sign(await vp(agent.id));
  assert.equal(vpOnly.statusCode, 401, vpOnly.body);
  const mixed = await sign({ ...key, ...(await vp(other.id)) });
  assert.equal(mixed.statusCode, 403, mixed.body);
  assert.equal(mixed.json().error.code, "FORBIDDEN_AGENT");
  const pay = await tv.app.inject({
    method: "POST",
    url: `/v1/agents/${agent.id}/x402/pay`,
    headers: key,
    payload: { paymentRequired: {} },
  });
  assert.equal(pay.statusCode, 401, "paying needs both factors as well");
});

test("OpenAPI shows the all-of requirements on the signing routes only", async () => {
  const doc = (await tv.app.inject({ method: "GET", url: "/openapi.json" })).json();
  const both = [
    { apiKey: [], vc: [] },
    { jwt: [], vc: [] },
  ];
  assert.deepEqual(doc.paths["/v1/agents/{id}/sign/message"].post.security, both);
  assert.deepEqual(doc.paths["/v1/agents/{id}/x402/pay"].post.security, both);
  assert.deepEqual(doc.paths["/v1/agents/{id}"].get.security, [
    { apiKey: [] },
    { jwt: [] },
    { vc: [] },
  ]);
});
