/** JSON schemas shared by routes (and shown in /openapi.json). */
import type { FastifyRequest } from "fastify";

export const errorSchema = {
  type: "object",
  properties: {
    error: {
      type: "object",
      properties: {
        code: { type: "string" },
        message: { type: "string" },
        rule: { type: "string" },
      },
      required: ["code", "message"],
      additionalProperties: true,
    },
  },
} as const;

export const agentIdParams = {
  type: "object",
  properties: { id: { type: "string", minLength: 1, maxLength: 64 } },
  required: ["id"],
} as const;

/** Bytes as 0x-hex: an even number of digits, so that no half byte is left to guess. */
export const hexBytes = {
  type: "string",
  pattern: "^0x([0-9a-fA-F]{2})*$",
  maxLength: 262144,
  description: "bytes as 0x and an even number of hex digits",
} as const;
/**
 * The one definition of an unsigned integer on the wire (amounts, nonces, gas, fees, chain
 * ids): a canonical decimal string (no sign, spaces, exponent, fraction or leading zero; at
 * most 78 digits, the length of 2^256 - 1) or `0x` and 1 to 64 hex digits. Schemas never
 * coerce (src/http/app.ts), so "1e3", " 7", "0X10", "0b101", "0o17" and "1.0" are refused.
 */
const decimal = (digits: number) => `0|[1-9][0-9]{0,${digits - 1}}`;
export const UINT_PATTERN = `^(${decimal(78)}|0x[0-9a-fA-F]{1,64})$`;

/** A canonical decimal string of at most `digits` digits (for amounts that are never hex). */
export const decimalString = (digits: number) =>
  ({
    type: "string",
    pattern: `^(${decimal(digits)})$`,
    description: `a canonical decimal string: at most ${digits} digits, no sign or leading zeros`,
  }) as const;

export const uintString = {
  type: "string",
  pattern: UINT_PATTERN,
  description:
    "a canonical unsigned integer string: decimal digits without leading zeros, or 0x and 1 to 64 hex digits",
} as const;

/**
 * Where a JSON number is also fine (chain id, nonce, gas limit): only a safe integer, so that
 * the value parsed is the value sent (123456789012345678901 would parse as ...680000).
 */
export const uintOrSafeInteger = {
  description: `${uintString.description}, or a JSON integer from 0 to 2^53 - 1`,
  anyOf: [uintString, { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER }],
} as const;

/**
 * Query strings are text and schemas never coerce: a preValidation hook turns the named
 * parameters into numbers when they are canonical decimals (at most 15 digits), and leaves
 * anything else ("1e3", " 7", "0x10") a string for the `integer` schema to refuse.
 */
export function queryIntegers(...names: string[]) {
  return async (req: FastifyRequest) => {
    const query = req.query as Record<string, unknown>;
    for (const name of names) {
      const v = query[name];
      if (typeof v === "string" && /^(0|[1-9][0-9]{0,14})$/.test(v)) query[name] = Number(v);
    }
  };
}

export const txSchema = {
  type: "object",
  properties: {
    chainId: uintOrSafeInteger,
    to: { type: "string", pattern: "^0x[0-9a-fA-F]{40}$" },
    value: uintString,
    data: hexBytes,
    nonce: uintOrSafeInteger,
    gasLimit: uintOrSafeInteger,
    maxFeePerGas: uintString,
    maxPriorityFeePerGas: uintString,
  },
  required: ["chainId", "to", "nonce", "gasLimit", "maxFeePerGas", "maxPriorityFeePerGas"],
  additionalProperties: false,
} as const;

export const typedDataSchema = {
  type: "object",
  properties: {
    domain: { type: "object" },
    types: { type: "object" },
    primaryType: { type: "string", minLength: 1, maxLength: 128 },
    message: { type: "object" },
  },
  required: ["domain", "types", "primaryType", "message"],
  additionalProperties: false,
} as const;

/** POST /v1/agents/:id/sign/message. */
export const messageBody = {
  type: "object",
  properties: {
    message: { type: "string", maxLength: 65536 },
    encoding: { type: "string", enum: ["utf8", "hex"], default: "utf8" },
  },
  required: ["message"],
  additionalProperties: false,
  // Text is signed as its UTF-8 bytes; other bytes are sent as hex, and must be bytes.
  if: { properties: { encoding: { const: "hex" } }, required: ["encoding"] },
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, never awaited.
  then: { properties: { message: hexBytes } },
} as const;

export const signatureResponse = {
  type: "object",
  properties: {
    signature: { type: "string" },
    address: { type: "string" },
    auditSeq: { type: "integer" },
  },
} as const;

export const pendingResponse = {
  type: "object",
  properties: {
    approvalId: { type: "string" },
    status: { type: "string" },
    auditSeq: { type: "integer" },
  },
} as const;
