/**
 * An exposure of "the PKP owns itself" on Lit v7, closed by the action (lit-session.ts). PKPPermissions.isPermittedAddress is true for the NFT's owner, so a
 * self-owned PKP accepts a session whose wallet signature (EIP-191 over a SIWE message
 * with a lit-pkp ReCap) is its own; with that session `pkpSign` signs anything, and the
 * action is never run. If an agent's policy allows message signing, the action will sign
 * such a SIWE message like any other text unless it refuses Lit session or capability
 * requests (a SIWE message with a `lit:` URI or a urn:recap resource), which it does:
 * without that refusal this test fails (pkpSign signs a 100 ETH transfer).
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { getBytes, hexlify, parseEther, recoverAddress, toUtf8Bytes } from "ethers";
import {
  type AdminAction,
  adminPublicKey,
  authorize,
} from "../../../../src/auth/admin-authority.js";
import { isVaultError } from "../../../../src/errors/index.js";
import { decodeIntent } from "../../../../src/policy/decode.js";
import type { Policy, SignIntent } from "../../../../src/policy/types.js";
import { actionCode } from "../../../../src/signers/lit/action/index.js";
import { createLitV7Backend } from "../../../../src/signers/lit/v7/index.js";
import { createV7Fake } from "../../../helpers/lit/v7-fake.js";

const ADMIN_KEY = "self-owned-test-admin";
const POLICY: Policy = {
  chains: [84532],
  assets: { ETH: { maxPerTx: "0.001", maxPer24h: "0.001" } },
  allowMessageSigning: true,
};

it("the action refuses to sign a SIWE message that opens a Lit session for its own PKP", async () => {
  const fake = createV7Fake();
  const authorityKey = adminPublicKey(ADMIN_KEY);
  await fake.pin(actionCode("lit-v7", authorityKey));
  const operatorKey = `0x${"42".repeat(32)}`;
  const backend = createLitV7Backend({
    network: "datil-dev",
    operatorKey,
    authorityKey,
    sdk: fake.sdk,
  });
  const adminAuthorize = (a: AdminAction) => authorize(ADMIN_KEY, a);
  const agent = await backend.createKey({
    agentId: "agent-mallory",
    policy: { version: 1, policy: POLICY },
    authorize: adminAuthorize,
  });
  assert.ok(agent.pkp && agent.policyAuthorization);
  const { pkp, policyAuthorization } = {
    pkp: agent.pkp,
    policyAuthorization: agent.policyAuthorization,
  };
  const signWithAction = (intent: SignIntent) =>
    backend.signDigest({
      agentId: "agent-mallory",
      seq: 1,
      intent,
      digest: decodeIntent(intent).digest,
      address: agent.address,
      pkp,
      policy: { version: 1, policy: POLICY, authorization: policyAuthorization },
    });

  // A compromised vault (no admin key) asks the action to sign a session request.
  await fake.client.connect();
  const helpers = await import("@lit-protocol/auth-helpers");
  const requests = [{ resource: new helpers.LitPKPResource("*"), ability: "pkp-signing" }];
  const expiration = new Date(Date.now() + 600_000).toISOString();
  let refusal: unknown;
  const sessionSigs = await fake.client
    .getSessionSigs({
      chain: "ethereum",
      expiration,
      resourceAbilityRequests: requests,
      authNeededCallback: async (p) => {
        const siwe = await helpers.createSiweMessageWithRecaps({
          uri: p.uri ?? "",
          expiration,
          resources: requests as never,
          walletAddress: agent.address,
          nonce: await fake.client.getLatestBlockhash(),
          litNodeClient: fake.client as never,
        });
        const intent: SignIntent = { kind: "message", message: hexlify(toUtf8Bytes(siwe)) };
        try {
          const { signature } = await signWithAction(intent);
          return {
            sig: signature,
            derivedVia: "web3.eth.personal.sign",
            signedMessage: siwe,
            address: agent.address,
          };
        } catch (err) {
          refusal = err;
          throw err;
        }
      },
    })
    .catch(() => undefined);
  if (refusal !== undefined) {
    assert.ok(
      isVaultError(refusal) && ["POLICY_DENIED", "LIT_ACTION_REFUSED"].includes(refusal.code),
    );
    return;
  }
  assert.ok(sessionSigs);
  // Not refused: with the PKP's own session, pkpSign signs a 100 ETH transfer, no action run.
  const big: SignIntent = {
    kind: "transaction",
    tx: {
      chainId: 84532,
      to: "0x1111111111111111111111111111111111111111",
      value: parseEther("100").toString(),
      data: "0x",
      nonce: 0,
      gasLimit: 21000,
      maxFeePerGas: "1000000000",
      maxPriorityFeePerGas: "1000000",
    },
  };
  const digest = decodeIntent(big).digest;
  const out = await fake.client.pkpSign({
    toSign: getBytes(digest),
    pubKey: agent.publicKey,
    sessionSigs,
  });
  const signer = recoverAddress(digest, out.signature);
  assert.fail(
    `the action signed a Lit session request; pkpSign then signed 100 ETH from ${signer}`,
  );
});
