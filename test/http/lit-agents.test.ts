/**
 * Lit-backed agents end to end through the HTTP API (issue 10, "Done when"): one vault with
 * both Lit backends configured, each over its fake network (test/helpers/lit: the Chipotle
 * fake is an HTTP server reached through LIT_CHIPOTLE_URL; the v7 fake is a real DKLs23
 * key behind a LitNodeClient-shaped object), running the committed, pinned policy action
 * with this operator's authority key. For each backend: POST /v1/agents creates the PKP,
 * GET shows backend and PKP, a request within policy is signed by the PKP, one outside it
 * is refused with no signature, a widened policy in the vault's own database is refused by
 * the action, and the audit log records backend and action CID.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { computeAddress, parseEther, Transaction, verifyMessage, Wallet } from "ethers";
import { adminPublicKey } from "../../src/auth/admin-authority.js";
import { isVaultError } from "../../src/errors/index.js";
import { decodeIntent } from "../../src/policy/decode.js";
import type { SignIntent } from "../../src/policy/types.js";
import type { BackendName, PkpInfo } from "../../src/signers/backend.js";
import { actionCode } from "../../src/signers/lit/action/index.js";
import { createLitV7Backend } from "../../src/signers/lit/v7/index.js";
import { type ChipotleFake, startChipotleFake } from "../helpers/lit/chipotle-fake.js";
import { createV7Fake, type V7Fake } from "../helpers/lit/v7-fake.js";
import {
  ADMIN_KEY,
  BASE_SEPOLIA,
  BASIC_POLICY,
  ethTx,
  startTestVault,
  type TestVault,
} from "../helpers/vault.js";

const OPERATOR = Wallet.createRandom();
let tv: TestVault;
let chipotle: ChipotleFake;
let v7: V7Fake;

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), "av-lit-http-"));
  chipotle = await startChipotleFake();
  const apiKeyFile = join(dir, "chipotle.key");
  writeFileSync(apiKeyFile, chipotle.newAccount(), { mode: 0o600 });
  const operatorFile = join(dir, "operator.key");
  writeFileSync(operatorFile, OPERATOR.privateKey, { mode: 0o600 });
  v7 = createV7Fake({ operatorAddress: OPERATOR.address });
  // The v7 nodes fetch the action from IPFS by CID: this operator's action is pinned there.
  await v7.pin(actionCode("lit-v7", adminPublicKey(ADMIN_KEY)));
  tv = await startTestVault(
    {
      LIT_CHIPOTLE_URL: chipotle.url,
      LIT_CHIPOTLE_API_KEY_FILE: apiKeyFile,
      LIT_V7_NETWORK: "datil-dev",
      LIT_V7_OPERATOR_KEY_FILE: operatorFile,
    },
    {
      // The real lit-v7 backend, over the fake SDK objects instead of @lit-protocol's.
      backendLoaders: {
        "lit-v7": async (deps) =>
          createLitV7Backend({
            network: "datil-dev",
            operatorKey: OPERATOR.privateKey,
            authorityKey: deps.authorityPublicKey,
            sdk: v7.sdk,
          }),
      },
    },
  );
});
after(async () => {
  await tv?.stop();
  await chipotle?.close();
});

/** How many times the network let the action touch the key (getPrivateKey / signEcdsa). */
const keyUses: Record<Exclude<BackendName, "local">, () => number> = {
  "lit-chipotle": () => chipotle.state.getPrivateKeyCalls,
  "lit-v7": () => v7.runs.reduce((n, r) => n + r.signCalls, 0),
};

for (const backend of ["lit-chipotle", "lit-v7"] as const) {
  describe(`a ${backend} agent through the HTTP API`, () => {
    let agent: { id: string; address: string; backend: string; pkp: PkpInfo };
    let auth: Record<string, string>;

    test("POST /v1/agents creates it on its backend; GET shows backend and PKP", async () => {
      const res = await tv.app.inject({
        method: "POST",
        url: "/v1/agents",
        headers: tv.admin,
        payload: { name: `${backend} agent`, policy: BASIC_POLICY, backend },
      });
      assert.equal(res.statusCode, 201, res.body);
      agent = res.json();
      assert.equal(agent.backend, backend);
      assert.match(agent.pkp.actionCid, /^Qm[1-9A-HJ-NP-Za-km-z]{44}$/);
      if (backend === "lit-chipotle") {
        assert.equal(agent.pkp.pkpId, agent.address);
        assert.ok(agent.pkp.groupId);
      } else {
        assert.match(agent.pkp.tokenId ?? "", /^\d+$/);
        assert.match(agent.pkp.publicKey, /^0x04[0-9a-f]{128}$/i);
      }
      const got = await tv.app.inject({
        method: "GET",
        url: `/v1/agents/${agent.id}`,
        headers: tv.admin,
      });
      assert.equal(got.statusCode, 200, got.body);
      assert.deepEqual(got.json(), res.json());
      assert.equal(got.json().threshold, undefined);
      auth = (await tv.issueKey(agent.id, ["READ", "EXECUTE", "SPEND"])).auth;
    });

    test("within policy: a message and a transaction, signed by the PKP", async () => {
      const msg = await tv.app.inject({
        method: "POST",
        url: `/v1/agents/${agent.id}/sign/message`,
        headers: auth,
        payload: { message: "hello from a PKP" },
      });
      assert.equal(msg.statusCode, 200, msg.body);
      assert.equal(verifyMessage("hello from a PKP", msg.json().signature), agent.address);
      const before = keyUses[backend]();
      const tx = await tv.app.inject({
        method: "POST",
        url: `/v1/agents/${agent.id}/sign/transaction`,
        headers: auth,
        payload: { tx: ethTx({ nonce: 1 }) },
      });
      assert.equal(tx.statusCode, 200, tx.body);
      const signed = Transaction.from(tx.json().signedTransaction);
      assert.equal(signed.from, agent.address);
      assert.equal(signed.chainId, BigInt(BASE_SEPOLIA));
      assert.equal(keyUses[backend](), before + 1);
      // The public key is shown (Chipotle's API never reveals it: the first signature does).
      const view = (
        await tv.app.inject({ method: "GET", url: `/v1/agents/${agent.id}`, headers: tv.admin })
      ).json();
      assert.equal(computeAddress(view.publicKey), agent.address);
      assert.equal(view.pkp.publicKey, view.publicKey);
    });

    test("outside policy: refused, no signature, the key never touched", async () => {
      const before = keyUses[backend]();
      const res = await tv.app.inject({
        method: "POST",
        url: `/v1/agents/${agent.id}/sign/transaction`,
        headers: auth,
        payload: { tx: ethTx({ nonce: 2, value: parseEther("0.5").toString() }) },
      });
      assert.equal(res.statusCode, 403, res.body);
      assert.equal(res.json().error.code, "POLICY_DENIED");
      assert.equal(res.json().signature, undefined);
      assert.equal(keyUses[backend](), before);
    });

    test("straight to Lit with the vault's own credentials and a raised amount: the action refuses", async () => {
      const lit = await tv.vault.backends.get(backend);
      const intent: SignIntent = {
        kind: "transaction",
        tx: ethTx({ nonce: 3, value: parseEther("0.5").toString() }),
      };
      const p = await tv.vault.store.policy(agent.id);
      assert.ok(p);
      const before = keyUses[backend]();
      await assert.rejects(
        lit.signDigest({
          agentId: agent.id,
          seq: 99,
          intent,
          digest: decodeIntent(intent).digest,
          address: agent.address,
          pkp: agent.pkp,
          policy: {
            version: p.version,
            policy: p.policy,
            authorization: p.authorization,
          },
        }),
        (err: unknown) => {
          assert.ok(isVaultError(err));
          assert.equal(err.code, "POLICY_DENIED");
          assert.equal(err.details.enforcedBy, "lit-action");
          assert.equal(err.details.rule, "maxPerTx");
          return true;
        },
      );
      assert.equal(keyUses[backend](), before, "refused before the key was touched");
    });

    test("a policy widened in the vault's database is refused by the action, no signature", async () => {
      const p = await tv.vault.store.policy(agent.id);
      assert.ok(p);
      const wider = {
        ...BASIC_POLICY,
        assets: { ...BASIC_POLICY.assets, ETH: { maxPerTx: "5", maxPer24h: "10" } },
      };
      // What a compromised vault could do: change its own row, keeping the old authorization.
      await tv.vault.store.sql.run(
        "UPDATE policies SET policy = $1 WHERE agent_id = $2 AND version = $3",
        [JSON.stringify(wider), agent.id, p.version],
      );
      const before = keyUses[backend]();
      try {
        const res = await tv.app.inject({
          method: "POST",
          url: `/v1/agents/${agent.id}/sign/transaction`,
          headers: auth,
          payload: { tx: ethTx({ nonce: 4, value: parseEther("1").toString() }) },
        });
        assert.equal(res.statusCode, 502, res.body);
        assert.equal(res.json().error.code, "LIT_ACTION_REFUSED");
        assert.equal(res.json().signature, undefined);
        assert.equal(keyUses[backend](), before);
      } finally {
        await tv.vault.store.sql.run(
          "UPDATE policies SET policy = $1 WHERE agent_id = $2 AND version = $3",
          [JSON.stringify(p.policy), agent.id, p.version],
        );
      }
    });

    test("the audit log: created on the backend, each signature with backend and action CID", async () => {
      const res = await tv.app.inject({
        method: "GET",
        url: "/v1/audit?limit=1000",
        headers: tv.admin,
      });
      assert.equal(res.statusCode, 200, res.body);
      const mine = (
        res.json().entries as Array<{
          type: string;
          agentId?: string;
          data: Record<string, unknown>;
        }>
      ).filter((e) => e.agentId === agent.id);
      const created = mine.find((e) => e.type === "agent.created");
      assert.equal(created?.data.backend, backend);
      const signed = mine.filter((e) => e.type === "sign.signed");
      assert.equal(signed.length, 2);
      for (const e of signed) {
        assert.equal(e.data.backend, backend);
        assert.equal(e.data.actionCid, agent.pkp.actionCid);
      }
      // The transfer's spend is in its entry, so compliance proofs cover it (src/audit/commitment.ts).
      assert.ok(signed.some((e) => Array.isArray(e.data.spends) && e.data.spends.length === 1));
      const refused = mine.filter((e) => e.type === "sign.failed" || e.type === "sign.denied");
      assert.ok(refused.length >= 2, "the refusals are audited too");
      const verify = await tv.app.inject({
        method: "GET",
        url: "/v1/audit/verify",
        headers: tv.admin,
      });
      assert.equal(verify.statusCode, 200, verify.body);
      assert.equal(verify.json().ok, true, verify.body);
    });
  });
}

test("OpenAPI documents the backend of POST /v1/agents and the backend and PKP of an agent", async () => {
  const doc = (await tv.app.inject({ method: "GET", url: "/openapi.json" })).json();
  const body = doc.paths["/v1/agents"].post.requestBody.content["application/json"].schema;
  assert.deepEqual(body.properties.backend.enum, ["local", "lit-v7", "lit-chipotle"]);
  const view = doc.paths["/v1/agents/{id}"].get.responses["200"].content["application/json"].schema;
  assert.deepEqual(view.properties.backend.enum, ["local", "lit-v7", "lit-chipotle"]);
  assert.deepEqual(Object.keys(view.properties.pkp.properties).sort(), [
    "actionCid",
    "groupId",
    "pkpId",
    "publicKey",
    "tokenId",
  ]);
});

test("an unknown backend is 400; an unconfigured one is BACKEND_NOT_CONFIGURED", async () => {
  const unknown = await tv.app.inject({
    method: "POST",
    url: "/v1/agents",
    headers: tv.admin,
    payload: { name: "x", backend: "lit-v8" },
  });
  assert.equal(unknown.statusCode, 400, unknown.body);
  const local = await startTestVault();
  try {
    const res = await local.app.inject({
      method: "POST",
      url: "/v1/agents",
      headers: local.admin,
      payload: { name: "x", policy: BASIC_POLICY, backend: "lit-chipotle" },
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().error.code, "BACKEND_NOT_CONFIGURED");
    assert.equal((await local.vault.store.agents()).length, 0);
  } finally {
    await local.stop();
  }
});
