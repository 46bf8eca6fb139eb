import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { BASIC_POLICY, ethTx, startTestVault, type TestVault } from "../helpers/vault.js";

let tv: TestVault;
let agent: { id: string };
let auth: Record<string, string>;

before(async () => {
  tv = await startTestVault({
    VAULT_BODY_LIMIT: "4096",
    VAULT_AUDIT_REFUSALS_PER_MINUTE: "20",
    VAULT_TRUST_PROXY: "127.0.0.1",
  });
  agent = await tv.createAgent(BASIC_POLICY);
  auth = (await tv.issueKey(agent.id, ["EXECUTE", "SPEND", "READ"])).auth;
});
after(async () => tv?.stop());

const post = (url: string, payload: unknown, headers = auth) =>
  tv.app.inject({
    method: "POST",
    url,
    headers: { ...headers, "content-type": "application/json" },
    payload: typeof payload === "string" ? payload : JSON.stringify(payload),
  });

test("schema errors are 400 VALIDATION_FAILED naming the field", async () => {
  const cases: Array<[unknown, string]> = [
    [{}, "tx"],
    [{ tx: { ...ethTx(), to: "0x12" } }, "tx.to"],
    [{ tx: { ...ethTx(), extra: 1 } }, "tx.extra"],
    [{ tx: ethTx({ nonce: -1 }) }, "tx.nonce"],
  ];
  for (const [payload, field] of cases) {
    const res = await post(`/v1/agents/${agent.id}/sign/transaction`, payload);
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().error.code, "VALIDATION_FAILED");
    assert.equal(res.json().error.field, field);
  }
});

test("malformed transactions and typed data are 400 with their own codes", async () => {
  const tx = await post(`/v1/agents/${agent.id}/sign/transaction`, {
    tx: ethTx({ maxPriorityFeePerGas: "5000000000" }),
  });
  assert.equal(tx.json().error.code, "MALFORMED_TRANSACTION");
  const td = await post(`/v1/agents/${agent.id}/sign/typed-data`, {
    domain: { chainId: 84532 },
    types: { Mail: [{ name: "x", type: "uint999" }] },
    primaryType: "Mail",
    message: { x: 1 },
  });
  assert.equal(td.statusCode, 400);
  assert.equal(td.json().error.code, "MALFORMED_TYPED_DATA");
  const policy = await tv.app.inject({
    method: "PUT",
    url: `/v1/agents/${agent.id}/policy`,
    headers: tv.admin,
    payload: { policy: { chains: [] } },
  });
  assert.equal(policy.json().error.code, "INVALID_POLICY");
});

test("unknown agents are 404, unknown routes 404, invalid JSON 400, oversize bodies 413", async () => {
  assert.equal(
    (await post("/v1/agents/agt_nope/sign/message", { message: "x" }, tv.admin)).json().error.code,
    "AGENT_NOT_FOUND",
  );
  assert.equal(
    (await tv.app.inject({ method: "GET", url: "/v1/nothing" })).json().error.code,
    "NOT_FOUND",
  );
  const bad = await post(`/v1/agents/${agent.id}/sign/message`, "{not json");
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error.code, "BAD_REQUEST");
  const big = await post(`/v1/agents/${agent.id}/sign/message`, { message: "x".repeat(10_000) });
  assert.equal(big.statusCode, 413);
  assert.equal(big.json().error.code, "BODY_TOO_LARGE");
});

test("after bad input the process still serves and the audit chain still verifies", async () => {
  const ok = await post(`/v1/agents/${agent.id}/sign/message`, { message: "still here" });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal((await tv.vault.audit.verify()).ok, true);
});

test("errors never leak internals (no stack, no SQL)", async () => {
  const res = await post(`/v1/agents/${agent.id}/sign/transaction`, {
    tx: ethTx({ data: "0xa9059cbb00" }),
  });
  assert.equal(res.statusCode, 400);
  assert.doesNotMatch(res.body, /at .*\.ts|sqlite|SELECT|node_modules/i);
});

test("a flood of bad credentials is refused, and grows the audit log by its budget, not its size", async () => {
  const before = (await tv.vault.audit.head()).seq;
  const results = await Promise.all(
    Array.from({ length: 500 }, (_, i) =>
      tv.app.inject({
        method: "GET",
        url: "/v1/agents",
        headers: { authorization: i % 2 ? `Bearer avk_guess_${i}` : `Bearer ${"x.y.z"}` },
      }),
    ),
  );
  assert.ok(results.every((r) => r.statusCode === 401));
  const grown = (await tv.vault.audit.head()).seq - before;
  assert.ok(grown <= 20, `the flood wrote ${grown} entries`);
  // Nothing is lost: the held-back refusals are counted, and the count is written.
  await tv.vault.refusals.flush(true);
  const summary = (await tv.vault.audit.list(before + 1, 1000)).find(
    (e) => e.type === "auth.refusals_suppressed",
  );
  assert.equal(summary?.data.count, 500 - (grown as number));
  const served = await tv.app.inject({ method: "GET", url: "/v1/agents", headers: tv.admin });
  assert.equal(served.statusCode, 200);
  // Behind the trusted proxy, another client has its own budget, and is named in the entry.
  const head = (await tv.vault.audit.head()).seq;
  await tv.app.inject({
    method: "GET",
    url: "/v1/agents",
    headers: { authorization: "Bearer avk_other", "x-forwarded-for": "203.0.113.9" },
  });
  const entry = (await tv.vault.audit.list(head + 1, 1))[0];
  assert.equal(entry?.type, "auth.refused");
  assert.equal(entry?.data.client, "203.0.113.9");
});
