/**
 * The default SDK factories (src/signers/lit/v7/sdk.ts) build Lit's own classes from
 * lit-node-client and contracts-sdk 7.4.0, without touching a network, and those offer
 * every method the backend calls; the fake's multihash bytes are contracts-sdk's own.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Wallet } from "ethers";
import { adminPublicKey } from "../../../../src/auth/admin-authority.js";
import { actionCid, actionCode } from "../../../../src/signers/lit/action/index.js";
import { defaultSdk } from "../../../../src/signers/lit/v7/sdk.js";
import { createV7Fake } from "../../../helpers/lit/v7-fake.js";

describe("lit-v7 default SDK factories", () => {
  it("a LitNodeClient with executeJs, getSessionSigs and capacity delegation", async () => {
    const client = await defaultSdk.nodeClient("datil-dev");
    for (const m of [
      "connect",
      "disconnect",
      "executeJs",
      "getSessionSigs",
      "getLatestBlockhash",
      "createCapacityDelegationAuthSig",
      "generateSessionCapabilityObjectWithWildcards",
    ]) {
      assert.equal(typeof (client as unknown as Record<string, unknown>)[m], "function", m);
    }
    assert.equal(
      (client as unknown as { config: { litNetwork: string } }).config.litNetwork,
      "datil-dev",
    );
  });

  it("LitContracts with mintWithAuth, and the fake's multihash bytes are its own", async () => {
    const contracts = await defaultSdk.contracts({
      network: "datil-dev",
      operatorKey: Wallet.createRandom().privateKey,
      rpcUrl: "http://127.0.0.1:9",
    });
    assert.equal(typeof contracts.mintWithAuth, "function");
    assert.equal(typeof contracts.connect, "function");
    const cid = await actionCid(actionCode("lit-v7", adminPublicKey("sdk-test")));
    assert.equal(
      createV7Fake().contracts.utils.getBytesFromMultihash(cid),
      contracts.utils.getBytesFromMultihash(cid),
    );
  });

  it("auth-helpers' LitActionResource keys a CID as lit-litaction://", async () => {
    const { LitActionResource } = await defaultSdk.authHelpers();
    const resource = new LitActionResource("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG") as {
      getResourceKey(): string;
    };
    assert.equal(
      resource.getResourceKey(),
      "lit-litaction://QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",
    );
  });
});
