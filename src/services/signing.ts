/**
 * Policy-gated signing. For each request the vault:
 *  1. decodes what the bytes would do (src/policy/decode.ts), never trusting claims;
 *  2. in ONE synchronous SQLite transaction evaluates the policy against the agent's
 *     rolling usage, reserves the budget and appends the decision to the audit log
 *     (concurrent requests cannot overdraw: JS runs the transaction to completion);
 *  3. parks requests above `approvalAbove` for an operator;
 *  4. under a per-agent lock, gives the request the next sequence number and asks the
 *     cluster, where every node re-checks the policy on its own record;
 *  5. appends "sign.signed" before releasing the signature: if the audit log cannot be
 *     written, the client gets AUDIT_UNAVAILABLE and no signature (fail closed).
 */
import { randomBytes } from "node:crypto";
import { Signature } from "ethers";
import type { AuditLog } from "../audit/types.js";
import { VaultError } from "../errors/index.js";
import type { CatchUpRecord } from "../node/protocol/sign.js";
import { decodeIntent } from "../policy/decode.js";
import { DAY_MS, evaluatePolicy, MINUTE_MS, usageFromRecords } from "../policy/evaluate.js";
import { narrowPolicy, type SpendCaps } from "../policy/narrow.js";
import { spendsFromJson, spendsToJson } from "../policy/spends.js";
import type { DecodedRequest, Policy, SignIntent, Spend } from "../policy/types.js";
import { policyHash } from "../policy/validate.js";
import type { LocalCluster } from "../signers/local/cluster.js";
import { NodeRefused } from "../signers/local/node-client.js";
import type { DigestSigningSeam } from "../signers/types.js";
import { inTransaction } from "../store/db.js";
import type { SignRow, VaultStore } from "../store/vault-store.js";
import { clusterFailure } from "./cluster-errors.js";
import { KeyedMutex } from "./mutex.js";
import { policyOf as storedPolicy } from "./policy-of.js";
import { type SignResult, shapeResult } from "./sign-result.js";

export type SignOutcome =
  | { status: "signed"; result: SignResult; signature: string; auditSeq: number }
  | { status: "pending"; approvalId: string; auditSeq: number };

export interface ApprovalView {
  id: string;
  agentId: string;
  status: "pending" | "signed" | "rejected" | "denied" | "failed" | "incomplete" | "reserved";
  kind: string;
  spends: Array<Omit<Spend, "amount"> & { amount: string }>;
  result?: SignResult;
  createdAt: string;
}

export interface SigningService extends DigestSigningSeam {
  /** `canSpend: false` refuses requests that would move value (the key lacks SPEND). */
  sign(
    agentId: string,
    intent: SignIntent,
    actor: string,
    opts?: { canSpend?: boolean; spendLimits?: SpendCaps[] },
  ): Promise<SignOutcome>;
  approve(approvalId: string, actor: string): Promise<SignOutcome>;
  reject(approvalId: string, actor: string): ApprovalView;
  approval(approvalId: string): ApprovalView;
  /**
   * After a crash: releases the budget of requests that never reached the cluster, and
   * finishes requests that did (their sequence number may be recorded on some nodes).
   */
  recoverAll(): Promise<void>;
  /** Signed records for seqs from..to, shown to a node that is behind. */
  catchUp(agentId: string, fromSeq: number, toSeq: number): CatchUpRecord[];
}

export function createSigningService(deps: {
  store: VaultStore;
  audit: AuditLog;
  /** The threshold cluster (or, in the benchmark's baseline, a single-key stand-in). */
  cluster: Pick<LocalCluster, "signDigest" | "refill"> & Partial<Pick<LocalCluster, "seqIsFree">>;
  now?: () => number;
}): SigningService {
  const { store, audit, cluster } = deps;
  const now = deps.now ?? Date.now;
  const locks = new KeyedMutex();

  const policyOf = (agentId: string) => storedPolicy(store, agentId);

  const usage = (agentId: string, at: number) => {
    const history = store
      .spendsSince(agentId, at - DAY_MS)
      .map((r) => ({ ts: r.ts, spends: spendsFromJson(r.spends) }));
    const u = usageFromRecords(history, new Date(at));
    return { ...u, requestsLastMinute: store.requestsSince(agentId, at - MINUTE_MS) };
  };

  const agentOrThrow = (agentId: string) => {
    const agent = store.agent(agentId);
    if (!agent) throw new VaultError("AGENT_NOT_FOUND");
    return agent;
  };

  /** Steps 2–3: decide, reserve and audit in one transaction. */
  const decide = (
    agentId: string,
    intent: SignIntent,
    decoded: DecodedRequest,
    actor: string,
    spendLimits: SpendCaps[] = [],
  ) =>
    inTransaction(store.db, () => {
      const at = now();
      const id = `req_${randomBytes(9).toString("base64url")}`;
      const facts = {
        requestId: id,
        kind: decoded.kind,
        digest: decoded.digest,
        chainId: decoded.chainId,
        spends: JSON.parse(spendsToJson(decoded.spends)),
      };
      audit.append({ type: "sign.requested", agentId, actor, data: facts });
      // A credential's spend limits narrow the policy for this request only.
      const policy = narrowPolicy(policyOf(agentId), spendLimits);
      const decision = evaluatePolicy(policy, decoded, usage(agentId, at), new Date(at));
      const status = !decision.allow ? "denied" : decision.needsApproval ? "pending" : "reserved";
      store.putSign({
        id,
        agent_id: agentId,
        seq: null,
        kind: decoded.kind,
        intent: JSON.stringify(intent),
        digest: decoded.digest,
        spends: spendsToJson(decoded.spends),
        status,
        result: null,
        signature: null,
        created_ms: at,
      });
      if (!decision.allow) {
        const entry = audit.append({
          type: "sign.denied",
          agentId,
          actor,
          data: { requestId: id, rule: decision.rule, reason: decision.message },
        });
        return {
          id,
          denied: { rule: decision.rule, message: decision.message, auditSeq: entry.seq },
        };
      }
      const type = status === "pending" ? "approval.requested" : "sign.allowed";
      return {
        id,
        pending: status === "pending",
        auditSeq: audit.append({ type, agentId, actor, data: { requestId: id } }).seq,
      };
    });

  const catchUp = (agentId: string, fromSeq: number, toSeq: number): CatchUpRecord[] =>
    store
      .signedRange(agentId, fromSeq, toSeq)
      .map((r) => ({ seq: r.seq, intent: JSON.parse(r.intent), signature: r.signature }));

  /** Runs one reserved row through the cluster at `seq`; stores and audits the outcome. */
  const execute = async (row: SignRow, seq: number, actor: string): Promise<SignOutcome> => {
    store.setSign({ id: row.id, status: "incomplete", seq, result: null, signature: null });
    const agent = agentOrThrow(row.agent_id);
    let sig: Awaited<ReturnType<LocalCluster["signDigest"]>>;
    try {
      sig = await cluster.signDigest({
        agentId: row.agent_id,
        seq,
        intent: JSON.parse(row.intent),
        digest: row.digest,
        address: agent.address,
      });
    } catch (err) {
      const failure = clusterFailure(err);
      // A refusal that no node recorded frees the sequence number and the budget;
      // otherwise the row stays incomplete and is finished before the agent's next request.
      const free = err instanceof NodeRefused && (await cluster.seqIsFree?.(row.agent_id, seq));
      inTransaction(store.db, () => {
        if (free) {
          const status = failure.code === "POLICY_DENIED" ? "denied" : "failed";
          store.setSign({ id: row.id, status, seq: null, result: null, signature: null });
        }
        audit.append({
          type: "sign.failed",
          agentId: row.agent_id,
          actor,
          data: {
            requestId: row.id,
            seq,
            code: failure.code,
            reason: failure.message,
            seqReleased: free === true,
          },
        });
      });
      throw failure;
    }
    const result = shapeResult(JSON.parse(row.intent) as SignIntent, sig.signature, agent.address);
    return inTransaction(store.db, () => {
      store.setSign({
        id: row.id,
        status: "signed",
        seq,
        result: JSON.stringify(result),
        signature: sig.signature,
      });
      // The spends and the policy in force go into the entry itself: its Poseidon
      // commitment (src/zk/fields.ts) is computed from them for compliance proofs.
      const policy = store.policy(row.agent_id);
      const spends = JSON.parse(row.spends) as unknown[];
      const entry = audit.append({
        type: "sign.signed",
        agentId: row.agent_id,
        actor,
        data: {
          requestId: row.id,
          seq,
          digest: row.digest,
          signers: sig.signers,
          ...(spends.length > 0 && policy
            ? {
                spends,
                policyVersion: policy.version,
                policyHash: policyHash(JSON.parse(policy.policy) as Policy),
              }
            : {}),
        },
      });
      return { status: "signed" as const, result, signature: sig.signature, auditSeq: entry.seq };
    });
  };

  /** A row left incomplete (crash, dead node, audit failure) is finished before anything new. */
  const recover = async (agentId: string) => {
    for (const row of store.incomplete(agentId)) {
      await execute(row, row.seq as number, "system:recovery");
    }
  };

  const run = (row: SignRow, actor: string) =>
    locks.run(row.agent_id, async () => {
      await recover(row.agent_id);
      const outcome = await execute(row, store.lastSeq(row.agent_id) + 1, actor);
      cluster.refill(row.agent_id);
      return outcome;
    });

  const approvalView = (id: string): ApprovalView => {
    const row = store.sign(id);
    if (!row) throw new VaultError("APPROVAL_NOT_FOUND");
    return {
      id: row.id,
      agentId: row.agent_id,
      status: row.status as ApprovalView["status"],
      kind: row.kind,
      spends: JSON.parse(row.spends),
      ...(row.result ? { result: JSON.parse(row.result) as SignResult } : {}),
      createdAt: new Date(row.created_ms).toISOString(),
    };
  };

  const service: SigningService = {
    catchUp,

    async recoverAll() {
      for (const row of store.stranded()) {
        inTransaction(store.db, () => {
          store.setSign({ id: row.id, status: "failed", seq: null, result: null, signature: null });
          audit.append({
            type: "sign.abandoned",
            agentId: row.agent_id,
            actor: "system:recovery",
            data: { requestId: row.id },
          });
        });
      }
      for (const agentId of store.agentsWithIncomplete()) {
        await locks.run(agentId, () => recover(agentId));
      }
    },
    approval: approvalView,

    async signDigest(req) {
      const decoded = decodeIntent(req.intent);
      if (decoded.digest.toLowerCase() !== req.digest.toLowerCase()) {
        throw new VaultError("VALIDATION_FAILED", "the digest is not the one the intent encodes", {
          field: "digest",
        });
      }
      const outcome = await service.sign(
        req.agentId,
        req.intent,
        req.actor ?? `agent:${req.agentId}`,
      );
      if (outcome.status === "pending") {
        throw new VaultError("APPROVAL_REQUIRED", undefined, { approvalId: outcome.approvalId });
      }
      return Signature.from(outcome.signature);
    },

    async sign(agentId, intent, actor, opts = {}) {
      agentOrThrow(agentId);
      const decoded = decodeIntent(intent);
      if (decoded.spends.length > 0 && opts.canSpend === false) {
        throw new VaultError("FORBIDDEN_SCOPE", "moving value needs the SPEND scope");
      }
      const previous = store.signedByDigest(agentId, decoded.digest);
      if (previous?.result) {
        // Same bytes signed before: return that signature instead of spending twice.
        const entry = audit.append({
          type: "sign.repeated",
          agentId,
          actor,
          data: { requestId: previous.id, digest: decoded.digest },
        });
        return {
          status: "signed",
          result: JSON.parse(previous.result) as SignResult,
          signature: previous.signature as string,
          auditSeq: entry.seq,
        };
      }
      const d = decide(agentId, intent, decoded, actor, opts.spendLimits);
      if (d.denied)
        throw new VaultError("POLICY_DENIED", d.denied.message, {
          rule: d.denied.rule,
          auditSeq: d.denied.auditSeq,
        });
      if (d.pending) return { status: "pending", approvalId: d.id, auditSeq: d.auditSeq };
      return run(store.sign(d.id) as SignRow, actor);
    },

    async approve(approvalId, actor) {
      const row = store.sign(approvalId);
      if (!row) throw new VaultError("APPROVAL_NOT_FOUND");
      const denial = inTransaction(store.db, () => {
        if (store.sign(approvalId)?.status !== "pending")
          throw new VaultError("APPROVAL_NOT_PENDING");
        const at = now();
        const decoded = decodeIntent(JSON.parse(row.intent) as SignIntent);
        // The caps still apply when the operator approves; only the approval gate is lifted.
        const decision = evaluatePolicy(
          policyOf(row.agent_id),
          decoded,
          usage(row.agent_id, at),
          new Date(at),
        );
        audit.append({
          type: "approval.approved",
          agentId: row.agent_id,
          actor,
          data: { requestId: row.id },
        });
        if (!decision.allow) {
          store.setSign({ id: row.id, status: "denied", seq: null, result: null, signature: null });
          audit.append({
            type: "sign.denied",
            agentId: row.agent_id,
            actor,
            data: { requestId: row.id, rule: decision.rule, reason: decision.message },
          });
          return decision;
        }
        store.setSign({ id: row.id, status: "reserved", seq: null, result: null, signature: null });
        return undefined;
      });
      if (denial) throw new VaultError("POLICY_DENIED", denial.message, { rule: denial.rule });
      return run(store.sign(approvalId) as SignRow, actor);
    },

    reject(approvalId, actor) {
      inTransaction(store.db, () => {
        const row = store.sign(approvalId);
        if (!row) throw new VaultError("APPROVAL_NOT_FOUND");
        if (row.status !== "pending") throw new VaultError("APPROVAL_NOT_PENDING");
        store.setSign({ id: row.id, status: "rejected", seq: null, result: null, signature: null });
        audit.append({
          type: "approval.rejected",
          agentId: row.agent_id,
          actor,
          data: { requestId: row.id },
        });
      });
      return approvalView(approvalId);
    },
  };
  return service;
}
