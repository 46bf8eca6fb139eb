/**
 * Authenticated vault↔node messages. Every request and reply is an envelope whose
 * exact JSON text is signed with the sender's Ed25519 key. An envelope names its
 * sender, its receiver, an operation, the protocol session it belongs to, a random
 * nonce and a timestamp; the receiver refuses unknown senders, envelopes addressed
 * to someone else, stale timestamps and nonces it has seen (see ReplayGuard).
 */
import { type KeyObject, randomBytes } from "node:crypto";
import { signBytes, verifyBytes } from "./identity.js";

export const MAX_CLOCK_SKEW_MS = 60_000;

export interface Envelope<T = unknown> {
  v: 1;
  from: string;
  to: string;
  op: string;
  sessionId: string;
  nonce: string;
  ts: number;
  /** For replies: the nonce of the request answered. */
  inReplyTo?: string;
  body: T;
}

export interface SignedEnvelope {
  envelope: string;
  sig: string;
}

export function sealEnvelope<T>(
  key: KeyObject,
  fields: Omit<Envelope<T>, "v" | "nonce" | "ts">,
  now = Date.now(),
): SignedEnvelope {
  const env: Envelope<T> = { v: 1, ...fields, nonce: randomBytes(16).toString("hex"), ts: now };
  const text = JSON.stringify(env);
  return { envelope: text, sig: signBytes(key, Buffer.from(text)) };
}

export class EnvelopeError extends Error {
  constructor(
    readonly reason:
      | "malformed"
      | "unknown-sender"
      | "bad-signature"
      | "wrong-receiver"
      | "stale"
      | "replay",
  ) {
    super(`envelope refused: ${reason}`);
  }
}

/**
 * Checks signature, receiver and freshness. `senderKey` looks up the pinned key of
 * the claimed sender. Replay is checked separately by the caller's ReplayGuard.
 */
export function openEnvelope<T>(
  signed: unknown,
  me: string,
  senderKey: (id: string) => KeyObject | undefined,
  now = Date.now(),
): Envelope<T> {
  const s = signed as Partial<SignedEnvelope> | null;
  if (!s || typeof s.envelope !== "string" || typeof s.sig !== "string") {
    throw new EnvelopeError("malformed");
  }
  let env: Envelope<T>;
  try {
    env = JSON.parse(s.envelope) as Envelope<T>;
  } catch {
    throw new EnvelopeError("malformed");
  }
  if (env?.v !== 1 || typeof env.from !== "string" || typeof env.nonce !== "string") {
    throw new EnvelopeError("malformed");
  }
  const key = senderKey(env.from);
  if (!key) throw new EnvelopeError("unknown-sender");
  if (!verifyBytes(key, Buffer.from(s.envelope), s.sig)) throw new EnvelopeError("bad-signature");
  if (env.to !== me) throw new EnvelopeError("wrong-receiver");
  if (typeof env.ts !== "number" || Math.abs(now - env.ts) > MAX_CLOCK_SKEW_MS) {
    throw new EnvelopeError("stale");
  }
  return env;
}
