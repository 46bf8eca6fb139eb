/**
 * Executing a reserved request (README "How signing works", steps 4–5): it takes a
 * sequence number (status incomplete), asks the cluster, where every node re-checks the
 * policy on its own record, then stores the signature and appends "sign.signed" in one
 * transaction before releasing it: if the audit log cannot be written, the caller gets
 * AUDIT_UNAVAILABLE and no signature (fail closed). Must run under the agent's in-process
 * lock (index.ts), so the agent's requests reach the cluster in seq order.
 *
 * A new request's number is the agent's last one plus one, read and recorded in one
 * transaction under the agent's database lock (transitions.ts inAgentLock), so no two
 * requests, in this process or another sharing the database, are given the same number.
 * The cluster is asked outside any transaction (no network I/O holds a lock); the writes
 * after it (signed, failed) are each one transaction under the same lock.
 *
 * A Lit agent (issue 10) is signed by its backend instead of the cluster: the pinned Lit
 * Action re-checks the policy, and the vault verifies that the signature recovers to the
 * agent's address before using it. Lit keeps no per-seq record and hands a signature only
 * to the vault, so any Lit failure releases the seq and the budget; "sign.signed" records
 * the backend and, for Lit, the action CID.
 */
import { recoverAddress, SigningKey } from "ethers";
import { VaultError } from "../../errors/index.js";
import { spendsAsJson } from "../../policy/spends.js";
import { policyHash } from "../../policy/validate.js";
import type { BackendName, BackendSignature, BackendSignRequest } from "../../signers/backend.js";
import { NodeRefused } from "../../signers/local/node-client.js";
import type { Agent, SignRecord } from "../../store/vault-store.js";
import { clusterFailure } from "../cluster-errors.js";
import { shapeResult } from "../sign-result.js";
import { inAgentLock, moveSign } from "./transitions.js";
import type { SigningDeps, SignOutcome } from "./types.js";

export type ExecuteDeps = Pick<SigningDeps, "store" | "audit" | "cluster" | "backends">;

type ClusterSignature = Pick<BackendSignature, "signature" | "signers">;

type SignCall = BackendSignRequest;

/**
 * What a Lit backend needs besides the request: the agent's PKP and its current policy
 * with the "lit.policy" authorization the action verifies (Lit backends keep no state).
 */
async function litContext(store: ExecuteDeps["store"], agent: Agent): Promise<Partial<SignCall>> {
  const p = await store.policy(agent.id);
  return {
    ...(agent.pkp ? { pkp: agent.pkp } : {}),
    ...(p
      ? { policy: { version: p.version, policy: p.policy, authorization: p.authorization } }
      : {}),
  };
}

/** A Lit backend's signature, checked to be the agent's before anything uses it. */
async function litSign(
  deps: ExecuteDeps,
  name: BackendName,
  req: SignCall,
): Promise<ClusterSignature> {
  if (!deps.backends) {
    throw new VaultError("BACKEND_NOT_CONFIGURED", `the ${name} backend is not configured here`);
  }
  const backend = await deps.backends.get(name);
  const sig = await backend.signDigest(req);
  let signer: string | undefined;
  try {
    signer = recoverAddress(req.digest, sig.signature);
  } catch {
    signer = undefined;
  }
  if (signer?.toLowerCase() !== req.address.toLowerCase()) {
    throw new VaultError("BACKEND_SIGNATURE_INVALID", undefined, { backend: name });
  }
  return { signature: sig.signature, signers: sig.signers };
}

/**
 * Moves the row to incomplete at its sequence number, in one transaction under the agent's
 * lock: "next" (a reserved row) takes the agent's last number plus one, read in that same
 * transaction; a number (an incomplete row retried) keeps it.
 */
function takeSeq(deps: ExecuteDeps, row: SignRecord, seq: number | "next"): Promise<number> {
  const { store } = deps;
  return inAgentLock(store, row.agentId, async () => {
    const at = seq === "next" ? (await store.lastSeq(row.agentId)) + 1 : seq;
    await moveSign(store, row.id, { status: "incomplete", seq: at });
    return at;
  });
}

/**
 * Runs one reserved row (seq "next": the agent's next number) or incomplete row (its own
 * seq) through the cluster; stores and audits.
 */
export async function execute(
  deps: ExecuteDeps,
  row: SignRecord,
  next: number | "next",
  actor: string,
): Promise<SignOutcome> {
  const { store, cluster } = deps;
  const agent = await store.agent(row.agentId);
  if (!agent) throw new VaultError("AGENT_NOT_FOUND");
  const seq = await takeSeq(deps, row, next);
  const { backend } = agent;
  const req: SignCall = {
    agentId: row.agentId,
    seq,
    intent: row.intent,
    digest: row.digest,
    address: agent.address,
    ...(backend === "local" ? {} : await litContext(store, agent)),
  };
  let sig: ClusterSignature;
  try {
    sig = backend === "local" ? await cluster.signDigest(req) : await litSign(deps, backend, req);
  } catch (err) {
    throw await failed(deps, row, seq, actor, err, backend);
  }
  return signed(deps, row, seq, actor, sig, agent, backend);
}

/**
 * A refusal that no node recorded frees the sequence number and the budget; otherwise
 * (dead node, lost answer) the row stays incomplete and is finished before the agent's
 * next request. Returns the error for the caller.
 */
async function failed(
  deps: ExecuteDeps,
  row: SignRecord,
  seq: number,
  actor: string,
  err: unknown,
  backend: BackendName,
): Promise<VaultError> {
  const { store, audit, cluster } = deps;
  const failure = clusterFailure(err);
  const free =
    backend !== "local" ||
    (err instanceof NodeRefused && (await cluster.seqIsFree?.(row.agentId, seq)));
  await inAgentLock(store, row.agentId, async () => {
    if (free)
      await moveSign(store, row.id, {
        status: failure.code === "POLICY_DENIED" ? "denied" : "failed",
      });
    await audit.append({
      type: "sign.failed",
      agentId: row.agentId,
      actor,
      data: {
        requestId: row.id,
        seq,
        code: failure.code,
        reason: failure.message,
        seqReleased: free === true,
        ...(backend === "local" ? {} : { backend }),
      },
    });
  });
  return failure;
}

function signed(
  deps: ExecuteDeps,
  row: SignRecord,
  seq: number,
  actor: string,
  sig: ClusterSignature,
  agent: Agent,
  backend: BackendName,
): Promise<SignOutcome> {
  const { store, audit } = deps;
  const result = shapeResult(row.intent, sig.signature, agent.address);
  return inAgentLock(store, row.agentId, async () => {
    // Chipotle never reveals a PKP's public key: the first verified signature does.
    if (backend !== "local" && agent.publicKey === "") {
      await store.setAgentPublicKey(
        agent.id,
        SigningKey.recoverPublicKey(row.digest, sig.signature),
      );
    }
    await moveSign(store, row.id, {
      status: "signed",
      seq,
      result,
      signature: sig.signature,
    });
    // The spends and the policy in force go into the entry itself: its Poseidon
    // commitment (src/audit/commitment.ts) is computed from them for compliance proofs.
    const policy = await store.policy(row.agentId);
    const spends = spendsAsJson(row.spends);
    const entry = await audit.append({
      type: "sign.signed",
      agentId: row.agentId,
      actor,
      data: {
        requestId: row.id,
        seq,
        digest: row.digest,
        signers: sig.signers,
        backend,
        // Lit backends name the pinned action that checked the policy and signed.
        ...(backend !== "local" && typeof sig.signers === "string"
          ? { actionCid: sig.signers }
          : {}),
        ...(spends.length > 0 && policy
          ? {
              spends,
              policyVersion: policy.version,
              policyHash: policyHash(policy.policy),
            }
          : {}),
      },
    });
    return { status: "signed" as const, result, signature: sig.signature, auditSeq: entry.seq };
  });
}
