/**
 * Calldata that moves the agent's value, decoded into spends (ethers ABI coder).
 *
 * - ERC-20 (https://eips.ethereum.org/EIPS/eip-20): transfer, transferFrom, approve,
 *   and OpenZeppelin's increaseAllowance.
 * - ERC-721 (https://eips.ethereum.org/EIPS/eip-721): safeTransferFrom (both
 *   overloads) moves one token; transferFrom and approve share ERC-20's selectors
 *   and encoding, so they are read as ERC-20 and count the token-id word, at least 1.
 * - ERC-1155 (https://eips.ethereum.org/EIPS/eip-1155): safeTransferFrom and
 *   safeBatchTransferFrom move `value` of each id.
 * - setApprovalForAll(operator, true) (ERC-721 and ERC-1155) and ERC-777
 *   authorizeOperator are unlimited grants; ERC-677 transferAndCall and ERC-777 send
 *   are transfers; Permit2's on-chain approve(token, spender, amount, expiration)
 *   is an allowance of `token` (uint160 max: unlimited).
 * - ERC-1363 (https://eips.ethereum.org/EIPS/eip-1363) transferAndCall,
 *   transferFromAndCall and approveAndCall (with and without data), the older
 *   OpenZeppelin increaseApproval, and ERC-777 operatorSend: the same transfers and
 *   grants. Without them a token the policy also lists in `contracts` could be
 *   called with them as a plain contract call, moving value uncounted.
 *
 * A known selector must carry canonical ABI encoding: short or dirty calldata is
 * refused, since contracts read it differently (the "short address" attack). Any
 * other selector is a contract call, allowed only for contracts the policy lists.
 */

import { Interface } from "ethers";
import { VaultError } from "../errors/index.js";
import type { Spend } from "./types.js";

const UINT256_MAX = (1n << 256n) - 1n;
const UINT160_MAX = (1n << 160n) - 1n;

/** Human-readable ABI of every value-moving function this module decodes. */
export const VALUE_MOVING_ABI: readonly string[] = [
  "function transfer(address to, uint256 amount)",
  "function transferFrom(address from, address to, uint256 amount)",
  "function approve(address spender, uint256 amount)",
  "function increaseAllowance(address spender, uint256 addedValue)",
  "function safeTransferFrom(address from, address to, uint256 tokenId)",
  "function safeTransferFrom(address from, address to, uint256 tokenId, bytes data)",
  "function safeTransferFrom(address from, address to, uint256 id, uint256 value, bytes data)",
  "function safeBatchTransferFrom(address from, address to, uint256[] ids, uint256[] values, bytes data)",
  "function setApprovalForAll(address operator, bool approved)",
  "function transferAndCall(address to, uint256 amount, bytes data)",
  "function send(address to, uint256 amount, bytes data)",
  "function authorizeOperator(address operator)",
  "function approve(address token, address spender, uint160 amount, uint48 expiration)",
  "function transferAndCall(address to, uint256 amount)",
  "function transferFromAndCall(address from, address to, uint256 amount)",
  "function transferFromAndCall(address from, address to, uint256 amount, bytes data)",
  "function approveAndCall(address spender, uint256 amount)",
  "function approveAndCall(address spender, uint256 amount, bytes data)",
  "function increaseApproval(address spender, uint256 addedValue)",
  "function operatorSend(address from, address to, uint256 amount, bytes data, bytes operatorData)",
];
const VALUE_MOVING = new Interface(VALUE_MOVING_ABI);

/** The 4-byte selectors this module turns into spends (or refuses). */
export const VALUE_MOVING_SELECTORS: readonly string[] = (() => {
  const selectors: string[] = [];
  VALUE_MOVING.forEachFunction((fn) => {
    selectors.push(fn.selector);
  });
  return selectors;
})();

export interface Call {
  chainId: number;
  /** Lower-case address called. */
  to: string;
  /** Lower-case 0x calldata. */
  data: string;
}

function malformed(name: string): VaultError {
  return new VaultError("MALFORMED_TRANSACTION", `tx.data is not a well-formed ${name} call`, {
    field: "tx.data",
  });
}

/**
 * Decoded arguments, read as the type their ABI signature gives them. ethers already decoded
 * them by that signature, so a mismatch cannot happen; checking keeps it a clear refusal.
 */
function argsOf(a: unknown[], signature: string) {
  const get = <T>(i: number, ok: (v: unknown) => v is T): T => {
    const v = a[i];
    if (!ok(v)) throw malformed(signature);
    return v;
  };
  const isBigint = (v: unknown): v is bigint => typeof v === "bigint";
  return {
    address: (i: number) => get(i, (v): v is string => typeof v === "string"),
    uint: (i: number) => get(i, isBigint),
    uints: (i: number) => get(i, (v): v is bigint[] => Array.isArray(v) && v.every(isBigint)),
    bool: (i: number) => get(i, (v): v is boolean => typeof v === "boolean"),
  };
}

/** Spends of one call, by function signature; `a` are the decoded arguments. */
function spendsOf(call: Call, signature: string, a: unknown[]): Spend[] {
  // `max`: for allowance grants only, the amount that means "unlimited". Transfers
  // are counted in full whatever their amount, so they are never flagged.
  const one = (asset: string, amount: bigint, to: string, max?: bigint): Spend => {
    const spend: Spend = { chainId: call.chainId, asset, amount, recipient: to.toLowerCase() };
    if (max !== undefined && amount >= max) spend.unlimited = true;
    return spend;
  };
  const atLeastOne = (n: bigint) => (n > 0n ? n : 1n);
  const arg = argsOf(a, signature);
  switch (signature) {
    case "transfer(address,uint256)":
    case "transferAndCall(address,uint256)":
    case "transferAndCall(address,uint256,bytes)":
    case "send(address,uint256,bytes)":
      return [one(call.to, arg.uint(1), arg.address(0))];
    case "transferFrom(address,address,uint256)":
      return [one(call.to, atLeastOne(arg.uint(2)), arg.address(1))];
    case "transferFromAndCall(address,address,uint256)":
    case "transferFromAndCall(address,address,uint256,bytes)":
    case "operatorSend(address,address,uint256,bytes,bytes)":
      return [one(call.to, arg.uint(2), arg.address(1))];
    case "approveAndCall(address,uint256)":
    case "approveAndCall(address,uint256,bytes)":
      return [one(call.to, arg.uint(1), arg.address(0), UINT256_MAX)];
    case "approve(address,uint256)":
      return [one(call.to, atLeastOne(arg.uint(1)), arg.address(0), UINT256_MAX)];
    case "increaseAllowance(address,uint256)":
    case "increaseApproval(address,uint256)":
      return [one(call.to, arg.uint(1), arg.address(0), UINT256_MAX)];
    case "safeTransferFrom(address,address,uint256)":
    case "safeTransferFrom(address,address,uint256,bytes)":
      return [one(call.to, 1n, arg.address(1))];
    case "safeTransferFrom(address,address,uint256,uint256,bytes)":
      return [one(call.to, arg.uint(3), arg.address(1))];
    case "safeBatchTransferFrom(address,address,uint256[],uint256[],bytes)":
      return arg.uints(3).map((value) => one(call.to, value, arg.address(1)));
    case "setApprovalForAll(address,bool)":
      return [one(call.to, arg.bool(1) ? UINT256_MAX : 0n, arg.address(0), UINT256_MAX)];
    case "authorizeOperator(address)":
      return [one(call.to, UINT256_MAX, arg.address(0), UINT256_MAX)];
    case "approve(address,address,uint160,uint48)":
      return [one(arg.address(0).toLowerCase(), arg.uint(2), arg.address(1), UINT160_MAX)];
    default:
      // A selector in VALUE_MOVING_ABI without a case here must not pass as "moves nothing".
      throw malformed(signature);
  }
}

/**
 * The spends a call authorises, or undefined if its selector is not a known
 * value-moving one. Throws MALFORMED_TRANSACTION on non-canonical encoding.
 */
export function callSpends(call: Call): Spend[] | undefined {
  const fn = call.data.length >= 10 ? VALUE_MOVING.getFunction(call.data.slice(0, 10)) : null;
  if (fn === null) return undefined;
  let args: unknown[];
  try {
    args = [...VALUE_MOVING.decodeFunctionData(fn, call.data)];
    if (VALUE_MOVING.encodeFunctionData(fn, args) !== call.data) throw new Error("not canonical");
  } catch {
    throw malformed(fn.name);
  }
  // ERC-1155: ids and values must pair up, or the contract reverts; refuse rather than guess.
  if (fn.name === "safeBatchTransferFrom") {
    const arg = argsOf(args, fn.name);
    if (arg.uints(2).length !== arg.uints(3).length) throw malformed(fn.name);
  }
  return spendsOf(call, fn.format("sighash"), args);
}
