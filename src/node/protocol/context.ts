/**
 * What every protocol handler of a signer node works with: its index and identity,
 * its store, the cluster it was enrolled in, the in-memory protocol sessions, and the
 * engine thread that runs DKG and presignature rounds off the event loop (engine-host.ts).
 * Online-step parties (SignParty: warm presignatures, combine sessions) live here.
 */
import type { KeyObject } from "node:crypto";
import { DEFAULT_WARM_PRESIGS } from "../../protocol/node/limits.js";
import type { ClusterConfig } from "../../protocol/node/wire.js";
import { SignParty, type WireMessage } from "../../threshold/engine.js";
import { type Identity, importPublic } from "../../transport/identity.js";
import { openFrom, type P2pContext, type SealedMessage, sealFor } from "../../transport/p2p.js";
import { EngineHost, type RemoteKeygen, type RemotePresign } from "../engine-host.js";
import type { NodeStore } from "../store.js";

export class NodeRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export type Session =
  | {
      kind: "dkg";
      agentId: string;
      party: RemoteKeygen;
      policy?: { version: number; policy: string };
    }
  | { kind: "presign"; agentId: string; presigId: string; parties: number[]; party: RemotePresign }
  | {
      kind: "combine";
      agentId: string;
      parties: number[];
      party: SignParty;
      digest: Uint8Array;
      seq: number;
    };

const SESSION_TTL_MS = 60_000;

export class NodeContext {
  private readonly sessions = new Map<string, { session: Session; expires: number }>();
  /** Deserialised presignatures kept warm, so the online step skips a 12 ms restore. */
  private readonly warm = new Map<string, SignParty>();
  private peerKeys = new Map<number, { signing: KeyObject; agreement: KeyObject }>();

  constructor(
    readonly index: number,
    readonly identity: Identity,
    readonly store: NodeStore,
    readonly vaultKey: KeyObject,
    /** How many presignatures stay deserialised (keepWarm evicts the oldest beyond it). */
    private readonly limits: { warmPresigs: number } = { warmPresigs: DEFAULT_WARM_PRESIGS },
    /** The engine thread for DKG and presignature rounds (engine-host.ts). */
    readonly engine: EngineHost = new EngineHost(),
  ) {
    const cluster = store.cluster();
    if (cluster) this.loadPeers(cluster);
  }

  get name(): string {
    return `node-${this.index}`;
  }

  cluster(): ClusterConfig {
    const c = this.store.cluster();
    if (!c) throw new NodeRefusal("NOT_ENROLLED", "this node has not been enrolled in a cluster");
    return c;
  }

  loadPeers(cluster: ClusterConfig): void {
    this.peerKeys = new Map(
      cluster.peers.map((p) => [
        p.index,
        { signing: importPublic(p.signingKey), agreement: importPublic(p.agreementKey) },
      ]),
    );
  }

  peerSigningKey(index: number): KeyObject | undefined {
    return this.peerKeys.get(index)?.signing;
  }

  /** Seals outgoing engine messages: one copy per receiver among `parties`. */
  seal(ctx: P2pContext, msgs: WireMessage[], parties: number[]): SealedMessage[] {
    return msgs.flatMap((m) => {
      const receivers = m.to === undefined ? parties.filter((p) => p !== this.index) : [m.to];
      return receivers.map((to) => {
        const peer = this.peerKeys.get(to);
        if (!peer) throw new NodeRefusal("UNKNOWN_PEER", `no peer ${to}`);
        return sealFor(this.identity.agreement, peer.agreement, ctx, {
          from: this.index,
          to,
          broadcast: m.to === undefined,
          payload: m.payload,
        });
      });
    });
  }

  /** Opens incoming sealed messages addressed to this node; refuses anything else. */
  open(ctx: P2pContext, sealed: SealedMessage[], expectedFrom: number[]): WireMessage[] {
    const from = new Set<number>();
    const out = sealed.map((s) => {
      const peer = this.peerKeys.get(s.from);
      if (s.to !== this.index || !peer || !expectedFrom.includes(s.from)) {
        throw new NodeRefusal("BAD_MESSAGE", "protocol message not addressed to this node");
      }
      from.add(s.from);
      let payload: Uint8Array;
      try {
        payload = openFrom(this.identity.agreement, peer.agreement, ctx, s);
      } catch {
        throw new NodeRefusal("BAD_MESSAGE", "protocol message failed authentication");
      }
      const wire: WireMessage = { from: s.from, payload };
      if (!s.broadcast) wire.to = s.to;
      return wire;
    });
    if (from.size !== expectedFrom.length) {
      throw new NodeRefusal("BAD_MESSAGE", "protocol messages missing from some parties");
    }
    return out;
  }

  putSession(id: string, session: Session): void {
    this.sweep();
    const existing = this.sessions.get(id);
    if (existing && existing.session !== session) {
      // A second start under a live session id would leak the first protocol party.
      session.party.free();
      throw new NodeRefusal("SESSION_EXISTS", "a protocol session with this id is already running");
    }
    this.sessions.set(id, { session, expires: Date.now() + SESSION_TTL_MS });
  }

  takeSession<K extends Session["kind"]>(id: string, kind: K): Extract<Session, { kind: K }> {
    const entry = this.sessions.get(id);
    if (!entry || entry.session.kind !== kind) {
      throw new NodeRefusal("UNKNOWN_SESSION", "no such protocol session on this node");
    }
    this.sessions.delete(id);
    return entry.session as Extract<Session, { kind: K }>;
  }

  dropSession(id: string): void {
    const entry = this.sessions.get(id);
    this.sessions.delete(id);
    if (entry) entry.session.party.free();
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, entry] of this.sessions) {
      if (entry.expires < now) this.dropSession(id);
    }
  }

  keepWarm(presigId: string, party: SignParty): void {
    if (this.limits.warmPresigs === 0) {
      party.free();
      return;
    }
    if (this.warm.size >= this.limits.warmPresigs) {
      const [oldest] = this.warm.keys();
      if (oldest !== undefined) this.takeWarm(oldest)?.free();
    }
    this.warm.set(presigId, party);
  }

  takeWarm(presigId: string): SignParty | undefined {
    const party = this.warm.get(presigId);
    this.warm.delete(presigId);
    return party;
  }

  isWarm(presigId: string): boolean {
    return this.warm.has(presigId);
  }

  restorePresig(presigId: string, state: () => Buffer): SignParty {
    return this.takeWarm(presigId) ?? SignParty.restore(state());
  }
}
