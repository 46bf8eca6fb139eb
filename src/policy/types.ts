/**
 * Policy vocabulary shared by the vault and every signer node.
 *
 * A policy is versioned JSON, one per agent. Amounts are decimal strings in the
 * asset's own units ("0.01" ETH, "10" USDC). Everything the evaluator needs is
 * decoded from the bytes being signed (see decode.ts), never from a client's claim.
 */

export interface AssetLimit {
  /** Display symbol; required for ERC-20 entries unless the token is known (USDC on Base). */
  symbol?: string;
  /** Token decimals; required for ERC-20 entries unless the token is known. */
  decimals?: number;
  maxPerTx: string;
  maxPer24h: string;
  /** Amounts strictly above this park the request until an operator approves it. */
  approvalAbove?: string;
}

export interface Policy {
  chains: number[];
  /**
   * Keyed by "ETH" (the chain's native asset) or by ERC-20 contract address. These
   * limits are shared by all listed chains together (one budget across chains).
   */
  assets: Record<string, AssetLimit>;
  /**
   * Limits scoped to one chain: chain id (decimal string, one of `chains`) → asset key →
   * limits. They apply to that chain's spends only, in addition to any `assets` entry
   * for the same asset (both must hold). An asset needs an entry in one of the two.
   */
  assetsByChain?: Record<string, Record<string, AssetLimit>>;
  /** Absent: any recipient. Present: only these (case-insensitive addresses). */
  recipients?: string[];
  /** Contracts the agent may call beyond plain asset transfers. */
  contracts?: string[];
  allowMessageSigning?: boolean;
  /**
   * EIP-712 primary types the agent may sign. A type the decoder knows to move value
   * (EIP-3009, EIP-2612/DAI Permit, Permit2) is always decoded into spends; any other
   * type listed here is read as value-free (the pre-`valueFreeTypedData` form).
   */
  allowTypedData?: string[];
  /**
   * EIP-712 primary types the operator declares move no value (e.g. "Mail", a login
   * challenge). A type known to move value cannot be listed here.
   */
  valueFreeTypedData?: string[];
  /**
   * Spenders (operators) to which the agent may grant an unlimited allowance
   * (approve/permit of 2^256-1, Permit2 2^160-1, DAI allowed=true, setApprovalForAll
   * true). Absent: unlimited grants are refused. Such grants are not counted
   * against caps: the operator trusts these spenders.
   */
  unlimitedAllowanceSpenders?: string[];
  rateLimitPerMinute?: number;
  /**
   * Most a transaction may pay in fees, gasLimit × maxFeePerGas, in the chain's native units
   * ("0.002"). Absent: fees are not capped (only the transferred value is).
   */
  maxFeePerTx?: string;
  /** ISO-8601 instant after which nothing is signed. */
  validUntil?: string;
}

/** The asset key used in spend records: "ETH" or a lower-case 0x token address. */
export type AssetKey = string;

/** One movement of value that a signature would authorise. */
export interface Spend {
  chainId: number;
  asset: AssetKey;
  /** Amount in the asset's base units (wei, or token units × 10^decimals). */
  amount: bigint;
  /** Lower-case 0x address receiving the value (or the approved spender for `approve`). */
  recipient: string;
  /**
   * An unlimited grant (allowance 2^256-1, Permit2 2^160-1, DAI allowed=true,
   * setApprovalForAll true, ERC-777 authorizeOperator): refused unless the recipient
   * is in `unlimitedAllowanceSpenders`, and then not counted against caps.
   */
  unlimited?: true;
}

/** What a signature request encodes, as the vault and each node see it. */
export type SignIntent =
  | {
      kind: "message" /** 0x-hex of the raw message bytes (EIP-191 personal_sign) */;
      message: string;
    }
  | {
      kind: "typed-data";
      domain: Record<string, unknown>;
      /** As the client sent it: decodeIntent checks the struct definitions (src/policy/decode.ts). */
      types: Record<string, unknown>;
      primaryType: string;
      message: Record<string, unknown>;
    }
  | { kind: "transaction"; tx: TxRequest };

/** An EIP-1559 transaction as the API accepts it; numbers as decimal or 0x strings. */
export interface TxRequest {
  chainId: number | string;
  to: string;
  value?: string;
  data?: string;
  nonce: number | string;
  gasLimit: number | string;
  maxFeePerGas: string;
  maxPriorityFeePerGas: string;
}

/** The result of decoding an intent: what it would do, in policy terms. */
export interface DecodedRequest {
  kind: SignIntent["kind"];
  /** keccak256 digest that the threshold key signs (0x, 32 bytes). */
  digest: string;
  chainId?: number;
  spends: Spend[];
  /** A contract call that is not a plain, decodable asset transfer (lower-case address). */
  contractCall?: string;
  /** EIP-712 primary type, for typed data. */
  primaryType?: string;
  /** Transactions: the most they can pay in fees (gasLimit × maxFeePerGas), in wei. */
  maxFee?: bigint;
}

/** What the agent has already used, as seen by whoever evaluates. */
export interface Usage {
  /** Sum of spends per asset key in the rolling 24 h window before `now`. */
  spentLast24h: Record<AssetKey, bigint>;
  /**
   * The same sums per chain, keyed "<chainId>/<asset key>", for `assetsByChain`
   * limits. Absent: the all-chains sum is used (never less than the chain's).
   */
  spentLast24hByChain?: Record<string, bigint>;
  /** Sign requests in the 60 s before `now` (not counting this one). */
  requestsLastMinute: number;
}

export type PolicyRule =
  | "no-policy"
  | "validUntil"
  | "chains"
  | "allowMessageSigning"
  | "allowTypedData"
  | "assets"
  | "maxPerTx"
  | "maxPer24h"
  | "recipients"
  | "contracts"
  | "maxFeePerTx"
  | "rateLimitPerMinute"
  | "unlimitedAllowance";

export type Decision =
  | { allow: true; needsApproval: boolean; spends: Spend[] }
  | { allow: false; rule: PolicyRule; message: string };
