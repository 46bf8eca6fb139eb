/** The signing service's public shapes: outcomes, approvals, options and dependencies. */
import type { AuditLog } from "../../audit/types.js";
import type { SpendCaps } from "../../policy/narrow.js";
import type { SpendJson } from "../../policy/spends.js";
import type { SignIntent } from "../../policy/types.js";
import type { LocalCluster } from "../../signers/local/cluster.js";
import type { BackendRegistry } from "../../signers/registry.js";
import type { DigestSigningSeam } from "../../signers/types.js";
import type { DelegationStore, LinkBudget } from "../../store/delegations.js";
import type { VaultStore } from "../../store/vault-store.js";
import type { SignResult } from "../sign-result.js";

export type SignOutcome =
  | { status: "signed"; result: SignResult; signature: string; auditSeq: number }
  | { status: "pending"; approvalId: string; auditSeq: number };

export interface ApprovalView {
  id: string;
  agentId: string;
  status: "pending" | "signed" | "rejected" | "denied" | "failed" | "incomplete" | "reserved";
  kind: string;
  spends: SpendJson[];
  result?: SignResult;
  createdAt: string;
}

/** A delegated request: the links it went through (root first) and the lists they narrow. */
export interface DelegatedScope {
  links: LinkBudget[];
  recipients?: string[];
  chains?: number[];
}

export interface SignOptions {
  /** `false` refuses requests that would move value (the credential lacks SPEND). */
  canSpend?: boolean;
  /** A credential's per-request caps: they narrow the policy for this request only. */
  spendLimits?: SpendCaps[];
  /**
   * The credential that authenticated the request (the principal's key id: an API key id,
   * "jwt:<jti>", "vc:<did>"). Re-checked after the per-agent lock is taken, right before
   * anything is reserved or sent to the cluster, so a revocation reaches queued requests.
   */
  credential?: string;
  /** A delegated request: its links' budgets and the lists they narrow (src/auth/delegation). */
  delegation?: DelegatedScope;
}

export interface SigningService extends DigestSigningSeam {
  sign(
    agentId: string,
    intent: SignIntent,
    actor: string,
    opts?: SignOptions,
  ): Promise<SignOutcome>;
  approve(approvalId: string, actor: string): Promise<SignOutcome>;
  reject(approvalId: string, actor: string): Promise<ApprovalView>;
  approval(approvalId: string): Promise<ApprovalView>;
  /**
   * After a crash: releases the budget of requests that never reached the cluster, and
   * finishes requests that did (their sequence number may be recorded on some nodes).
   */
  recoverAll(): Promise<void>;
  /** Releases reservations no live request holds (replicas: what a killed one left). */
  releaseStranded(): Promise<void>;
}

/** The narrow slice of the threshold cluster signing needs (the bench and tests fake it). */
export type SigningCluster = Pick<LocalCluster, "signDigest" | "refill"> &
  Partial<Pick<LocalCluster, "seqIsFree">>;

export interface SigningDeps {
  store: VaultStore;
  audit: AuditLog;
  /** The threshold cluster (or, in the benchmark's baseline, a single-key stand-in). */
  cluster: SigningCluster;
  /**
   * The other signer backends, for agents whose `backend` is not "local" (issue 10). Without
   * it every agent is served by `cluster`.
   */
  backends?: Pick<BackendRegistry, "get">;
  now?: () => number;
  /**
   * Why a credential may no longer act (revoked since the door admitted it), as the error
   * the door itself would give; undefined while it is live. Without it nothing is re-checked.
   * Asked outside any transaction (it may read the database), right before the reservation.
   */
  credentialRefusal?: (credential: string) => Promise<Error | undefined>;
  /** Spends through delegation links (needed to serve delegated requests). */
  links?: Pick<DelegationStore, "putLinks" | "linksOf" | "spendsVia" | "requestsVia">;
}
