/**
 * A Lit v7 (Datil) network in-process, for tests without the network (issue 10). It
 * honours the contracts of @lit-protocol/lit-node-client and contracts-sdk 7.4.0 as the
 * backend (src/signers/lit/v7) uses them:
 *
 * - contracts: `mintWithAuth({authMethod, authMethodId, scopes})` runs a real DKLs23 2-of-3
 *   key generation (src/threshold/engine.ts, in this process), so the "Lit network" is a
 *   real threshold key; the token id is keccak256 of the uncompressed key, the PKP is sent
 *   to itself and its permitted actions are the auth methods of type 2 (LitAction, id =
 *   the CID's multihash bytes). `getPermittedActions`, `isPermittedAction`, `ownerOf`,
 *   `utils.getBytesFromMultihash` answer as the SDK does; `addPermittedAction` too.
 * - node client: `getSessionSigs` calls the `authNeededCallback` with `{uri, expiration,
 *   resourceAbilityRequests}`, checks the returned EIP-191 AuthSig, and returns one
 *   session signature per node (Ed25519 over the session's signed message, "algo"
 *   ed25519). `executeJs({sessionSigs, ipfsId, jsParams})` checks the session (signatures,
 *   expiry, a grant of lit-action-execution on that CID), fetches the code from its
 *   "IPFS" (`pin(code)`), runs it with v7 globals (test/helpers/lit/run-action.ts), and
 *   `LitActions.signEcdsa` signs with two of the three shares only if the CID is permitted
 *   for that PKP, else the nodes answer NodeActionNotAllowed. Results take the SDK's exact
 *   shapes: with a signature `{claims, signatures: {sig: {r, s, recid, signature,
 *   publicKey, dataSigned}}, response (parsed JSON), logs}`; without one the node's own
 *   `{success, signedData: {}, decryptedData: {}, claimData: {}, response (string), logs}`.
 *   Failures are thrown like the SDK's NodeError (`name`, `code`, `info.errorCode`).
 * - `pkpSign({toSign, pubKey, sessionSigs})` signs for a session whose wallet AuthSig is a
 *   permitted address of the PKP (PKPPermissions.isPermittedAddress: the NFT's owner
 *   always is, so a self-owned PKP's own SIWE signature opens it), with a lit-pkp ReCap.
 * `failNext(errorCode, message)` makes the next executeJs fail as the nodes would.
 */
import {
  createPublicKey,
  sign as edSign,
  verify as edVerify,
  generateKeyPairSync,
  randomUUID,
} from "node:crypto";
import {
  computeAddress,
  decodeBase58,
  getAddress,
  hexlify,
  keccak256,
  recoverAddress,
  Signature,
  SigningKey,
  verifyMessage,
} from "ethers";
import type {
  LitV7Contracts,
  LitV7NodeClient,
  LitV7Sdk,
  SessionSigs,
} from "../../../src/signers/lit/v7/sdk.js";
import { KeygenParty, SignParty, type WireMessage } from "../../../src/threshold/engine.js";
import { runV7Action } from "./run-action.js";

const NODES = ["https://node-0.fake", "https://node-1.fake", "https://node-2.fake"];
const LIT_ACTION_EXECUTION = "lit-action-execution";

interface Pkp {
  tokenId: bigint;
  /** Uncompressed, without 0x. */
  publicKey: string;
  address: string;
  owner: string;
  shares: Uint8Array[];
  /** Multihash bytes (0x…) of the permitted actions. */
  actions: string[];
}

/** Thrown like @lit-protocol/constants' NodeError (a VError with info from the nodes). */
export function nodeError(errorCode: string, message: string): Error {
  const err = new Error(`There was an error getting the signing shares from the nodes: ${message}`);
  Object.assign(err, {
    name: "NodeError",
    code: "node_error",
    kind: "Unknown",
    info: { requestId: randomUUID(), errorCode, message },
  });
  return err;
}

const inbox = (id: number, msgs: WireMessage[]) =>
  msgs.filter((m) => m.from !== id && (m.to === undefined || m.to === id));

/** DKLs23 2-of-3 key generation between three in-process parties. */
function keygen(): { shares: Uint8Array[]; publicKey: string } {
  const parties = [0, 1, 2].map((i) => new KeygenParty(3, 2, i));
  try {
    const r1 = parties.map((p) => p.firstMessage());
    const r2 = parties.flatMap((p, i) => p.handle(inbox(i, r1)));
    const commitments = parties.map((p) => p.chainCodeCommitment());
    const r3 = parties.flatMap((p, i) => p.handle(inbox(i, r2)));
    const r4 = parties.flatMap((p, i) => p.handle(inbox(i, r3), commitments));
    const keys = parties.map((p, i) => {
      p.handle(inbox(i, r4));
      return p.finish();
    });
    const first = keys[0];
    if (!first) throw new Error("no key");
    const publicKey = SigningKey.computePublicKey(hexlify(first.publicKey), false).slice(2);
    return { shares: keys.map((k) => k.share), publicKey };
  } finally {
    for (const p of parties) p.free();
  }
}

/** DKLs23 signature of `digest` by shares 0 and 1: r and s, as the engine returns them. */
function thresholdSign(shares: Uint8Array[], digest: Uint8Array): { r: string; s: string } {
  const ids = [0, 1];
  const parties = ids.map((i) => {
    const share = shares[i];
    if (!share) throw new Error("missing share");
    return SignParty.fromShare(share);
  });
  try {
    const m1 = parties.map((p) => p.firstMessage());
    const m2 = parties.flatMap((p, k) => p.handle(inbox(ids[k] ?? -1, m1)));
    const m3 = parties.flatMap((p, k) => p.handle(inbox(ids[k] ?? -1, m2)));
    parties.forEach((p, k) => {
      p.handle(inbox(ids[k] ?? -1, m3));
    });
    const last = parties.map((p) => p.lastMessage(digest));
    const [first] = parties.map((p, k) => p.combine(inbox(ids[k] ?? -1, last)));
    if (!first) throw new Error("no signature");
    return { r: hexlify(first.r).slice(2), s: hexlify(first.s).slice(2) };
  } finally {
    for (const p of parties) p.free();
  }
}

function multihashBytes(cid: string): string {
  return `0x${decodeBase58(cid).toString(16).padStart(68, "0")}`;
}

export interface V7Fake {
  /** Factories for createLitV7Backend's `sdk` (auth helpers stay Lit's own). */
  sdk: Pick<LitV7Sdk, "nodeClient" | "contracts">;
  client: LitV7NodeClient & {
    ready: boolean;
    /**
     * Lit's pkpSign: signs any digest for a session whose wallet (the AuthSig among its
     * capabilities) is a permitted address of the PKP, which PKPPermissions'
     * isPermittedAddress says the NFT's owner always is, and which grants pkp-signing.
     */
    pkpSign(params: {
      toSign: ArrayLike<number>;
      pubKey: string;
      sessionSigs: SessionSigs;
    }): Promise<{
      r: string;
      s: string;
      recid: number;
      signature: string;
      publicKey: string;
      dataSigned: string;
    }>;
    /** Called by auth-helpers' createSiweMessageWithRecaps, as on Lit's client. */
    generateSessionCapabilityObjectWithWildcards(resources: unknown[]): Promise<unknown>;
  };
  contracts: LitV7Contracts & {
    addPermittedAction(p: {
      ipfsId: string;
      pkpTokenId: string;
      authMethodScopes: number[];
    }): Promise<unknown>;
  };
  /** Puts action code on the fake's IPFS; returns its CID. */
  pin(code: string): Promise<string>;
  /** Every executeJs run: its CID and how often the action called signEcdsa. */
  runs: { ipfsId: string; signCalls: number; error?: string }[];
  /** How many times getSessionSigs made a session. */
  sessions(): number;
  failNext(errorCode: string, message: string): void;
}

/** The ReCap (EIP-5573) a SIWE message grants: resource → abilities ("Threshold/Execution", …). */
export function recapOf(siwe: string): Record<string, Record<string, unknown[]>> {
  const m = /urn:recap:([A-Za-z0-9_-]+)/.exec(siwe);
  if (!m?.[1]) return {};
  const recap = JSON.parse(Buffer.from(m[1], "base64url").toString("utf8")) as {
    att?: Record<string, Record<string, unknown[]>>;
  };
  return recap.att ?? {};
}

interface AuthSigLike {
  sig: string;
  signedMessage: string;
  address: string;
  derivedVia: string;
}

/** An EIP-191 AuthSig whose signature verifies for its address. */
function verifiedAuthSig(value: unknown): AuthSigLike | undefined {
  const a = value as Partial<AuthSigLike> | undefined;
  if (a?.derivedVia !== "web3.eth.personal.sign") return undefined;
  if (typeof a.sig !== "string" || typeof a.signedMessage !== "string") return undefined;
  if (typeof a.address !== "string") return undefined;
  try {
    if (getAddress(verifyMessage(a.signedMessage, a.sig)) !== getAddress(a.address))
      return undefined;
  } catch {
    return undefined;
  }
  return a as AuthSigLike;
}

export interface V7FakeOptions {
  /** The operator's wallet: the only one whose sessions the nodes accept, if given. */
  operatorAddress?: string;
  /**
   * A paid network (datil-test, datil): only sessions carrying a capacity delegation of
   * this Capacity Credits NFT, signed by its owner (operatorAddress), run; others meet
   * the nodes' 402 `rate_limit_exceeded`.
   */
  capacityTokenId?: string;
}

export function createV7Fake(opts: V7FakeOptions = {}): V7Fake {
  const pkps = new Map<bigint, Pkp>();
  const ipfs = new Map<string, string>();
  const runs: V7Fake["runs"] = [];
  const sessionKey = generateKeyPairSync("ed25519");
  const sessionPub = sessionKey.publicKey
    .export({ format: "der", type: "spki" })
    .subarray(-32)
    .toString("hex");
  let pendingFailure: Error | undefined;
  let sessionCount = 0;
  let connected = false;

  const byTokenId = (id: string | bigint) => pkps.get(BigInt(id));
  /** The combined signature in Lit's SigResponse shape (r, s bare hex; recid 0/1). */
  function signatureOf(pkp: Pkp, toSign: Uint8Array) {
    const { r, s } = thresholdSign(pkp.shares, toSign);
    const digest = hexlify(toSign);
    const recid = [0, 1].find(
      (id) =>
        recoverAddress(digest, Signature.from({ r: `0x${r}`, s: `0x${s}`, v: 27 + id })) ===
        pkp.address,
    );
    if (recid === undefined) throw new Error("the shares do not combine");
    return {
      r,
      s,
      recid,
      signature: `0x${r}${s}${(27 + recid).toString(16)}`,
      publicKey: pkp.publicKey,
      dataSigned: digest.slice(2),
    };
  }
  const byPublicKey = (key: string) =>
    [...pkps.values()].find((p) => p.publicKey === key.replace(/^0x/, "").toLowerCase());

  const contracts: V7Fake["contracts"] = {
    async connect() {
      return undefined;
    },
    async mintWithAuth({ authMethod, authMethodId, scopes }) {
      if (!authMethod?.authMethodType) throw new Error("authMethodType is required");
      if (!authMethod.accessToken) throw new Error("accessToken is required");
      if (scopes.length <= 0) throw new Error("Permission scopes are required!");
      const { shares, publicKey } = keygen();
      const tokenId = BigInt(keccak256(`0x${publicKey}`));
      const address = computeAddress(`0x${publicKey}`);
      const actions = authMethod.authMethodType === 2 ? [authMethodId.toLowerCase()] : [];
      pkps.set(tokenId, { tokenId, publicKey, address, owner: address, shares, actions });
      // mintWithAuth returns the event topic (0x… 32 bytes) and the key without 0x.
      const topic = `0x${tokenId.toString(16).padStart(64, "0")}`;
      return { pkp: { tokenId: topic, publicKey, ethAddress: address } };
    },
    async addPermittedAction({ ipfsId, pkpTokenId }) {
      const pkp = byTokenId(pkpTokenId);
      if (!pkp) throw new Error("no such PKP");
      pkp.actions.push(multihashBytes(ipfsId));
      return {};
    },
    utils: { getBytesFromMultihash: multihashBytes },
    pkpPermissionsContractUtils: {
      read: {
        async getPermittedActions(tokenId) {
          return [...(byTokenId(tokenId)?.actions ?? [])];
        },
        async isPermittedAction(pkpId, ipfsId) {
          return byTokenId(pkpId)?.actions.includes(multihashBytes(ipfsId)) ?? false;
        },
      },
    },
    pkpNftContract: {
      read: {
        async ownerOf(tokenId) {
          const pkp = byTokenId(tokenId);
          if (!pkp) throw new Error("ERC721: invalid token ID");
          return pkp.owner;
        },
      },
    },
  };

  /** A delegation of the capacity NFT by its owner (the operator) among the capabilities. */
  function hasCapacity(capabilities: unknown[]): boolean {
    const resource = `lit-ratelimitincrease://${opts.capacityTokenId}`;
    return capabilities.some((c) => {
      const a = verifiedAuthSig(c);
      if (!a || !recapOf(a.signedMessage)[resource]) return false;
      return !opts.operatorAddress || getAddress(a.address) === getAddress(opts.operatorAddress);
    });
  }

  function checkSessions(sessionSigs: SessionSigs, ipfsId: string): void {
    const entries = Object.entries(sessionSigs ?? {});
    if (entries.length === 0) throw nodeError("NodeInvalidAuthSig", "no session signatures");
    for (const [url, value] of entries) {
      const s = value as { sig?: string; signedMessage?: string; address?: string; algo?: string };
      if (s.algo !== "ed25519" || !s.sig || !s.signedMessage || !s.address) {
        throw nodeError("NodeInvalidAuthSig", "malformed session signature");
      }
      const key = createPublicKey({
        key: Buffer.concat([
          Buffer.from("302a300506032b6570032100", "hex"),
          Buffer.from(s.address, "hex"),
        ]),
        format: "der",
        type: "spki",
      });
      if (!edVerify(null, Buffer.from(s.signedMessage), key, Buffer.from(s.sig, "hex"))) {
        throw nodeError("NodeInvalidAuthSigSessionKeySignature", "bad session signature");
      }
      const msg = JSON.parse(s.signedMessage) as {
        nodeAddress: string;
        expiration: string;
        resourceAbilityRequests: { resource: string; ability: string }[];
        capabilities: unknown[];
      };
      if (msg.nodeAddress !== url)
        throw nodeError("NodeInvalidAuthSig", "session for another node");
      if (Date.parse(msg.expiration) <= Date.now())
        throw nodeError("NodeInvalidAuthSig", "expired");
      const granted = msg.resourceAbilityRequests.some(
        (r) =>
          r.ability === LIT_ACTION_EXECUTION &&
          (r.resource === `lit-litaction://${ipfsId}` || r.resource === "lit-litaction://*"),
      );
      if (!granted) throw nodeError("NodeSIWECapabilityInvalid", "the session may not run it");
      if (opts.capacityTokenId !== undefined && !hasCapacity(msg.capabilities)) {
        throw nodeError("rate_limit_exceeded", "Rate limit exceeded.  Try again later.");
      }
    }
  }

  const client: V7Fake["client"] = {
    ready: false,
    async connect() {
      connected = true;
      client.ready = true;
    },
    async disconnect() {
      connected = false;
      client.ready = false;
    },
    async pkpSign({ toSign, pubKey, sessionSigs }) {
      if (!connected)
        throw Object.assign(new Error("not ready"), { name: "LitNodeClientNotReadyError" });
      const pkp = byPublicKey(pubKey);
      if (!pkp) throw nodeError("NodeAuthFailed", "no such PKP");
      for (const value of Object.values(sessionSigs ?? {})) {
        const msg = JSON.parse((value as { signedMessage: string }).signedMessage) as {
          capabilities: unknown[];
        };
        const permitted = msg.capabilities.some((c) => {
          const a = verifiedAuthSig(c);
          if (!a) return false;
          const grants = Object.keys(recapOf(a.signedMessage));
          const isPermitted = getAddress(a.address) === getAddress(pkp.owner);
          return isPermitted && grants.some((g) => g.startsWith("lit-pkp://"));
        });
        if (!permitted) throw nodeError("NodeAuthFailed", "the session may not sign with this PKP");
      }
      return signatureOf(pkp, Uint8Array.from(toSign));
    },
    async generateSessionCapabilityObjectWithWildcards() {
      // Lit's client returns an empty ReCap object here (wildcards are disabled in 7.4.0).
      const { RecapSessionCapabilityObject } = await import("@lit-protocol/auth-helpers");
      return new RecapSessionCapabilityObject({}, []);
    },
    async getLatestBlockhash() {
      return keccak256(Buffer.from(`block-${Date.now()}`));
    },
    async createCapacityDelegationAuthSig({
      dAppOwnerWallet,
      capacityTokenId,
      delegateeAddresses,
      uses,
      expiration,
    }) {
      // As Lit's client does: a SIWE message with a rate-limit-increase ReCap, signed by the owner.
      const helpers = await import("@lit-protocol/auth-helpers");
      const owner = dAppOwnerWallet as { getAddress(): Promise<string> };
      const toSign = await helpers.createSiweMessageWithCapacityDelegation({
        uri: "lit:capability:delegation",
        // Only generateSessionCapabilityObjectWithWildcards is used of the client here.
        litNodeClient: client as never,
        walletAddress: await owner.getAddress(),
        nonce: await client.getLatestBlockhash(),
        expiration: expiration ?? new Date(Date.now() + 7 * 86_400_000).toISOString(),
        capacityTokenId,
        delegateeAddresses,
        ...(uses === undefined ? {} : { uses }),
      });
      const authSig = await helpers.generateAuthSig({ signer: dAppOwnerWallet as never, toSign });
      return { capacityDelegationAuthSig: authSig };
    },
    async getSessionSigs({
      expiration,
      resourceAbilityRequests,
      capabilityAuthSigs,
      authNeededCallback,
    }) {
      if (!connected)
        throw Object.assign(new Error("not ready"), { name: "LitNodeClientNotReadyError" });
      const requests = resourceAbilityRequests.map((r) => ({
        resource: (r.resource as { getResourceKey(): string }).getResourceKey(),
        ability: r.ability,
      }));
      const authSig = verifiedAuthSig(
        await authNeededCallback({
          uri: `lit:session:${sessionPub}`,
          expiration,
          resourceAbilityRequests,
        }),
      );
      if (!authSig) throw nodeError("NodeInvalidAuthSig", "the wallet signature does not verify");
      if (
        opts.operatorAddress &&
        getAddress(authSig.address) !== getAddress(opts.operatorAddress)
      ) {
        throw nodeError("NodeInvalidAuthSig", "unexpected wallet");
      }
      if (!authSig.signedMessage.includes(`lit:session:${sessionPub}`)) {
        throw nodeError("NodeInvalidAuthSig", "the SIWE message is not for this session key");
      }
      // The wallet must have granted, in its ReCap, every resource the session asks for.
      const granted = recapOf(authSig.signedMessage);
      for (const r of requests) {
        if (r.ability === LIT_ACTION_EXECUTION && !granted[r.resource]?.["Threshold/Execution"]) {
          throw nodeError("NodeSIWECapabilityInvalid", "the wallet did not grant this resource");
        }
      }
      sessionCount++;
      const priv = sessionKey.privateKey;
      const sigs: SessionSigs = {};
      for (const nodeAddress of NODES) {
        const signedMessage = JSON.stringify({
          sessionKey: sessionPub,
          resourceAbilityRequests: requests,
          capabilities: [authSig, ...(capabilityAuthSigs ?? [])],
          issuedAt: new Date().toISOString(),
          expiration,
          nodeAddress,
        });
        sigs[nodeAddress] = {
          sig: edSign(null, Buffer.from(signedMessage), priv).toString("hex"),
          derivedVia: "litSessionSignViaNacl",
          signedMessage,
          address: sessionPub,
          algo: "ed25519",
        };
      }
      return sigs;
    },
    async executeJs({ sessionSigs, ipfsId, jsParams }) {
      if (!connected)
        throw Object.assign(new Error("not ready"), { name: "LitNodeClientNotReadyError" });
      if (pendingFailure) {
        const err = pendingFailure;
        pendingFailure = undefined;
        throw err;
      }
      checkSessions(sessionSigs, ipfsId);
      const code = ipfs.get(ipfsId);
      if (code === undefined) throw nodeError("NodeInvalidIPFSID", "no such file on IPFS");
      const signatures: Record<string, unknown> = {};
      let refused: Error | undefined;
      const run = await runV7Action(code, {
        jsParams,
        signEcdsa: ({ toSign, publicKey, sigName }) => {
          const pkp = byPublicKey(publicKey);
          if (!pkp?.actions.includes(multihashBytes(ipfsId))) {
            refused = nodeError(
              "NodeActionNotAllowed",
              "Lit Action isn't allowed to sign with this PKP",
            );
            throw refused;
          }
          signatures[sigName] = signatureOf(pkp, toSign);
          return "success";
        },
      });
      runs.push({ ipfsId, signCalls: run.signCalls, ...(run.error ? { error: run.error } : {}) });
      if (refused) throw refused;
      if (run.error !== undefined) throw nodeError("NodeJsExecutionError", run.error);
      if (Object.keys(signatures).length === 0) {
        return {
          success: true,
          signedData: {},
          decryptedData: {},
          claimData: {},
          response: run.response ?? "",
          logs: run.logs,
        };
      }
      let response: unknown = run.response ?? "";
      try {
        response = JSON.parse(String(response));
      } catch {
        // parseAsJsonOrString keeps a non-JSON response as the string.
      }
      return { claims: undefined, signatures, response, logs: run.logs };
    },
  };

  return {
    sdk: { nodeClient: async () => client, contracts: async () => contracts },
    client,
    contracts,
    async pin(code) {
      const { actionCid } = await import("../../../src/signers/lit/action/index.js");
      const cid = await actionCid(code);
      ipfs.set(cid, code);
      return cid;
    },
    runs,
    sessions: () => sessionCount,
    failNext(errorCode, message) {
      pendingFailure = nodeError(errorCode, message);
    },
  };
}
