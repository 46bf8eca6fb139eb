/**
 * Public surface of the policy module: asset registry (ERC-20), policy
 * validation, request decoding (EIP-191, EIP-712, EIP-3009, EIP-2612, Permit2,
 * EIP-155/1559 with ERC-20/721/1155 calldata) and the pure evaluator.
 */

export {
  type AssetInfo,
  findKnownToken,
  KNOWN_TOKENS,
  type KnownToken,
  NATIVE_ASSET,
  NATIVE_DECIMALS,
  normaliseAddress,
  normaliseAssetKey,
  resolveAsset,
} from "./assets.js";
export { VALUE_MOVING_SELECTORS } from "./calldata.js";
export { decodeIntent } from "./decode.js";
export {
  DAY_MS,
  evaluatePolicy,
  MINUTE_MS,
  spendTotalsByAsset,
  usageFromRecords,
} from "./evaluate.js";
export { MAX_TYPED_DATA_DEPTH, MAX_TYPED_DATA_VALUES } from "./typed-check.js";
export { VALUE_MOVING_TYPED_DATA } from "./typed-spends.js";
export type * from "./types.js";
export { canonicalJson, isIsoInstant, policyHash, validatePolicy } from "./validate.js";
