/**
 * Signing routed by the agent's backend (src/services/signing/execute.ts, issue 10): a Lit
 * agent's request goes to its backend, never to the cluster; the vault verifies the
 * backend's signature before storing it; a refusal releases the budget and signs nothing;
 * "sign.signed" records the backend and the action CID. Local agents are unchanged.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import { recoverAddress } from "ethers";
import { VaultError } from "../../src/errors/index.js";
import { validatePolicy } from "../../src/policy/validate.js";
import { createSigningService, type SigningService } from "../../src/services/signing.js";
import type { BackendName } from "../../src/signers/backend.js";
import { TEST_CID, TestBackend } from "../helpers/test-backend.js";
import { ethTransfer, type Fixture, POLICY, signingFixture } from "./signing-fixture.js";

const LIT = "agt_lit";
let f: Fixture;
let lit: TestBackend;
let signing: SigningService;

const make = (withBackends = true) =>
  createSigningService({
    store: f.store,
    audit: f.audit,
    cluster: f.cluster,
    now: () => f.clock.ms,
    ...(withBackends
      ? {
          backends: {
            get: async (name: BackendName) => {
              if (name !== "lit-chipotle") throw new Error(`asked for ${name}`);
              return lit;
            },
          },
        }
      : {}),
  });

beforeEach(async () => {
  f = await signingFixture();
  lit = new TestBackend("lit-chipotle");
  await f.store.putAgent({
    id: LIT,
    name: "lit",
    address: lit.address,
    publicKey: lit.key.publicKey,
    backend: "lit-chipotle",
    pkp: lit.pkp(),
  });
  await f.store.putPolicy(LIT, 1, POLICY, "lit-authorization");
  lit.policies.set(LIT, { version: 1, policy: POLICY });
  signing = make();
});
afterEach(() => f.close());

const entries = (agentId: string) => f.audit.list(1, 1000, agentId);

test("a Lit agent signs through its backend, not the cluster; the audit names backend and CID", async () => {
  const out = await signing.sign(LIT, ethTransfer(1), "test");
  assert.equal(out.status, "signed");
  if (out.status !== "signed") return;
  assert.equal(lit.calls.length, 1);
  assert.equal(f.cluster.calls.length, 0, "the cluster is never asked for a Lit agent");
  assert.deepEqual(f.cluster.refills, [], "no presignatures for a Lit agent");
  assert.equal(lit.calls[0]?.address, lit.address);
  assert.equal(recoverAddress(lit.calls[0]?.digest as string, out.signature), lit.address);
  const signed = (await entries(LIT)).find((e) => e.type === "sign.signed");
  assert.equal(signed?.data.backend, "lit-chipotle");
  assert.equal(signed?.data.actionCid, TEST_CID);
  assert.equal(signed?.data.signers, TEST_CID);
  assert.equal((await f.store.sign(signed?.data.requestId as string))?.status, "signed");
});

test("a local agent still signs through the cluster, and its entry says local", async () => {
  const out = await signing.sign(f.agentId, ethTransfer(1), "test");
  assert.equal(out.status, "signed");
  assert.equal(f.cluster.calls.length, 1);
  assert.equal(lit.calls.length, 0);
  assert.deepEqual(f.cluster.refills, [f.agentId]);
  const signed = (await entries(f.agentId)).find((e) => e.type === "sign.signed");
  assert.equal(signed?.data.backend, "local");
  assert.equal(signed?.data.actionCid, undefined);
  assert.deepEqual(signed?.data.signers, [0, 1]);
});

test("the action's refusal: POLICY_DENIED by lit-action, no signature, budget released", async () => {
  // The vault's own check passes (0.001 ETH ≤ 0.01); the policy the action holds is narrower.
  lit.policies.set(LIT, {
    version: 1,
    policy: validatePolicy({
      ...POLICY,
      assets: { ETH: { maxPerTx: "0.0005", maxPer24h: "0.001" } },
    }),
  });
  await assert.rejects(signing.sign(LIT, ethTransfer(1), "test"), (err: unknown) => {
    assert.ok(err instanceof VaultError);
    assert.equal(err.code, "POLICY_DENIED");
    assert.equal(err.details.enforcedBy, "lit-action");
    assert.equal(err.details.rule, "maxPerTx");
    return true;
  });
  const types = (await entries(LIT)).map((e) => e.type);
  assert.ok(types.includes("sign.failed"));
  assert.ok(!types.includes("sign.signed"));
  const failed = (await entries(LIT)).find((e) => e.type === "sign.failed");
  assert.equal(failed?.data.seqReleased, true);
  assert.equal(failed?.data.backend, "lit-chipotle");
  assert.equal(
    (await f.store.spendsSince(LIT, 0)).length,
    0,
    "the refused request holds no budget",
  );
  assert.equal((await f.store.incomplete(LIT)).length, 0);
});

test("a signature that is not the agent's is discarded (BACKEND_SIGNATURE_INVALID)", async () => {
  for (const kind of ["wrong-key", "garbage"] as const) {
    lit.plan.push({ kind });
    await assert.rejects(signing.sign(LIT, ethTransfer(1), "test"), (err: unknown) => {
      assert.ok(err instanceof VaultError);
      assert.equal(err.code, "BACKEND_SIGNATURE_INVALID");
      return true;
    });
    assert.equal((await f.store.spendsSince(LIT, 0)).length, 0);
    assert.ok(!(await entries(LIT)).some((e) => e.type === "sign.signed"));
  }
  // The next request signs normally: nothing was left incomplete.
  const out = await signing.sign(LIT, ethTransfer(1), "test");
  assert.equal(out.status, "signed");
});

test("an unreachable backend fails the request and frees its budget", async () => {
  lit.plan.push({ kind: "unavailable" });
  await assert.rejects(signing.sign(LIT, ethTransfer(1), "test"), /unreachable/);
  assert.equal((await f.store.spendsSince(LIT, 0)).length, 0);
  assert.equal((await f.store.incomplete(LIT)).length, 0);
});

test("without a configured backend a Lit agent gets BACKEND_NOT_CONFIGURED, nothing signed", async () => {
  const bare = make(false);
  await assert.rejects(bare.sign(LIT, ethTransfer(1), "test"), (err: unknown) => {
    assert.ok(err instanceof VaultError);
    assert.equal(err.code, "BACKEND_NOT_CONFIGURED");
    return true;
  });
  assert.equal(lit.calls.length, 0);
  assert.equal((await f.store.spendsSince(LIT, 0)).length, 0);
});

test("the vault's own policy still comes first: over the cap, the backend is never asked", async () => {
  await assert.rejects(
    signing.sign(LIT, ethTransfer(1, "20000000000000000"), "test"),
    (err: unknown) => err instanceof VaultError && err.code === "POLICY_DENIED",
  );
  assert.equal(lit.calls.length, 0);
});

test("a Lit agent whose public key its backend never revealed learns it from its first signature", async () => {
  const before = await f.store.agent(LIT);
  const pkp = JSON.stringify({ ...before?.pkp, publicKey: "" });
  await f.store.sql.run("UPDATE agents SET public_key = '', pkp = $1 WHERE id = $2", [pkp, LIT]);
  await signing.sign(LIT, ethTransfer(1), "test");
  const row = await f.store.agent(LIT);
  assert.equal(row?.publicKey, lit.key.publicKey);
  assert.equal(row?.pkp?.publicKey, lit.key.publicKey);
});
