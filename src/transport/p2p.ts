/**
 * End-to-end encryption of DKLs23 protocol messages between signer nodes. The vault
 * relays these messages but must learn nothing from them (DKG sends share material
 * point to point), so each one is sealed for its receiver: X25519 agreement between
 * the two nodes' static keys, HKDF-SHA256 (RFC 5869) salted with the session id,
 * AES-256-GCM with a random 96-bit IV; the associated data binds session, round,
 * sender and receiver, so a relayed message cannot be moved to another context.
 */
import {
  createCipheriv,
  createDecipheriv,
  diffieHellman,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";

export interface SealedMessage {
  from: number;
  to: number;
  /** True when the engine sent it to everyone (the receiver drops `to`). */
  broadcast: boolean;
  iv: string;
  ct: string;
  tag: string;
}

export interface P2pContext {
  sessionId: string;
  round: string;
}

function context(ctx: P2pContext, from: number, to: number, broadcast: boolean): Buffer {
  return Buffer.from(`agent-vault/p2p/v1|${ctx.sessionId}|${ctx.round}|${from}|${to}|${broadcast}`);
}

// The static X25519 secret between two nodes never changes: compute it once per pair.
const sharedSecrets = new WeakMap<KeyObject, WeakMap<KeyObject, Buffer>>();

function sharedSecret(mine: KeyObject, theirs: KeyObject): Buffer {
  const byPeer = sharedSecrets.get(mine) ?? new WeakMap<KeyObject, Buffer>();
  sharedSecrets.set(mine, byPeer);
  const secret = byPeer.get(theirs) ?? diffieHellman({ privateKey: mine, publicKey: theirs });
  byPeer.set(theirs, secret);
  return secret;
}

function messageKey(mine: KeyObject, theirs: KeyObject, ctx: P2pContext, info: Buffer): Buffer {
  const shared = sharedSecret(mine, theirs);
  return Buffer.from(hkdfSync("sha256", shared, Buffer.from(ctx.sessionId), info, 32));
}

export function sealFor(
  mine: KeyObject,
  theirs: KeyObject,
  ctx: P2pContext,
  msg: { from: number; to: number; broadcast: boolean; payload: Uint8Array },
): SealedMessage {
  const info = context(ctx, msg.from, msg.to, msg.broadcast);
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", messageKey(mine, theirs, ctx, info), iv);
  cipher.setAAD(info);
  const ct = Buffer.concat([cipher.update(msg.payload), cipher.final()]);
  return {
    from: msg.from,
    to: msg.to,
    broadcast: msg.broadcast,
    iv: iv.toString("base64"),
    ct: ct.toString("base64"),
    tag: cipher.getAuthTag().toString("base64"),
  };
}

/** Throws if the message was not sealed by the holder of `theirs` for this context. */
export function openFrom(
  mine: KeyObject,
  theirs: KeyObject,
  ctx: P2pContext,
  sealed: SealedMessage,
): Uint8Array {
  const info = context(ctx, sealed.from, sealed.to, sealed.broadcast);
  const decipher = createDecipheriv(
    "aes-256-gcm",
    messageKey(mine, theirs, ctx, info),
    Buffer.from(sealed.iv, "base64"),
  );
  decipher.setAAD(info);
  decipher.setAuthTag(Buffer.from(sealed.tag, "base64"));
  return Buffer.concat([decipher.update(Buffer.from(sealed.ct, "base64")), decipher.final()]);
}
