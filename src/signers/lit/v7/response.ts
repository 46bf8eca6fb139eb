/**
 * Reads what `LitNodeClient.executeJs` returns (@lit-protocol/lit-node-client 7.4.0,
 * `ExecuteJsResponse` in @lit-protocol/types) for the pinned policy action:
 *   { signatures: { [sigName]: { r, s, recid, signature, publicKey, dataSigned } } | null,
 *     response: string | object, logs: string, claims? }
 * r, s: 32-byte hex without 0x; recid 0 or 1; signature: 0x r‖s‖v, v 27/28; publicKey:
 * uncompressed without 0x; dataSigned: the digest without 0x. `response` is the string the
 * action passed to `LitActions.setResponse`, which the SDK parses as JSON when it can.
 * The action's result (src/signers/lit/action) is `{ok:true, digest, address}` or
 * `{ok:false, code, rule?, message}`. Nothing from Lit is trusted: the digest, the key and
 * the signature are checked here, and the vault still recovers the signer before use.
 */
import { VaultError } from "../../../errors/index.js";

export const SIG_NAME = "sig";

const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

const REFUSALS = ["DIGEST_MISMATCH", "POLICY_UNAUTHORIZED", "BAD_REQUEST"] as const;

export type ActionResult =
  | { ok: true; digest: string; address: string }
  | {
      ok: false;
      code: "POLICY_DENIED" | (typeof REFUSALS)[number];
      rule?: string;
      message: string;
    };

function bad(message: string): VaultError {
  return new VaultError("LIT_BAD_RESPONSE", `Lit v7: ${message}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const strip0x = (hex: string) => (hex.startsWith("0x") ? hex.slice(2) : hex).toLowerCase();

/** The action's result from `response` (a JSON string, or the object the SDK parsed it into). */
export function parseActionResult(response: unknown): ActionResult {
  let value = response;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      throw bad("the action's response is not JSON");
    }
  }
  if (!isRecord(value) || typeof value.ok !== "boolean") throw bad("no action result");
  if (value.ok) {
    if (typeof value.digest !== "string" || typeof value.address !== "string") {
      throw bad("the action's result lacks digest or address");
    }
    return { ok: true, digest: value.digest, address: value.address };
  }
  const code = value.code;
  const message = typeof value.message === "string" ? value.message : "refused";
  if (code === "POLICY_DENIED") {
    const rule = typeof value.rule === "string" ? value.rule : undefined;
    return rule === undefined ? { ok: false, code, message } : { ok: false, code, rule, message };
  }
  if (typeof code === "string" && (REFUSALS as readonly string[]).includes(code)) {
    return { ok: false, code: code as (typeof REFUSALS)[number], message };
  }
  throw bad("the action's refusal has an unknown code");
}

/** A refusal by the action as the vault's error (no signature ever accompanies it). */
export function refusalError(result: Extract<ActionResult, { ok: false }>): VaultError {
  if (result.code === "POLICY_DENIED") {
    return new VaultError("POLICY_DENIED", `lit-action: ${result.message}`, {
      rule: result.rule ?? "unknown",
      enforcedBy: "lit-action",
    });
  }
  return new VaultError("LIT_ACTION_REFUSED", `lit-action: ${result.code}: ${result.message}`, {
    reason: result.code,
    enforcedBy: "lit-action",
  });
}

export interface Expected {
  /** 0x 32-byte digest the vault derived. */
  digest: string;
  /** The PKP's public key, 0x04… (uncompressed). */
  publicKey: string;
  /** The PKP's address (checksummed or not). */
  address: string;
}

/**
 * The 0x r‖s‖v signature (v 27/28, low s) for `expected.digest` from an executeJs
 * response, or a VaultError: POLICY_DENIED / LIT_ACTION_REFUSED when the action refused,
 * LIT_BAD_RESPONSE when the answer is malformed or about another digest or key.
 */
export function signatureFromResponse(raw: unknown, expected: Expected): string {
  if (!isRecord(raw)) throw bad("the response is not an object");
  const result = parseActionResult(raw.response);
  const signatures = raw.signatures;
  const sig = isRecord(signatures) ? signatures[SIG_NAME] : undefined;
  if (!result.ok) {
    if (sig !== undefined) throw bad("a refusal came with a signature");
    throw refusalError(result);
  }
  if (strip0x(result.digest) !== strip0x(expected.digest))
    throw bad("the action signed another digest");
  if (result.address.toLowerCase() !== expected.address.toLowerCase()) {
    throw bad("the action answered for another address");
  }
  if (!isRecord(sig)) throw bad("the action allowed the request but returned no signature");
  return checkSignature(sig, expected);
}

function checkSignature(sig: Record<string, unknown>, expected: Expected): string {
  const { r, s, recid, signature, publicKey, dataSigned } = sig;
  if (typeof r !== "string" || !/^[0-9a-fA-F]{64}$/.test(r)) throw bad("r is not 32 bytes of hex");
  if (typeof s !== "string" || !/^[0-9a-fA-F]{64}$/.test(s)) throw bad("s is not 32 bytes of hex");
  if (recid !== 0 && recid !== 1) throw bad("recid is not 0 or 1");
  if (typeof publicKey !== "string" || strip0x(publicKey) !== strip0x(expected.publicKey)) {
    throw bad("the signature is by another key");
  }
  if (typeof dataSigned !== "string" || strip0x(dataSigned) !== strip0x(expected.digest)) {
    throw bad("the signature is over other data");
  }
  const v = 27 + recid;
  const joined = `0x${r}${s}${v.toString(16)}`.toLowerCase();
  if (typeof signature !== "string" || signature.toLowerCase() !== joined) {
    throw bad("signature does not match r, s and recid");
  }
  // EIP-2: Ethereum accepts only low s; the flipped s recovers with the other parity.
  const sValue = BigInt(`0x${s}`);
  if (sValue === 0n || sValue >= N || BigInt(`0x${r}`) === 0n) throw bad("r or s out of range");
  if (sValue <= HALF_N) return joined;
  const low = (N - sValue).toString(16).padStart(64, "0");
  return `0x${r.toLowerCase()}${low}${(v === 27 ? 28 : 27).toString(16)}`;
}
