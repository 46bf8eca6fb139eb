/**
 * create → sign → denied for a lit-chipotle agent, end to end against the fake
 * lit-api-server running the real built policy action (actionCode("lit-chipotle",
 * the operator's authority key), src/signers/lit/action): the PKP is bound to that CID
 * alone; a request within policy is signed by the PKP; a raised amount is refused by
 * the action before it fetches the key, also when sent straight to Lit with the vault's
 * usage key; another agent's authorization, a widened policy, a wrong digest and
 * another agent's PKP are refused.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { recoverAddress } from "ethers";
import { adminPublicKey, authorize } from "../../../src/auth/admin-authority.js";
import { decodeIntent } from "../../../src/policy/index.js";
import type { Policy, SignIntent } from "../../../src/policy/types.js";
import type { BackendSignRequest, SignerBackend } from "../../../src/signers/backend.js";
import { actionCid, actionCode } from "../../../src/signers/lit/action/index.js";
import { createChipotleClient } from "../../../src/signers/lit/chipotle/client.js";
import { chipotleBackendFor, cidHash } from "../../../src/signers/lit/chipotle/index.js";
import { codeOf } from "../../helpers/errors.js";
import { type ChipotleFake, startChipotleFake } from "../../helpers/lit/chipotle-fake.js";

const ADMIN = "admin-key-for-the-chipotle-e2e-tests";
const RECIPIENT = "0x1111111111111111111111111111111111111111";
const POLICY = {
  chains: [8453],
  assets: { ETH: { maxPerTx: "0.01", maxPer24h: "0.05" } },
  recipients: [RECIPIENT],
} as unknown as Policy;

function transfer(value: string): SignIntent {
  return {
    kind: "transaction",
    tx: {
      chainId: 8453,
      to: RECIPIENT,
      value,
      data: "0x",
      nonce: 0,
      gasLimit: 21000,
      maxFeePerGas: "1000000000",
      maxPriorityFeePerGas: "1000000",
    },
  };
}
const WITHIN = "1000000000000000"; // 0.001 ETH
const RAISED = "20000000000000000"; // 0.02 ETH > maxPerTx

describe("lit-chipotle end to end, with the real policy action", () => {
  let fake: ChipotleFake;
  let account: string;
  let backend: SignerBackend;
  let cid: string;

  before(async () => {
    fake = await startChipotleFake();
    account = fake.newAccount();
    backend = chipotleBackendFor({
      url: fake.url,
      apiKey: account,
      authorityPublicKey: adminPublicKey(ADMIN),
    });
    cid = await actionCid(actionCode("lit-chipotle", adminPublicKey(ADMIN)));
  });
  after(async () => {
    await backend.close?.();
    await fake.close();
  });

  async function agent(agentId: string) {
    const created = await backend.createKey({
      agentId,
      policy: { version: 1, policy: POLICY },
      authorize: (a) => authorize(ADMIN, a),
    });
    const authorization = created.policyAuthorization ?? "";
    const sign = (value: string, over: Partial<BackendSignRequest> = {}): BackendSignRequest => {
      const intent = transfer(value);
      return {
        agentId,
        seq: 1,
        intent,
        digest: decodeIntent(intent).digest,
        address: created.address,
        pkp: created.pkp,
        policy: { version: 1, policy: POLICY, authorization },
        ...over,
      };
    };
    const usageKey = [...fake.state.usageKeys.entries()].find(([, u]) =>
      u.executeInGroups.includes(Number(created.pkp?.groupId)),
    )?.[0];
    return { agentId, created, authorization, sign, usageKey: usageKey ?? "" };
  }

  it("creates a PKP bound to the operator's action CID alone", async () => {
    const a = await agent("agt_e2e_create");
    assert.equal(a.created.pkp?.actionCid, cid);
    const group = fake.state.groups.get(Number(a.created.pkp?.groupId));
    assert.deepEqual([...(group?.cidHashes ?? [])], [BigInt(cidHash(cid))]);
    assert.deepEqual([...(group?.pkpIds ?? [])], [a.created.address.toLowerCase()]);
  });

  it("signs within policy: the signature recovers to the PKP's address", async () => {
    const a = await agent("agt_e2e_sign");
    const req = a.sign(WITHIN);
    const sig = await backend.signDigest(req);
    assert.equal(recoverAddress(req.digest, sig.signature), a.created.address);
    assert.equal(sig.signers, cid);
  });

  it("denies a raised amount inside the action, before it fetches the key", async () => {
    const a = await agent("agt_e2e_denied");
    const keys = fake.state.getPrivateKeyCalls;
    const err = await backend.signDigest(a.sign(RAISED)).catch((e: unknown) => e);
    const json = (err as { toJSON(): { error: Record<string, unknown> } }).toJSON().error;
    assert.equal(json.code, "POLICY_DENIED");
    assert.equal(json.enforcedBy, "lit-action");
    assert.equal(typeof json.rule, "string");
    assert.equal(fake.state.getPrivateKeyCalls, keys);
  });

  it("denies a raised amount sent straight to Lit with the vault's usage key and the pinned CID", async () => {
    const a = await agent("agt_e2e_direct");
    await backend.signDigest(a.sign(WITHIN)); // the code is cached under its CID now
    const keys = fake.state.getPrivateKeyCalls;
    const { intent, digest, policy } = a.sign(RAISED);
    const client = createChipotleClient({ baseUrl: fake.url });
    const r = await client.litAction(a.usageKey, {
      ipfsId: cid,
      jsParams: {
        pkpId: a.created.address,
        request: { agentId: a.agentId, intent, digest, policy },
      },
    });
    assert.equal((r.response as { ok: boolean }).ok, false);
    assert.equal((r.response as { code: string }).code, "POLICY_DENIED");
    assert.equal((r.response as { signature?: string }).signature, undefined);
    assert.equal(fake.state.getPrivateKeyCalls, keys);
  });

  it("refuses another agent's authorization, a widened policy and a wrong digest (LIT_ACTION_REFUSED)", async () => {
    const a = await agent("agt_e2e_a");
    const b = await agent("agt_e2e_b");
    const keys = fake.state.getPrivateKeyCalls;
    const theirs = a.sign(WITHIN, {
      policy: { version: 1, policy: POLICY, authorization: b.authorization },
    });
    const wider = {
      ...POLICY,
      assets: { ETH: { maxPerTx: "1", maxPer24h: "5" } },
    } as unknown as Policy;
    const widened = a.sign(RAISED, {
      policy: { version: 1, policy: wider, authorization: a.authorization },
    });
    const wrongDigest = a.sign(WITHIN, { digest: decodeIntent(transfer(RAISED)).digest });
    for (const [req, actionCodeWanted] of [
      [theirs, "POLICY_UNAUTHORIZED"],
      [widened, "POLICY_UNAUTHORIZED"],
      [wrongDigest, "DIGEST_MISMATCH"],
    ] as const) {
      const err = await backend.signDigest(req).catch((e: unknown) => e);
      assert.equal((err as { code: string }).code, "LIT_ACTION_REFUSED");
      assert.equal(
        (err as { details: { actionCode: string } }).details.actionCode,
        actionCodeWanted,
      );
    }
    assert.equal(fake.state.getPrivateKeyCalls, keys);
  });

  it("signs under a new policy version once the admin authorizes it", async () => {
    const a = await agent("agt_e2e_policy");
    const wider = {
      ...POLICY,
      assets: { ETH: { maxPerTx: "1", maxPer24h: "5" } },
    } as unknown as Policy;
    const { authorization } = await backend.setPolicy({
      agentId: a.agentId,
      address: a.created.address,
      version: 2,
      policy: wider,
      authorize: (x) => authorize(ADMIN, x),
    });
    const req = a.sign(RAISED, { policy: { version: 2, policy: wider, authorization } });
    const sig = await backend.signDigest(req);
    assert.equal(recoverAddress(req.digest, sig.signature), a.created.address);
  });

  it("one agent's usage key cannot reach another agent's PKP, even with that agent's authorization", async () => {
    const a = await agent("agt_e2e_iso_a");
    const b = await agent("agt_e2e_iso_b");
    const { intent, digest, policy } = b.sign(WITHIN);
    const client = createChipotleClient({ baseUrl: fake.url });
    const r = client.litAction(a.usageKey, {
      code: actionCode("lit-chipotle", adminPublicKey(ADMIN)),
      jsParams: {
        pkpId: b.created.address,
        request: { agentId: b.agentId, intent, digest, policy },
      },
    });
    assert.equal(await codeOf(r), "LIT_ACTION_FAILED");
  });

  it("an action built for another operator's authority key is not permitted (403)", async () => {
    const a = await agent("agt_e2e_operator");
    const other = actionCode("lit-chipotle", adminPublicKey("someone-else"));
    const client = createChipotleClient({ baseUrl: fake.url });
    const r = client.litAction(a.usageKey, { code: other, jsParams: {} });
    assert.equal(await codeOf(r), "LIT_NOT_PERMITTED");
  });
});
