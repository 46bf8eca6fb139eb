/**
 * Decodes a sign request into the digest the threshold key signs and the value
 * movements that signature would authorise. The policy is evaluated on this
 * result only, never on anything the client claims about its request.
 *
 * - message: EIP-191 version 0x45 ("personal_sign"), ethers hashMessage.
 * - typed-data: EIP-712, ethers TypedDataEncoder, after a strict structure check
 *   (typed-check.ts); EIP-3009 authorisations, EIP-2612/DAI permits and Permit2
 *   permits are spends (typed-spends.ts).
 * - transaction: EIP-1559 (type 2) with its EIP-155 chain id, ethers
 *   Transaction.unsignedHash; ERC-20/721/1155 value-moving calldata is decoded
 *   into spends (calldata.ts), any other calldata is a contract call.
 */

import { getBytes, hashMessage, Transaction, TypedDataEncoder } from "ethers";
import { VaultError } from "../errors/index.js";
import { isObj as isObject, type Obj } from "../util/json.js";
import { NATIVE_ASSET, normaliseAddress } from "./assets.js";
import { callSpends } from "./calldata.js";
import { checkTypedDataStrict } from "./typed-check.js";
import { typedDataSpends } from "./typed-spends.js";
import type { DecodedRequest, SignIntent, Spend, TxRequest } from "./types.js";

type TypedFields = Array<{ name: string; type: string }>;
type TypedDataIntent = Extract<SignIntent, { kind: "typed-data" }>;

const UINT256_MAX = (1n << 256n) - 1n;
/** Uniswap's canonical Permit2 (the same CREATE2 address on every chain it is deployed to). */
const PERMIT2 = "0x000000000022d473030f116ddee9f6b43ac78ba3";
/** The EIP712Domain fields ethers derives from a domain object, in its order. */
const DOMAIN_FIELDS = [
  ["name", "string"],
  ["version", "string"],
  ["chainId", "uint256"],
  ["verifyingContract", "address"],
  ["salt", "bytes32"],
] as const;

function badTx(field: string, problem: string): VaultError {
  const path = field === "" ? "tx" : `tx.${field}`;
  return new VaultError("MALFORMED_TRANSACTION", `${path} ${problem}`, { field: path });
}

function badTypedData(problem: string): VaultError {
  return new VaultError("MALFORMED_TYPED_DATA", problem);
}

/** ethers' one-line reason (no stack, no internals), capped in length. */
function shortReason(err: unknown): string {
  const reason =
    isObject(err) && typeof err.shortMessage === "string" ? err.shortMessage : "invalid";
  return reason.slice(0, 160);
}

/** Unsigned integer from a JSON-ish value: safe number, bigint, decimal or 0x string. */
function parseUint(value: unknown): bigint | undefined {
  let n: bigint | undefined;
  if (typeof value === "bigint") n = value;
  else if (typeof value === "number" && Number.isSafeInteger(value)) n = BigInt(value);
  else if (typeof value === "string" && /^(\d+|0x[0-9a-fA-F]+)$/.test(value)) n = BigInt(value);
  return n !== undefined && n >= 0n && n <= UINT256_MAX ? n : undefined;
}

function parseChainId(value: unknown): number | undefined {
  const n = parseUint(value);
  return n !== undefined && n > 0n && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : undefined;
}

// ---------------------------------------------------------------- message

function decodeMessage(message: unknown): DecodedRequest {
  if (typeof message !== "string" || !/^0x([0-9a-fA-F]{2})*$/.test(message)) {
    throw new VaultError(
      "VALIDATION_FAILED",
      "message must be 0x-prefixed hex of the message bytes",
      {
        field: "message",
      },
    );
  }
  return { kind: "message", digest: hashMessage(getBytes(message)), spends: [] };
}

// ---------------------------------------------------------------- typed data

function checkFields(name: string, fields: unknown): TypedFields {
  const ok =
    Array.isArray(fields) &&
    fields.every((f) => isObject(f) && typeof f.name === "string" && typeof f.type === "string");
  if (!ok) throw badTypedData(`types.${name} must be an array of { name, type }`);
  return fields as TypedFields;
}

/**
 * The types reachable from primaryType, without EIP712Domain. This is what
 * eth_signTypedData_v4 encodes; ethers instead infers the primary type and
 * refuses unused types, so pruning makes the two agree.
 */
function typesReachableFrom(primaryType: string, types: Obj): Record<string, TypedFields> {
  const reachable: Record<string, TypedFields> = {};
  const pending = [primaryType];
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (Object.hasOwn(reachable, name)) continue;
    const fields = checkFields(name, types[name]);
    reachable[name] = fields;
    for (const field of fields) {
      const base = field.type.replace(/(\[\d*\])+$/, "");
      if (base !== "EIP712Domain" && Object.hasOwn(types, base)) pending.push(base);
    }
  }
  return reachable;
}

/** A declared EIP712Domain must be exactly what the domain object implies, or wallets would hash differently. */
function checkDeclaredDomainType(declared: unknown, domain: Obj): void {
  if (declared === undefined) return;
  const fields = checkFields("EIP712Domain", declared);
  const expected = DOMAIN_FIELDS.filter(([name]) => domain[name] != null).map(
    ([n, t]) => `${t} ${n}`,
  );
  const actual = fields.map((f) => `${f.type} ${f.name}`);
  if (expected.join(",") !== actual.join(",")) {
    throw badTypedData("types.EIP712Domain does not match the fields of domain");
  }
}

function checkTypedDataShape(intent: TypedDataIntent): void {
  if (!isObject(intent.domain)) throw badTypedData("domain must be an object");
  if (!isObject(intent.types)) throw badTypedData("types must be an object");
  if (!isObject(intent.message)) throw badTypedData("message must be an object");
  const primary = intent.primaryType;
  if (
    typeof primary !== "string" ||
    primary === "EIP712Domain" ||
    !Object.hasOwn(intent.types, primary)
  ) {
    throw badTypedData("primaryType must name a struct defined in types");
  }
}

function typedDataDigest(intent: TypedDataIntent, types: Record<string, TypedFields>): string {
  checkDeclaredDomainType(intent.types.EIP712Domain, intent.domain);
  try {
    return TypedDataEncoder.hash(intent.domain, types, intent.message);
  } catch (err) {
    throw badTypedData(`typed data cannot be encoded: ${shortReason(err)}`);
  }
}

function domainChainId(domain: Obj): number | undefined {
  if (domain.chainId == null) return undefined;
  const chainId = parseChainId(domain.chainId);
  if (chainId === undefined) throw badTypedData("domain.chainId must be a positive integer");
  return chainId;
}

function decodeTypedData(intent: TypedDataIntent): DecodedRequest {
  checkTypedDataShape(intent);
  const types = typesReachableFrom(intent.primaryType, intent.types);
  checkTypedDataStrict(intent.domain, types, intent.primaryType, intent.message);
  const digest = typedDataDigest(intent, types);
  const chainId = domainChainId(intent.domain);
  const { domain, primaryType, message } = intent;
  const spends = typedDataSpends({ domain, types, primaryType, message, chainId });
  return {
    kind: "typed-data",
    digest,
    ...(chainId === undefined ? {} : { chainId }),
    spends,
    primaryType: intent.primaryType,
  };
}

// ---------------------------------------------------------------- transaction

interface ParsedTx {
  chainId: number;
  to: string;
  value: bigint;
  data: string;
  nonce: number;
  gasLimit: bigint;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

function uintField(tx: Obj, field: keyof TxRequest, fallback?: bigint): bigint {
  const raw = tx[field];
  const n = raw === undefined ? fallback : parseUint(raw);
  if (n === undefined)
    throw badTx(field, "must be an unsigned integer (number, decimal or 0x string)");
  return n;
}

function parseTxRequest(tx: unknown): ParsedTx {
  if (!isObject(tx)) throw badTx("", "must be an object");
  const chainId = parseChainId(tx.chainId);
  if (chainId === undefined) throw badTx("chainId", "must be a positive integer");
  const to = normaliseAddress(tx.to);
  if (to === undefined)
    throw badTx("to", "must be a 0x address (contract creation is not supported)");
  const data = tx.data ?? "0x";
  if (typeof data !== "string" || !/^0x([0-9a-fA-F]{2})*$/.test(data))
    throw badTx("data", "must be 0x hex bytes");
  const nonce = uintField(tx, "nonce");
  if (nonce > BigInt(Number.MAX_SAFE_INTEGER)) throw badTx("nonce", "is too large");
  const parsed = {
    chainId,
    to,
    value: uintField(tx, "value", 0n),
    data: data.toLowerCase(),
    nonce: Number(nonce),
    gasLimit: uintField(tx, "gasLimit"),
    maxFeePerGas: uintField(tx, "maxFeePerGas"),
    maxPriorityFeePerGas: uintField(tx, "maxPriorityFeePerGas"),
  };
  if (parsed.maxPriorityFeePerGas > parsed.maxFeePerGas) {
    throw badTx("maxPriorityFeePerGas", "must not exceed maxFeePerGas");
  }
  return parsed;
}

function toTransaction(tx: ParsedTx): Transaction {
  try {
    return Transaction.from({ type: 2, accessList: [], ...tx });
  } catch (err) {
    throw badTx("", `cannot be encoded: ${shortReason(err)}`);
  }
}

/** The unsigned EIP-1559 transaction a TxRequest describes, built by ethers. */
export function buildTransaction(raw: TxRequest): Transaction {
  return toTransaction(parseTxRequest(raw));
}

function decodeTransaction(raw: unknown): DecodedRequest {
  const tx = parseTxRequest(raw);
  const digest = toTransaction(tx).unsignedHash;
  const spends: Spend[] = [];
  if (tx.value > 0n) {
    spends.push({ chainId: tx.chainId, asset: NATIVE_ASSET, amount: tx.value, recipient: tx.to });
  }
  const decoded: DecodedRequest = {
    kind: "transaction",
    digest,
    chainId: tx.chainId,
    spends,
    maxFee: tx.gasLimit * tx.maxFeePerGas,
  };
  if (tx.data === "0x") return decoded;
  const callSpent = callSpends(tx);
  if (callSpent === undefined) decoded.contractCall = tx.to;
  else spends.push(...callSpent);
  // A spend of another asset than the called contract (Permit2's approve names its token)
  // is only what the call does if the contract is Permit2; any other contract sharing the
  // selector runs code of its own with the agent as sender, so it must be listed too.
  if (callSpent?.some((s) => s.asset !== tx.to) === true && tx.to !== PERMIT2) {
    decoded.contractCall = tx.to;
  }
  return decoded;
}

// ---------------------------------------------------------------- entry point

/** Digest and spends of a sign request; throws VaultError on malformed input. */
export function decodeIntent(intent: SignIntent): DecodedRequest {
  if (!isObject(intent)) throw new VaultError("VALIDATION_FAILED", "intent must be an object");
  switch (intent.kind) {
    case "message":
      return decodeMessage(intent.message);
    case "typed-data":
      return decodeTypedData(intent);
    case "transaction":
      return decodeTransaction(intent.tx);
    default:
      throw new VaultError(
        "VALIDATION_FAILED",
        'kind must be "message", "typed-data" or "transaction"',
        { field: "kind" },
      );
  }
}
