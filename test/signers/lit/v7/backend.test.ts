/**
 * The lit-v7 backend against the in-process v7 network (test/helpers/lit/v7-fake.ts):
 * PKPs are real DKLs23 keys, the action is the committed, pinned template with this
 * operator's authority key, and signEcdsa signs only for a permitted CID. The backend
 * itself checks no policy: every refusal below is the Lit Action's, which is what a
 * request sent straight to Lit with the vault's session would meet too.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  computeAddress,
  hexlify,
  parseEther,
  recoverAddress,
  Signature,
  Transaction,
  Wallet,
} from "ethers";
import {
  type AdminAction,
  adminPublicKey,
  authorize,
  isAuthorized,
} from "../../../../src/auth/admin-authority.js";
import { isVaultError } from "../../../../src/errors/index.js";
import { decodeIntent } from "../../../../src/policy/decode.js";
import type { Policy, SignIntent } from "../../../../src/policy/types.js";
import type { CreatedKey, PkpInfo, SignerBackend } from "../../../../src/signers/backend.js";
import { actionCid, actionCode } from "../../../../src/signers/lit/action/index.js";
import { createLitV7Backend } from "../../../../src/signers/lit/v7/index.js";
import { createV7Fake, type V7Fake } from "../../../helpers/lit/v7-fake.js";

const ADMIN_KEY = "lit-v7-test-admin-key";
const OPERATOR = Wallet.createRandom();
const RECIPIENT = "0x1111111111111111111111111111111111111111";
const POLICY: Policy = {
  chains: [84532],
  assets: { ETH: { maxPerTx: "0.01", maxPer24h: "0.05" } },
  recipients: [RECIPIENT],
};

const transfer = (eth: string, nonce = 0): SignIntent => ({
  kind: "transaction",
  tx: {
    chainId: 84532,
    to: RECIPIENT,
    value: parseEther(eth).toString(),
    data: "0x",
    nonce,
    gasLimit: 21000,
    maxFeePerGas: "1000000000",
    maxPriorityFeePerGas: "1000000",
  },
});

const adminAuthorize = (action: AdminAction) => authorize(ADMIN_KEY, action);

function refused(code: string, check?: (d: Record<string, unknown>) => void) {
  return (err: unknown) => {
    assert.ok(isVaultError(err), `expected a VaultError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    check?.(err.details);
    return true;
  };
}

let fake: V7Fake;
let backend: SignerBackend;
let cid: string;
type Agent = CreatedKey & { pkp: PkpInfo; policyAuthorization: string; agentId: string };
let alice: Agent;
let bob: Agent;

async function create(agentId: string): Promise<Agent> {
  const key = await backend.createKey({
    agentId,
    policy: { version: 1, policy: POLICY },
    authorize: adminAuthorize,
  });
  assert.ok(key.pkp && key.policyAuthorization);
  return { ...key, pkp: key.pkp, policyAuthorization: key.policyAuthorization, agentId };
}

function signFor(
  agent: Agent,
  intent: SignIntent,
  over: Partial<{ policy: unknown; pkp: PkpInfo }> = {},
) {
  const policy = { version: 1, policy: POLICY, authorization: agent.policyAuthorization };
  return backend.signDigest({
    agentId: agent.agentId,
    seq: 1,
    intent,
    digest: decodeIntent(intent).digest,
    address: agent.address,
    pkp: over.pkp ?? agent.pkp,
    policy: (over.policy as typeof policy | undefined) ?? policy,
  });
}

const lastRun = () => fake.runs.at(-1);

describe("lit-v7 backend on the fake v7 network", () => {
  before(async () => {
    fake = createV7Fake({ operatorAddress: OPERATOR.address });
    const authorityKey = adminPublicKey(ADMIN_KEY);
    cid = await fake.pin(actionCode("lit-v7", authorityKey));
    backend = createLitV7Backend({
      network: "datil-dev",
      operatorKey: OPERATOR.privateKey,
      authorityKey,
      sdk: fake.sdk,
    });
    alice = await create("agent-alice");
    bob = await create("agent-bob");
  });
  after(async () => {
    await backend.close?.();
  });

  it("mints a PKP that owns itself and may run the pinned action alone", async () => {
    assert.equal(alice.pkp.actionCid, cid);
    assert.match(alice.pkp.tokenId ?? "", /^[0-9]+$/);
    assert.equal(alice.publicKey, alice.pkp.publicKey);
    assert.equal(computeAddress(alice.publicKey), alice.address);
    const read = fake.contracts.pkpPermissionsContractUtils.read;
    const tokenId = alice.pkp.tokenId ?? "";
    assert.deepEqual(await read.getPermittedActions(tokenId), [
      fake.contracts.utils.getBytesFromMultihash(cid),
    ]);
    assert.equal(await fake.contracts.pkpNftContract.read.ownerOf(tokenId), alice.address);
    const action = {
      op: "lit.policy",
      agentId: "agent-alice",
      address: alice.address,
      version: 1,
      policy: POLICY,
    } as const;
    assert.ok(isAuthorized(adminPublicKey(ADMIN_KEY), action, alice.policyAuthorization));
  });

  it("signs an allowed request; the signature recovers to the PKP's address", async () => {
    const intent = transfer("0.005");
    const { signature, signers } = await signFor(alice, intent);
    assert.equal(signers, cid);
    assert.equal(recoverAddress(decodeIntent(intent).digest, signature), alice.address);
    assert.equal(lastRun()?.signCalls, 1);
  });

  it("a raised amount is denied by the action, which never calls signEcdsa", async () => {
    await assert.rejects(
      signFor(alice, transfer("0.02")),
      refused("POLICY_DENIED", (d) => assert.equal(d.enforcedBy, "lit-action")),
    );
    assert.equal(lastRun()?.signCalls, 0);
  });

  it("another agent's authorization does not open this PKP", async () => {
    const bobsPolicy = { version: 1, policy: POLICY, authorization: bob.policyAuthorization };
    await assert.rejects(
      signFor(alice, transfer("0.001"), { policy: bobsPolicy }),
      refused("LIT_ACTION_REFUSED", (d) => assert.equal(d.reason, "POLICY_UNAUTHORIZED")),
    );
    assert.equal(lastRun()?.signCalls, 0);
  });

  it("a wider policy without the operator's authorization is refused", async () => {
    const wider = { ...POLICY, assets: { ETH: { maxPerTx: "100", maxPer24h: "100" } } };
    const forged = { version: 2, policy: wider, authorization: alice.policyAuthorization };
    await assert.rejects(
      signFor(alice, transfer("1"), { policy: forged }),
      refused("LIT_ACTION_REFUSED", (d) => assert.equal(d.reason, "POLICY_UNAUTHORIZED")),
    );
    assert.equal(lastRun()?.signCalls, 0);
  });

  it("the network refuses to sign with a PKP bound to another action", async () => {
    const other = createLitV7Backend({
      network: "datil-dev",
      operatorKey: OPERATOR.privateKey,
      authorityKey: adminPublicKey("another-operator"),
      sdk: fake.sdk,
    });
    const carol = await other.createKey({ agentId: "agent-carol", authorize: adminAuthorize });
    assert.ok(carol.pkp);
    assert.notEqual(carol.pkp.actionCid, cid);
    // A vault whose store claims carol's PKP runs our action: Lit's nodes say no.
    const authorization = adminAuthorize({
      op: "lit.policy",
      agentId: "agent-carol",
      address: carol.address,
      version: 1,
      policy: POLICY,
    });
    const lying = {
      ...carol,
      pkp: { ...carol.pkp, actionCid: cid },
      policyAuthorization: authorization,
      agentId: "agent-carol",
    };
    await assert.rejects(signFor(lying, transfer("0.001")), refused("LIT_NOT_PERMITTED"));
    assert.equal(
      await fake.contracts.pkpPermissionsContractUtils.read.isPermittedAction(
        carol.pkp.tokenId ?? "",
        cid,
      ),
      false,
    );
  });

  it("refuses a minted PKP that may run any other action too", async () => {
    // A network (or a contract upgrade) that permits more than asked: no agent is made.
    const widening = {
      ...fake.sdk,
      contracts: async () => ({
        ...fake.contracts,
        mintWithAuth: async (params: Parameters<typeof fake.contracts.mintWithAuth>[0]) => {
          const minted = await fake.contracts.mintWithAuth(params);
          const other = await actionCid("// any other code\n");
          await fake.contracts.addPermittedAction({
            ipfsId: other,
            pkpTokenId: minted.pkp.tokenId,
            authMethodScopes: [1],
          });
          return minted;
        },
      }),
    };
    const wide = createLitV7Backend({
      network: "datil-dev",
      operatorKey: OPERATOR.privateKey,
      authorityKey: adminPublicKey(ADMIN_KEY),
      sdk: widening,
    });
    await assert.rejects(
      wide.createKey({ agentId: "agent-dave", authorize: adminAuthorize }),
      refused("LIT_NOT_PERMITTED"),
    );
  });

  it("maps the nodes' failures to stable codes", async () => {
    fake.failNext("rate_limit_exceeded", "Rate limit exceeded.  Try again later.");
    await assert.rejects(signFor(alice, transfer("0.001")), refused("LIT_RATE_LIMITED"));
    fake.failNext("NodeJsExecutionError", "the action timed out");
    await assert.rejects(signFor(alice, transfer("0.001")), refused("LIT_ACTION_FAILED"));
  });

  it("PKPEthersWallet serialises exactly the transaction the action signed", async () => {
    // The wallet is only the ethers (v5) serialiser: its pkpSign is answered with the
    // signature the backend got from executeJs for the same intent; it runs no action.
    const intent = transfer("0.004", 3);
    if (intent.kind !== "transaction") throw new Error("unreachable");
    const digest = decodeIntent(intent).digest;
    const calls: string[] = [];
    let fromLit = "";
    const shim = {
      ready: true,
      config: { litNetwork: "datil-dev", debug: false },
      connect: async () => {},
      disconnect: async () => {},
      pkpSign: async ({ toSign }: { toSign: ArrayLike<number> }) => {
        calls.push(hexlify(Uint8Array.from(toSign)));
        const { signature } = await signFor(alice, intent);
        fromLit = signature;
        const sig = Signature.from(signature);
        return {
          r: sig.r.slice(2),
          s: sig.s.slice(2),
          recid: sig.yParity,
          signature,
          publicKey: alice.publicKey.slice(2),
          dataSigned: digest.slice(2),
        };
      },
    };
    const { PKPEthersWallet } = await import("@lit-protocol/pkp-ethers");
    const wallet = new PKPEthersWallet({
      pkpPubKey: alice.publicKey,
      litNodeClient: shim as never,
      controllerSessionSigs: {},
      // Never reached for a fully populated transaction (a call here would fail).
      rpc: "http://127.0.0.1:9",
    });
    await wallet.init();
    const { tx } = intent;
    const fields = {
      to: tx.to,
      value: tx.value,
      data: tx.data,
      nonce: Number(tx.nonce),
      gasLimit: tx.gasLimit,
      maxFeePerGas: tx.maxFeePerGas,
      maxPriorityFeePerGas: tx.maxPriorityFeePerGas,
      chainId: Number(tx.chainId),
      type: 2,
    };
    const raw = await wallet.signTransaction({ ...fields });
    assert.deepEqual(calls, [digest], "one pkpSign call, for the intent's digest");
    const ours = Transaction.from({ ...fields, signature: fromLit });
    assert.equal(raw, ours.serialized);
    assert.equal(Transaction.from(raw).from, alice.address);
  });

  it("the pinned CID is the CID of the code the backend runs", async () => {
    assert.equal(await actionCid(actionCode("lit-v7", adminPublicKey(ADMIN_KEY))), cid);
  });
});
