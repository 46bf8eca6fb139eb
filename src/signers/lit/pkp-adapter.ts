/**
 * The local threshold cluster behind Lit Protocol's PKP signing contract, so
 * that Lit tooling (PKPEthersWallet from @lit-protocol/pkp-ethers) runs on it
 * unchanged today, and a real Lit backend can later sit behind the same
 * DigestSigningSeam (../types.ts).
 *
 * The contract (LitNodeClient.pkpSign in @lit-protocol 7.x):
 *   pkpSign({ toSign, pubKey, sessionSigs }) => SigResponse
 *   toSign:  the 32-byte digest (hashMessage, TypedDataEncoder.hash or the
 *            unsigned transaction's keccak256), as an array of bytes;
 *   pubKey:  the PKP's secp256k1 public key, hex (0x optional, compressed,
 *            uncompressed or raw 64 bytes);
 *   returns: { r, s, recid, signature, publicKey, dataSigned } formatted as the
 *            Lit SDK formats them: r, s, publicKey (uncompressed, 04…) and
 *            dataSigned as bare hex, recid 0 or 1, signature 0x-hex of r‖s‖v
 *            with v 27 or 28. s is always low (EIP-2).
 * sessionSigs are accepted and ignored: whoever holds the seam is trusted, and
 * the agent's policy decides what is signed.
 *
 * Why an intent is required. pkpSign carries only a digest, and a digest says
 * nothing about what it authorises. Our nodes never sign a digest they cannot
 * check against the agent's policy, so each call must also say what the digest
 * encodes, in the seam's SignIntent vocabulary, either
 *   (a) as an extra `intent` field of the pkpSign params, or
 *   (b) from the context opened by `client.withIntent(intent, fn)`, for callers
 *       such as PKPEthersWallet that build the pkpSign call themselves.
 * Without one the call is refused. The seam re-derives the digest from the
 * intent and refuses a mismatch, so an intent cannot vouch for other bytes.
 *
 * No @lit-protocol package is loaded here (they cost seconds and ~140 MB and
 * must stay off the vault's start-up path); only their types are used.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { JsonPkpSignSdkParams, SigResponse } from "@lit-protocol/types";
import { getBytes, hexlify, isHexString, SigningKey } from "ethers";
import { VaultError } from "../../errors/index.js";
import type { SignIntent } from "../../policy/types.js";
import type { DigestSigningSeam } from "../types.js";

/** Lit's pkpSign params, plus the intent the digest encodes; sessionSigs are optional here. */
export type LocalPkpSignParams = Omit<JsonPkpSignSdkParams, "sessionSigs"> & {
  sessionSigs?: JsonPkpSignSdkParams["sessionSigs"];
  intent?: SignIntent;
};

/** What PKPEthersWallet / PKPBase use of a LitNodeClient, served by the local cluster. */
export interface LocalPkpClient {
  /** PKPBase calls connect() while this is false. */
  readonly ready: boolean;
  /**
   * Read by the PKPEthersWallet constructor to pick a default RPC URL when none
   * is given; no Lit network is named, so the wallet needs an explicit `rpc`.
   */
  readonly config: { litNetwork: string; debug: boolean };
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /** Lit's pkpSign contract; refuses a call that carries no intent. */
  pkpSign(params: LocalPkpSignParams): Promise<SigResponse>;
  /** Runs `fn` with `intent` as the intent of every pkpSign call it makes. */
  withIntent<T>(intent: SignIntent, fn: () => T | Promise<T>): Promise<T>;
  /** For PKPBase's authContext path: the local cluster needs no session signatures. */
  getSessionSigs(): Promise<Record<string, never>>;
  /** Lit Actions run JavaScript on Lit's nodes; the local cluster has none. */
  executeJs(): Promise<never>;
}

/** A 33-, 64- or 65-byte secp256k1 public key in any of Lit's spellings, compressed 0x-hex. */
function compressedKey(pubKey: unknown): string {
  const hex = typeof pubKey === "string" && !pubKey.startsWith("0x") ? `0x${pubKey}` : pubKey;
  // 32 bytes would be read by ethers as a private key; only public key lengths are accepted.
  if (typeof hex === "string" && isHexString(hex) && [33, 64, 65].includes(getBytes(hex).length)) {
    try {
      return SigningKey.computePublicKey(hex, true);
    } catch {
      // not a point on the curve; refused below
    }
  }
  throw new VaultError("VALIDATION_FAILED", "pubKey must be a secp256k1 public key in hex", {
    field: "pubKey",
  });
}

function digestOf(toSign: unknown): string {
  const bytes =
    toSign !== null && typeof toSign === "object" && "length" in toSign
      ? Array.from(toSign as ArrayLike<unknown>)
      : [];
  const ok = bytes.every((b) => typeof b === "number" && Number.isInteger(b) && b >= 0 && b <= 255);
  if (bytes.length !== 32 || !ok) {
    throw new VaultError("VALIDATION_FAILED", "toSign must be the 32 bytes of a digest", {
      field: "toSign",
    });
  }
  return hexlify(Uint8Array.from(bytes as number[]));
}

/**
 * A LitNodeClient stand-in for PKPEthersWallet over `seam`. `resolveAgentId`
 * maps a PKP public key, given as 0x-prefixed compressed hex (the form of
 * AgentView.publicKey) whatever spelling the caller used, to the agent holding it.
 */
export function createLocalPkpClient(
  seam: DigestSigningSeam,
  resolveAgentId: (pubKey: string) => string | undefined,
): LocalPkpClient {
  const intents = new AsyncLocalStorage<SignIntent>();
  let ready = false;

  return {
    get ready() {
      return ready;
    },
    config: { litNetwork: "agent-vault-local", debug: false },

    async connect() {
      ready = true;
    },

    async disconnect() {
      ready = false;
    },

    async withIntent<T>(intent: SignIntent, fn: () => T | Promise<T>): Promise<T> {
      return intents.run(intent, fn);
    },

    async getSessionSigs() {
      return {};
    },

    async executeJs(): Promise<never> {
      throw new VaultError(
        "VALIDATION_FAILED",
        "Lit Actions are not supported by the local cluster; use pkpSign",
      );
    },

    async pkpSign(params: LocalPkpSignParams): Promise<SigResponse> {
      const intent = params?.intent ?? intents.getStore();
      if (intent === undefined) {
        throw new VaultError("VALIDATION_FAILED", "pkpSign needs the intent the digest encodes", {
          field: "intent",
        });
      }
      const digest = digestOf(params?.toSign);
      const pubKey = compressedKey(params?.pubKey);
      const agentId = resolveAgentId(pubKey);
      if (agentId === undefined) {
        throw new VaultError("KEY_NOT_FOUND", "no agent holds this PKP public key", {
          field: "pubKey",
        });
      }
      const sig = (await seam.signDigest({ agentId, digest, intent })).getCanonical();
      // As Lit's SDK verifies the combined signature, never hand out one by another key.
      if (SigningKey.recoverPublicKey(digest, sig) !== SigningKey.computePublicKey(pubKey, false)) {
        throw new VaultError("INTERNAL", "the signature is not by the key pubKey names");
      }
      return {
        r: sig.r.slice(2),
        s: sig.s.slice(2),
        recid: sig.yParity,
        signature: sig.serialized as `0x${string}`,
        publicKey: SigningKey.computePublicKey(pubKey, false).slice(2),
        dataSigned: digest.slice(2),
      };
    },
  };
}
