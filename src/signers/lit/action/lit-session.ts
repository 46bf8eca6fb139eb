/**
 * Lit sign-in messages: what a Lit Action must never sign for its own PKP.
 *
 * A v7 PKP owns itself (issue 10), and Lit's PKPPermissions counts the owner as a
 * permitted address, so an EIP-191 signature by the PKP over a Sign-In with Ethereum
 * message (EIP-4361) carrying Lit capabilities (a ReCap `urn:recap:` resource, or a
 * `lit:` URI such as `lit:session:…`) opens a Lit session in which `pkpSign` signs any
 * digest without running the action. The policy action therefore refuses any message
 * that is shaped as a SIWE sign-in and names a Lit or ReCap resource, whatever the
 * policy says about message signing. The test is deliberately wider than Lit's own
 * parser (case-insensitive, anywhere in the text): refusing a few odd sign-ins costs
 * less than opening a session.
 */
import { getBytes, toUtf8String, Utf8ErrorFuncs } from "ethers";

const SIWE_PREAMBLE = /wants you to sign in with your ethereum account/i;
/** `urn:recap:` (EIP-5573 ReCap) or a `lit:` URI; `\b` keeps "split:" out. */
const LIT_RESOURCE = /urn:recap:|\blit:/i;

/** Whether the 0x-hex message bytes are a SIWE sign-in that would grant Lit capabilities. */
export function isLitSignIn(messageHex: string): boolean {
  let text: string;
  try {
    text = toUtf8String(getBytes(messageHex), Utf8ErrorFuncs.replace);
  } catch {
    return false; // not hex: decodeIntent refuses it before this is asked
  }
  return SIWE_PREAMBLE.test(text) && LIT_RESOURCE.test(text);
}
