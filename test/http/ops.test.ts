/**
 * Operations: health, metrics, OpenAPI, and signing while nodes die and come back.
 * Each case starts from a cluster with every node up (beforeEach) and kills what it needs,
 * so the cases pass alone or in any order; waits poll on the condition, never a fixed delay.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
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

/** Polls `probe` until it returns a value (not undefined); fails naming `what` after `ms`. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const supervisor = () => {
  const s = tv.vault.supervisor;
  if (!s) throw new Error("the test vault runs embedded nodes");
  return s;
};
const isRunning = (i: number) =>
  supervisor()
    .list()
    .find((n) => n.index === i)?.pid !== undefined;

/** readyz after a fresh health check, once `ok` accepts it. */
const readyzWhen = (what: string, ok: (down: string[]) => boolean) =>
  until(what, async () => {
    await tv.vault.cluster.checkHealth();
    const res = await tv.app.inject({ url: "/readyz" });
    return ok(res.json().down ?? []) ? res : undefined;
  });

async function killNode(i: number) {
  supervisor().kill(i);
  await until(`node-${i} exited`, async () => (isRunning(i) ? undefined : true));
  await readyzWhen(`readyz names node-${i}`, (down) => down.includes(`node-${i}`));
}

beforeEach(async () => {
  await Promise.all([0, 1, 2].filter((i) => !isRunning(i)).map((i) => supervisor().respawn(i)));
  await readyzWhen("every node is up", (down) => down.length === 0);
});

const sign = (message: string) =>
  tv.app.inject({
    method: "POST",
    url: `/v1/agents/${agent.id}/sign/message`,
    headers: tv.admin,
    payload: { message },
  });

test("healthz, metrics and the OpenAPI document are served", async () => {
  assert.equal((await tv.app.inject({ url: "/healthz" })).json().ok, true);
  const metrics = await tv.app.inject({ url: "/metrics" });
  assert.match(metrics.body, /agent_vault_signer_node_up\{cluster="c0",node="0"\} 1/);
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
  "GET /v1/status/revocation",
  "GET /.well-known/did.json",
  "GET /v1/federation/members",
  "POST /v1/revocations",
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
  const from = (await tv.vault.audit.head()).seq + 1;
  await killNode(2);
  const ready = await tv.app.inject({ url: "/readyz" });
  assert.equal(ready.statusCode, 200);
  assert.deepEqual(ready.json().down, ["node-2"]);
  const res = await sign("one down");
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(verifyMessage("one down", res.json().signature), agent.address);
  const since = await tv.vault.audit.list(from, 10_000);
  assert.ok(since.some((e) => e.type === "node.unreachable" && e.data.node === 2));
});

test("with two of three nodes dead, readyz is 503 and signing fails with QUORUM_UNAVAILABLE", async () => {
  await killNode(2);
  await killNode(1);
  const ready = await tv.app.inject({ url: "/readyz" });
  assert.equal(ready.statusCode, 503);
  assert.deepEqual(ready.json().down, ["node-1", "node-2"]);
  const res = await sign("two down");
  assert.equal(res.statusCode, 503, res.body);
  assert.equal(res.json().error.code, "QUORUM_UNAVAILABLE");
  assert.match(res.json().error.message, /node-1/);
});

test("a node that comes back catches up and signs again; the chain still verifies", async () => {
  await killNode(2);
  // A policy change and a signature while node 2 is down reach the two nodes that are up...
  const changed = await tv.app.inject({
    method: "PUT",
    url: `/v1/agents/${agent.id}/policy`,
    headers: tv.admin,
    payload: {
      policy: { ...BASIC_POLICY, rateLimitPerMinute: 500 },
    },
  });
  assert.equal(changed.statusCode, 200, changed.body);
  const latest = changed.json().version as number;
  assert.equal((await sign("while node 2 is down")).statusCode, 200);
  await supervisor().respawn(2);
  await readyzWhen("node-2 is back", (down) => down.length === 0);
  // ...and node 2 is given the latest policy when it comes back.
  let i = 0;
  await until("node-2 holds the latest policy", async () => {
    const state = await tv.vault.cluster
      .client(2)
      .call("agent.state", `ops-state-${Date.now()}-${i++}`, { agentId: agent.id });
    return state.policyVersion === latest ? true : undefined;
  });
  const res = await sign("all back");
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(verifyMessage("all back", res.json().signature), agent.address);
  assert.equal((await tv.app.inject({ url: "/readyz" })).statusCode, 200);
  assert.equal((await tv.vault.audit.verify()).ok, true);
});
