/** JSON schemas shared by routes (and shown in /openapi.json). */

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
};

export const agentIdParams = {
  type: "object",
  properties: { id: { type: "string", minLength: 1, maxLength: 64 } },
  required: ["id"],
};

export const hex = { type: "string", pattern: "^0x[0-9a-fA-F]*$", maxLength: 262144 };
// String first: with type coercion on, a big decimal string must not become a lossy number.
const uint = {
  anyOf: [
    { type: "string", pattern: "^(0x[0-9a-fA-F]{1,64}|[0-9]{1,78})$" },
    { type: "integer", minimum: 0 },
  ],
};

export const txSchema = {
  type: "object",
  properties: {
    chainId: uint,
    to: { type: "string", pattern: "^0x[0-9a-fA-F]{40}$" },
    value: uint,
    data: hex,
    nonce: uint,
    gasLimit: uint,
    maxFeePerGas: uint,
    maxPriorityFeePerGas: uint,
  },
  required: ["chainId", "to", "nonce", "gasLimit", "maxFeePerGas", "maxPriorityFeePerGas"],
  additionalProperties: false,
};

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
};

export const signatureResponse = {
  type: "object",
  properties: {
    signature: { type: "string" },
    address: { type: "string" },
    auditSeq: { type: "integer" },
  },
};

export const pendingResponse = {
  type: "object",
  properties: {
    approvalId: { type: "string" },
    status: { type: "string" },
    auditSeq: { type: "integer" },
  },
};
