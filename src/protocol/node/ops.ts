/**
 * The vault↔node protocol, op by op: what each op takes and returns (NodeOps, for
 * the compiler on both sides) and the schema its body must pass on the node before
 * any handler runs (NODE_OP_SCHEMAS, for the runtime). The vault's NodeClient.call
 * and the node's handler table are both typed from NodeOps, so neither side can send
 * or answer a shape the other does not expect; the node refuses a body that does not
 * match with NODE_BAD_REQUEST.
 */
import type { SealedMessage } from "../../transport/p2p.js";
import { type Schema, WireError } from "./schema.js";
import {
  type AgentQuery,
  agentQuery,
  type ClusterConfig,
  type Contribute,
  clusterConfig,
  contribute,
  type DkgRound,
  type DkgStart,
  dkgRound,
  dkgStart,
  type Empty,
  empty,
  type PolicySet,
  type PresignRound,
  type PresignStart,
  policySet,
  presignRound,
  presignStart,
  type WithMessages,
  withMessages,
} from "./wire.js";

export interface AgentState {
  address: string;
  lastSeq: number;
  policyVersion: number;
  presigs: string[];
}

export interface SignedHead {
  seq: number;
  hash: string;
  signed_at: number;
}

export interface NodeOps {
  "cluster.enroll": { params: ClusterConfig; result: { enrolled: true } };
  "dkg.start": { params: DkgStart; result: WithMessages };
  /** Rounds 2–4; round 2 also returns this node's chain-code commitment. */
  "dkg.round": { params: DkgRound; result: WithMessages & { commitment?: string } };
  /** The round-4 messages in; the share is stored, the group key comes out. */
  "dkg.finish": { params: WithMessages; result: { publicKey: string; address: string } };
  "presign.start": { params: PresignStart; result: WithMessages };
  "presign.round": { params: PresignRound; result: WithMessages };
  /** The round-3 messages in; the presignature is stored under its id. */
  "presign.finish": { params: WithMessages; result: { presigId: string } };
  /** With `combineWith` (the combiner only), the signature comes back too. */
  "sign.contribute": {
    params: Contribute;
    result: {
      digest: string;
      parties: number[];
      messages: SealedMessage[];
      r?: string;
      s?: string;
    };
  };
  "sign.combine": { params: WithMessages; result: { r: string; s: string } };
  "sign.release": { params: Empty; result: { released: true } };
  "policy.set": { params: PolicySet; result: { version: number } };
  "agent.state": { params: AgentQuery; result: AgentState };
  "checkpoint.heads": { params: Empty; result: { checkpoints: SignedHead[] } };
}

export type NodeOp = keyof NodeOps;
export type NodeParams<K extends NodeOp> = NodeOps[K]["params"];
export type NodeResult<K extends NodeOp> = NodeOps[K]["result"];

export const NODE_OP_SCHEMAS: { readonly [K in NodeOp]: Schema<NodeParams<K>> } = {
  "cluster.enroll": clusterConfig,
  "dkg.start": dkgStart,
  "dkg.round": dkgRound,
  "dkg.finish": withMessages,
  "presign.start": presignStart,
  "presign.round": presignRound,
  "presign.finish": withMessages,
  "sign.contribute": contribute,
  "sign.combine": withMessages,
  "sign.release": empty,
  "policy.set": policySet,
  "agent.state": agentQuery,
  "checkpoint.heads": empty,
};

export const NODE_OPS = Object.keys(NODE_OP_SCHEMAS) as NodeOp[];

/** Own keys only: "constructor" or "__proto__" are not ops. */
export function isNodeOp(op: string): op is NodeOp {
  return Object.hasOwn(NODE_OP_SCHEMAS, op);
}

/** What a node answers inside its signed reply envelope. */
export type NodeReply =
  | { ok: true; result: unknown }
  | { ok: false; error: { code: string; message: string; [detail: string]: unknown } };

/** The node's refusal code for a body that does not match its op's schema. */
export const NODE_BAD_REQUEST = "NODE_BAD_REQUEST";

/** Checks a body against its op's schema; throws WireError naming the first bad field. */
export function parseParams<K extends NodeOp>(op: K, body: unknown): NodeParams<K> {
  const schema = NODE_OP_SCHEMAS[op] as Schema<NodeParams<K>>;
  return schema(body, "body");
}

export { WireError };
