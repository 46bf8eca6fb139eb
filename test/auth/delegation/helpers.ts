/**
 * Client-side UCAN for the delegation tests, written with iso-ucan directly (the library a
 * holder would use), never through the vault's own code: re-delegation and invocations.
 */
import { createHash, randomBytes } from "node:crypto";
import { EdDSASigner } from "iso-signatures/signers/eddsa.js";
import { verifier as eddsa } from "iso-signatures/verifiers/eddsa.js";
import { Resolver } from "iso-signatures/verifiers/resolver.js";
import { Delegation } from "iso-ucan/delegation";
import { encode as encodeEnvelope, sign as signEnvelope } from "iso-ucan/envelope";

export { Delegation, EdDSASigner };
export const verifierResolver = new Resolver({ ...eddsa });
export const nowS = () => Math.floor(Date.now() / 1000);

export const holder = () => EdDSASigner.generate();

/** A holder re-delegates what it holds (the last link of `chain`) to `audience`. */
export async function redelegate(opts: {
  chain: string[];
  from: EdDSASigner;
  audience: string;
  cmd?: string;
  vault?: Record<string, unknown>;
  exp?: number;
  nbf?: number;
}): Promise<string> {
  const parent = await Delegation.fromString(opts.chain[opts.chain.length - 1] as string);
  const d = await Delegation.create({
    iss: opts.from,
    aud: opts.audience,
    sub: parent.sub,
    cmd: opts.cmd ?? parent.cmd,
    pol: [],
    exp: opts.exp ?? nowS() + 3600,
    ...(opts.nbf !== undefined ? { nbf: opts.nbf } : {}),
    ...(opts.vault ? { meta: { vault: opts.vault } } : {}),
    // Lets a test make an already expired link: the vault must refuse it, not the client.
    now: 0,
  } as never);
  return d.toString();
}

export const sha256Hex = (body: string) => createHash("sha256").update(body).digest("hex");

/**
 * The invocation the final holder signs over one request, signed with iso-ucan's envelope
 * functions directly: an attacker skips any client-side check, so the vault must do them all.
 */
export async function invoke(opts: {
  chain: string[];
  by: EdDSASigner;
  cmd: string;
  method: string;
  path: string;
  body: string;
  task?: string;
  iat?: number;
  exp?: number;
  /** The issuer the payload names, when it is not the signer (a forgery). */
  claim?: string;
}): Promise<string> {
  const prf = await Promise.all(
    opts.chain.map((t) => Delegation.fromString(t, { now: 0 } as never)),
  );
  const root = prf[0] as Delegation;
  const iat = opts.iat ?? nowS();
  const payload = {
    iss: opts.claim ?? opts.by.did,
    aud: root.sub,
    sub: root.sub,
    cmd: opts.cmd,
    nonce: randomBytes(12),
    exp: opts.exp ?? iat + 120,
    args: {
      method: opts.method,
      path: opts.path,
      body: sha256Hex(opts.body),
      ...(opts.task ? { task: opts.task } : {}),
    },
    prf: prf.map((p) => p.cid),
    iat,
  };
  const signed = await signEnvelope({ spec: "inv", signer: opts.by, payload } as never);
  return Buffer.from(encodeEnvelope(signed as never)).toString("base64");
}

/**
 * A revocation (ucan-wg/revocation): `/ucan/revoke` invoked with `args.revoke` = the CID of
 * the delegation (a CID link), signed with iso-ucan's envelope functions directly.
 */
export async function revocation(opts: {
  by: EdDSASigner;
  revoke: string;
  sub: string;
  /** The issuer the payload names, when it is not the signer (a forgery). */
  claim?: string;
}): Promise<string> {
  const target = await Delegation.fromString(opts.revoke, { now: 0 } as never);
  const payload = {
    iss: opts.claim ?? opts.by.did,
    sub: opts.sub,
    aud: opts.sub,
    cmd: "/ucan/revoke",
    nonce: new Uint8Array(0),
    exp: nowS() + 300,
    args: { revoke: target.cid },
    prf: [],
  };
  const signed = await signEnvelope({ spec: "inv", signer: opts.by, payload } as never);
  return Buffer.from(encodeEnvelope(signed as never)).toString("base64");
}
