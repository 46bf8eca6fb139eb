/**
 * The narrow slice of Lit's v7 SDK the backend uses, and its default factories, which
 * load @lit-protocol/lit-node-client and @lit-protocol/contracts-sdk (7.4.0) with
 * `await import(...)` only when a lit-v7 agent is created or signs: they cost seconds and
 * ~140 MB, and the local default must never load them. Tests pass factories that return
 * fakes honouring the same contracts (test/helpers/lit/v7-fake.ts).
 *
 * Session signatures (Lit v7 "sessionSigs"): the operator's wallet signs a SIWE message
 * with a ReCap granting `lit-action-execution` on the pinned action's CID only
 * (`LitActionResource(cid)`, @lit-protocol/auth-helpers), through `getSessionSigs`'
 * `authNeededCallback`; on the paid networks (datil-test, datil) the request carries a
 * capacity-credits delegation made by `createCapacityDelegationAuthSig` when the operator
 * names its Capacity Credits NFT.
 */
import type { LitV7Network } from "./networks.js";

export type SessionSigs = Record<string, unknown>;

/** What `LitNodeClient` (lit-node-client 7.4.0) offers that the backend calls. */
export interface LitV7NodeClient {
  connect(): Promise<unknown>;
  disconnect(): Promise<unknown>;
  getLatestBlockhash(): Promise<string>;
  getSessionSigs(params: {
    chain: string;
    expiration: string;
    resourceAbilityRequests: { resource: unknown; ability: string }[];
    capabilityAuthSigs?: unknown[];
    authNeededCallback: (params: {
      uri?: string;
      expiration?: string;
      resourceAbilityRequests?: { resource: unknown; ability: string }[];
    }) => Promise<unknown>;
  }): Promise<SessionSigs>;
  createCapacityDelegationAuthSig(params: {
    dAppOwnerWallet: unknown;
    capacityTokenId: string;
    delegateeAddresses: string[];
    uses?: string;
    expiration?: string;
  }): Promise<{ capacityDelegationAuthSig: unknown }>;
  executeJs(params: {
    sessionSigs: SessionSigs;
    ipfsId: string;
    jsParams: Record<string, unknown>;
    responseStrategy?: { strategy: "mostCommon" | "leastCommon" };
  }): Promise<unknown>;
}

/** What `LitContracts` (contracts-sdk 7.4.0) offers that the backend calls. */
export interface LitV7Contracts {
  connect(): Promise<unknown>;
  mintWithAuth(params: {
    authMethod: { authMethodType: number; accessToken: string };
    authMethodId: string;
    scopes: number[];
  }): Promise<{ pkp: { tokenId: string; publicKey: string; ethAddress: string } }>;
  utils: { getBytesFromMultihash(multihash: string): string };
  pkpPermissionsContractUtils: {
    read: {
      getPermittedActions(tokenId: string): Promise<string[]>;
      isPermittedAction(pkpId: string, ipfsId: string): Promise<boolean>;
    };
  };
  pkpNftContract: { read: { ownerOf(tokenId: string): Promise<string> } };
}

export interface LitV7Sdk {
  nodeClient(network: LitV7Network): Promise<LitV7NodeClient>;
  contracts(input: {
    network: LitV7Network;
    rpcUrl?: string;
    operatorKey: string;
  }): Promise<LitV7Contracts>;
  /** @lit-protocol/auth-helpers: the SIWE + ReCap message and the operator's auth sig. */
  authHelpers(): Promise<{
    LitActionResource: new (cid: string) => unknown;
    createSiweMessageWithRecaps(params: {
      uri: string;
      expiration: string;
      resources: { resource: unknown; ability: string }[];
      walletAddress: string;
      nonce: string;
      litNodeClient: unknown;
    }): Promise<string>;
    generateAuthSig(params: { signer: unknown; toSign: string }): Promise<unknown>;
  }>;
}

export const defaultSdk: LitV7Sdk = {
  async nodeClient(network) {
    const { LitNodeClient } = await import("@lit-protocol/lit-node-client");
    return new LitNodeClient({ litNetwork: network, debug: false }) as unknown as LitV7NodeClient;
  },
  async contracts({ network, rpcUrl, operatorKey }) {
    const { LitContracts } = await import("@lit-protocol/contracts-sdk");
    const args = rpcUrl === undefined ? {} : { rpc: rpcUrl };
    const contracts = new LitContracts({ privateKey: operatorKey, network, debug: false, ...args });
    return contracts as unknown as LitV7Contracts;
  },
  async authHelpers() {
    const helpers = await import("@lit-protocol/auth-helpers");
    return helpers as unknown as Awaited<ReturnType<LitV7Sdk["authHelpers"]>>;
  },
};
