/**
 * Deciding a request (README "Policies"): in ONE synchronous SQLite transaction the policy is
 * evaluated against the agent's rolling usage, the budget is reserved and the decision is
 * appended to the audit log, so concurrent requests cannot overdraw. Also the answer to a
 * repeated request: the same bytes signed before return that signature, spending nothing.
 * Both run under the per-agent lock (see index.ts), so two identical requests at the same
 * moment cannot both reserve: the second finds the first one signed.
 */
import { randomBytes } from "node:crypto";
import type { AuditLog } from "../../audit/types.js";
import { DAY_MS, evaluatePolicy, MINUTE_MS, usageFromRecords } from "../../policy/evaluate.js";
import { linkCapsPolicy, narrowPolicy, narrowScope, type SpendCaps } from "../../policy/narrow.js";
import { spendsFromJson, spendsToJson } from "../../policy/spends.js";
import type { DecodedRequest, Policy, SignIntent } from "../../policy/types.js";
import { inTransaction } from "../../store/db.js";
import type { DelegationStore } from "../../store/delegations.js";
import type { VaultStore } from "../../store/vault-store.js";
import { policyOf } from "../policy-of.js";
import type { SignResult } from "../sign-result.js";
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

export { policyOf };

/** Rolling usage from a ledger: spends over the last 24 h, requests over the last minute. */
function usageFrom(
  ledger: {
    spends(since: number): Array<{ ts: number; spends: string }>;
    requests(since: number): number;
  },
  at: number,
) {
  const history = ledger
    .spends(at - DAY_MS)
    .map((r) => ({ ts: r.ts, spends: spendsFromJson(r.spends) }));
  const u = usageFromRecords(history, new Date(at));
  return { ...u, requestsLastMinute: ledger.requests(at - MINUTE_MS) };
}

/** The agent's spends over the rolling 24 h and its requests over the last minute. */
export function usageAt(store: VaultStore, agentId: string, at: number) {
  const spends = (since: number) => store.spendsSince(agentId, since);
  return usageFrom({ spends, requests: (since) => store.requestsSince(agentId, since) }, at);
}

function linksOf(deps: DecideDeps) {
  if (!deps.links) throw new Error("delegated requests need the delegation store");
  return deps.links;
}

/**
 * Every link with caps of its own is a budget: the spends made through it over the rolling
 * 24 h, plus this one, must fit its caps. A spend through a sub-delegation is recorded
 * against every link above it, so no holder can make an ancestor exceed its caps.
 */
export function throughLinks(
  deps: DecideDeps,
  scope: DelegatedScope,
  policy: Policy,
  decoded: DecodedRequest,
  at: number,
): Extract<ReturnType<typeof evaluatePolicy>, { allow: false }> | undefined {
  const links = linksOf(deps);
  for (const [hop, link] of scope.links.entries()) {
    if (!link.caps) continue;
    const spends = (since: number) => links.spendsVia(link.cid, since);
    const usage = usageFrom(
      { spends, requests: (since) => links.requestsVia(link.cid, since) },
      at,
    );
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
  },
  spendLimits: SpendCaps[] = [],
): Decision {
  const { store, audit } = deps;
  const { agentId, decoded, actor } = req;
  return inTransaction(store.db, () => {
    const at = deps.now();
    const id = `req_${randomBytes(9).toString("base64url")}`;
    const spends = spendsToJson(decoded.spends);
    const facts = {
      requestId: id,
      kind: decoded.kind,
      digest: decoded.digest,
      chainId: decoded.chainId,
      spends: JSON.parse(spends),
    };
    audit.append({ type: "sign.requested", agentId, actor, data: facts });
    const scope = req.delegation;
    const narrowed = narrowPolicy(policyOf(store, agentId), spendLimits);
    const policy = scope ? narrowScope(narrowed, scope) : narrowed;
    let decision = evaluatePolicy(policy, decoded, usageAt(store, agentId, at), new Date(at));
    if (decision.allow && scope && policy)
      decision = throughLinks(deps, scope, policy, decoded, at) ?? decision;
    const status = !decision.allow ? "denied" : decision.needsApproval ? "pending" : "reserved";
    store.putSign({
      id,
      agent_id: agentId,
      seq: null,
      kind: decoded.kind,
      intent: JSON.stringify(req.intent),
      digest: decoded.digest,
      spends,
      status,
      result: null,
      signature: null,
      created_ms: at,
      credential: req.credential ?? null,
    });
    if (scope) linksOf(deps).putLinks(id, scope.links);
    if (!decision.allow) {
      const data = { requestId: id, rule: decision.rule, reason: decision.message };
      const entry = audit.append({ type: "sign.denied", agentId, actor, data });
      return {
        id,
        denied: { rule: decision.rule, message: decision.message, auditSeq: entry.seq },
      };
    }
    const type = status === "pending" ? "approval.requested" : "sign.allowed";
    const entry = audit.append({ type, agentId, actor, data: { requestId: id } });
    return { id, pending: status === "pending", auditSeq: entry.seq };
  });
}

/** The earlier signature over the same bytes, audited as a repeat, or undefined. */
export function repeated(
  deps: DecideDeps,
  agentId: string,
  digest: string,
  actor: string,
): SignOutcome | undefined {
  const previous = deps.store.signedByDigest(agentId, digest);
  if (!previous?.result) return undefined;
  const entry = deps.audit.append({
    type: "sign.repeated",
    agentId,
    actor,
    data: { requestId: previous.id, digest },
  });
  return {
    status: "signed",
    result: JSON.parse(previous.result) as SignResult,
    signature: previous.signature as string,
    auditSeq: entry.seq,
  };
}
