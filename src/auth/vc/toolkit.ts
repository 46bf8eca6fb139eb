/**
 * The other side of the VC door, for agents, operators and tests: make a did:key, issue an
 * AgentAuthorization credential (W3C VC Data Model 1.1 as a JWT, via did-jwt-vc), and
 * present credentials over a vault challenge (a JWT VP with nonce = challenge and
 * aud = the vault's audience). Ed25519 keys from node:crypto; signing is did-jwt's.
 */
import { generateKeyPairSync } from "node:crypto";
import { EdDSASigner, type Signer } from "did-jwt";
import { createVerifiableCredentialJwt, createVerifiablePresentationJwt } from "did-jwt-vc";
import { didKeyOf } from "./index.js";

/** A DID and what signs for it. */
export interface DidSigner {
  did: string;
  signer: Signer;
  alg: string;
}

/** An Ed25519 did:key as a file holds it: the DID and the private key as a JWK. */
export interface DidKeyFile {
  did: string;
  privateKeyJwk: { kty: "OKP"; crv: "Ed25519"; d: string; x: string };
}

export function createDidKey(): DidKeyFile {
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" }) as { d: string; x: string };
  return {
    did: didKeyOf(Buffer.from(jwk.x, "base64url")),
    privateKeyJwk: { kty: "OKP", crv: "Ed25519", d: jwk.d, x: jwk.x },
  };
}

export function didKeySigner(file: DidKeyFile): DidSigner {
  const { d, x } = file.privateKeyJwk ?? {};
  if (typeof d !== "string" || typeof x !== "string" || typeof file.did !== "string")
    throw new Error("not a did:key file (did, privateKeyJwk.d/x)");
  if (didKeyOf(Buffer.from(x, "base64url")) !== file.did)
    throw new Error("the key file's DID does not match its key");
  return { did: file.did, signer: EdDSASigner(Buffer.from(d, "base64url")), alg: "EdDSA" };
}

/** What an AgentAuthorization says about its subject (the agent's DID). */
export interface AgentAuthorizationSubject {
  agentId: string;
  operator: string;
  capabilities: string[];
  /** Asset ("ETH" or token address) → most per request, in the asset's units. */
  spendLimit?: Record<string, string>;
  humanPrincipal?: string;
}

export function issueAgentAuthorization(
  issuer: DidSigner,
  subjectDid: string,
  subject: AgentAuthorizationSubject | Record<string, unknown>,
  opts: { exp?: number; types?: string[] } = {},
): Promise<string> {
  return createVerifiableCredentialJwt(
    {
      sub: subjectDid,
      nbf: Math.floor(Date.now() / 1000) - 10,
      ...(opts.exp !== undefined ? { exp: opts.exp } : {}),
      vc: {
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        type: ["VerifiableCredential", ...(opts.types ?? ["AgentAuthorization"])],
        credentialSubject: subject,
      },
    },
    { did: issuer.did, signer: issuer.signer, alg: issuer.alg },
  );
}

/** A JWT VP holding `credentials`, bound to one challenge and the vault's audience. */
export function presentCredentials(
  holder: DidSigner,
  credentials: string[],
  challenge: string,
  audience: string,
  opts: { exp?: number } = {},
): Promise<string> {
  return createVerifiablePresentationJwt(
    {
      ...(opts.exp !== undefined ? { exp: opts.exp } : {}),
      vp: {
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        type: ["VerifiablePresentation"],
        verifiableCredential: credentials,
      },
    },
    { did: holder.did, signer: holder.signer, alg: holder.alg },
    { challenge, domain: audience },
  );
}
