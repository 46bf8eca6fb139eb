/**
 * Reads what the pinned policy action returned through Chipotle's `/lit_action`
 * (`{response, logs, has_error}`, response = main's return value, JSON-parsed by the
 * server when it can). The action answers `{ok:true, digest, address, signature}` or
 * `{ok:false, code, rule?, message}` (the contract in src/signers/lit/action). A
 * signature is trusted only after it recovers, over the vault's own digest, to the
 * agent's address: a reply for another digest or key is LIT_BAD_RESPONSE, never used.
 */
import { recoverAddress } from "ethers";
import { VaultError } from "../../../errors/index.js";
import { ChipotleError } from "./http.js";

const SIGNATURE = /^0x[0-9a-fA-F]{128}(1b|1c|1B|1C)$/;

function bad(what: string): never {
  throw new ChipotleError("LIT_BAD_RESPONSE", 200, what);
}

function safeMessage(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 && value.length <= 300 ? value : undefined;
}

/** The 0x r‖s‖v signature in an allowed reply; a VaultError for a refusal or a bad reply. */
export function readActionResult(
  response: unknown,
  expected: { digest: string; address: string },
): string {
  let r = response;
  if (typeof r === "string") {
    try {
      r = JSON.parse(r);
    } catch {
      bad("action response is not JSON");
    }
  }
  if (r === null || typeof r !== "object") bad("action response is not an object");
  const o = r as Record<string, unknown>;
  if (o.ok === false) {
    if (o.code === "POLICY_DENIED") {
      throw new VaultError("POLICY_DENIED", safeMessage(o.message), {
        rule: typeof o.rule === "string" ? o.rule : undefined,
        enforcedBy: "lit-action",
      });
    }
    const known = ["DIGEST_MISMATCH", "POLICY_UNAUTHORIZED", "BAD_REQUEST"];
    if (typeof o.code !== "string" || !known.includes(o.code)) bad("unknown refusal code");
    throw new VaultError("LIT_ACTION_REFUSED", undefined, {
      actionCode: o.code,
      enforcedBy: "lit-action",
    });
  }
  if (o.ok !== true) bad("action response has no ok flag");
  if (typeof o.digest !== "string" || o.digest.toLowerCase() !== expected.digest.toLowerCase()) {
    bad("action signed another digest");
  }
  if (typeof o.address !== "string" || o.address.toLowerCase() !== expected.address.toLowerCase()) {
    bad("action answered for another address");
  }
  if (typeof o.signature !== "string" || !SIGNATURE.test(o.signature)) bad("no usable signature");
  let signer: string;
  try {
    signer = recoverAddress(expected.digest, o.signature);
  } catch {
    bad("signature does not recover");
  }
  if (signer.toLowerCase() !== expected.address.toLowerCase()) bad("signature is another key's");
  return o.signature.toLowerCase();
}
