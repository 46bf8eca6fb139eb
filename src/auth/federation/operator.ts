/**
 * An operator's identity (README "Cross-operator trust"): a did:web DID (W3C did:web
 * method) named after the vault's https URL, whose document (W3C DID Core §5) the vault
 * serves at /.well-known/did.json. It binds the did:web name to:
 *  - the operator key, an Ed25519 key (the vault's credential key) given both as a
 *    JsonWebKey2020 verification method (it signs the revocation SETs, RFC 8417) and as its
 *    did:key in `alsoKnownAs` (the UCAN issuer of the operator's links);
 *  - the operator's public revocation stream (service "RevocationEventStream").
 * A vault reading another operator's document checks that the did:key IS that JWK, so a
 * document cannot lend its name to someone else's key.
 */
import { didKeyOf } from "../vc/index.js";

export const EVENTS_SERVICE = "RevocationEventStream";
export const OPERATOR_FRAGMENT = "operator";
const CONTEXTS = ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1"];

/** A did:web naming a host (and port), with no path: the only kind an operator has. */
export const isHostDidWeb = (did: string) => /^did:web:[A-Za-z0-9.%-]+$/.test(did);

export interface OperatorIdentity {
  /** did:web:host%3Aport */
  did: string;
  /** The did:key of the operator key (UCAN issuer). */
  keyDid: string;
  /** The operator key's public JWK (OKP, Ed25519). */
  jwk: { kty: "OKP"; crv: "Ed25519"; x: string };
  /** Its public revocation stream (SSE of signed SETs). */
  events: string;
}

/** did:web of an https base URL without a path (did:web method §3.2: ":" → "%3A"). */
export function operatorDidOf(baseUrl: string): string | undefined {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    return undefined;
  }
  if (u.protocol !== "https:" || (u.pathname !== "/" && u.pathname !== "")) return undefined;
  return `did:web:${encodeURIComponent(u.host)}`;
}

export function operatorDocument(id: OperatorIdentity): Record<string, unknown> {
  const vm = `${id.did}#${OPERATOR_FRAGMENT}`;
  return {
    "@context": CONTEXTS,
    id: id.did,
    alsoKnownAs: [id.keyDid],
    verificationMethod: [
      { id: vm, type: "JsonWebKey2020", controller: id.did, publicKeyJwk: id.jwk },
    ],
    assertionMethod: [vm],
    capabilityDelegation: [vm],
    service: [{ id: `${id.did}#events`, type: EVENTS_SERVICE, serviceEndpoint: id.events }],
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Reads another operator's document; throws with the reason when it is not one. */
export function readOperatorDocument(did: string, doc: unknown): OperatorIdentity {
  if (!isRecord(doc) || doc.id !== did) throw new Error("the document's id is not the DID");
  const vms = Array.isArray(doc.verificationMethod) ? doc.verificationMethod : [];
  const vm = vms.find((m) => isRecord(m) && m.id === `${did}#${OPERATOR_FRAGMENT}`);
  const jwk = isRecord(vm) ? vm.publicKeyJwk : undefined;
  if (!isRecord(jwk) || jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.x !== "string")
    throw new Error("the document has no Ed25519 operator key");
  const raw = Buffer.from(jwk.x, "base64url");
  if (raw.length !== 32) throw new Error("the operator key is not 32 bytes");
  const keyDid = didKeyOf(raw);
  const aka = Array.isArray(doc.alsoKnownAs) ? doc.alsoKnownAs : [];
  if (!aka.includes(keyDid)) throw new Error("alsoKnownAs does not name the operator key");
  const services = Array.isArray(doc.service) ? doc.service : [];
  const events = services.find((s) => isRecord(s) && s.type === EVENTS_SERVICE);
  const url = isRecord(events) ? events.serviceEndpoint : undefined;
  if (typeof url !== "string" || !/^https:\/\/\S+$/.test(url))
    throw new Error(`the document has no https ${EVENTS_SERVICE} service`);
  return { did, keyDid, jwk: { kty: "OKP", crv: "Ed25519", x: jwk.x }, events: url };
}
