/**
 * The one error catalogue. Every error a client can see has a stable code, an
 * HTTP status and a safe message; internals (stack traces, SQL, node replies)
 * never leave the process. Domain code throws VaultError; the HTTP layer maps
 * it to `{ error: { code, message, ...details } }`.
 */

export const ERROR_CATALOGUE = {
  BAD_REQUEST: { status: 400, message: "The request is malformed." },
  VALIDATION_FAILED: { status: 400, message: "A field of the request is invalid." },
  BODY_TOO_LARGE: { status: 413, message: "The request body is too large." },
  MALFORMED_TRANSACTION: { status: 400, message: "The transaction cannot be decoded." },
  MALFORMED_TYPED_DATA: { status: 400, message: "The typed data cannot be encoded (EIP-712)." },
  INVALID_POLICY: { status: 400, message: "The policy is invalid." },
  UNAUTHENTICATED: { status: 401, message: "Authentication is required." },
  INVALID_CREDENTIALS: { status: 401, message: "The credentials are invalid or revoked." },
  FORBIDDEN_SCOPE: { status: 403, message: "The credentials lack the scope this route needs." },
  FORBIDDEN_AGENT: { status: 403, message: "The credentials are bound to another agent." },
  POLICY_DENIED: { status: 403, message: "The agent's policy does not allow this request." },
  NOT_FOUND: { status: 404, message: "No such route." },
  AGENT_NOT_FOUND: { status: 404, message: "No such agent." },
  KEY_NOT_FOUND: { status: 404, message: "No such key." },
  APPROVAL_REQUIRED: {
    status: 403,
    message: "The request is parked until an operator approves it.",
  },
  APPROVAL_NOT_FOUND: { status: 404, message: "No such approval." },
  APPROVAL_NOT_PENDING: { status: 409, message: "The approval has already been decided." },
  CONFLICT: { status: 409, message: "The request conflicts with the current state." },
  RATE_LIMITED: { status: 429, message: "Too many requests." },
  QUORUM_UNAVAILABLE: { status: 503, message: "Not enough signer nodes are reachable to sign." },
  CLUSTER_ERROR: { status: 502, message: "The signer cluster could not complete the operation." },
  NODE_REFUSED: { status: 403, message: "A signer node refused to contribute." },
  AUDIT_UNAVAILABLE: {
    status: 503,
    message: "The audit log cannot be written; nothing was signed.",
  },
  STORE_UNAVAILABLE: {
    status: 503,
    message: "The vault's database cannot be written; nothing was signed.",
  },
  INTERNAL: { status: 500, message: "Internal error." },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class VaultError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra fields that are safe to show to clients (for example `rule`, `field`). */
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message?: string, details: Record<string, unknown> = {}) {
    super(message ?? ERROR_CATALOGUE[code].message);
    this.name = "VaultError";
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
    this.details = details;
  }

  toJSON(): { error: Record<string, unknown> } {
    return { error: { code: this.code, message: this.message, ...this.details } };
  }
}

export function isVaultError(err: unknown): err is VaultError {
  return err instanceof VaultError;
}
