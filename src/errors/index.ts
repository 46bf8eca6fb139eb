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
  // The JSON body parser (src/http/body.ts): the bytes signed are the bytes sent.
  BODY_TOO_DEEP: { status: 400, message: "The request body nests arrays or objects too deeply." },
  INVALID_UTF8: {
    status: 400,
    message: "The request body is not valid UTF-8 text; send bytes as 0x-hex (encoding: hex).",
  },
  MALFORMED_TRANSACTION: { status: 400, message: "The transaction cannot be decoded." },
  MALFORMED_TYPED_DATA: { status: 400, message: "The typed data cannot be encoded (EIP-712)." },
  TYPED_DATA_UNDECLARED_FIELD: {
    status: 400,
    message: "The typed data's message has a field its types do not declare.",
  },
  TYPED_DATA_TOO_DEEP: {
    status: 400,
    message: "The typed data is nested too deeply, is cyclic, or has too many values.",
  },
  INVALID_POLICY: { status: 400, message: "The policy is invalid." },
  UNAUTHENTICATED: { status: 401, message: "Authentication is required." },
  INVALID_CREDENTIALS: { status: 401, message: "The credentials are invalid or revoked." },
  // Front doors for JWTs and verifiable presentations (src/http/auth/{jwt,vc}.ts).
  TOKEN_MALFORMED: { status: 401, message: "The token is not a well-formed JWT." },
  TOKEN_INVALID: { status: 401, message: "The token's claims are missing or invalid." },
  TOKEN_EXPIRED: { status: 401, message: "The token has expired." },
  TOKEN_REVOKED: { status: 401, message: "The token has been revoked." },
  SIGNATURE_INVALID: { status: 401, message: "The signature does not verify." },
  AUDIENCE_MISMATCH: { status: 401, message: "The credential is meant for another audience." },
  ISSUER_UNKNOWN: { status: 401, message: "The credential's issuer is not trusted." },
  TASK_MISMATCH: { status: 401, message: "The token is bound to another task." },
  CHALLENGE_INVALID: { status: 401, message: "The challenge was never issued by this vault." },
  CHALLENGE_EXPIRED: { status: 401, message: "The challenge has expired." },
  CHALLENGE_REPLAYED: { status: 401, message: "The challenge has already been used." },
  CREDENTIAL_MALFORMED: { status: 401, message: "The presentation is not a well-formed JWT." },
  CREDENTIAL_INVALID: { status: 401, message: "The presentation or its credential is invalid." },
  CREDENTIAL_REVOKED: {
    status: 401,
    message: "The presentation's holder or its credential has been revoked.",
  },
  CREDENTIAL_EXPIRED: { status: 401, message: "The presentation or its credential has expired." },
  DID_UNRESOLVABLE: { status: 401, message: "A DID in the credential cannot be resolved." },
  // Delegation chains (UCAN 1.0) and the invocations that use them (src/auth/delegation).
  DELEGATION_MALFORMED: { status: 401, message: "A delegation in the chain cannot be read." },
  DELEGATION_SIGNATURE_INVALID: {
    status: 401,
    message: "A delegation's signature does not verify by its issuer's key.",
  },
  DELEGATION_EXPIRED: { status: 401, message: "A delegation in the chain has expired." },
  DELEGATION_NOT_YET_VALID: { status: 401, message: "A delegation in the chain is not valid yet." },
  DELEGATION_REVOKED: { status: 401, message: "A delegation in the chain has been revoked." },
  DELEGATION_WIDENS: {
    status: 403,
    message: "A delegation asks for more than the link before it allowed.",
  },
  DELEGATION_AUDIENCE_MISMATCH: {
    status: 401,
    message: "A delegation is not issued by the holder of the link before it.",
  },
  DELEGATION_ISSUER_UNKNOWN: {
    status: 401,
    message: "The chain's root is not an agent of this vault.",
  },
  DELEGATION_TOO_DEEP: { status: 401, message: "The delegation chain is longer than allowed." },
  DELEGATION_COMMAND_NOT_ALLOWED: {
    status: 403,
    message: "The delegation chain does not allow this command.",
  },
  DELEGATION_NOT_FOUND: { status: 404, message: "No such delegation." },
  INVOCATION_MISSING: {
    status: 401,
    message:
      "A delegation chain needs an invocation (UCAN-Invocation header) signed by its holder.",
  },
  INVOCATION_MALFORMED: { status: 401, message: "The invocation cannot be read." },
  INVOCATION_SIGNATURE_INVALID: {
    status: 401,
    message: "The invocation's signature does not verify by the holder's key.",
  },
  INVOCATION_MISMATCH: {
    status: 401,
    message: "The invocation does not describe this request (method, path, body or task).",
  },
  INVOCATION_STALE: {
    status: 401,
    message: "The invocation's time is outside the accepted window (iat ±60 s, exp ≤ 5 min).",
  },
  // AP2 open payment mandates (SD-JWT + key binding) from trusted issuers (src/auth/mandate).
  MANDATE_REQUIRED: {
    status: 401,
    message: "Payments through this chain must carry an AP2 mandate (AP2-Mandate header).",
  },
  MANDATE_MALFORMED: { status: 401, message: "The payment mandate cannot be read." },
  MANDATE_ISSUER_UNKNOWN: {
    status: 401,
    message: "The payment mandate's issuer is not one this vault trusts.",
  },
  MANDATE_SIGNATURE_INVALID: {
    status: 401,
    message: "The payment mandate's signature does not verify by its issuer's key.",
  },
  MANDATE_EXPIRED: { status: 401, message: "The payment mandate has expired." },
  MANDATE_NOT_YET_VALID: { status: 401, message: "The payment mandate is not valid yet." },
  MANDATE_KEY_BINDING_INVALID: {
    status: 401,
    message:
      "The payment mandate needs a key-binding JWT signed by its cnf key, for this audience, now.",
  },
  MANDATE_UNSUPPORTED: {
    status: 403,
    message: "The payment mandate states a constraint or currency this vault cannot enforce.",
  },
  OPERATOR_UNRESOLVED: {
    status: 503,
    message:
      "An operator's did:web document could not be read or is not an operator's: its delegations are refused until it can.",
  },
  REVOCATION_NOT_ALLOWED: {
    status: 403,
    message: "Only the issuer of a link at or above a delegation in its path may revoke it.",
  },
  SUBSCRIBER_UNVERIFIED: {
    status: 401,
    message:
      "Subscribing to this stream takes a JWT signed by your operator key, for this vault (Authorization: Operator <jwt>).",
  },
  STREAMS_EXHAUSTED: {
    status: 503,
    message: "Too many event streams are open on this vault: retry later.",
  },
  ANCHOR_LINK_INVALID: {
    status: 401,
    message: "A trust anchor's link must name the member operator whose key it delegates to.",
  },
  REVOCATION_FEED_STALE: {
    status: 503,
    message:
      "This issuer's revocation feed has gone quiet: its credentials are refused until it has caught up.",
  },
  INVOCATION_REPLAYED: { status: 401, message: "The invocation has already been used." },
  FORBIDDEN_SCOPE: { status: 403, message: "The credentials lack the scope this route needs." },
  FORBIDDEN_AGENT: { status: 403, message: "The credentials are bound to another agent." },
  POLICY_DENIED: { status: 403, message: "The agent's policy does not allow this request." },
  NOT_FOUND: { status: 404, message: "No such route." },
  AGENT_NOT_FOUND: { status: 404, message: "No such agent." },
  UNKNOWN_CLUSTER: { status: 400, message: "No signer cluster has that name." },
  KEY_NOT_FOUND: { status: 404, message: "No such key." },
  TOKEN_NOT_FOUND: { status: 404, message: "No such token." },
  APPROVAL_REQUIRED: {
    status: 403,
    message: "The request is parked until an operator approves it.",
  },
  APPROVAL_NOT_FOUND: { status: 404, message: "No such approval." },
  APPROVAL_NOT_PENDING: { status: 409, message: "The approval has already been decided." },
  APPROVAL_NOT_SIGNED: {
    status: 409,
    message: "The approval was rejected, denied by policy, or failed: there is no signature.",
  },
  CONFLICT: { status: 409, message: "The request conflicts with the current state." },
  RATE_LIMITED: { status: 429, message: "Too many requests." },
  // x402 payments (src/auth/x402, front door src/http/auth/x402.ts).
  X402_PAYMENT_REQUIRED: { status: 402, message: "This route is paid: send a PAYMENT-SIGNATURE." },
  X402_MALFORMED: { status: 402, message: "The PAYMENT-SIGNATURE header cannot be decoded." },
  X402_REQUIREMENTS_MISMATCH: {
    status: 402,
    message: "The payment does not match what this route asks for.",
  },
  X402_WRONG_NETWORK: { status: 402, message: "The payment is for another network." },
  X402_INVALID_SIGNATURE: { status: 402, message: "The payment's signature does not verify." },
  X402_EXPIRED: { status: 402, message: "The payment authorization is expired or not yet valid." },
  X402_REPLAYED: { status: 402, message: "This payment has already been used." },
  X402_INSUFFICIENT_FUNDS: { status: 402, message: "The payer's balance is too low." },
  X402_INVALID_PAYMENT: { status: 402, message: "The facilitator refused the payment." },
  X402_SETTLEMENT_FAILED: { status: 402, message: "The payment could not be settled." },
  X402_SETTLEMENT_UNKNOWN: {
    status: 502,
    message: "The settlement's outcome is unknown; the payment cannot be reused.",
  },
  X402_FACILITATOR_UNAVAILABLE: { status: 502, message: "The x402 facilitator is unreachable." },
  X402_NO_ACCEPTABLE_REQUIREMENT: {
    status: 403,
    message: "No payment option is allowed by the agent's policy.",
  },
  X402_AUTHORIZATION_EXPIRED: {
    status: 410,
    message: "The approved payment's authorization expired before it was collected.",
  },
  X402_PAYMENT_NOT_FOUND: { status: 404, message: "No such payment." },
  // Compliance proofs (src/zk, routes src/http/routes/proofs.ts).
  PROOF_NOT_FOUND: { status: 404, message: "No such proof." },
  PROOF_IMPOSSIBLE: {
    status: 422,
    message: "The audit log breaks the policy in this range; no compliance proof exists.",
  },
  PROOF_RANGE_BEFORE_ZK_V2: {
    status: 422,
    message:
      "The range starts before the audit log's zk v2 start: the circuit proves only entries chained by zk chain version 2.",
  },
  PROOF_FINISHED: {
    status: 409,
    message: "The proof job has already finished (done or failed); it cannot be cancelled.",
  },
  PROOF_NOT_RESUMABLE: {
    status: 409,
    message: "The proof job was interrupted by a restart and can no longer be proved.",
  },
  // Trusted setup (src/zk/ptau.ts, src/zk/trust.ts; `agent-vault zk …`, `npm run circuits:setup`).
  PTAU_UNLISTED: {
    status: 422,
    message:
      "The ptau file's BLAKE2b-512 hash is not one of the published ceremony files; an unlisted ptau is accepted only explicitly, as a development setup.",
  },
  ZK_SETUP_INVALID: {
    status: 422,
    message:
      "The proving key does not verify against the circuit and the ptau (snarkjs zkey verify).",
  },
  ZK_CIRCUIT_MISMATCH: {
    status: 422,
    message: "The proving key belongs to another circuit than this vault's.",
  },
  PROOF_UNAVAILABLE: {
    status: 503,
    message: "Compliance proofs are not set up here: run npm run circuits:setup.",
  },
  // The vault sets the circuit up by itself on first start (src/services/proof-setup.ts).
  PROOF_SETUP_IN_PROGRESS: {
    status: 503,
    message:
      "The compliance circuit is being set up on this vault; proof requests are queued meanwhile. Try again shortly.",
  },
  PROOF_SETUP_FAILED: {
    status: 503,
    message:
      "The compliance circuit setup failed on this vault; it is tried again at the next start.",
  },
  QUORUM_UNAVAILABLE: { status: 503, message: "Not enough signer nodes are reachable to sign." },
  // Signer backends (src/signers/registry.ts, issue 10).
  BACKEND_NOT_CONFIGURED: {
    status: 400,
    message: "This signer backend is not configured on this vault.",
  },
  BACKEND_SIGNATURE_INVALID: {
    status: 502,
    message: "The signer backend returned a signature that is not the agent's; it was discarded.",
  },
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
  // Lit backends (src/signers/lit): the Lit network, its REST API or the pinned Lit Action.
  // One set for both runtimes (lit-v7 and lit-chipotle): upstream trouble is 502/503, never
  // a client error; a policy refusal by the action is POLICY_DENIED (enforcedBy lit-action).
  LIT_UNAVAILABLE: { status: 503, message: "The Lit network is unreachable; nothing was signed." },
  LIT_RATE_LIMITED: {
    status: 503,
    message: "The Lit network is shedding load (429) and kept refusing; nothing was signed.",
  },
  LIT_NO_CREDITS: {
    status: 503,
    message: "The operator's Lit account has no credits left (402); nothing was signed.",
  },
  LIT_UNAUTHENTICATED: { status: 502, message: "The Lit network rejected the vault's API key." },
  LIT_NOT_PERMITTED: {
    status: 502,
    message: "The Lit network does not permit this key to run this action with this PKP.",
  },
  LIT_REQUEST_REJECTED: {
    status: 502,
    message: "The Lit network rejected the vault's request as malformed.",
  },
  LIT_ACTION_FAILED: { status: 502, message: "The Lit Action threw; nothing was signed." },
  LIT_ACTION_REFUSED: {
    status: 502,
    message:
      "The pinned Lit Action refused the request (not a policy decision); nothing was signed.",
  },
  LIT_BAD_RESPONSE: { status: 502, message: "The Lit network's reply could not be understood." },
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
