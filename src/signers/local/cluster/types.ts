/** Shapes shared by the cluster's parts and by the services that use LocalCluster. */
import type { NodeIntent } from "../../../protocol/node/wire.js";
import type { NodeRefused } from "../node-client.js";

export interface NodeStatus {
  index: number;
  url: string;
  up: boolean;
  lastError?: string;
  since: string;
}

export interface ClusterEvents {
  nodeDown(index: number, reason: string): void;
  nodeUp(index: number): void;
}

export interface DigestSignRequest {
  agentId: string;
  seq: number;
  intent: NodeIntent;
  digest: string;
  address: string;
  /**
   * Lets a request adapt its intent to one node's refusal (checkpoint segments, read from
   * the audit log).
   */
  adapt?(
    refusal: NodeRefused,
    intent: NodeIntent,
  ): NodeIntent | undefined | Promise<NodeIntent | undefined>;
}

export interface DigestSignature {
  signature: string;
  r: string;
  s: string;
  v: 27 | 28;
  signers: number[];
}

export class QuorumUnavailable extends Error {}
