/**
 * Typed data that moves value, decoded into spends.
 *
 * - EIP-3009 (https://eips.ethereum.org/EIPS/eip-3009) TransferWithAuthorization /
 *   ReceiveWithAuthorization: `value` of the token at domain.verifyingContract to `to`.
 * - EIP-2612 (https://eips.ethereum.org/EIPS/eip-2612) Permit(owner, spender, value,
 *   nonce, deadline) and DAI's Permit(holder, spender, nonce, expiry, allowed): an
 *   allowance of the token at domain.verifyingContract to `spender`; DAI's
 *   `allowed: true` is unlimited.
 * - Uniswap Permit2 (https://github.com/Uniswap/permit2, AllowanceTransfer and
 *   SignatureTransfer): PermitSingle / PermitBatch grant `details[].amount` of
 *   `details[].token` to `spender` (uint160 max is unlimited there);
 *   PermitTransferFrom / PermitBatchTransferFrom and their witness variants let
 *   `spender` pull `permitted[].amount` of `permitted[].token`.
 *
 * The struct definitions must be the standard ones, field for field: the token's
 * contract hashes its own type string, so a look-alike with other fields either
 * does not verify on chain or means something this decoder cannot read; either
 * way it is refused (MALFORMED_TYPED_DATA) rather than counted as nothing.
 */

import { VaultError } from "../errors/index.js";
import { normaliseAddress } from "./assets.js";
import type { Spend } from "./types.js";

type Obj = Record<string, unknown>;
type TypedFields = Array<{ name: string; type: string }>;

const UINT256_MAX = (1n << 256n) - 1n;
const UINT160_MAX = (1n << 160n) - 1n;

const f = (spec: string): TypedFields =>
  spec.split(",").map((pair) => {
    const [type, name] = pair.trim().split(" ") as [string, string];
    return { name, type };
  });

const EIP3009 = f(
  "address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce",
);
const EIP2612 = f("address owner, address spender, uint256 value, uint256 nonce, uint256 deadline");
const DAI = f("address holder, address spender, uint256 nonce, uint256 expiry, bool allowed");
const PERMIT_DETAILS = f("address token, uint160 amount, uint48 expiration, uint48 nonce");
const TOKEN_PERMISSIONS = f("address token, uint256 amount");
const SINGLE = f("PermitDetails details, address spender, uint256 sigDeadline");
const BATCH = f("PermitDetails[] details, address spender, uint256 sigDeadline");
const TRANSFER = f("TokenPermissions permitted, address spender, uint256 nonce, uint256 deadline");
const BATCH_TRANSFER = f(
  "TokenPermissions[] permitted, address spender, uint256 nonce, uint256 deadline",
);

/** Every EIP-712 primary type this module decodes; no other type is known to move value. */
export const VALUE_MOVING_TYPED_DATA: readonly string[] = [
  "TransferWithAuthorization",
  "ReceiveWithAuthorization",
  "Permit",
  "PermitSingle",
  "PermitBatch",
  "PermitTransferFrom",
  "PermitBatchTransferFrom",
  "PermitWitnessTransferFrom",
  "PermitBatchWitnessTransferFrom",
];

/**
 * EIP-712 types known to move value in ways this decoder does not count: they are refused
 * whatever the policy lists (never value-free). An ERC-2771 forwarder's ForwardRequest
 * (https://eips.ethereum.org/EIPS/eip-2771, OpenZeppelin) and a MetaTransaction
 * (Biconomy/Polygon "executeMetaTransaction") run arbitrary calldata as the signer; a Safe
 * SafeTx executes a call from the Safe the agent owns; a Seaport OrderComponents offers the
 * signer's tokens and NFTs. To sign these, a new decoder has to count what they move.
 */
export const UNCOUNTED_VALUE_MOVING_TYPED_DATA: readonly string[] = [
  "ForwardRequest",
  "MetaTransaction",
  "SafeTx",
  "OrderComponents",
];

export interface TypedSpendInput {
  domain: Obj;
  types: Record<string, TypedFields>;
  primaryType: string;
  message: Obj;
  chainId: number | undefined;
}

function nonstandard(problem: string): VaultError {
  return new VaultError("MALFORMED_TYPED_DATA", problem);
}

function sameFields(actual: TypedFields | undefined, expected: TypedFields): boolean {
  return (
    actual !== undefined &&
    actual.length === expected.length &&
    actual.every((x, i) => x.name === expected[i]?.name && x.type === expected[i]?.type)
  );
}

function requireFields(input: TypedSpendInput, name: string, expected: TypedFields): void {
  if (!sameFields(input.types[name], expected)) {
    throw nonstandard(`types.${name} must be the standard ${name} struct`);
  }
}

function address(value: unknown, what: string): string {
  const a = normaliseAddress(value);
  if (a === undefined) throw nonstandard(`${what} must be a 0x address`);
  return a;
}

function amount(value: unknown, what: string): bigint {
  let n: bigint | undefined;
  if (typeof value === "bigint") n = value;
  else if (typeof value === "number" && Number.isSafeInteger(value)) n = BigInt(value);
  else if (typeof value === "string" && /^(\d+|0x[0-9a-fA-F]+)$/.test(value)) n = BigInt(value);
  if (n === undefined || n < 0n || n > UINT256_MAX) {
    throw nonstandard(`${what} must be an unsigned integer`);
  }
  return n;
}

function chainOf(input: TypedSpendInput): number {
  if (input.chainId === undefined) {
    throw nonstandard(`${input.primaryType} needs domain.chainId`);
  }
  return input.chainId;
}

/** An allowance grant; `max` is the amount the standard reads as unlimited. */
function grant(chainId: number, asset: string, value: bigint, to: string, max: bigint): Spend {
  const spend: Spend = { chainId, asset, amount: value, recipient: to };
  if (value >= max) spend.unlimited = true;
  return spend;
}

function eip3009(input: TypedSpendInput): Spend[] {
  requireFields(input, input.primaryType, EIP3009);
  const { domain, message } = input;
  const token = address(domain.verifyingContract, "domain.verifyingContract");
  const chainId = chainOf(input);
  return [
    {
      chainId,
      asset: token,
      amount: amount(message.value, "message.value"),
      recipient: address(message.to, "message.to"),
    },
  ];
}

/** EIP-2612 or DAI-style Permit: which one is told by the declared fields. */
function permit(input: TypedSpendInput): Spend[] {
  const { domain, message } = input;
  const dai = sameFields(input.types.Permit, DAI);
  if (!dai) requireFields(input, "Permit", EIP2612);
  const token = address(domain.verifyingContract, "domain.verifyingContract");
  const chainId = chainOf(input);
  const spender = address(message.spender, "message.spender");
  if (!dai)
    return [grant(chainId, token, amount(message.value, "message.value"), spender, UINT256_MAX)];
  if (typeof message.allowed !== "boolean") throw nonstandard("message.allowed must be a boolean");
  // DAI's permit is all or nothing: allowed=true is an allowance of 2^256-1.
  return [grant(chainId, token, message.allowed ? UINT256_MAX : 0n, spender, UINT256_MAX)];
}

function permitEntries(value: unknown, batch: boolean, what: string): Obj[] {
  const list = batch ? value : [value];
  if (!Array.isArray(list) || !list.every((x) => typeof x === "object" && x !== null)) {
    throw nonstandard(`${what} must be ${batch ? "an array of structs" : "a struct"}`);
  }
  return list as Obj[];
}

/** Permit2 AllowanceTransfer: PermitSingle / PermitBatch. */
function permit2Allowance(input: TypedSpendInput, batch: boolean): Spend[] {
  requireFields(input, input.primaryType, batch ? BATCH : SINGLE);
  requireFields(input, "PermitDetails", PERMIT_DETAILS);
  const chainId = chainOf(input);
  const spender = address(input.message.spender, "message.spender");
  return permitEntries(input.message.details, batch, "message.details").map((d, i) =>
    grant(
      chainId,
      address(d.token, `message.details[${i}].token`),
      amount(d.amount, `message.details[${i}].amount`),
      spender,
      UINT160_MAX,
    ),
  );
}

/** Permit2 SignatureTransfer, with or without a witness (one extra trailing struct field). */
function permit2Transfer(input: TypedSpendInput, batch: boolean, witness: boolean): Spend[] {
  const base = batch ? BATCH_TRANSFER : TRANSFER;
  const declared = input.types[input.primaryType] ?? [];
  const head = witness ? declared.slice(0, -1) : declared;
  const extra = witness ? declared[declared.length - 1] : undefined;
  if (!sameFields(head, base) || (witness && !Object.hasOwn(input.types, extra?.type ?? ""))) {
    throw nonstandard(`types.${input.primaryType} must be the standard Permit2 struct`);
  }
  requireFields(input, "TokenPermissions", TOKEN_PERMISSIONS);
  const chainId = chainOf(input);
  const spender = address(input.message.spender, "message.spender");
  // A one-shot transfer of up to `amount`: counted in full, never an unlimited grant.
  return permitEntries(input.message.permitted, batch, "message.permitted").map((p, i) => ({
    chainId,
    asset: address(p.token, `message.permitted[${i}].token`),
    amount: amount(p.amount, `message.permitted[${i}].amount`),
    recipient: spender,
  }));
}

/**
 * The spends a value-moving typed-data request authorises; [] for any other
 * primary type (whether that is allowed is the evaluator's decision).
 */
export function typedDataSpends(input: TypedSpendInput): Spend[] {
  switch (input.primaryType) {
    case "TransferWithAuthorization":
    case "ReceiveWithAuthorization":
      return eip3009(input);
    case "Permit":
      return permit(input);
    case "PermitSingle":
      return permit2Allowance(input, false);
    case "PermitBatch":
      return permit2Allowance(input, true);
    case "PermitTransferFrom":
      return permit2Transfer(input, false, false);
    case "PermitBatchTransferFrom":
      return permit2Transfer(input, true, false);
    case "PermitWitnessTransferFrom":
      return permit2Transfer(input, false, true);
    case "PermitBatchWitnessTransferFrom":
      return permit2Transfer(input, true, true);
    default:
      return [];
  }
}
