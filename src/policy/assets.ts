/**
 * Asset vocabulary: the native asset and ERC-20 tokens (ERC-20, EIP-20).
 *
 * A policy keys its limits by "ETH" (the chain's native asset, 18 decimals) or
 * by a token contract address. Tokens the vault knows out of the box (USDC on
 * Base and Base Sepolia) need no symbol/decimals in the policy; for any other
 * token the policy must say them, because limits are written in human units and
 * a wrong decimals value would scale every limit by powers of ten.
 */

import { isAddress } from "ethers";
import type { AssetKey, AssetLimit } from "./types.js";

export const NATIVE_ASSET = "ETH";
export const NATIVE_DECIMALS = 18;

export interface KnownToken {
  chainId: number;
  /** Lower-case 0x address. */
  address: string;
  symbol: string;
  decimals: number;
}

/** Circle's USDC deployments (https://developers.circle.com/stablecoins/usdc-contract-addresses). */
export const KNOWN_TOKENS: readonly KnownToken[] = [
  {
    chainId: 8453,
    address: "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913",
    symbol: "USDC",
    decimals: 6,
  },
  {
    chainId: 84532,
    address: "0x036cbd53842c5426634e7929541ec2318f3dcf7e",
    symbol: "USDC",
    decimals: 6,
  },
];

export interface AssetInfo {
  key: AssetKey;
  symbol: string;
  decimals: number;
}

/**
 * Lower-case form of a 0x address, or undefined if it is not one. Mixed-case
 * input must carry a valid EIP-55 checksum (a typo in a checksummed address is
 * caught rather than silently accepted).
 */
export function normaliseAddress(value: unknown): string | undefined {
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(value)) return undefined;
  return isAddress(value) ? value.toLowerCase() : undefined;
}

/** "ETH" stays "ETH"; a token address becomes lower case; anything else is undefined. */
export function normaliseAssetKey(key: string): AssetKey | undefined {
  return key === NATIVE_ASSET ? NATIVE_ASSET : normaliseAddress(key);
}

/** A known token by address; the chain narrows the match when given. */
export function findKnownToken(address: string, chainId?: number): KnownToken | undefined {
  const lower = address.toLowerCase();
  return KNOWN_TOKENS.find(
    (t) => t.address === lower && (chainId === undefined || t.chainId === chainId),
  );
}

/**
 * Symbol and decimals of an asset key. The known list wins for decimals (it is
 * on-chain truth); the policy entry supplies them for other tokens. Undefined
 * when the decimals cannot be determined.
 */
export function resolveAsset(key: string, entry?: AssetLimit): AssetInfo | undefined {
  if (key === NATIVE_ASSET) {
    return { key, symbol: entry?.symbol ?? NATIVE_ASSET, decimals: NATIVE_DECIMALS };
  }
  const address = normaliseAddress(key);
  if (address === undefined) return undefined;
  const known = findKnownToken(address);
  const decimals = known?.decimals ?? entry?.decimals;
  const symbol = entry?.symbol ?? known?.symbol;
  if (decimals === undefined || symbol === undefined) return undefined;
  return { key: address, symbol, decimals };
}
