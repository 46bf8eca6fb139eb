/**
 * Deciding a request (README "Policies"): in ONE transaction the agent's rolling usage is
 * read, the policy is evaluated against it, the budget is reserved and the decision is
 * appended to the audit log, so concurrent requests cannot overdraw. Also the answer to a
 * repeated request: the same bytes signed before return that signature, spending nothing.
 *
 * The transaction first takes the agent's advisory lock (`agent:<id>`, transitions.ts).
 * Why a per-agent lock rather than SERIALIZABLE isolation with retries: the reservation is
 * a read-check-write on one agent's ledger (its spends over 24 h, its requests over the
 * last minute, the spends through its delegation links: a link delegates one agent's
 * authority, so its budget is that agent's too). The lock makes exactly that atomic across
 * every process sharing a PostgreSQL database (on SQLite the one writer already does), it
 * keeps agents independent of one another (agent A's requests never wait for or abort B's),
 * and it never aborts: a second request waits for the first to commit and then sees its
 * reservation, where SERIALIZABLE would fail one of them and make every caller retry (and
 * a retry would append the audit entries again). Approvals, recovery and the sequence
 * numbers take the same lock where they reserve or release.
 *
 * Inside the transaction all reads happen first (awaited), then the policy evaluator, which
 * stays pure and synchronous, decides, then the writes: the audit log's head lock is taken
 * only by the appends at the end, so other agents' appends wait as little as possible.
 *
 * Both run under the per-agent in-process lock too (see index.ts), so two identical requests
 * at the same moment in one process cannot both reserve: the second finds the first signed.
 */
import { randomBytes } from "node:crypto";
import type { AuditLog } from "../../audit/types.js";
import { DAY_MS, evaluatePolicy, MINUTE_MS, usageFromRecords } from "../../policy/evaluate.js";
import { linkCapsPolicy, narrowPolicy, narrowScope, type SpendCaps } from "../../policy/narrow.js";
import { spendsAsJson } from "../../policy/spends.js";
import type { DecodedRequest, Policy, SignIntent, Spend, Usage } from "../../policy/types.js";
import type { DelegationStore } from "../../store/delegations.js";
import type { VaultStore } from "../../store/vault-store.js";
import { agentLockKey, inAgentLock } from "./transitions.js";
import type { DelegatedScope, SignOutcome } from "./types.js";

export type Decision =
  | { id: string; denied: { rule: string; message: string; auditSeq: number } }
  | { id: string; denied?: undefined; pending: boolean; auditSeq: number };

export interface DecideDeps {
  store: VaultStore;
  audit: AuditLog;
  now: () => number;
  /** Where spends through delegation links are counted (needed to serve delegated requests). */
  links?: Pick<DelegationStore, "putLinks" | "linksOf" | "spendsVia" | "requestsVia">;
}

/** Rolling usage from a ledger's rows: spends over the last 24 h, requests over the last minute. */
function usageFrom(
  history: Array<{ ts: number; spends: Spend[] }>,
  requestsLastMinute: number,
  at: number,
): Usage {
  const u = usageFromRecords(history, new Date(at));
  return { ...u, requestsLastMinute: Number(requestsLastMinute) };
}

/**
 * The agent's spends over the rolling 24 h and its requests over the last minute. For a
 * decision, read under the agent's lock (in its transaction).
 */
export async function usageAt(
  store: Pick<VaultStore, "spendsSince" | "requestsSince">,
  agentId: string,
  at: number,
): Promise<Usage> {
  const spends = await store.spendsSince(agentId, at - DAY_MS);
  const requests = await store.requestsSince(agentId, at - MINUTE_MS);
  return usageFrom(spends, requests, at);
}

function linksOf(deps: DecideDeps) {
  if (!deps.links) throw new Error("delegated requests need the delegation store");
  return deps.links;
}

/**
 * Every link with caps of its own is a budget: the spends made through it over the rolling
 * 24 h, plus this one, must fit its caps. A spend through a sub-delegation is recorded
 * against every link above it, so no holder can make an ancestor exceed its caps. Each
 * link's usage is read (awaited) before the evaluator, pure and synchronous, checks it.
 * Call under the agent's lock (in its transaction).
 */
export async function throughLinks(
  deps: DecideDeps,
  scope: DelegatedScope,
  policy: Policy,
  decoded: DecodedRequest,
  at: number,
): Promise<Extract<ReturnType<typeof evaluatePolicy>, { allow: false }> | undefined> {
  const links = linksOf(deps);
  for (const [hop, link] of scope.links.entries()) {
    if (!link.caps) continue;
    const spends = await links.spendsVia(link.cid, at - DAY_MS);
    const requests = await links.requestsVia(link.cid, at - MINUTE_MS);
    const usage = usageFrom(spends, requests, at);
    const d = evaluatePolicy(linkCapsPolicy(policy, link.caps), decoded, usage, new Date(at));
    if (!d.allow) {
      return { ...d, message: `delegation link ${hop} (${link.cid}): ${d.message}` };
    }
  }
  return undefined;
}

/** Evaluates, reserves (status reserved or pending) and audits one request. */
export function decide(
  deps: DecideDeps,
  req: {
    agentId: string;
    intent: SignIntent;
    decoded: DecodedRequest;
    actor: string;
    credential?: string | undefined;
    delegation?: DelegatedScope | undefined;
    /**
     * Why the credential may no longer act, asked again under the agent's lock: a
     * revocation committed on another replica up to this moment reserves nothing.
     */
    recheck?: () => Promise<Error | undefined>;
  },
  spendLimits: SpendCaps[] = [],
): Promise<Decision> {
  const { store, audit } = deps;
  const { agentId, decoded, actor } = req;
  return store.sql.transaction(async (tx) => {
    // First thing: the agent's ledger is read, checked and written by one process at a time.
    await tx.lock(agentLockKey(agentId));
    const refusal = await req.recheck?.();
    if (refusal) throw refusal;
    const at = deps.now();
    const id = `req_${randomBytes(9).toString("base64url")}`;
    // Reads first (awaited) …
    const scope = req.delegation;
    const narrowed = narrowPolicy((await store.policy(agentId))?.policy, spendLimits);
    const policy = scope ? narrowScope(narrowed, scope) : narrowed;
    const usage = await usageAt(store, agentId, at);
    // … then the pure, synchronous evaluator …
    let decision = evaluatePolicy(policy, decoded, usage, new Date(at));
    if (decision.allow && scope && policy)
      decision = (await throughLinks(deps, scope, policy, decoded, at)) ?? decision;
    // … then the reservation and its audit entries, committed together.
    const status = !decision.allow ? "denied" : decision.needsApproval ? "pending" : "reserved";
    await store.putSign({
      id,
      agentId,
      kind: decoded.kind,
      intent: req.intent,
      digest: decoded.digest,
      spends: decoded.spends,
      status,
      createdMs: at,
      credential: req.credential,
    });
    if (scope) await linksOf(deps).putLinks(id, scope.links);
    const facts = {
      requestId: id,
      kind: decoded.kind,
      digest: decoded.digest,
      chainId: decoded.chainId,
      spends: spendsAsJson(decoded.spends),
    };
    await audit.append({ type: "sign.requested", agentId, actor, data: facts });
    if (!decision.allow) {
      const data = { requestId: id, rule: decision.rule, reason: decision.message };
      const entry = await audit.append({ type: "sign.denied", agentId, actor, data });
      return {
        id,
        denied: { rule: decision.rule, message: decision.message, auditSeq: entry.seq },
      };
    }
    const type = status === "pending" ? "approval.requested" : "sign.allowed";
    const entry = await audit.append({ type, agentId, actor, data: { requestId: id } });
    return { id, pending: status === "pending", auditSeq: entry.seq };
  });
}

/** The earlier signature over the same bytes, audited as a repeat, or undefined. */
export function repeated(
  deps: DecideDeps,
  agentId: string,
  digest: string,
  actor: string,
): Promise<SignOutcome | undefined> {
  return inAgentLock(deps.store, agentId, async () => {
    const previous = await deps.store.signedByDigest(agentId, digest);
    if (!previous?.result) return undefined;
    const entry = await deps.audit.append({
      type: "sign.repeated",
      agentId,
      actor,
      data: { requestId: previous.id, digest },
    });
    return {
      status: "signed",
      result: previous.result,
      signature: previous.signature as string,
      auditSeq: entry.seq,
    };
  });
}
