/** Maps signer-cluster failures onto the error catalogue, without leaking node internals. */
import { VaultError } from "../errors/index.js";
import { QuorumUnavailable } from "../signers/local/cluster.js";
import { NodeRefused, NodeUnreachable } from "../signers/local/node-client.js";

export function clusterFailure(err: unknown): VaultError {
  if (err instanceof VaultError) return err;
  if (err instanceof QuorumUnavailable) return new VaultError("QUORUM_UNAVAILABLE", err.message);
  if (err instanceof NodeUnreachable)
    return new VaultError("QUORUM_UNAVAILABLE", `node-${err.node} is unreachable`);
  if (err instanceof NodeRefused) {
    if (err.code === "POLICY_DENIED") {
      return new VaultError("POLICY_DENIED", `node-${err.node}: ${err.message}`, {
        rule: err.details.rule,
        enforcedBy: `node-${err.node}`,
      });
    }
    return new VaultError("NODE_REFUSED", `node-${err.node} refused: ${err.code}`, {
      nodeCode: err.code,
    });
  }
  return new VaultError("CLUSTER_ERROR");
}

/** For promise chains: `.catch(rethrowClusterFailure)`. */
export function rethrowClusterFailure(err: unknown): never {
  throw clusterFailure(err);
}
