/**
 * Policy validation and fingerprinting.
 *
 * Amounts are decimal strings in the asset's units and are checked with the
 * asset's decimals (ERC-20 `decimals()`, 18 for the native asset), so a limit
 * can always be converted exactly to base units. Addresses are EIP-55: mixed
 * case must carry a valid checksum; they are stored lower case so comparisons
 * never depend on the case a client used. Validation is strict (unknown keys
 * are rejected) because a misspelt optional field would otherwise silently
 * drop a limit.
 */

import { createHash } from "node:crypto";
import { parseUnits } from "ethers";
import { VaultError } from "../errors/index.js";
import { isObj as isObject, type Obj } from "../util/json.js";
import {
  findKnownToken,
  NATIVE_ASSET,
  NATIVE_DECIMALS,
  normaliseAddress,
  normaliseAssetKey,
} from "./assets.js";
import { UNCOUNTED_VALUE_MOVING_TYPED_DATA, VALUE_MOVING_TYPED_DATA } from "./typed-spends.js";
import type { AssetLimit, Policy } from "./types.js";

const POLICY_FIELDS = [
  "chains",
  "assets",
  "recipients",
  "contracts",
  "allowMessageSigning",
  "allowTypedData",
  "valueFreeTypedData",
  "unlimitedAllowanceSpenders",
  "assetsByChain",
  "rateLimitPerMinute",
  "maxFeePerTx",
  "validUntil",
];
const ASSET_FIELDS = ["symbol", "decimals", "maxPerTx", "maxPer24h", "approvalAbove"];
const UINT256_MAX = (1n << 256n) - 1n;

function fail(field: string, problem: string): never {
  throw new VaultError("INVALID_POLICY", `${field} ${problem}`, { field });
}

function requireObject(value: unknown, field: string): Obj {
  if (!isObject(value)) fail(field, "must be an object");
  return value;
}

function rejectUnknownKeys(obj: Obj, allowed: string[], prefix: string): void {
  const unknown = Object.keys(obj).find((key) => !allowed.includes(key));
  if (unknown !== undefined) fail(`${prefix}${unknown}`, "is not a known policy field");
}

function validateChains(value: unknown): number[] {
  if (!Array.isArray(value) || value.length === 0) {
    fail("chains", "must be a non-empty array of chain ids");
  }
  value.forEach((chain, i) => {
    if (!Number.isSafeInteger(chain) || chain <= 0)
      fail(`chains[${i}]`, "must be a positive integer");
  });
  return [...value];
}

function validateDecimals(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 255) {
    fail(field, "must be an integer from 0 to 255"); // ERC-20 decimals() is a uint8
  }
  return value as number;
}

function validateSymbol(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.trim() === "") fail(field, "must be a non-empty string");
  return value;
}

/**
 * The decimals every amount of this entry is read with. Known decimals (native
 * asset, known tokens) cannot be overridden: a wrong value would rescale limits.
 */
function entryDecimals(
  key: string,
  declared: number | undefined,
  symbol: string | undefined,
  prefix: string,
): number {
  const known = key === NATIVE_ASSET ? NATIVE_DECIMALS : findKnownToken(key)?.decimals;
  if (known !== undefined) {
    if (declared !== undefined && declared !== known)
      fail(`${prefix}.decimals`, `must be ${known} for this asset`);
    return known;
  }
  if (symbol === undefined)
    fail(`${prefix}.symbol`, "is required for a token the vault does not know");
  if (declared === undefined)
    fail(`${prefix}.decimals`, "is required for a token the vault does not know");
  return declared;
}

/** Base units of a decimal amount string; fails unless exactly representable. */
function parseAmount(value: unknown, decimals: number, field: string): bigint {
  if (typeof value !== "string" || !/^\d+(\.\d+)?$/.test(value)) {
    fail(field, 'must be a non-negative decimal string such as "0.01"');
  }
  const fraction = value.split(".")[1] ?? "";
  if (fraction.length > decimals) fail(field, `has more than ${decimals} decimal places`);
  const units = parseUnits(value, decimals);
  if (units > UINT256_MAX) fail(field, "is too large");
  return units;
}

function validateAssetLimit(prefix: string, key: string, value: unknown): AssetLimit {
  const entry = requireObject(value, prefix);
  rejectUnknownKeys(entry, ASSET_FIELDS, `${prefix}.`);
  const symbol = validateSymbol(entry.symbol, `${prefix}.symbol`);
  const declared = validateDecimals(entry.decimals, `${prefix}.decimals`);
  const decimals = entryDecimals(key, declared, symbol, prefix);
  const maxPerTx = parseAmount(entry.maxPerTx, decimals, `${prefix}.maxPerTx`);
  const maxPer24h = parseAmount(entry.maxPer24h, decimals, `${prefix}.maxPer24h`);
  if (maxPerTx > maxPer24h) fail(`${prefix}.maxPerTx`, "must not exceed maxPer24h");
  if (entry.approvalAbove !== undefined) {
    const approvalAbove = parseAmount(entry.approvalAbove, decimals, `${prefix}.approvalAbove`);
    if (approvalAbove > maxPerTx) fail(`${prefix}.approvalAbove`, "must not exceed maxPerTx");
  }
  // Rebuilt field by field so nothing unexpected rides along into storage.
  const limit: AssetLimit = {
    maxPerTx: entry.maxPerTx as string,
    maxPer24h: entry.maxPer24h as string,
  };
  if (symbol !== undefined) limit.symbol = symbol;
  if (declared !== undefined) limit.decimals = declared;
  if (entry.approvalAbove !== undefined) limit.approvalAbove = entry.approvalAbove as string;
  return limit;
}

function validateAssets(value: unknown, field = "assets"): Record<string, AssetLimit> {
  const assets = requireObject(value, field);
  const out: Record<string, AssetLimit> = {};
  for (const [rawKey, entry] of Object.entries(assets)) {
    const key = normaliseAssetKey(rawKey);
    if (key === undefined)
      fail(`${field}.${rawKey}`, 'must be keyed by "ETH" or a 0x token address');
    if (Object.hasOwn(out, key))
      fail(`${field}.${rawKey}`, "duplicates another entry for the same token");
    out[key] = validateAssetLimit(`${field}.${rawKey}`, key, entry);
  }
  return out;
}

/** Chain id (decimal, one of `chains`) → asset map, each map validated like `assets`. */
function validateAssetsByChain(value: unknown, chains: number[]): Policy["assetsByChain"] {
  const byChain = requireObject(value, "assetsByChain");
  const out: NonNullable<Policy["assetsByChain"]> = {};
  for (const [chain, assets] of Object.entries(byChain)) {
    if (!/^[1-9]\d*$/.test(chain) || !chains.includes(Number(chain))) {
      fail(`assetsByChain.${chain}`, "must be keyed by a chain id listed in chains");
    }
    out[chain] = validateAssets(assets, `assetsByChain.${chain}`);
  }
  return out;
}

function validateAddressList(value: unknown, field: string): string[] {
  if (!Array.isArray(value)) fail(field, "must be an array of 0x addresses");
  return value.map((item, i) => {
    const address = normaliseAddress(item);
    if (address === undefined)
      fail(`${field}[${i}]`, "must be a 0x address (valid EIP-55 checksum if mixed case)");
    return address;
  });
}

function validateTypeNames(value: unknown, field: string): string[] {
  if (!Array.isArray(value)) fail(field, "must be an array of EIP-712 type names");
  value.forEach((name, i) => {
    if (typeof name !== "string" || name.trim() === "")
      fail(`${field}[${i}]`, "must be a non-empty string");
  });
  return [...value];
}

/** Value-free types: a type known to move value cannot be declared value-free. */
function validateValueFreeTypes(value: unknown): string[] {
  const names = validateTypeNames(value, "valueFreeTypedData");
  names.forEach((name, i) => {
    if (VALUE_MOVING_TYPED_DATA.includes(name)) {
      fail(`valueFreeTypedData[${i}]`, `is ${name}, which moves value: list it in allowTypedData`);
    }
    if (UNCOUNTED_VALUE_MOVING_TYPED_DATA.includes(name)) {
      fail(`valueFreeTypedData[${i}]`, `is ${name}, which moves value the vault cannot count`);
    }
  });
  return names;
}

/** Date-time with explicit zone; clock fields range-checked here, the calendar date below. */
const ISO_INSTANT =
  /^(\d{4}-\d{2}-\d{2})T(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?(?:Z|[+-](?:0\d|1[0-4]):[0-5]\d)$/;

/**
 * A full ISO-8601 date-time with an explicit zone. Date.parse alone is too
 * lenient: it rolls "02-30" into March and reads zone-less times as local.
 */
export function isIsoInstant(value: unknown): value is string {
  const calendarDate = typeof value === "string" ? ISO_INSTANT.exec(value)?.[1] : undefined;
  if (calendarDate === undefined) return false;
  const midnight = new Date(`${calendarDate}T00:00:00Z`);
  // A real date survives the round trip; "2027-02-30" comes back as "2027-03-02".
  return !Number.isNaN(midnight.getTime()) && midnight.toISOString().slice(0, 10) === calendarDate;
}

function validateOptionals(obj: Obj, policy: Policy): void {
  if (obj.recipients !== undefined)
    policy.recipients = validateAddressList(obj.recipients, "recipients");
  if (obj.contracts !== undefined)
    policy.contracts = validateAddressList(obj.contracts, "contracts");
  if (obj.allowMessageSigning !== undefined) {
    if (typeof obj.allowMessageSigning !== "boolean")
      fail("allowMessageSigning", "must be true or false");
    policy.allowMessageSigning = obj.allowMessageSigning;
  }
  if (obj.allowTypedData !== undefined)
    policy.allowTypedData = validateTypeNames(obj.allowTypedData, "allowTypedData");
  if (obj.valueFreeTypedData !== undefined)
    policy.valueFreeTypedData = validateValueFreeTypes(obj.valueFreeTypedData);
  if (obj.unlimitedAllowanceSpenders !== undefined) {
    policy.unlimitedAllowanceSpenders = validateAddressList(
      obj.unlimitedAllowanceSpenders,
      "unlimitedAllowanceSpenders",
    );
  }
  if (obj.assetsByChain !== undefined)
    policy.assetsByChain = validateAssetsByChain(obj.assetsByChain, policy.chains);
  if (obj.rateLimitPerMinute !== undefined) {
    const limit = obj.rateLimitPerMinute;
    if (!Number.isSafeInteger(limit) || (limit as number) <= 0)
      fail("rateLimitPerMinute", "must be a positive integer");
    policy.rateLimitPerMinute = limit as number;
  }
  if (obj.maxFeePerTx !== undefined) {
    parseAmount(obj.maxFeePerTx, NATIVE_DECIMALS, "maxFeePerTx");
    policy.maxFeePerTx = obj.maxFeePerTx as string;
  }
  if (obj.validUntil !== undefined) {
    if (!isIsoInstant(obj.validUntil)) {
      fail(
        "validUntil",
        'must be an ISO-8601 date-time with a zone, such as "2027-06-30T00:00:00Z"',
      );
    }
    policy.validUntil = obj.validUntil;
  }
}

/**
 * Checks an untrusted policy document and returns its normalised form
 * (addresses lower case, only known fields). Throws INVALID_POLICY naming the field.
 */
export function validatePolicy(input: unknown): Policy {
  const obj = requireObject(input, "policy");
  rejectUnknownKeys(obj, POLICY_FIELDS, "");
  const policy: Policy = { chains: validateChains(obj.chains), assets: validateAssets(obj.assets) };
  validateOptionals(obj, policy);
  return policy;
}

/** JSON with object keys sorted at every level and undefined members dropped. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isObject(value)) {
    const members = Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`);
    return `{${members.join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * sha256 (hex, no 0x) of the canonical JSON of the normalised policy, so two
 * spellings of the same policy (key order, address case) share one fingerprint.
 */
export function policyHash(policy: Policy): string {
  return createHash("sha256")
    .update(canonicalJson(validatePolicy(policy)))
    .digest("hex");
}
