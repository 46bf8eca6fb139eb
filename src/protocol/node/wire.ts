/**
 * The bodies of the vault↔node protocol (the `body` of a signed envelope, see
 * src/transport/envelope.ts): one TypeScript type and one runtime schema per body.
 * The schema is typed as Schema<Type>, so the compiler keeps the two in step.
 * Protocol messages between nodes travel inside as SealedMessage (src/transport/p2p.ts):
 * the node opens and authenticates them itself; here only their shape is checked.
 */
import type { AuditEntry } from "../../audit/types.js";
import type { SignIntent } from "../../policy/types.js";
import type { CheckpointIntent } from "../../threshold/checkpoint.js";
import type { SealedMessage } from "../../transport/p2p.js";
import {
  anyObject,
  arr,
  bool,
  int,
  literal,
  nullable,
  obj,
  oneOf,
  record,
  type Schema,
  str,
  tagged,
} from "./schema.js";

/** Party indices: the engine supports small clusters (n ≤ 9, see src/config). */
const MAX_PARTIES = 16;
const index = int(0, MAX_PARTIES - 1);
const id = str({ max: 256 });
const key = str({ max: 1024 });
const hex64 = str({ pattern: /^[0-9a-f]{64}$/ });
const decimal = str({ max: 100, pattern: /^[0-9]+$/ });

export const sealedMessage: Schema<SealedMessage> = obj({
  from: index,
  to: index,
  broadcast: bool(),
  iv: str({ max: 64 }),
  ct: str({ max: 1 << 22 }),
  tag: str({ max: 64 }),
});
const messages = arr(sealedMessage, MAX_PARTIES * MAX_PARTIES);
const parties = arr(index, MAX_PARTIES);

export interface ClusterPeer {
  index: number;
  signingKey: string;
  agreementKey: string;
}

export interface ClusterConfig {
  n: number;
  t: number;
  peers: ClusterPeer[];
  /** The operator's admin authority (base64 SPKI Ed25519), see src/auth/admin-authority.ts. */
  adminPublicKey: string;
}

export const clusterConfig: Schema<ClusterConfig> = obj({
  n: int(1, MAX_PARTIES),
  t: int(1, MAX_PARTIES),
  peers: arr(obj({ index, signingKey: key, agreementKey: key }), MAX_PARTIES),
  adminPublicKey: key,
});

/** Audit entries as the vault stores them; the first may say which zkHead precedes it. */
export type AuditSegment = Array<AuditEntry & { zkPrev?: string }>;

const auditEntry = obj(
  {
    seq: int(),
    ts: str({ max: 64 }),
    type: str({ max: 128 }),
    agentId: nullable(id),
    actor: nullable(str({ max: 1024 })),
    data: anyObject(),
    prevHash: hex64,
    hash: hex64,
  },
  { zkPrev: decimal },
);

/**
 * A checkpoint intent carries the entries since the node's last signed head and the
 * vault's zk v2 start seq (src/audit/commitment.ts), which the node pins on first sight.
 */
export type CheckpointNodeIntent = CheckpointIntent & {
  segment?: AuditSegment;
  zkV2Start?: number;
};

export type NodeIntent = SignIntent | CheckpointNodeIntent;

const numberish = oneOf(int(), str({ max: 100 }));
const signIntentCases = {
  message: obj({ kind: literal("message"), message: str({ max: 1 << 20 }) }),
  "typed-data": obj({
    kind: literal("typed-data"),
    domain: anyObject(),
    types: record(arr(obj({ name: str({ max: 256 }), type: str({ max: 256 }) }, {}, true))),
    primaryType: str({ max: 256 }),
    message: anyObject(),
  }),
  // Open: fields the node does not read do not change the digest it re-derives.
  transaction: obj(
    {
      kind: literal("transaction"),
      tx: obj(
        {
          chainId: numberish,
          to: str({ max: 64 }),
          nonce: numberish,
          gasLimit: numberish,
          maxFeePerGas: str({ max: 100 }),
          maxPriorityFeePerGas: str({ max: 100 }),
        },
        { value: str({ max: 100 }), data: str({ max: 1 << 20 }) },
        true,
      ),
    },
    {},
  ),
};

export const nodeIntent: Schema<NodeIntent> = tagged<NodeIntent>("kind", {
  ...signIntentCases,
  checkpoint: obj(
    { kind: literal("checkpoint"), seq: int(), head: hex64 },
    { zkHead: decimal, segment: arr(auditEntry, 100_000), zkV2Start: int(1) },
  ),
});

export interface CatchUpRecord {
  seq: number;
  intent: NodeIntent;
  signature: string;
}

const catchUpRecord: Schema<CatchUpRecord> = obj({
  seq: int(),
  intent: nodeIntent,
  signature: str({ max: 200 }),
});

export interface DkgStart {
  agentId: string;
  /** The admin authority's signature over the agent.create action. */
  authorization: string;
  policy?: { version: number; policy: string };
}
export const dkgStart: Schema<DkgStart> = obj(
  { agentId: id, authorization: key },
  { policy: obj({ version: int(), policy: str({ max: 1 << 20 }) }) },
);

/** DKG rounds 2–4; round 4 takes every party's chain-code commitment, in party order. */
export interface DkgRound {
  round: 2 | 3 | 4;
  messages: SealedMessage[];
  commitments?: string[];
}
export const dkgRound: Schema<DkgRound> = obj(
  { round: literal(2, 3, 4), messages },
  { commitments: arr(str({ max: 256 }), MAX_PARTIES) },
);

/** The last DKG step: the round-4 messages in, the group key out. */
export interface WithMessages {
  messages: SealedMessage[];
}
export const withMessages: Schema<WithMessages> = obj({ messages });

export interface PresignStart {
  agentId: string;
  presigId: string;
  parties: number[];
}
export const presignStart: Schema<PresignStart> = obj({ agentId: id, presigId: id, parties });

export interface PresignRound {
  round: 2 | 3;
  messages: SealedMessage[];
}
export const presignRound: Schema<PresignRound> = obj({ round: literal(2, 3), messages });

export interface Contribute {
  agentId: string;
  seq: number;
  intent: NodeIntent;
  presigId: string;
  catchUp?: CatchUpRecord[];
  /** The quorum member that will combine; the others free their session at once. */
  combiner?: number;
  /**
   * For the combiner only: the other members' last messages, so it contributes and
   * combines in one call (one request fewer per signature than sign.combine after it).
   */
  combineWith?: SealedMessage[];
}
export const contribute: Schema<Contribute> = obj(
  { agentId: id, seq: int(), intent: nodeIntent, presigId: id },
  { catchUp: arr(catchUpRecord, 100_000), combiner: index, combineWith: messages },
);

export interface PolicySet {
  agentId: string;
  version: number;
  policy: unknown;
  authorization: string;
}
export const policySet: Schema<PolicySet> = obj({
  agentId: id,
  version: int(),
  policy: anyObject(),
  authorization: key,
});

export interface AgentQuery {
  agentId: string;
}
export const agentQuery: Schema<AgentQuery> = obj({ agentId: id });

/** Ops without parameters take an empty object. */
export type Empty = Record<string, never>;
export const empty: Schema<Empty> = obj({}) as Schema<Empty>;
