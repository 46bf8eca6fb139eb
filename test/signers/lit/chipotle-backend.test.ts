/**
 * The lit-chipotle backend's own logic against the fake lit-api-server, with small
 * stand-in actions that honour the policy action's reply contract
 * (src/signers/lit/action): what createKey binds (one PKP, one CID, one usage key with
 * execute rights on that group alone), that signing goes through the usage key by
 * ipfs_id, how replies and refusals map, that a forged reply is never used, and that a
 * restart mints a fresh usage key. The real built action runs in chipotle-e2e.test.ts.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { hashMessage, hexlify, recoverAddress, toUtf8Bytes } from "ethers";
import { adminPublicKey, authorize, isAuthorized } from "../../../src/auth/admin-authority.js";
import type { Policy, SignIntent } from "../../../src/policy/types.js";
import type {
  BackendSignRequest,
  CreatedKey,
  SignerBackend,
} from "../../../src/signers/backend.js";
import { cidHash, createChipotleBackend } from "../../../src/signers/lit/chipotle/backend.js";
import { codeOf } from "../../helpers/errors.js";
import { type ChipotleFake, startChipotleFake } from "../../helpers/lit/chipotle-fake.js";

const ADMIN = "admin-key-for-chipotle-backend-tests";
/** Signs when allowed; `deny` in the policy → POLICY_DENIED; `refuse` → that code. */
const STAND_IN = `async function main({ pkpId, request }) {
  const p = request.policy.policy;
  if (p.deny) return { ok: false, code: "POLICY_DENIED", rule: "maxPerTx", message: "over the cap" };
  if (p.refuse) return { ok: false, code: p.refuse, message: "refused" };
  const key = await Lit.Actions.getPrivateKey({ pkpId });
  const w = new ethers.Wallet(key);
  const digest = p.otherDigest ? ethers.utils.id("other") : request.digest;
  const sig = ethers.utils.joinSignature(w._signingKey().signDigest(digest));
  return { ok: true, digest: request.digest, address: w.address, signature: sig };
}
`;

async function cidOf(code: string): Promise<string> {
  const mod = (await import("ipfs-only-hash" as string)) as {
    default: { of(s: string): Promise<string> };
  };
  return mod.default.of(code);
}

const intent: SignIntent = { kind: "message", message: hexlify(toUtf8Bytes("hello")) };
const digest = hashMessage(toUtf8Bytes("hello"));

describe("lit-chipotle backend", () => {
  let fake: ChipotleFake;
  let account: string;
  let backend: SignerBackend;
  let cid: string;
  const backendFor = (code = STAND_IN) =>
    createChipotleBackend({
      baseUrl: fake.url,
      apiKey: account,
      loadAction: async () => ({ code, cid: await cidOf(code) }),
    });

  before(async () => {
    fake = await startChipotleFake();
    account = fake.newAccount();
    backend = backendFor();
    cid = await cidOf(STAND_IN);
  });
  after(async () => {
    await backend.close?.();
    await fake.close();
  });

  async function agent(policy: Record<string, unknown> = {}) {
    const agentId = `agent-${Math.random().toString(36).slice(2)}`;
    const created = await backend.createKey({
      agentId,
      policy: { version: 1, policy: policy as unknown as Policy },
      authorize: (a) => authorize(ADMIN, a),
    });
    return { agentId, created };
  }
  function request(
    a: { agentId: string; created: CreatedKey & { policyAuthorization?: string } },
    policy: Record<string, unknown> = {},
  ): BackendSignRequest {
    return {
      agentId: a.agentId,
      seq: 1,
      intent,
      digest,
      address: a.created.address,
      pkp: a.created.pkp,
      policy: {
        version: 1,
        policy: policy as unknown as Policy,
        authorization: a.created.policyAuthorization ?? "",
      },
    };
  }

  it("binds one PKP to one CID in one group, with a usage key that may execute there alone", async () => {
    const { agentId, created } = await agent();
    const pkp = created.pkp;
    assert.equal(pkp?.pkpId, created.address);
    assert.equal(pkp?.actionCid, cid);
    const group = fake.state.groups.get(Number(pkp?.groupId));
    assert.deepEqual([...(group?.pkpIds ?? [])], [created.address.toLowerCase()]);
    assert.deepEqual([...(group?.cidHashes ?? [])], [BigInt(cidHash(cid))]);
    const usage = [...fake.state.usageKeys.values()].filter((u) => u.account === account);
    assert.deepEqual(usage.at(-1)?.executeInGroups, [Number(pkp?.groupId)]);
    const action = {
      op: "lit.policy" as const,
      agentId,
      address: created.address,
      version: 1,
      policy: {},
    };
    assert.ok(isAuthorized(adminPublicKey(ADMIN), action, created.policyAuthorization));
  });

  it("signs through the usage key by ipfs_id (the code sent once, on the cache miss)", async () => {
    const a = await agent();
    const fresh = createChipotleBackend({
      baseUrl: fake.url,
      apiKey: account,
      loadAction: async () => ({ code: `${STAND_IN}//x\n`, cid: await cidOf(`${STAND_IN}//x\n`) }),
    });
    const b = await fresh.createKey({ agentId: "x", authorize: (x) => authorize(ADMIN, x) });
    const from = fake.requests.length;
    const sig = await fresh.signDigest({ ...request(a), address: b.address, pkp: b.pkp });
    const calls = fake.requests.slice(from).filter((r) => r.path === "lit_action");
    assert.deepEqual(
      calls.map((r) => [r.as, "code" in (r.body as object), "ipfs_id" in (r.body as object)]),
      [
        ["usage", false, true],
        ["usage", true, true],
      ],
    );
    assert.equal(recoverAddress(digest, sig.signature), b.address);
    assert.equal(sig.signers, await cidOf(`${STAND_IN}//x\n`));
    const again = fake.requests.length;
    await fresh.signDigest({ ...request(a), address: b.address, pkp: b.pkp });
    assert.equal(fake.requests.slice(again).filter((r) => r.path === "lit_action").length, 1);
    await fresh.close?.();
  });

  it("maps the action's POLICY_DENIED to POLICY_DENIED, enforced by the lit-action, with no key fetched", async () => {
    const a = await agent();
    const before = fake.state.getPrivateKeyCalls;
    const err = await backend.signDigest(request(a, { deny: true })).catch((e: unknown) => e);
    assert.deepEqual((err as { toJSON(): unknown }).toJSON(), {
      error: {
        code: "POLICY_DENIED",
        message: "over the cap",
        rule: "maxPerTx",
        enforcedBy: "lit-action",
      },
    });
    assert.equal(fake.state.getPrivateKeyCalls, before);
  });

  it("maps the action's other refusals to LIT_ACTION_REFUSED with the action's code", async () => {
    const a = await agent();
    for (const refuse of ["DIGEST_MISMATCH", "POLICY_UNAUTHORIZED", "BAD_REQUEST"]) {
      const err = await backend.signDigest(request(a, { refuse })).catch((e: unknown) => e);
      assert.equal((err as { code: string }).code, "LIT_ACTION_REFUSED");
      assert.equal((err as { details: { actionCode: string } }).details.actionCode, refuse);
    }
    assert.equal(
      await codeOf(backend.signDigest(request(a, { refuse: "WHATEVER" }))),
      "LIT_BAD_RESPONSE",
    );
  });

  it("never returns a signature that does not recover to the agent over the vault's digest", async () => {
    const a = await agent();
    assert.equal(
      await codeOf(backend.signDigest(request(a, { otherDigest: true }))),
      "LIT_BAD_RESPONSE",
    );
    const other = await agent();
    const wrongAddress = { ...request(a), address: other.created.address };
    assert.equal(await codeOf(backend.signDigest(wrongAddress)), "LIT_BAD_RESPONSE");
  });

  it("refuses to sign without the agent's pkp and policy, or for a PKP bound to another CID", async () => {
    const a = await agent();
    const { pkp: _p, ...noPkp } = request(a);
    assert.equal(await codeOf(backend.signDigest(noPkp)), "INTERNAL");
    const stale = { ...request(a), pkp: { ...a.created.pkp, actionCid: "QmOld", publicKey: "" } };
    assert.equal(await codeOf(backend.signDigest(stale)), "LIT_NOT_PERMITTED");
  });

  it("after a restart mints a fresh usage key for the group; close() removes the keys it minted", async () => {
    const a = await agent();
    const restarted = backendFor();
    const keys = fake.state.usageKeys.size;
    const sig = await restarted.signDigest(request(a));
    assert.equal(recoverAddress(digest, sig.signature), a.created.address);
    assert.equal(fake.state.usageKeys.size, keys + 1);
    await restarted.close?.();
    assert.equal(fake.state.usageKeys.size, keys);
  });

  it("maps a reply flagged has_error, and a 402 while signing, to stable codes", async () => {
    const a = await agent();
    const flagged = JSON.stringify({ response: null, logs: "threw", has_error: true });
    fake.inject({ path: "lit_action", status: 200, body: flagged });
    assert.equal(await codeOf(backend.signDigest(request(a))), "LIT_ACTION_FAILED");
    fake.inject({ path: "lit_action", status: 402 });
    assert.equal(await codeOf(backend.signDigest(request(a))), "LIT_NO_CREDITS");
  });

  it("maps an action that throws to LIT_ACTION_FAILED", async () => {
    const throwing = "async function main() { throw new Error('no'); }\n";
    const b = backendFor(throwing);
    const created = await b.createKey({ agentId: "t", authorize: (x) => authorize(ADMIN, x) });
    const req = { ...request({ agentId: "t", created }), address: created.address };
    assert.equal(await codeOf(b.signDigest(req)), "LIT_ACTION_FAILED");
    await b.close?.();
  });
});
