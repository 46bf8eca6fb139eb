/**
 * What the vault shows a signer node that is behind (README "How signing works", step 4:
 * a node requires its record to be complete up to the request's sequence number): the
 * signed records for seqs from..to, read straight from the stores that hold them, so the
 * cluster needs no reference back into the services that write them.
 *  - an agent: its signed sign_requests rows (seq, intent, signature);
 *  - the cluster's own checkpoint key: the cluster-signed checkpoints (checkpoints.ts).
 */
import type { AuditLog } from "../audit/types.js";
import type { CatchUpRecord } from "../protocol/node/wire.js";
import type { VaultStore } from "../store/vault-store.js";
import { CLUSTER_KEY_ID } from "../threshold/checkpoint.js";
import { checkpointCatchUp } from "./checkpoints.js";

export type CatchUpReader = (
  agentId: string,
  fromSeq: number,
  toSeq: number,
) => Promise<CatchUpRecord[]>;

export async function signedRecords(
  store: Pick<VaultStore, "signedRange">,
  agentId: string,
  fromSeq: number,
  toSeq: number,
): Promise<CatchUpRecord[]> {
  return store.signedRange(agentId, fromSeq, toSeq);
}

export function createCatchUpReader(
  store: Pick<VaultStore, "signedRange">,
  audit: Pick<AuditLog, "checkpoints">,
): CatchUpReader {
  return (agentId, fromSeq, toSeq) =>
    agentId === CLUSTER_KEY_ID
      ? checkpointCatchUp(audit, fromSeq, toSeq)
      : signedRecords(store, agentId, fromSeq, toSeq);
}
