/**
 * Entry point of the policy Lit Action for Lit v7 (Datil-compatible) networks. In a v7
 * action the jsParams are globals (`request`, `publicKey`, `sigName`) and the action
 * signs with `LitActions.signEcdsa({toSign, publicKey, sigName})`, each node producing
 * its signature share; the result is reported with `LitActions.setResponse`
 * (Lit JS SDK v7, executeJs). signEcdsa is called only after checkRequest (check.ts)
 * approved the request: a refused request yields no signature share at all.
 * The build (scripts/build-lit-action.mjs) appends `agentVaultAction.run();` so the
 * script starts it; its promise is the script's completion value.
 */
import { computeAddress, getBytes } from "ethers";
import { type ActionResult, AUTHORITY_KEY_PLACEHOLDER, checkRequest } from "./check.js";

interface V7LitActions {
  signEcdsa(params: { toSign: Uint8Array; publicKey: string; sigName: string }): Promise<unknown>;
  setResponse(params: { response: string }): void;
}

declare const LitActions: V7LitActions;
// jsParams, as globals (absent ones are undeclared: read them through typeof).
declare const request: unknown;
declare const publicKey: unknown;
declare const sigName: unknown;

const AUTHORITY_KEY: string = AUTHORITY_KEY_PLACEHOLDER;

async function handle(): Promise<ActionResult> {
  const pub = typeof publicKey === "undefined" ? undefined : publicKey;
  const name = typeof sigName === "undefined" ? undefined : sigName;
  const req = typeof request === "undefined" ? undefined : request;
  if (typeof pub !== "string" || !/^(0x)?04[0-9a-fA-F]{128}$/.test(pub)) {
    return { ok: false, code: "BAD_REQUEST", message: "publicKey must be an uncompressed key" };
  }
  if (typeof name !== "string" || name.length === 0) {
    return { ok: false, code: "BAD_REQUEST", message: "sigName must be a non-empty string" };
  }
  let address: string;
  try {
    address = computeAddress(pub.startsWith("0x") ? pub : `0x${pub}`);
  } catch {
    return { ok: false, code: "BAD_REQUEST", message: "publicKey is not a secp256k1 point" };
  }
  const checked = checkRequest(req, address, AUTHORITY_KEY, new Date());
  if (!checked.ok) return checked;
  await LitActions.signEcdsa({ toSign: getBytes(checked.digest), publicKey: pub, sigName: name });
  return checked;
}

export async function run(): Promise<void> {
  const result = await handle();
  LitActions.setResponse({ response: JSON.stringify(result) });
}
