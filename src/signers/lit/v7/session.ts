/**
 * The operator's Lit v7 session signatures, made with `LitNodeClient.getSessionSigs`
 * (lit-node-client 7.4.0): the `authNeededCallback` builds a SIWE message with a ReCap
 * (`createSiweMessageWithRecaps`, nonce = the network's latest blockhash) that grants
 * `lit-action-execution` on the pinned action's CID only, and the operator's wallet signs
 * it (`generateAuthSig`, EIP-191). With a Capacity Credits NFT (paid networks) the
 * operator delegates its capacity to its own address (`createCapacityDelegationAuthSig`)
 * and the delegation rides along as a capability. Sessions live 15 minutes and are
 * renewed a minute before they end.
 */
import type { BaseWallet } from "ethers";
import type { LitV7NodeClient, LitV7Sdk, SessionSigs } from "./sdk.js";

/** LIT_ABILITY.LitActionExecution (@lit-protocol/constants 7.4.0). */
export const LIT_ACTION_EXECUTION = "lit-action-execution";
const LIFETIME_MS = 15 * 60_000;
const MARGIN_MS = 60_000;

export class SessionCache {
  private current: { cid: string; until: number; sigs: Promise<SessionSigs> } | undefined;

  constructor(
    private readonly sdk: LitV7Sdk,
    private readonly wallet: BaseWallet,
    private readonly capacityTokenId: string | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  get(client: LitV7NodeClient, cid: string): Promise<SessionSigs> {
    const c = this.current;
    if (c && c.cid === cid && c.until - MARGIN_MS > this.now()) return c.sigs;
    const until = this.now() + LIFETIME_MS;
    const sigs = this.make(client, cid, new Date(until).toISOString());
    this.current = { cid, until, sigs };
    sigs.catch(() => {
      if (this.current?.sigs === sigs) this.current = undefined;
    });
    return sigs;
  }

  clear(): void {
    this.current = undefined;
  }

  private async make(client: LitV7NodeClient, cid: string, expiration: string) {
    const helpers = await this.sdk.authHelpers();
    const wallet = this.wallet;
    const capabilityAuthSigs: unknown[] = [];
    if (this.capacityTokenId !== undefined) {
      const { capacityDelegationAuthSig } = await client.createCapacityDelegationAuthSig({
        dAppOwnerWallet: wallet,
        capacityTokenId: this.capacityTokenId,
        delegateeAddresses: [wallet.address],
        expiration,
      });
      capabilityAuthSigs.push(capacityDelegationAuthSig);
    }
    const resourceAbilityRequests = [
      { resource: new helpers.LitActionResource(cid), ability: LIT_ACTION_EXECUTION },
    ];
    return client.getSessionSigs({
      chain: "ethereum",
      expiration,
      resourceAbilityRequests,
      capabilityAuthSigs,
      authNeededCallback: async (params) => {
        const toSign = await helpers.createSiweMessageWithRecaps({
          uri: params.uri ?? "",
          expiration: params.expiration ?? expiration,
          resources: params.resourceAbilityRequests ?? resourceAbilityRequests,
          walletAddress: wallet.address,
          nonce: await client.getLatestBlockhash(),
          litNodeClient: client,
        });
        return helpers.generateAuthSig({ signer: wallet, toSign });
      },
    });
  }
}
