/**
 * Approvals: a request above the policy's `approvalAbove` is parked (status pending, by
 * decide.ts) until an operator approves or rejects it. Approving lifts only the approval
 * gate: the caps, chains and validity are evaluated again at that moment, against the usage
 * of that moment, so a parked request cannot overdraw a budget spent while it waited.
 *
 * Approving reserves and rejecting or denying ends a parked request: each is one
 * transaction under the agent's lock (transitions.ts inAgentLock, the lock decide.ts
 * takes), so an approval's re-check and reservation cannot interleave with another
 * request's, and an approve and a reject of the same request on two processes cannot both
 * move it out of pending.
 */
import { VaultError } from "../../errors/index.js";
import { decodeIntent } from "../../policy/decode.js";
import { evaluatePolicy } from "../../policy/evaluate.js";
import { spendsAsJson } from "../../policy/spends.js";
import type { SignRecord } from "../../store/vault-store.js";
import { type DecideDeps, throughLinks, usageAt } from "./decide.js";
import { inAgentLock, moveSign } from "./transitions.js";
import type { ApprovalView } from "./types.js";

export async function approvalView(
  deps: Pick<DecideDeps, "store">,
  id: string,
): Promise<ApprovalView> {
  const row = await deps.store.sign(id);
  if (!row) throw new VaultError("APPROVAL_NOT_FOUND");
  return {
    id: row.id,
    agentId: row.agentId,
    status: row.status,
    kind: row.kind,
    spends: spendsAsJson(row.spends),
    ...(row.result ? { result: row.result } : {}),
    createdAt: new Date(row.createdMs).toISOString(),
  };
}

export async function pendingRow(deps: Pick<DecideDeps, "store">, id: string): Promise<SignRecord> {
  const row = await deps.store.sign(id);
  if (!row) throw new VaultError("APPROVAL_NOT_FOUND");
  if (row.status !== "pending") throw new VaultError("APPROVAL_NOT_PENDING");
  return row;
}

/**
 * Runs `fn` with the pending row, read again in a transaction holding its agent's lock
 * (the first read only names the agent, whose lock must come before anything else).
 */
async function withPendingRow<T>(
  deps: Pick<DecideDeps, "store">,
  id: string,
  fn: (row: SignRecord) => Promise<T>,
): Promise<T> {
  const { agentId } = await pendingRow(deps, id);
  return inAgentLock(deps.store, agentId, async () => fn(await pendingRow(deps, id)));
}

/**
 * The operator's approval, decided in one transaction: the row becomes reserved (returned,
 * to be executed) or, if the policy no longer allows it, denied (POLICY_DENIED thrown).
 */
export async function approveDecision(
  deps: DecideDeps,
  id: string,
  actor: string,
): Promise<SignRecord> {
  const { store, audit } = deps;
  const denial = await withPendingRow(deps, id, async (row) => {
    const at = deps.now();
    const decoded = decodeIntent(row.intent);
    const agentId = row.agentId;
    // Reads first (awaited), then the pure evaluator.
    const policy = (await store.policy(agentId))?.policy;
    const usage = await usageAt(store, agentId, at);
    let decision = evaluatePolicy(policy, decoded, usage, new Date(at));
    // A delegated request: each link's budget is checked again, against what was spent
    // through it while this request was parked.
    const links = (await deps.links?.linksOf(id)) ?? [];
    if (decision.allow && policy && links.length > 0)
      decision = (await throughLinks(deps, { links }, policy, decoded, at)) ?? decision;
    // A mandate's budget holds only while it is valid: past its end, nothing it covered signs.
    const lapsed = links.find((l) => l.expiresMs !== undefined && l.expiresMs <= at);
    if (decision.allow && lapsed)
      decision = { allow: false, rule: "validUntil", message: `${lapsed.cid} has expired` };
    await audit.append({ type: "approval.approved", agentId, actor, data: { requestId: id } });
    if (decision.allow) {
      await moveSign(store, id, { status: "reserved" });
      // The value moves now: count it in the rolling window from now, as the nodes do.
      await store.setReservedAt(id, at);
      return undefined;
    }
    await moveSign(store, id, { status: "denied" });
    const data = { requestId: id, rule: decision.rule, reason: decision.message };
    await audit.append({ type: "sign.denied", agentId, actor, data });
    return decision;
  });
  if (denial) throw new VaultError("POLICY_DENIED", denial.message, { rule: denial.rule });
  return (await store.sign(id)) as SignRecord;
}

export async function reject(deps: DecideDeps, id: string, actor: string): Promise<ApprovalView> {
  const { store, audit } = deps;
  await withPendingRow(deps, id, async (row) => {
    await moveSign(store, id, { status: "rejected" });
    await audit.append({
      type: "approval.rejected",
      agentId: row.agentId,
      actor,
      data: { requestId: id },
    });
  });
  return approvalView(deps, id);
}

/**
 * The credential that made a parked request was revoked before the operator approved it:
 * the request is denied (audited, rule "credential") and APPROVAL_NOT_SIGNED thrown, so
 * revoking a leaked key also stops what it left waiting for approval.
 */
export async function denyRevoked(
  deps: DecideDeps,
  id: string,
  actor: string,
  reason: string,
): Promise<never> {
  const { store, audit } = deps;
  await withPendingRow(deps, id, async (row) => {
    await moveSign(store, id, { status: "denied" });
    const data = { requestId: id, rule: "credential", reason };
    await audit.append({ type: "sign.denied", agentId: row.agentId, actor, data });
  });
  throw new VaultError(
    "APPROVAL_NOT_SIGNED",
    "the credential that made this request was revoked while it waited: nothing is signed",
  );
}
