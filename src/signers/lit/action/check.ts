/**
 * The policy check of agent-vault's Lit Action, shared by its two entry points (v7 and
 * Chipotle). It is bundled with src/policy into one self-contained script
 * (scripts/build-lit-action.mjs), so Lit's nodes enforce exactly the vault's policy
 * semantics (issue 10, "One policy action, two runtimes").
 *
 * Strictly in this order, and nothing is signed unless every step passes:
 *  1. parse the request (jsParams.request);
 *  2. verify the operator's authorization of the policy: an Ed25519 signature (RFC 8032)
 *     by the admin authority (src/auth/admin-authority.ts) over
 *     canonicalJson({op:"lit.policy", agentId, address, version, policy}), checked against
 *     the authority key built into the action, with `address` the PKP's own: a vault
 *     cannot hand the action a wider policy, nor another agent's;
 *  3. decodeIntent and compare its digest with the vault's; refuse a Lit sign-in
 *     message whatever the policy says (lit-session.ts);
 *  4. evaluatePolicy with zero usage: rolling 24 h caps and rate limits across requests,
 *     and operator approvals, stay vault-only; a single request can still never exceed
 *     a per-transaction or 24 h cap.
 * Pure: no global is read here; the entries pass the PKP address and the clock in.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { decodeBase64, toUtf8Bytes } from "ethers";
import { canonicalJson } from "../../../audit/canonical.js";
import {
  decodeIntent,
  evaluatePolicy,
  type SignIntent,
  validatePolicy,
} from "../../../policy/index.js";
import { isObj } from "../../../util/json.js";
import { isLitSignIn } from "./lit-session.js";

/** The string the build leaves in the templates; actionCode() replaces it (index.ts). */
export const AUTHORITY_KEY_PLACEHOLDER = "__AGENT_VAULT_AUTHORITY_KEY__";

/** RFC 8410 SubjectPublicKeyInfo prefix of an Ed25519 key, as adminPublicKey() exports it. */
const ED25519_SPKI_PREFIX = "302a300506032b6570032100";

export type RefusalCode =
  | "POLICY_DENIED"
  | "DIGEST_MISMATCH"
  | "POLICY_UNAUTHORIZED"
  | "BAD_REQUEST";

export interface ActionRefusal {
  ok: false;
  code: RefusalCode;
  rule?: string;
  message: string;
}

export interface ActionApproval {
  ok: true;
  /** The digest to sign (0x, 32 bytes, lower case), re-derived from the intent. */
  digest: string;
  /** The PKP's EIP-55 address the authorization was checked for. */
  address: string;
}

/** What the action returns (v7: setResponse JSON; Chipotle: main's value). */
export type ActionResult = (ActionApproval & { signature?: string }) | ActionRefusal;

function refuse(code: RefusalCode, message: string, rule?: string): ActionRefusal {
  return rule === undefined ? { ok: false, code, message } : { ok: false, code, rule, message };
}

function safeMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : "invalid";
  return message.slice(0, 200);
}

/** The raw 32-byte Ed25519 key inside a base64 SPKI DER key, or undefined. */
export function rawAuthorityKey(spkiB64: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(spkiB64)) return undefined;
  let der: Uint8Array;
  try {
    der = decodeBase64(spkiB64);
  } catch {
    return undefined;
  }
  if (der.length !== 44) return undefined;
  const prefix = Array.from(der.subarray(0, 12), (b) => b.toString(16).padStart(2, "0")).join("");
  return prefix === ED25519_SPKI_PREFIX ? der.subarray(12) : undefined;
}

function verifyAuthorization(
  authorityKey: Uint8Array,
  action: Record<string, unknown>,
  signature: string,
): boolean {
  try {
    const sig = decodeBase64(signature);
    if (sig.length !== 64) return false;
    return ed25519.verify(sig, toUtf8Bytes(canonicalJson(action)), authorityKey, { zip215: false });
  } catch {
    return false;
  }
}

/**
 * Checks one request for the PKP at `address` (EIP-55). Returns the digest to sign, or
 * why not. Never throws.
 */
export function checkRequest(
  request: unknown,
  address: string,
  authorityKeyB64: string,
  now: Date,
): ActionApproval | ActionRefusal {
  // 1. Parse.
  if (!isObj(request)) return refuse("BAD_REQUEST", "request must be an object");
  const { agentId, intent, digest, policy: authorized } = request;
  if (typeof agentId !== "string" || agentId.length === 0) {
    return refuse("BAD_REQUEST", "request.agentId must be a non-empty string");
  }
  if (typeof digest !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(digest)) {
    return refuse("BAD_REQUEST", "request.digest must be 0x and 32 bytes of hex");
  }
  if (!isObj(intent)) return refuse("BAD_REQUEST", "request.intent must be an object");
  if (!isObj(authorized)) return refuse("BAD_REQUEST", "request.policy must be an object");
  const { version, policy, authorization } = authorized;
  if (typeof version !== "number" || !Number.isSafeInteger(version)) {
    return refuse("BAD_REQUEST", "request.policy.version must be an integer");
  }
  if (typeof authorization !== "string") {
    return refuse("BAD_REQUEST", "request.policy.authorization must be a string");
  }
  const authorityKey = rawAuthorityKey(authorityKeyB64);
  if (authorityKey === undefined) {
    return refuse("BAD_REQUEST", "the action's authority key is not an Ed25519 key");
  }

  // 2. The operator authorized exactly this policy for this agent and this PKP.
  const action = { op: "lit.policy", agentId, address, version, policy };
  let authorizedOk: boolean;
  try {
    authorizedOk = verifyAuthorization(authorityKey, action, authorization);
  } catch {
    authorizedOk = false;
  }
  if (!authorizedOk) {
    return refuse(
      "POLICY_UNAUTHORIZED",
      "the policy is not authorized by the operator for this agent and PKP",
    );
  }

  // 3. The digest is the one the intent encodes.
  let decoded: ReturnType<typeof decodeIntent>;
  let valid: ReturnType<typeof validatePolicy>;
  try {
    valid = validatePolicy(policy);
  } catch (err) {
    return refuse("BAD_REQUEST", `policy: ${safeMessage(err)}`);
  }
  try {
    decoded = decodeIntent(intent as unknown as SignIntent);
  } catch (err) {
    return refuse("BAD_REQUEST", `intent: ${safeMessage(err)}`);
  }
  if (decoded.digest.toLowerCase() !== digest.toLowerCase()) {
    return refuse("DIGEST_MISMATCH", "the digest is not the one the intent encodes");
  }

  // A Lit sign-in for this PKP would open a session that signs without this action.
  const signed = intent as unknown as SignIntent;
  if (signed.kind === "message" && isLitSignIn(signed.message)) {
    return refuse(
      "POLICY_DENIED",
      "a Sign-In with Ethereum message naming Lit or ReCap resources would open a Lit session for this PKP outside the policy action",
      "allowMessageSigning",
    );
  }

  // 4. The policy, for this request alone (no history here: see the module comment).
  let decision: ReturnType<typeof evaluatePolicy>;
  try {
    decision = evaluatePolicy(
      valid,
      decoded,
      { spentLast24h: {}, spentLast24hByChain: {}, requestsLastMinute: 0 },
      now,
    );
  } catch (err) {
    return refuse("BAD_REQUEST", `policy evaluation: ${safeMessage(err)}`);
  }
  if (!decision.allow) return refuse("POLICY_DENIED", decision.message, decision.rule);
  return { ok: true, digest: decoded.digest.toLowerCase(), address };
}
