/**
 * The operator's v7 session signatures (src/signers/lit/v7/session.ts), made with Lit's
 * own auth-helpers against the fake network, which checks them as Lit's nodes do: the
 * wallet's SIWE ReCap must grant lit-action-execution on the CID that runs, and on a
 * paid network a capacity delegation signed by the Capacity Credits NFT's owner must
 * ride along, else the nodes answer 402 rate_limit_exceeded.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Wallet } from "ethers";
import { adminPublicKey } from "../../../../src/auth/admin-authority.js";
import { isVaultError } from "../../../../src/errors/index.js";
import { actionCode } from "../../../../src/signers/lit/action/index.js";
import { litV7Failure } from "../../../../src/signers/lit/v7/errors.js";
import { defaultSdk } from "../../../../src/signers/lit/v7/sdk.js";
import { SessionCache } from "../../../../src/signers/lit/v7/session.js";
import { createV7Fake, type V7FakeOptions } from "../../../helpers/lit/v7-fake.js";

const OPERATOR = Wallet.createRandom();
// An empty request: the action answers BAD_REQUEST, which is enough to show it ran.
const JS_PARAMS = {
  request: {},
  publicKey: Wallet.createRandom().signingKey.publicKey,
  sigName: "sig",
};

async function network(opts: V7FakeOptions = {}) {
  const fake = createV7Fake({ operatorAddress: OPERATOR.address, ...opts });
  await fake.client.connect();
  const cid = await fake.pin(actionCode("lit-v7", adminPublicKey("session-test")));
  const other = await fake.pin(actionCode("lit-v7", adminPublicKey("someone-else")));
  return { fake, cid, other };
}

async function runWith(
  fake: Awaited<ReturnType<typeof network>>["fake"],
  sigs: object,
  ipfsId: string,
) {
  try {
    return await fake.client.executeJs({ sessionSigs: sigs as never, ipfsId, jsParams: JS_PARAMS });
  } catch (err) {
    throw litV7Failure(err);
  }
}

const code = (expected: string) => (err: unknown) => {
  assert.ok(isVaultError(err), String(err));
  assert.equal(err.code, expected, err.message);
  return true;
};

describe("lit-v7 session signatures", () => {
  it("one session per CID, reused until a minute before it ends", async () => {
    const { fake, cid } = await network();
    let now = Date.now();
    const cache = new SessionCache(defaultSdk, OPERATOR, undefined, () => now);
    const first = await cache.get(fake.client, cid);
    assert.equal(await cache.get(fake.client, cid), first);
    assert.equal(fake.sessions(), 1);
    now += 14 * 60_000 + 1;
    await cache.get(fake.client, cid);
    assert.equal(fake.sessions(), 2);
    const ran = (await runWith(fake, first, cid)) as { response: unknown };
    assert.match(String(ran.response), /BAD_REQUEST/);
  });

  it("a session for the pinned CID cannot run other code", async () => {
    const { fake, cid, other } = await network();
    const sigs = await new SessionCache(defaultSdk, OPERATOR, undefined).get(fake.client, cid);
    await assert.rejects(runWith(fake, sigs, other), code("LIT_NOT_PERMITTED"));
  });

  it("the nodes accept only the operator's wallet", async () => {
    const { fake, cid } = await network();
    const stranger = new SessionCache(defaultSdk, Wallet.createRandom(), undefined);
    await assert.rejects(
      stranger.get(fake.client, cid).catch((e: unknown) => {
        throw litV7Failure(e);
      }),
      code("LIT_NOT_PERMITTED"),
    );
  });

  it("a paid network runs the action only with the operator's capacity delegation", async () => {
    const { fake, cid } = await network({ capacityTokenId: "42" });
    const without = await new SessionCache(defaultSdk, OPERATOR, undefined).get(fake.client, cid);
    await assert.rejects(runWith(fake, without, cid), code("LIT_RATE_LIMITED"));
    const wrong = await new SessionCache(defaultSdk, OPERATOR, "43").get(fake.client, cid);
    await assert.rejects(runWith(fake, wrong, cid), code("LIT_RATE_LIMITED"));
    const paid = await new SessionCache(defaultSdk, OPERATOR, "42").get(fake.client, cid);
    const ran = (await runWith(fake, paid, cid)) as { response: unknown };
    assert.match(String(ran.response), /BAD_REQUEST/);
  });
});
