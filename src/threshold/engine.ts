/**
 * The narrow seam around the threshold ECDSA engine (DKLs23, Doerner–Kondi–Lee–shelat,
 * "Threshold ECDSA in Three Rounds", IEEE S&P 2024), here Silence Laboratories'
 * `@silencelaboratories/dkls-wasm-ll-node` build. Only this file imports it, so another
 * DKLs23 build can replace it. Objects live in WASM memory: every path frees them.
 *
 * Party ids are the key share's index in [0, n). Messages are opaque bytes with a
 * sender and, for point-to-point messages, a receiver; the caller must carry them over
 * an authenticated, encrypted channel (see src/transport/p2p.ts).
 */
import { createRequire } from "node:module";
import type * as Dkls from "@silencelaboratories/dkls-wasm-ll-node";

const dkls = createRequire(import.meta.url)(
  "@silencelaboratories/dkls-wasm-ll-node",
) as typeof Dkls;

export interface WireMessage {
  from: number;
  /** Absent for broadcast messages. */
  to?: number;
  payload: Uint8Array;
}

function toWasm(msgs: WireMessage[]): Dkls.Message[] {
  return msgs.map((m) => new dkls.Message(m.payload, m.from, m.to));
}

/** Converts and frees engine messages. */
/** One WASM message as a wire message (freed after copying). */
function oneFromWasm(m: Dkls.Message): WireMessage {
  const wire: WireMessage = { from: m.from_id, payload: m.payload };
  if (m.to_id !== undefined) wire.to = m.to_id;
  m.free();
  return wire;
}

function fromWasm(msgs: Dkls.Message[]): WireMessage[] {
  return msgs.map(oneFromWasm);
}

/** One party's side of distributed key generation (all n parties take part). */
export class KeygenParty {
  private session: Dkls.KeygenSession | undefined;

  constructor(n: number, t: number, partyId: number) {
    this.session = new dkls.KeygenSession(n, t, partyId);
  }

  private live(): Dkls.KeygenSession {
    if (!this.session) throw new Error("keygen session already finished");
    return this.session;
  }

  firstMessage(): WireMessage {
    return oneFromWasm(this.live().createFirstMessage());
  }

  handle(msgs: WireMessage[], commitments?: Uint8Array[]): WireMessage[] {
    return fromWasm(this.live().handleMessages(toWasm(msgs), commitments));
  }

  chainCodeCommitment(): Uint8Array {
    return this.live().calculateChainCodeCommitment();
  }

  /** Consumes the session; returns the serialised key share and the group public key. */
  finish(): { share: Uint8Array; publicKey: Uint8Array } {
    const keyshare = this.live().keyshare();
    this.session = undefined;
    try {
      return { share: keyshare.toBytes(), publicKey: keyshare.publicKey };
    } finally {
      keyshare.free();
    }
  }

  free(): void {
    this.session?.free();
    this.session = undefined;
  }
}

export function sharePublicKey(share: Uint8Array): Uint8Array {
  const keyshare = dkls.Keyshare.fromBytes(share);
  try {
    return keyshare.publicKey;
  } finally {
    keyshare.free();
  }
}

/**
 * One party's side of signing. Rounds 1–3 produce a presignature that does not
 * depend on the message; `lastMessage` binds it to one digest. A presignature used
 * for two digests exposes the key, so callers consume it durably first.
 */
export class SignParty {
  private session: Dkls.SignSession | undefined;

  private constructor(session: Dkls.SignSession) {
    this.session = session;
  }

  static fromShare(share: Uint8Array): SignParty {
    // SignSession consumes the key share object.
    return new SignParty(new dkls.SignSession(dkls.Keyshare.fromBytes(share), "m"));
  }

  static restore(state: Uint8Array): SignParty {
    return new SignParty(dkls.SignSession.fromBytes(state));
  }

  private live(): Dkls.SignSession {
    if (!this.session) throw new Error("sign session already finished");
    return this.session;
  }

  firstMessage(): WireMessage {
    return oneFromWasm(this.live().createFirstMessage());
  }

  handle(msgs: WireMessage[]): WireMessage[] {
    return fromWasm(this.live().handleMessages(toWasm(msgs)));
  }

  serialize(): Uint8Array {
    return this.live().toBytes();
  }

  lastMessage(digest: Uint8Array): WireMessage {
    return oneFromWasm(this.live().lastMessage(digest));
  }

  /** Consumes the session; returns r and s (32 bytes each). */
  combine(lastMessages: WireMessage[]): { r: Uint8Array; s: Uint8Array } {
    const session = this.live();
    this.session = undefined;
    const [r, s] = session.combine(toWasm(lastMessages)) as [Uint8Array, Uint8Array];
    return { r, s };
  }

  free(): void {
    this.session?.free();
    this.session = undefined;
  }
}
