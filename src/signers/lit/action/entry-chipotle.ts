/**
 * Entry point of the policy Lit Action for Lit Chipotle, whose actions define
 * `async function main(params)` and return their result; there is no signEcdsa: the
 * action fetches the PKP's key inside Lit's TEE with `Lit.Actions.getPrivateKey({pkpId})`
 * and signs with ethers 5.7.2 (the runtime's global `ethers`). getPrivateKey is called
 * only after checkRequest (check.ts) approved the request, so a refused request never
 * touches the key. The build (scripts/build-lit-action.mjs) appends the global `main`.
 */
import { getAddress } from "ethers";
import { type ActionResult, AUTHORITY_KEY_PLACEHOLDER, checkRequest } from "./check.js";

/** The part of ethers 5.7.2 the action uses (the runtime's global). */
interface Ethers5 {
  utils: {
    SigningKey: new (
      privateKey: string,
    ) => { publicKey: string; signDigest(digest: string): unknown };
    joinSignature(signature: unknown): string;
    computeAddress(key: string): string;
  };
}

declare const Lit: { Actions: { getPrivateKey(params: { pkpId: string }): Promise<string> } };
declare const ethers: Ethers5;

const AUTHORITY_KEY: string = AUTHORITY_KEY_PLACEHOLDER;

export async function main(params: unknown): Promise<ActionResult> {
  const p =
    typeof params === "object" && params !== null ? (params as Record<string, unknown>) : {};
  const { pkpId, request } = p;
  if (typeof pkpId !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(pkpId)) {
    return { ok: false, code: "BAD_REQUEST", message: "pkpId must be a 0x address" };
  }
  const address = getAddress(pkpId.toLowerCase());
  const checked = checkRequest(request, address, AUTHORITY_KEY, new Date());
  if (!checked.ok) return checked;

  const secret = await Lit.Actions.getPrivateKey({ pkpId });
  const key = new ethers.utils.SigningKey(secret.startsWith("0x") ? secret : `0x${secret}`);
  if (ethers.utils.computeAddress(key.publicKey) !== address) {
    throw new Error("the key Lit returned is not the PKP's");
  }
  const signature = ethers.utils.joinSignature(key.signDigest(checked.digest));
  return { ...checked, signature };
}
