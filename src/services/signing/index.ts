/**
 * Policy-gated signing (README "How signing works"), composed from one module per job:
 * decide.ts (policy, budget reservation, repeats), execute.ts (the cluster call, audit,
 * result), approvals.ts (parked requests), recovery.ts (crash recovery), with every status
 * change going through transitions.ts.
 *
 * Everything that reads or changes an agent's signing state runs under that agent's lock,
 * in arrival order: finish what a crash or a dead node left incomplete, re-check that the
 * credential is still live, answer a repeat with the earlier signature, decide (reserve),
 * and only then ask the cluster. So two identical requests at the same moment reserve the
 * budget once and get the same signature, and a credential revoked while its request was
 * queued reserves and signs nothing.
 *
 * The agent's lock has three layers, for processes sharing a PostgreSQL database:
 *  - the in-process KeyedMutex orders a whole request (cluster call included) per agent in
 *    arrival order, so a process holds at most one of the next layer per agent;
 *  - a held lock (Sql.hold, "signing:<id>", outside any transaction) makes that whole
 *    request the only one for the agent across processes: the nodes take the agent's
 *    sequence numbers strictly in order, and a replica's recovery can take a row for
 *    stranded or unfinished only when no live process is at it (a holder that dies lets
 *    go with its connection);
 *  - each database step (decide's reservation, the sequence number, the result, an
 *    approval, a release) is one transaction that first takes the agent's advisory lock
 *    (transitions.ts inAgentLock, "agent:<id>"): by that layer alone the budget is never
 *    overdrawn and no sequence number is given twice, whatever runs outside this service.
 * No transaction spans a cluster call. The two database keys differ: a transaction's lock
 * never waits for the held lock its own request holds.
 */

import { Signature } from "ethers";
import { VaultError } from "../../errors/index.js";
import { decodeIntent } from "../../policy/decode.js";
import type { DecodedRequest, SignIntent } from "../../policy/types.js";
import { holding } from "../../store/sql/index.js";
import type { SignRecord } from "../../store/vault-store.js";
import { KeyedMutex } from "../mutex.js";
import { approvalView, approveDecision, denyRevoked, pendingRow, reject } from "./approvals.js";
import { decide, repeated } from "./decide.js";
import { execute } from "./execute.js";
import { type AgentExclusive, finishIncomplete, recoverAll, releaseStranded } from "./recovery.js";
import type { SigningDeps, SigningService, SignOptions, SignOutcome } from "./types.js";

export { spendsToJson } from "../../policy/spends.js";
export type {
  ApprovalView,
  SigningCluster,
  SigningDeps,
  SigningService,
  SignOptions,
  SignOutcome,
} from "./types.js";

export function createSigningService(deps: SigningDeps): SigningService {
  const { store, cluster } = deps;
  const ctx = { ...deps, now: deps.now ?? Date.now };
  const locks = new KeyedMutex();

  /** Runs `fn` as the agent's only signing work: first in this process, then everywhere. */
  const exclusive: AgentExclusive = (agentId, fn) =>
    locks.run(agentId, () => holding(store.sql, `signing:${agentId}`, fn));

  /** Runs `fn` under the agent's lock, after finishing what was left incomplete. */
  const locked = <T>(agentId: string, fn: () => Promise<T> | T) =>
    exclusive(agentId, async () => {
      await finishIncomplete(ctx, agentId);
      return fn();
    });

  /** Gives a reserved row the agent's next sequence number and signs it. Under the lock. */
  const signNext = async (row: SignRecord, actor: string) => {
    const outcome = await execute(ctx, row, "next", actor);
    // Presignatures exist only for the local cluster; Lit agents have none to top up.
    const agent = await store.agent(row.agentId);
    if (agent?.backend === "local") cluster.refill(row.agentId);
    return outcome;
  };

  /** Why the credential may no longer act (undefined: live, or none to check). */
  const refusalOf = async (credential: string | undefined) =>
    credential === undefined ? undefined : await deps.credentialRefusal?.(credential);

  /** The door admitted the credential; it may have been revoked while the request queued. */
  const assertStillLive = async (credential: string | undefined) => {
    const refusal = await refusalOf(credential);
    if (refusal) throw refusal;
  };

  const decideAndSign = async (
    agentId: string,
    intent: SignIntent,
    decoded: DecodedRequest,
    actor: string,
    opts: SignOptions,
  ): Promise<SignOutcome> => {
    await assertStillLive(opts.credential);
    const repeat = await repeated(ctx, agentId, decoded.digest, actor);
    if (repeat) return repeat;
    const req = {
      agentId,
      intent,
      decoded,
      actor,
      credential: opts.credential,
      delegation: opts.delegation,
      recheck: () => refusalOf(opts.credential),
    };
    const d = await decide(ctx, req, opts.spendLimits);
    if (d.denied) {
      const { rule, message, auditSeq } = d.denied;
      throw new VaultError("POLICY_DENIED", message, { rule, auditSeq });
    }
    if (d.pending) return { status: "pending", approvalId: d.id, auditSeq: d.auditSeq };
    return signNext((await store.sign(d.id)) as SignRecord, actor);
  };

  const service: SigningService = {
    recoverAll: () => recoverAll(ctx, exclusive),
    releaseStranded: () => releaseStranded(ctx, exclusive),
    approval: (id) => approvalView(ctx, id),
    reject: (id, actor) => reject(ctx, id, actor),

    async sign(agentId, intent, actor, opts = {}) {
      if (!(await store.agent(agentId))) throw new VaultError("AGENT_NOT_FOUND");
      const decoded = decodeIntent(intent);
      if (decoded.spends.length > 0 && opts.canSpend === false) {
        throw new VaultError("FORBIDDEN_SCOPE", "moving value needs the SPEND scope");
      }
      return locked(agentId, () => decideAndSign(agentId, intent, decoded, actor, opts));
    },

    async approve(approvalId, actor) {
      const { agentId } = await pendingRow(ctx, approvalId);
      return locked(agentId, async () => {
        // A credential revoked while its request was parked: an approval signs nothing.
        const credential = (await pendingRow(ctx, approvalId)).credential ?? undefined;
        const refusal = await refusalOf(credential);
        if (refusal) await denyRevoked(ctx, approvalId, actor, refusal.message);
        return signNext(await approveDecision(ctx, approvalId, actor), actor);
      });
    },

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
  };
  return service;
}
