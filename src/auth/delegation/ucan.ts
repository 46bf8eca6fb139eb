/**
 * The UCAN 1.0 envelopes (ucan-wg/spec: delegation and invocation, DAG-CBOR with varsig
 * signatures) read and written through iso-ucan; nothing here encodes or signs by hand.
 *
 * A signature that verified is remembered (bounded), so a link seen before costs only its
 * time bounds and revocation check: iso-ucan's verification is slow. Issuers are did:key (Ed25519, P-256,
 * secp256k1) or did:pkh, resolved offline: nothing is fetched to verify a chain.
 */
import { createHash } from "node:crypto";
import * as dagCbor from "@ipld/dag-cbor";
import { DID } from "iso-did";
import { EdDSASigner } from "iso-signatures/signers/eddsa.js";
import { verifier as ecdsa } from "iso-signatures/verifiers/ecdsa.js";
import { verifier as eddsa } from "iso-signatures/verifiers/eddsa.js";
import { Resolver } from "iso-signatures/verifiers/resolver.js";
import { Delegation } from "iso-ucan/delegation";
import { decode as decodeEnvelope } from "iso-ucan/envelope";
import { Invocation } from "iso-ucan/invocation";

export { Delegation, EdDSASigner, Invocation };

const VERIFIED_MAX = 10_000;
/** The longest delegation or invocation token (base64) a request may carry. */
export const MAX_TOKEN_CHARS = 16_384;

interface VerifyInput {
  signature: Uint8Array;
  message: Uint8Array;
  did: { toString(): string };
}

/**
 * Remembers signatures that verified, keyed by the issuer, the signature AND the digest of
 * the signed bytes (a key without the message would let a good signature vouch for other
 * bytes). Bounded: the oldest entries go first. Failures are never cached.
 */
function verifiedCache() {
  const seen = new Set<string>();
  return async (input: VerifyInput, verify: (i: VerifyInput) => Promise<boolean>) => {
    const key = `${input.did.toString()}|${Buffer.from(input.signature).toString("base64")}|${createHash("sha256").update(input.message).digest("base64")}`;
    if (seen.has(key)) return true;
    const ok = await verify(input);
    if (ok) {
      seen.add(key);
      if (seen.size > VERIFIED_MAX) {
        const oldest = seen.values().next().value;
        if (oldest !== undefined) seen.delete(oldest);
      }
    }
    return ok;
  };
}

const resolver = new Resolver({ ...eddsa, ...ecdsa }, { cache: verifiedCache() });

export const nowSeconds = (ms: number) => Math.floor(ms / 1000);

/** A delegation's envelope, decoded and structurally checked, signature not yet verified. */
export function readDelegation(token: string): Promise<Delegation> {
  // `now: 0` keeps iso-ucan from judging time here: the caller checks exp and nbf itself,
  // so an expired link gets its own error code.
  return Delegation.fromString(token, { now: 0 });
}

/** Verifies the delegation's signature by its issuer's key (cached, see above). */
export async function verifyDelegationSignature(d: Delegation, nowMs: number): Promise<void> {
  await d.validate({ now: nowSeconds(nowMs), verifierResolver: resolver });
}

/** The decoded payload of an invocation, before its signature is checked. */
export function readInvocationPayload(bytes: Uint8Array) {
  const envelope = decodeEnvelope({ envelope: bytes });
  if (envelope.spec !== "inv") throw new Error("the envelope is not an invocation");
  return envelope.payload as {
    iss: string;
    sub: string;
    aud?: string;
    cmd: string;
    args: Record<string, unknown>;
    nonce: Uint8Array;
    exp: number | null;
    iat?: number;
    nbf?: number;
    prf: Array<{ toString(): string }>;
  };
}

/**
 * Verifies the invocation's signature and iso-ucan's own chain rules (root self-issued,
 * each link's audience is the next issuer, one subject, `pol` holds for the arguments)
 * over proofs the caller has already verified and ordered root first.
 */
export function verifyInvocation(
  bytes: Uint8Array,
  proofs: Delegation[],
  nowMs: number,
): Promise<Invocation> {
  const byCid = new Map(proofs.map((p) => [p.cid.toString(), p]));
  return Invocation.from({
    bytes,
    now: nowSeconds(nowMs),
    verifierResolver: resolver,
    resolveProof: async (cid: { toString(): string }) => {
      const p = byCid.get(cid.toString());
      if (!p) throw new Error("the invocation names a proof the chain does not carry");
      return p;
    },
  } as unknown as Parameters<typeof Invocation.from>[0]);
}

/**
 * Verifies an invocation's own signature and nothing else (no proofs, no command
 * alignment): for a revocation (ucan-wg/revocation), whose authority is the revoker's place
 * in the delegation path, not a capability its proofs grant. The signed bytes are the
 * envelope's signature payload re-encoded as DAG-CBOR, which is deterministic, so they are
 * the bytes the issuer signed; the check itself is iso-signatures'.
 */
export async function verifyInvocationSignature(bytes: Uint8Array): Promise<boolean> {
  const envelope = decodeEnvelope({ envelope: bytes });
  const [signature, signed] = dagCbor.decode(bytes) as [Uint8Array, unknown];
  const did = await DID.fromString(envelope.payload.iss);
  return resolver.verify({
    signature,
    message: dagCbor.encode(signed),
    did,
    type: envelope.alg,
  } as never);
}

/** An Ed25519 signer (did:key) from a 32-byte seed. */
export function signerFromSeed(seed: Uint8Array): Promise<EdDSASigner> {
  return EdDSASigner.generate(seed);
}
