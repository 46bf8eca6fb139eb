/**
 * Strict structure check of EIP-712 typed data before it is hashed.
 *
 * EIP-712 (https://eips.ethereum.org/EIPS/eip-712) hashes only the fields a type
 * declares; ethers' TypedDataEncoder silently ignores any other member of
 * `message`. A field the signer never hashed is a field a client can use to make
 * a request look like something it is not (to a human reviewer, to a log reader),
 * so undeclared members are refused. The domain may only carry the five
 * EIP712Domain fields. Nesting (type graph and message values) is capped at a
 * fixed depth and the number of values at a fixed count, so a cyclic or huge
 * structure is a clear refusal, never a stack overflow.
 *
 * Atomic values must be written as what their type is (leafProblem): ethers hashes a
 * bool by truthiness ("false" signs true), parses "0b101", " 5" or "05" as 5 and takes
 * ICAP addresses, so the bytes signed would differ from what the client wrote (and
 * from what the audit log shows). Each is refused (MALFORMED_TYPED_DATA).
 */

import { VaultError } from "../errors/index.js";

type Obj = Record<string, unknown>;
type TypedFields = Array<{ name: string; type: string }>;

/** Deepest struct/array nesting accepted, counted from the primary type (depth 0). */
export const MAX_TYPED_DATA_DEPTH = 8;
/** Most values (struct members and array elements, all levels) accepted in a message. */
export const MAX_TYPED_DATA_VALUES = 4096;
export const DOMAIN_FIELD_NAMES = ["name", "version", "chainId", "verifyingContract", "salt"];

function isObject(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Domain keys beyond EIP712Domain were always MALFORMED_TYPED_DATA (ethers refuses them). */
function undeclared(path: string, what: string, domain = false): VaultError {
  const code = domain ? "MALFORMED_TYPED_DATA" : "TYPED_DATA_UNDECLARED_FIELD";
  return new VaultError(code, `${path} is not declared by ${what}`, { field: path });
}

function tooDeep(problem: string): VaultError {
  return new VaultError("TYPED_DATA_TOO_DEEP", problem);
}

/** "Foo[2][]" → { base: "Foo", dims: 2 }. */
function splitArray(type: string): { base: string; dims: number } {
  const dims = type.match(/\[\d*\]/g)?.length ?? 0;
  return { base: type.replace(/(\[\d*\])+$/, ""), dims };
}

/** Refuses a cyclic type graph or one nested deeper than MAX_TYPED_DATA_DEPTH. */
function checkTypeGraph(types: Record<string, TypedFields>, name: string, stack: string[]): void {
  if (stack.includes(name)) throw tooDeep(`types are cyclic: ${[...stack, name].join(" → ")}`);
  if (stack.length > MAX_TYPED_DATA_DEPTH) {
    throw tooDeep(`types nest deeper than ${MAX_TYPED_DATA_DEPTH} levels`);
  }
  for (const field of types[name] ?? []) {
    const { base } = splitArray(field.type);
    if (Object.hasOwn(types, base)) checkTypeGraph(types, base, [...stack, name]);
  }
}

interface Walk {
  types: Record<string, TypedFields>;
  count: number;
}

/** Counts a value; a struct or array (`composite`) may not sit deeper than the limit. */
function visit(walk: Walk, depth: number, composite: boolean): void {
  walk.count += 1;
  if (walk.count > MAX_TYPED_DATA_VALUES) {
    throw tooDeep(`message has more than ${MAX_TYPED_DATA_VALUES} values`);
  }
  if (composite && depth > MAX_TYPED_DATA_DEPTH) {
    throw tooDeep(`message nests deeper than ${MAX_TYPED_DATA_DEPTH} levels`);
  }
}

const HEX_BYTES = /^0x([0-9a-fA-F]{2})*$/;
const UINT_TEXT = /^(0|[1-9][0-9]*|0x[0-9a-fA-F]+)$/;
const INT_TEXT = /^(-?(0|[1-9][0-9]*)|-?0x[0-9a-fA-F]+)$/;

/** Why an atomic value is not written as its EIP-712 type, or undefined if it is (range and length are the encoder's). */
function leafProblem(type: string, value: unknown): string | undefined {
  const isInt = /^u?int(\d*)$/.exec(type);
  if (type === "bool") return typeof value === "boolean" ? undefined : "must be true or false";
  if (type === "string") return typeof value === "string" ? undefined : "must be a string";
  if (type === "address") {
    return typeof value === "string" && /^0x[0-9a-fA-F]{40}$/.test(value)
      ? undefined
      : "must be a 0x address";
  }
  if (/^bytes(\d*)$/.test(type)) {
    return typeof value === "string" && HEX_BYTES.test(value) ? undefined : "must be 0x hex bytes";
  }
  if (isInt !== null) {
    const text = type.startsWith("u") ? UINT_TEXT : INT_TEXT;
    const ok =
      typeof value === "bigint" ||
      (typeof value === "number" && Number.isSafeInteger(value)) ||
      (typeof value === "string" && text.test(value));
    return ok ? undefined : "must be an integer (safe JSON number, canonical decimal or 0x string)";
  }
  return undefined;
}

function checkValue(walk: Walk, type: string, value: unknown, path: string, depth: number): void {
  const { base, dims } = splitArray(type);
  visit(walk, depth, dims > 0 || Object.hasOwn(walk.types, base));
  if (dims > 0) {
    // Shape errors (not an array, wrong length) are left to the encoder's message.
    if (!Array.isArray(value)) return;
    const inner = type.replace(/\[\d*\]$/, "");
    value.forEach((item, i) => {
      checkValue(walk, inner, item, `${path}[${i}]`, depth + 1);
    });
    return;
  }
  const fields = walk.types[base];
  if (fields === undefined) {
    // undefined is a missing member: the encoder names it.
    const problem = value === undefined ? undefined : leafProblem(base, value);
    if (problem !== undefined) {
      throw new VaultError("MALFORMED_TYPED_DATA", `${path} (${base}) ${problem}`, { field: path });
    }
    return;
  }
  if (!isObject(value)) return;
  // A member set to undefined is absent (JSON cannot carry it); the encoder reports it.
  for (const key of Object.keys(value).filter((k) => value[k] !== undefined)) {
    if (!fields.some((f) => f.name === key)) throw undeclared(`${path}.${key}`, `type ${base}`);
  }
  for (const field of fields) {
    checkValue(walk, field.type, value[field.name], `${path}.${field.name}`, depth + 1);
  }
}

/**
 * Throws TYPED_DATA_UNDECLARED_FIELD or TYPED_DATA_TOO_DEEP; `types` are the
 * (already shape-checked) types reachable from primaryType.
 */
export function checkTypedDataStrict(
  domain: Obj,
  types: Record<string, TypedFields>,
  primaryType: string,
  message: Obj,
): void {
  for (const key of Object.keys(domain)) {
    if (!DOMAIN_FIELD_NAMES.includes(key)) throw undeclared(`domain.${key}`, "EIP712Domain", true);
  }
  checkTypeGraph(types, primaryType, []);
  checkValue({ types, count: 0 }, primaryType, message, "message", 0);
}
