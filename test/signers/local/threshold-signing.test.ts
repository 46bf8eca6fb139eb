import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { computeAddress, getBytes, hashMessage, hexlify, recoverAddress, SigningKey } from "ethers";
import { authorize } from "../../../src/auth/admin-authority.js";
import { startTestCluster, TEST_ADMIN_KEY, type TestCluster } from "../../helpers/cluster.js";

const policy = {
  chains: [8453],
  assets: { ETH: { maxPerTx: "0.01", maxPer24h: "0.05" } },
  allowMessageSigning: true,
};

let tc: TestCluster;
let address = "";
before(async () => {
  tc = await startTestCluster(2, 3);
});
after(async () => tc?.stop());

test("a 2-of-3 DKG across three node processes yields one key that signs recoverable signatures", async () => {
  const auth = authorize(TEST_ADMIN_KEY, {
    op: "agent.create",
    agentId: "a1",
    policyVersion: 1,
    policy,
  });
  const key = await tc.cluster.generateKey("a1", auth, {
    version: 1,
    policy: JSON.stringify(policy),
  });
  address = key.address;
  const message = hexlify(new TextEncoder().encode("hello"));
  const digest = hashMessage(getBytes(message));
  const sig = await tc.cluster.signDigest({
    agentId: "a1",
    seq: 1,
    intent: { kind: "message", message },
    digest,
    address,
  });
  // The agent's address is the group key's, and the threshold signature recovers to that
  // very key: over this digest and no other.
  assert.match(key.publicKey, /^0x0[23][0-9a-f]{64}$/);
  assert.equal(address, computeAddress(key.publicKey));
  assert.equal(
    SigningKey.computePublicKey(SigningKey.recoverPublicKey(digest, sig.signature), true),
    key.publicKey,
  );
  assert.equal(recoverAddress(digest, sig.signature), address);
  assert.notEqual(recoverAddress(hashMessage("another message"), sig.signature), address);
});
