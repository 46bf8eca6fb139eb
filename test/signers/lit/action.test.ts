// The policy Lit Action (src/signers/lit/action), built and run as Lit runs it (node:vm via
// test/helpers/lit/run-action.ts) in both runtimes: it signs a request within the agent's
// authorized policy, and refuses, WITHOUT calling signEcdsa / getPrivateKey, a raised
// amount, another agent's authorization, a tampered policy and a digest mismatch.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import vm from "node:vm";
import {
  computeAddress,
  getBytes,
  hexlify,
  recoverAddress,
  SigningKey,
  toUtf8Bytes,
  Wallet,
} from "ethers";
import { type AdminAction, adminPublicKey, authorize } from "../../../src/auth/admin-authority.js";
import { decodeIntent, type SignIntent } from "../../../src/policy/index.js";
import { actionCid, actionCode, actionTemplate } from "../../../src/signers/lit/action/index.js";
import { transferWithAuthorization } from "../../helpers/eip3009.js";
import { runChipotleAction, runV7Action } from "../../helpers/lit/run-action.js";

const ADMIN = "admin-key-for-the-lit-action-tests";
const AGENT = "agt_lit_action_test";
const RECIPIENT = "0x1111111111111111111111111111111111111111";
const POLICY = {
  chains: [8453],
  assets: { ETH: { maxPerTx: "0.01", maxPer24h: "0.05" } },
  recipients: [RECIPIENT],
};

const wallet = Wallet.createRandom();
const PUBLIC_KEY = SigningKey.computePublicKey(wallet.privateKey, false); // 0x04…
const ADDRESS = computeAddress(PUBLIC_KEY);

function transfer(value: string) {
  return {
    kind: "transaction" as const,
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

function litPolicy(over: Partial<Extract<AdminAction, { op: "lit.policy" }>> = {}) {
  return {
    op: "lit.policy" as const,
    agentId: AGENT,
    address: ADDRESS,
    version: 1,
    policy: POLICY,
    ...over,
  };
}

/** The jsParams.request the vault sends, with the policy authorized for `authorizedFor`. */
function request(value = "1000000000000000", authorizedFor = litPolicy()) {
  return requestFor(transfer(value), authorizedFor);
}

function requestFor(intent: SignIntent, authorizedFor: ReturnType<typeof litPolicy>) {
  return {
    agentId: AGENT,
    intent,
    digest: decodeIntent(intent).digest,
    policy: {
      version: authorizedFor.version,
      policy: authorizedFor.policy,
      authorization: authorize(ADMIN, authorizedFor),
    },
  };
}

const v7Code = actionCode("lit-v7", adminPublicKey(ADMIN));
const chipotleCode = actionCode("lit-chipotle", adminPublicKey(ADMIN));

async function v7(req: unknown, code = v7Code) {
  const calls: Array<{ toSign: Uint8Array; publicKey: string; sigName: string }> = [];
  const run = await runV7Action(code, {
    jsParams: { request: req, publicKey: PUBLIC_KEY, sigName: "sig" },
    signEcdsa: (p) => {
      calls.push(p);
      return "success";
    },
  });
  assert.equal(run.error, undefined, run.error);
  assert.equal(run.signCalls, calls.length);
  return { result: JSON.parse(run.response ?? "null"), calls };
}

async function chipotle(req: unknown, code = chipotleCode, key = wallet.privateKey) {
  const run = await runChipotleAction(code, {
    jsParams: { request: req, pkpId: ADDRESS.toLowerCase() },
    getPrivateKey: ({ pkpId }) => {
      assert.equal(pkpId, ADDRESS.toLowerCase());
      return key;
    },
  });
  return {
    result: run.response as Record<string, unknown>,
    keyCalls: run.keyCalls,
    error: run.error,
  };
}

/** Both runtimes refuse `req` with `code` (and `rule`) and never reach the key. */
async function refusedBoth(
  req: unknown,
  code: string,
  rule?: string,
  actions = { v7: v7Code, chipotle: chipotleCode },
) {
  const a = await v7(req, actions.v7);
  assert.equal(a.calls.length, 0, "signEcdsa must not be called");
  assert.equal(a.result.ok, false);
  assert.equal(a.result.code, code, a.result.message);
  assert.equal(a.result.rule, rule);
  const b = await chipotle(req, actions.chipotle);
  assert.equal(b.error, undefined, b.error);
  assert.equal(b.keyCalls, 0, "getPrivateKey must not be called");
  assert.equal(b.result.ok, false);
  assert.equal(b.result.code, code);
  assert.equal(b.result.rule, rule);
  assert.equal(b.result.signature, undefined);
}

describe("policy Lit Action", () => {
  test("v7: an allowed request is signed with signEcdsa over the re-derived digest", async () => {
    const req = request();
    const { result, calls } = await v7(req);
    assert.deepEqual(result, { ok: true, digest: req.digest, address: ADDRESS });
    assert.equal(calls.length, 1);
    assert.equal(hexlify(calls[0]?.toSign ?? new Uint8Array()), req.digest);
    assert.equal(calls[0]?.publicKey, PUBLIC_KEY);
    assert.equal(calls[0]?.sigName, "sig");
  });

  test("Chipotle: an allowed request is signed with the PKP's key (v 27/28, recovers)", async () => {
    const req = request();
    const { result, keyCalls, error } = await chipotle(req);
    assert.equal(error, undefined, error);
    assert.equal(keyCalls, 1);
    assert.equal(result.ok, true);
    assert.equal(result.digest, req.digest);
    assert.equal(result.address, ADDRESS);
    const signature = String(result.signature);
    assert.match(signature, /^0x[0-9a-f]{130}$/);
    assert.ok(["1b", "1c"].includes(signature.slice(-2)));
    assert.equal(recoverAddress(req.digest, signature), ADDRESS);
  });

  test("a raised amount is denied by the policy, without touching the key", async () => {
    await refusedBoth(request("20000000000000000"), "POLICY_DENIED", "maxPerTx");
  });

  test("another recipient is denied by the policy", async () => {
    const base = transfer("1000000000000000");
    const intent = { ...base, tx: { ...base.tx, to: `0x${"22".repeat(20)}` } };
    await refusedBoth(requestFor(intent, litPolicy()), "POLICY_DENIED", "recipients");
  });

  test("another agent's authorization is refused", async () => {
    // Authorized for another agent id, then for another PKP address.
    const other = request("1000000000000000", litPolicy({ agentId: "agt_other" }));
    await refusedBoth(other, "POLICY_UNAUTHORIZED");
    const elsewhere = request("1000000000000000", litPolicy({ address: `0x${"33".repeat(20)}` }));
    await refusedBoth(elsewhere, "POLICY_UNAUTHORIZED");
    // The same authorization presented for another agent id is refused too.
    await refusedBoth({ ...request(), agentId: "agt_other" }, "POLICY_UNAUTHORIZED");
  });

  test("a tampered (wider) policy or version is refused", async () => {
    const req = request("20000000000000000");
    const wider = { ...POLICY, assets: { ETH: { maxPerTx: "1", maxPer24h: "5" } } };
    await refusedBoth({ ...req, policy: { ...req.policy, policy: wider } }, "POLICY_UNAUTHORIZED");
    await refusedBoth({ ...req, policy: { ...req.policy, version: 2 } }, "POLICY_UNAUTHORIZED");
  });

  test("a policy authorized by another operator's key is refused", async () => {
    const otherAdmin = request("1000000000000000");
    otherAdmin.policy.authorization = authorize("another-operator", litPolicy());
    await refusedBoth(otherAdmin, "POLICY_UNAUTHORIZED");
  });

  test("a digest that is not the intent's is refused", async () => {
    const req = request();
    const digest = hexlify(getBytes(decodeIntent(transfer("2")).digest));
    await refusedBoth({ ...req, digest }, "DIGEST_MISMATCH");
  });

  test("malformed requests are refused as BAD_REQUEST", async () => {
    await refusedBoth(undefined, "BAD_REQUEST");
    await refusedBoth({ ...request(), digest: "0x1234" }, "BAD_REQUEST");
    await refusedBoth({ ...request(), intent: { kind: "transaction", tx: {} } }, "BAD_REQUEST");
    for (const publicKey of [undefined, `0x04${"00".repeat(64)}`, PUBLIC_KEY.slice(0, -2)]) {
      const { result, calls } = await v7ParamsMissingKey(publicKey);
      assert.equal(result.code, "BAD_REQUEST");
      assert.equal(calls, 0);
    }
  });

  test("actionCode substitutes only a valid Ed25519 key; each operator has its own CID", async () => {
    assert.throws(() => actionCode("lit-v7", "not-a-key"), TypeError);
    assert.throws(() => actionCode("lit-v7", '";signEcdsa();"'), TypeError);
    assert.throws(() => actionCode("lit-v7", Buffer.alloc(44).toString("base64")), TypeError);
    const mine = actionCode("lit-chipotle", adminPublicKey(ADMIN));
    const theirs = actionCode("lit-chipotle", adminPublicKey("another-operator"));
    assert.equal(mine, chipotleCode);
    assert.ok(mine.includes(adminPublicKey(ADMIN)));
    assert.notEqual(await actionCid(mine), await actionCid(theirs));
    assert.equal(await actionCid(mine), await actionCid(chipotleCode));
    assert.match(await actionCid(mine), /^Qm[1-9A-HJ-NP-Za-km-z]{44}$/);
  });

  test("the policy is the vault's evaluator: typed data, messages, validUntil", async () => {
    const usdc = "0x036cbd53842c5426634e7929541ec2318f3dcf7e";
    const policy = {
      chains: [84532],
      assets: { [usdc]: { symbol: "USDC", decimals: 6, maxPerTx: "10", maxPer24h: "100" } },
      allowTypedData: ["TransferWithAuthorization"],
    };
    const auth = litPolicy({ policy });
    const typed = (value: string) => ({
      kind: "typed-data" as const,
      ...transferWithAuthorization(ADDRESS, RECIPIENT, value, `0x${"01".repeat(32)}`),
    });
    const ok = requestFor(typed("5000000"), auth);
    const signed = await chipotle(ok);
    assert.equal(signed.result.ok, true, String(signed.result.message));
    assert.equal(recoverAddress(ok.digest, String(signed.result.signature)), ADDRESS);
    assert.equal((await v7(ok)).calls.length, 1);
    await refusedBoth(requestFor(typed("50000000"), auth), "POLICY_DENIED", "maxPerTx");

    const hello = { kind: "message" as const, message: "0x68656c6c6f" };
    await refusedBoth(requestFor(hello, litPolicy()), "POLICY_DENIED", "allowMessageSigning");
    const expired = litPolicy({ policy: { ...POLICY, validUntil: "2020-01-01T00:00:00Z" } });
    await refusedBoth(requestFor(transfer("1"), expired), "POLICY_DENIED", "validUntil");
  });

  test("a SIWE sign-in naming Lit or ReCap resources is never signed, even with message signing allowed", async () => {
    const auth = litPolicy({ policy: { ...POLICY, allowMessageSigning: true } });
    const text = (t: string) => ({ kind: "message" as const, message: hexlify(toUtf8Bytes(t)) });
    const siwe = (resources: string) =>
      `localhost wants you to sign in with your Ethereum account:\n${ADDRESS}\n\nThis is a test.\n\nURI: lit:session:abc\nVersion: 1\nChain ID: 1\nNonce: 12345678\nIssued At: 2026-12-02T00:00:00Z${resources}`;
    const recap = "\nResources:\n- urn:recap:eyJhdHQiOnt9LCJwcmYiOltdfQ";
    await refusedBoth(requestFor(text(siwe(recap)), auth), "POLICY_DENIED", "allowMessageSigning");
    await refusedBoth(requestFor(text(siwe("")), auth), "POLICY_DENIED", "allowMessageSigning");
    const shouted = siwe(recap).replace("wants you", "WANTS YOU").replace("urn:recap", "URN:RECAP");
    await refusedBoth(requestFor(text(shouted), auth), "POLICY_DENIED", "allowMessageSigning");
    // An ordinary sign-in to a website, and text that merely says "split:", are signed.
    const website = siwe("").replace("lit:session:abc", "https://example.com/login");
    for (const ok of [website, "split: 50/50"]) {
      const signed = await chipotle(requestFor(text(ok), auth));
      assert.equal(signed.result.ok, true, String(signed.result.message));
      assert.equal((await v7(requestFor(text(ok), auth))).calls.length, 1);
    }
  });

  test("the bare template (no operator key substituted) signs nothing", async () => {
    await refusedBoth(request(), "BAD_REQUEST", undefined, {
      v7: actionTemplate("lit-v7"),
      chipotle: actionTemplate("lit-chipotle"),
    });
  });

  test("Chipotle: a key that is not the PKP's is not used to sign", async () => {
    const run = await chipotle(request(), chipotleCode, Wallet.createRandom().privateKey);
    assert.equal(run.keyCalls, 1);
    assert.equal(run.result, undefined);
    assert.match(String(run.error), /not the PKP's/);
  });

  test("the action needs nothing of its runtime but atob (and Lit's own globals)", async () => {
    // A bare realm: no console, TextEncoder, crypto, self or timers; only what Lit defines.
    const { ethers: ethers5 } = await import("ethers5");
    const jsParams = JSON.stringify({ pkpId: ADDRESS, request: request() });
    for (const [extra, ok] of [
      [{}, false],
      [{ atob }, true],
    ] as const) {
      let keyCalls = 0;
      const getPrivateKey = async () => {
        keyCalls++;
        return wallet.privateKey;
      };
      const context = vm.createContext({
        Lit: { Actions: { getPrivateKey } },
        ethers: ethers5,
        ...extra,
      });
      vm.runInContext(chipotleCode, context);
      const params = vm.runInContext(`JSON.parse(${JSON.stringify(jsParams)})`, context);
      const result = await context.main(params);
      assert.equal(result.ok, ok);
      // Without atob the authorization cannot be read: refused, the key never fetched.
      assert.equal(keyCalls, ok ? 1 : 0);
    }
  });
});

async function v7ParamsMissingKey(publicKey?: string) {
  let calls = 0;
  const run = await runV7Action(v7Code, {
    jsParams: { request: request(), sigName: "sig", publicKey },
    signEcdsa: () => {
      calls++;
    },
  });
  return { result: JSON.parse(run.response ?? "null"), calls };
}
