/**
 * Revocations as Security Event Tokens (RFC 8417), in the shape of the OpenID Shared
 * Signals Framework's CAEP "credential-change" event with change_type "revoke". The
 * subject uses the "opaque" format of RFC 9493: "<kind>:<id>", e.g. "jwt:<jti>",
 * "apikey:<key id>", "delegation:<cid>". Signed by the vault's token key (EdDSA, its kid
 * in /.well-known/jwks.json) with typ "secevent+jwt" (RFC 8417 §2.3), so a receiver that
 * trusts this vault's tokens can check its revocations with the same keys. The private
 * claim "seq" numbers the events: a receiver resumes from it and notices a gap.
 */

import type { KeyObject } from "node:crypto";
import { type JWTVerifyGetKey, jwtVerify, SignJWT } from "jose";

export const CREDENTIAL_CHANGE =
  "https://schemas.openid.net/secevent/caep/event-type/credential-change";
export const SET_TYPE = "secevent+jwt";

export interface RevocationEvent {
  seq: number;
  kind: string;
  subject: string;
  atMs: number;
}

export function signSet(
  e: RevocationEvent,
  issuer: string,
  key: { kid: string; privateKey: KeyObject },
): Promise<string> {
  return new SignJWT({
    seq: e.seq,
    events: {
      [CREDENTIAL_CHANGE]: {
        subject: { format: "opaque", id: `${e.kind}:${e.subject}` },
        change_type: "revoke",
        credential_type: e.kind,
        event_timestamp: Math.floor(e.atMs / 1000),
      },
    },
  })
    .setProtectedHeader({ alg: "EdDSA", kid: key.kid, typ: SET_TYPE })
    .setIssuer(issuer)
    .setIssuedAt(Math.floor(e.atMs / 1000))
    .setJti(`${issuer}#${e.seq}`)
    .sign(key.privateKey);
}

/** Verifies a SET from `issuer` and returns the revocation it carries; throws otherwise. */
export async function verifySet(
  token: string,
  issuer: string,
  getKey: JWTVerifyGetKey,
): Promise<RevocationEvent> {
  const { payload } = await jwtVerify(token, getKey, { issuer, typ: SET_TYPE });
  const events = payload.events as Record<string, unknown> | undefined;
  const e = events?.[CREDENTIAL_CHANGE] as
    | {
        subject?: { format?: string; id?: unknown };
        change_type?: unknown;
        event_timestamp?: unknown;
      }
    | undefined;
  const id = e?.subject?.id;
  if (e?.change_type !== "revoke" || e.subject?.format !== "opaque" || typeof id !== "string")
    throw new Error("not a credential revocation");
  const colon = id.indexOf(":");
  if (colon <= 0 || !Number.isSafeInteger(payload.seq)) throw new Error("malformed revocation");
  return {
    seq: payload.seq as number,
    kind: id.slice(0, colon),
    subject: id.slice(colon + 1),
    atMs: Number(e.event_timestamp ?? 0) * 1000,
  };
}

export const HEARTBEAT_TYPE = "heartbeat+jwt";

/** A signed heartbeat: the issuer's head now, so a relay cannot claim a shorter stream. */
export function signHeartbeat(
  head: number,
  issuer: string,
  key: { kid: string; privateKey: KeyObject },
): Promise<string> {
  return new SignJWT({ head })
    .setProtectedHeader({ alg: "EdDSA", kid: key.kid, typ: HEARTBEAT_TYPE })
    .setIssuer(issuer)
    .setIssuedAt()
    .sign(key.privateKey);
}

/** The head of a signed heartbeat from `issuer`, at most `maxAgeMs` old; throws otherwise. */
export async function verifyHeartbeat(
  token: string,
  issuer: string,
  getKey: JWTVerifyGetKey,
  maxAgeMs: number,
): Promise<number> {
  const { payload } = await jwtVerify(token, getKey, {
    issuer,
    typ: HEARTBEAT_TYPE,
    maxTokenAge: Math.ceil(maxAgeMs / 1000) + 1,
    clockTolerance: 1,
  });
  if (!Number.isSafeInteger(payload.head)) throw new Error("the heartbeat has no head");
  return payload.head as number;
}
