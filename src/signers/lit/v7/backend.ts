/**
 * The "lit-v7" signer backend: each agent's key is a Lit PKP on a v7 (Datil-compatible)
 * network, and the only code that may sign with it is the pinned policy action
 * (src/signers/lit/action), which re-derives the digest from the intent, verifies the
 * operator's `lit.policy` authorization for this PKP and evaluates the policy before it
 * calls `LitActions.signEcdsa`.
 *
 * createKey: `LitContracts.mintWithAuth` with one auth method, the Lit Action whose id
 * is the CID's multihash bytes (type 2 = AUTH_METHOD_TYPE.LitAction, what
 * `addPermittedAction` writes), scope 1 (SignAnything); mintWithAuth sends the PKP to
 * itself (PKPHelper.mintNextAndAddAuthMethods, sendPkpToItself). The mint is one
 * transaction, so the PKP never exists unbound; the backend then reads the permissions
 * back and refuses unless exactly that action is permitted and the PKP owns itself.
 * signDigest: `executeJs({sessionSigs, ipfsId, jsParams})` with the operator's session
 * (./session.ts); the response is checked (./response.ts) and the signature recovered.
 */
import { computeAddress, getAddress, recoverAddress, Wallet } from "ethers";
import { VaultError } from "../../../errors/index.js";
import type { SignerBackend } from "../../backend.js";
import { actionCid, actionCode } from "../action/index.js";
import type { LitV7Config } from "./config.js";
import { litV7Failure } from "./errors.js";
import { SIG_NAME, signatureFromResponse } from "./response.js";
import { defaultSdk, type LitV7Contracts, type LitV7NodeClient, type LitV7Sdk } from "./sdk.js";
import { SessionCache } from "./session.js";

/** AUTH_METHOD_TYPE.LitAction and AUTH_METHOD_SCOPE.SignAnything (@lit-protocol/constants). */
export const AUTH_METHOD_TYPE_LIT_ACTION = 2;
export const AUTH_METHOD_SCOPE_SIGN_ANYTHING = 1;

const UNCOMPRESSED = /^(0x)?04[0-9a-fA-F]{128}$/;

function once<T>(make: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= make().catch((err: unknown) => {
      pending = undefined;
      throw err;
    });
    return pending;
  };
}

async function guard<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw litV7Failure(err);
  }
}

export function createLitV7Backend(config: LitV7Config): SignerBackend {
  const sdk: LitV7Sdk = { ...defaultSdk, ...config.sdk };
  const wallet = new Wallet(config.operatorKey);
  const action = once(async () => {
    const code = actionCode("lit-v7", config.authorityKey);
    return { code, cid: await actionCid(code) };
  });
  let opened: LitV7NodeClient | undefined;
  const client = once(async (): Promise<LitV7NodeClient> => {
    const c = await sdk.nodeClient(config.network);
    await guard(() => c.connect());
    opened = c;
    return c;
  });
  const contracts = once(async (): Promise<LitV7Contracts> => {
    const input = { network: config.network, operatorKey: config.operatorKey };
    const c = await sdk.contracts(
      config.rpcUrl === undefined ? input : { ...input, rpcUrl: config.rpcUrl },
    );
    await guard(() => c.connect());
    return c;
  });
  const sessions = new SessionCache(sdk, wallet, config.capacityTokenId);

  return {
    name: "lit-v7",

    async createKey({ agentId, policy, authorize, onProgress }) {
      const { cid } = await action();
      const lit = await contracts();
      const actionBytes = lit.utils.getBytesFromMultihash(cid);
      onProgress?.(`minting a PKP bound to ${cid}`);
      const { pkp } = await guard(() =>
        lit.mintWithAuth({
          authMethod: { authMethodType: AUTH_METHOD_TYPE_LIT_ACTION, accessToken: "custom-auth" },
          authMethodId: actionBytes,
          scopes: [AUTH_METHOD_SCOPE_SIGN_ANYTHING],
        }),
      );
      if (!UNCOMPRESSED.test(pkp.publicKey)) {
        throw new VaultError(
          "LIT_BAD_RESPONSE",
          "Lit v7: the minted PKP's public key is malformed",
        );
      }
      const publicKey = `0x${pkp.publicKey.replace(/^0x/, "").toLowerCase()}`;
      const address = computeAddress(publicKey);
      if (address !== getAddress(pkp.ethAddress)) {
        throw new VaultError(
          "LIT_BAD_RESPONSE",
          "Lit v7: the minted PKP's address is not its key's",
        );
      }
      const tokenId = BigInt(pkp.tokenId).toString();
      const [actions, owner] = await guard(() =>
        Promise.all([
          lit.pkpPermissionsContractUtils.read.getPermittedActions(tokenId),
          lit.pkpNftContract.read.ownerOf(tokenId),
        ]),
      );
      const onlyOurs =
        actions.length === 1 && actions[0]?.toLowerCase() === actionBytes.toLowerCase();
      if (!onlyOurs || getAddress(owner) !== address) {
        throw new VaultError(
          "LIT_NOT_PERMITTED",
          "Lit v7: the PKP is not bound to the action alone",
        );
      }
      onProgress?.(`PKP ${tokenId} (${address}) owns itself and runs only ${cid}`);
      const created = { address, publicKey, pkp: { tokenId, publicKey, actionCid: cid } };
      if (!policy) return created;
      const policyAuthorization = authorize({ op: "lit.policy", agentId, address, ...policy });
      return { ...created, policyAuthorization };
    },

    async setPolicy({ agentId, address, version, policy, authorize }) {
      // The action checks the authorization against the key built into it: no Lit call.
      return { authorization: authorize({ op: "lit.policy", agentId, address, version, policy }) };
    },

    async signDigest(req) {
      const { pkp, policy } = req;
      if (!pkp || !policy) {
        throw new VaultError("INTERNAL", "lit-v7 signing needs the agent's PKP and policy");
      }
      const { cid } = await action();
      if (pkp.actionCid !== cid) {
        throw new VaultError("LIT_NOT_PERMITTED", "the agent's PKP is bound to another action");
      }
      const c = await client();
      const sessionSigs = await guard(() => sessions.get(c, cid));
      const raw = await guard(() =>
        c.executeJs({
          sessionSigs,
          ipfsId: cid,
          jsParams: {
            request: { agentId: req.agentId, intent: req.intent, digest: req.digest, policy },
            publicKey: pkp.publicKey,
            sigName: SIG_NAME,
          },
          responseStrategy: { strategy: "mostCommon" },
        }),
      );
      const expected = { digest: req.digest, publicKey: pkp.publicKey, address: req.address };
      const signature = signatureFromResponse(raw, expected);
      if (recoverAddress(req.digest, signature) !== getAddress(req.address)) {
        throw new VaultError("LIT_BAD_RESPONSE", "Lit v7: the signature is not the agent's");
      }
      return { signature, signers: cid };
    },

    async close() {
      sessions.clear();
      await opened?.disconnect();
      opened = undefined;
    },
  };
}
