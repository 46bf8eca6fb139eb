import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import SwaggerParser from "@apidevtools/swagger-parser";
import { verifyMessage } from "ethers";
import { BASIC_POLICY, startTestVault, type TestVault } from "../helpers/vault.js";

let tv: TestVault;
let agent: { id: string; address: string };

before(async () => {
  tv = await startTestVault();
  agent = await tv.createAgent(BASIC_POLICY);
});
after(async () => tv?.stop());

test("healthz, metrics and the OpenAPI document are served", async () => {
  assert.equal((await tv.app.inject({ url: "/healthz" })).json().ok, true);
  const metrics = await tv.app.inject({ url: "/metrics" });
  assert.match(metrics.body, /agent_vault_signer_node_up\{node="0"\} 1/);
  assert.match(metrics.body, /agent_vault_audit_head_seq \d+/);
  const doc = (await tv.app.inject({ url: "/openapi.json" })).json();
  assert.equal(doc.openapi, "3.1.0");
  // The token signing key exists from the start: peers can fetch it before any token.
  const jwks = (await tv.app.inject({ url: "/.well-known/jwks.json" })).json();
  assert.equal(jwks.keys.length, 1);
  for (const path of [
    "/v1/agents",
    "/v1/agents/{id}/sign/transaction",
    "/v1/audit/verify",
    "/v1/approvals/{id}/approve",
  ]) {
    assert.ok(doc.paths[path], `OpenAPI lists ${path}`);
  }
});

test("/openapi.json is a valid OpenAPI 3.1 document (swagger-parser)", async () => {
  const doc = (await tv.app.inject({ url: "/openapi.json" })).json();
  assert.equal(doc.openapi, "3.1.0");
  await SwaggerParser.validate(structuredClone(doc));
  // 3.1 reads nullable fields as JSON Schema type arrays: no 3.0-only `nullable` is emitted.
  assert.doesNotMatch(JSON.stringify(doc), /"nullable"/);
});

const PUBLIC = [
  "GET /healthz",
  "GET /readyz",
  "GET /metrics",
  "GET /openapi.json",
  "GET /.well-known/jwks.json",
  "GET /.well-known/x402",
  "GET /v1/auth/challenge",
  "GET /v1/x402/payments/{id}",
];

/** A path with its parameters filled so that validation passes and the doors decide. */
const concrete = (path: string) =>
  path
    .replace("/v1/x402/payments/{id}", `/v1/x402/payments/pay_${"a".repeat(27)}`)
    .replace("/v1/proofs/{id}", "/v1/proofs/prf_none")
    .replace(/\{[^}]+\}/g, "none");

test("public routes declare security: [] and answer without credentials; the others need some", async () => {
  const doc = (await tv.app.inject({ url: "/openapi.json" })).json();
  const seen: string[] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, object>)) {
    for (const [method, op] of Object.entries(item as Record<string, { security?: unknown[] }>)) {
      const name = `${method.toUpperCase()} ${path}`;
      const security = op.security ?? doc.security;
      if (PUBLIC.includes(name)) {
        seen.push(name);
        assert.deepEqual(op.security, [], `${name} declares security: []`);
      } else {
        assert.ok(Array.isArray(security) && security.length > 0, `${name} needs credentials`);
      }
      if (method !== "get") continue;
      const res = await tv.app.inject({ url: concrete(path) });
      const refused = res.statusCode === 401 || res.statusCode === 402;
      assert.equal(
        refused,
        !PUBLIC.includes(name),
        `${name} without credentials: ${res.statusCode}`,
      );
    }
  }
  assert.deepEqual(seen.sort(), [...PUBLIC].sort());
});

test("with one node dead, signing still works and readyz names the node that is down", async () => {
  tv.vault.supervisor?.kill(2);
  await new Promise((r) => setTimeout(r, 200));
  await tv.vault.cluster.checkHealth();
  const ready = await tv.app.inject({ url: "/readyz" });
  assert.equal(ready.statusCode, 200);
  assert.deepEqual(ready.json().down, ["node-2"]);
  const res = await tv.app.inject({
    method: "POST",
    url: `/v1/agents/${agent.id}/sign/message`,
    headers: tv.admin,
    payload: { message: "one down" },
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(verifyMessage("one down", res.json().signature), agent.address);
  const types = tv.vault.audit.list(1, 10_000).map((e) => e.type);
  assert.ok(types.includes("node.unreachable"));
});

test("with two of three nodes dead, readyz is 503 and signing fails with QUORUM_UNAVAILABLE", async () => {
  tv.vault.supervisor?.kill(1);
  await new Promise((r) => setTimeout(r, 200));
  await tv.vault.cluster.checkHealth();
  const ready = await tv.app.inject({ url: "/readyz" });
  assert.equal(ready.statusCode, 503);
  assert.deepEqual(ready.json().down, ["node-1", "node-2"]);
  const res = await tv.app.inject({
    method: "POST",
    url: `/v1/agents/${agent.id}/sign/message`,
    headers: tv.admin,
    payload: { message: "two down" },
  });
  assert.equal(res.statusCode, 503, res.body);
  assert.equal(res.json().error.code, "QUORUM_UNAVAILABLE");
  assert.match(res.json().error.message, /node-1/);
});

test("nodes that come back catch up and sign again; the chain still verifies", async () => {
  await tv.vault.supervisor?.respawn(1);
  // A policy change while node 2 is still down reaches the two nodes that are up...
  const changed = await tv.app.inject({
    method: "PUT",
    url: `/v1/agents/${agent.id}/policy`,
    headers: tv.admin,
    payload: { policy: { ...BASIC_POLICY, rateLimitPerMinute: 500 } },
  });
  assert.equal(changed.statusCode, 200, changed.body);
  await tv.vault.supervisor?.respawn(2);
  await tv.vault.cluster.checkHealth();
  // ...and node 2 is given it when it comes back.
  let version = 0;
  for (let i = 0; i < 100 && version !== 2; i++) {
    const state = await tv.vault.cluster
      .client(2)
      .call("agent.state", `t-${i}`, { agentId: agent.id });
    version = state.policyVersion;
    if (version !== 2) await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(version, 2, "the returning node holds the latest policy");
  const res = await tv.app.inject({
    method: "POST",
    url: `/v1/agents/${agent.id}/sign/message`,
    headers: tv.admin,
    payload: { message: "all back" },
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal((await tv.app.inject({ url: "/readyz" })).statusCode, 200);
  assert.equal(tv.vault.audit.verify().ok, true);
});
