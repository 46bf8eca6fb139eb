/**
 * Playing the vault by hand against real signer-node processes: presignatures on
 * chosen quorums, contributions with chosen catch-up records, combine, recovery of v.
 * Not a test file (no .test.ts): shared by the cluster tests in test/signers/local
 * and test/node.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { parseEther, recoverAddress, Signature } from "ethers";
import { authorize } from "../../../src/auth/admin-authority.js";
import { decodeIntent } from "../../../src/policy/decode.js";
import type { Policy, SignIntent } from "../../../src/policy/types.js";
import type { NodeResult } from "../../../src/protocol/node/ops.js";
import type { CatchUpRecord, NodeIntent } from "../../../src/protocol/node/wire.js";
import { NodeRefused } from "../../../src/signers/local/node-client.js";
import { inboxFor, runPresign } from "../../../src/signers/local/protocol.js";
import type { SealedMessage } from "../../../src/transport/p2p.js";
import { TEST_ADMIN_KEY, type TestCluster } from "../../helpers/cluster.js";

export const CHAIN_ID = 84532;
export const RECIPIENT = "0x1111111111111111111111111111111111111111";

/** Runs a DKG for a new agent with the operator's authorization; returns its address. */
export async function createAgent(
  tc: TestCluster,
  agentId: string,
  policy: Policy,
  version = 1,
): Promise<string> {
  const authorization = authorize(TEST_ADMIN_KEY, {
    op: "agent.create",
    agentId,
    policyVersion: version,
    policy,
  });
  const key = await tc.cluster.generateKey(agentId, authorization, {
    version,
    policy: JSON.stringify(policy),
  });
  return key.address;
}

/** A plain EIP-1559 ETH transfer of `eth` (decimal string) with the given nonce. */
export function ethTransfer(eth: string, nonce: number, to = RECIPIENT): SignIntent {
  return {
    kind: "transaction",
    tx: {
      chainId: CHAIN_ID,
      to,
      value: parseEther(eth).toString(),
      data: "0x",
      nonce,
      gasLimit: 21000,
      maxFeePerGas: "1000000000",
      maxPriorityFeePerGas: "1000000",
    },
  };
}

export function digestOf(intent: SignIntent): string {
  return decodeIntent(intent).digest;
}

export function newSessionId(): string {
  return `sig-${randomUUID()}`;
}

/** Makes a presignature for exactly these nodes; returns its id. */
export async function presign(tc: TestCluster, agentId: string, quorum: number[]): Promise<string> {
  const id = `ps-${randomUUID()}`;
  await runPresign(
    quorum.map((i) => tc.cluster.client(i)),
    agentId,
    id,
  );
  return id;
}

export interface ContributeBody {
  agentId: string;
  seq: number;
  intent: NodeIntent;
  presigId: string;
  catchUp?: CatchUpRecord[];
  combiner?: number;
  combineWith?: SealedMessage[];
}

export function contribute(
  tc: TestCluster,
  index: number,
  sessionId: string,
  body: ContributeBody,
): Promise<NodeResult<"sign.contribute">> {
  return tc.cluster.client(index).call("sign.contribute", sessionId, body);
}

export async function agentState(
  tc: TestCluster,
  index: number,
  agentId: string,
): Promise<{ address: string; lastSeq: number; policyVersion: number; presigs: string[] }> {
  return tc.cluster.client(index).call("agent.state", `state-${randomUUID()}`, { agentId });
}

/** The 65-byte signature (r, s, v) that recovers to `address`, or an assertion failure. */
export function recoverSignature(
  rs: { r: string; s: string },
  digest: string,
  address: string,
): string {
  for (const v of [27, 28] as const) {
    const sig = Signature.from({ r: `0x${rs.r}`, s: `0x${rs.s}`, v });
    if (recoverAddress(digest, sig) === address) return sig.serialized;
  }
  assert.fail("the combined signature does not recover to the agent's address");
}

export interface HandSign {
  agentId: string;
  address: string;
  quorum: number[];
  seq: number;
  intent: SignIntent;
  /** Catch-up records shown to each node, by node index. */
  catchUp?: Record<number, CatchUpRecord[]>;
  /** A presignature already made for this quorum; otherwise one is made. */
  presigId?: string;
}

/**
 * One complete signature as the vault would make it: every quorum node contributes
 * in one session, the first combines, the others release. Returns the signed record,
 * as the vault would show it to a node that is behind.
 */
export async function signByHand(tc: TestCluster, req: HandSign): Promise<CatchUpRecord> {
  const presigId = req.presigId ?? (await presign(tc, req.agentId, req.quorum));
  const sid = newSessionId();
  const replies = await Promise.all(
    req.quorum.map((i) =>
      contribute(tc, i, sid, {
        agentId: req.agentId,
        seq: req.seq,
        intent: req.intent,
        presigId,
        catchUp: req.catchUp?.[i] ?? [],
      }),
    ),
  );
  const [combiner, ...others] = req.quorum as [number, ...number[]];
  const rs = await tc.cluster.client(combiner).call("sign.combine", sid, {
    messages: inboxFor(combiner, replies),
  });
  await Promise.all(others.map((i) => tc.cluster.client(i).call("sign.release", sid, {})));
  const digest = digestOf(req.intent);
  for (const r of replies) assert.equal(r.digest, digest, "a node derived another digest");
  return { seq: req.seq, intent: req.intent, signature: recoverSignature(rs, digest, req.address) };
}

/** An assert.rejects predicate: a node answered and refused with `code` (and these details). */
export function refused(code: string, details: Record<string, unknown> = {}) {
  return (err: unknown): true => {
    assert.ok(err instanceof NodeRefused, `expected a node refusal ${code}, got: ${String(err)}`);
    assert.equal(err.code, code, `refusal code (message: ${err.message})`);
    for (const [k, v] of Object.entries(details)) {
      assert.deepEqual(err.details[k], v, `refusal detail ${k}`);
    }
    return true;
  };
}

/** SIGKILLs one node process and waits until the supervisor has seen it exit. */
export async function killNode(tc: TestCluster, index: number): Promise<void> {
  const pid = () => tc.supervisor.list().find((s) => s.index === index)?.pid;
  assert.ok(pid() !== undefined, `node-${index} is not running`);
  tc.supervisor.kill(index, "SIGKILL");
  for (let i = 0; i < 200 && pid() !== undefined; i++) {
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(pid(), undefined, `node-${index} did not exit after SIGKILL`);
  // Let the vault side see its kept-alive sockets to the dead process close, too.
  await new Promise((r) => setTimeout(r, 50));
}

/** Signs the next request through the cluster, as the vault does, and files the record for catch-up. */
export async function signNextThroughCluster(
  tc: TestCluster,
  agentId: string,
  address: string,
  seq: number,
) {
  const intent = ethTransfer("0.001", seq - 1);
  const digest = digestOf(intent);
  const sig = await tc.cluster.signDigest({ agentId, seq, intent, digest, address });
  assert.equal(recoverAddress(digest, sig.signature), address);
  tc.records.set(agentId, [
    ...(tc.records.get(agentId) ?? []),
    { seq, intent, signature: sig.signature },
  ]);
  return sig;
}
