/**
 * The three x402 v2 headers (PAYMENT-REQUIRED, PAYMENT-SIGNATURE, PAYMENT-RESPONSE), encoded
 * and decoded with @x402/core's own functions, behind a size cap and a shape check so that
 * hostile input fails with one stable code instead of an exception from deep inside.
 */

import {
  decodePaymentRequiredHeader,
  decodePaymentSignatureHeader,
  encodePaymentRequiredHeader,
  encodePaymentResponseHeader,
  encodePaymentSignatureHeader,
} from "@x402/core/http";
import type { PaymentPayload, PaymentRequired, SettleResponse } from "@x402/core/types";
import { VaultError } from "../../errors/index.js";
import { isObj } from "../../util/json.js";

/** The EIP-3009 TransferWithAuthorization message as the exact scheme's payload carries it. */
export interface Eip3009Authorization {
  from: string;
  to: string;
  value: string;
  validAfter: string;
  validBefore: string;
  nonce: string;
}

/** The exact scheme's EIP-3009 payload: the authorization and its signature. */
export interface Eip3009Payload {
  signature: string;
  authorization: Eip3009Authorization;
}

export const PAYMENT_REQUIRED = "payment-required";
export const PAYMENT_SIGNATURE = "payment-signature";
export const PAYMENT_RESPONSE = "payment-response";
/** Far above a real EIP-3009 payment (≈1.5 kB); refuses before decoding anything bigger. */
export const MAX_HEADER_BYTES = 16 * 1024;

function malformed(problem: string): VaultError {
  return new VaultError("X402_MALFORMED", `PAYMENT-SIGNATURE ${problem}`, { reason: problem });
}

/** Decodes and shape-checks a PAYMENT-SIGNATURE header value (v2, exact EVM payload). */
export function decodePaymentSignature(header: unknown): PaymentPayload {
  if (typeof header !== "string" || header.length === 0) throw malformed("is missing");
  if (header.length > MAX_HEADER_BYTES) throw malformed("is too large");
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(header)) throw malformed("is not base64");
  let payload: unknown;
  try {
    payload = decodePaymentSignatureHeader(header);
  } catch {
    throw malformed("is not base64-encoded JSON");
  }
  if (!isObj(payload)) throw malformed("is not a JSON object");
  if (payload.x402Version !== 2) throw malformed("must be x402Version 2");
  if (!isObj(payload.accepted)) throw malformed("lacks accepted");
  if (!isObj(payload.payload)) throw malformed("lacks payload");
  return payload as unknown as PaymentPayload;
}

export function encodePaymentSignature(payload: PaymentPayload): string {
  return encodePaymentSignatureHeader(payload);
}

export function encodePaymentRequired(pr: PaymentRequired): string {
  return encodePaymentRequiredHeader(pr);
}

export function encodePaymentResponse(settle: SettleResponse): string {
  return encodePaymentResponseHeader(settle);
}

/** A PaymentRequired given as the decoded object or as the header's base64 value. */
export function decodePaymentRequired(input: unknown): PaymentRequired {
  const bad = (problem: string) =>
    new VaultError("VALIDATION_FAILED", `paymentRequired ${problem}`, { field: "paymentRequired" });
  let pr: unknown = input;
  if (typeof input === "string") {
    if (input.length > MAX_HEADER_BYTES) throw bad("is too large");
    try {
      pr = decodePaymentRequiredHeader(input);
    } catch {
      throw bad("is not base64-encoded JSON");
    }
  }
  if (!isObj(pr)) throw bad("must be an object or its base64 header value");
  if (pr.x402Version !== 2) throw bad("must be x402Version 2");
  if (!Array.isArray(pr.accepts) || pr.accepts.length === 0 || pr.accepts.length > 32)
    throw bad("must list 1 to 32 accepts");
  if (!pr.accepts.every(isObj)) throw bad("accepts must be objects");
  return pr as unknown as PaymentRequired;
}
