/** Shared fixtures for the compliance-proof tests: small circuit, synthetic logs, a stand-in cluster key. */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { Wallet } from "ethers";
import { openAuditLog } from "../../src/audit/log.js";
import type { AuditLog } from "../../src/audit/types.js";
import type { Policy } from "../../src/policy/types.js";
import { policyHash } from "../../src/policy/validate.js";
import { openDatabase } from "../../src/store/db.js";
import type { ProofJobRow, ProofJobStore } from "../../src/store/proof-jobs.js";
import { createSqliteSql } from "../../src/store/sql/sqlite.js";
import { checkpointDigest } from "../../src/threshold/checkpoint.js";
import {
  BUNDLE_FORMAT,
  type Bundle,
  type BundleCheckpoint,
  GENESIS_CHECKPOINT,
} from "../../src/zk/bundle.js";
import { prepareRange, proveBatches } from "../../src/zk/prover.js";
import {
  type Artifacts,
  ensureArtifacts,
  sourceHash,
  TRANSCRIPT_FORMAT,
} from "../../src/zk/setup.js";
import { statementText } from "../../src/zk/statement.js";

/** Small enough for a 2^13 ptau. */
export const TEST_PARAMS = { n: 4, depth: 2 };

/**
 * The tests' setup is built once per machine, not per checkout: under the user's cache
 * folder, keyed by the circuit source's hash and the transcript format (so checkouts with
 * different circuits or setup code never share artefacts), unless VAULT_ZK_BUILD_DIR
 * names a folder.
 */
export const TEST_BUILD_ROOT =
  process.env.VAULT_ZK_BUILD_DIR ||
  join(
    process.env.XDG_CACHE_HOME || join(homedir(), ".cache"),
    "agent-vault",
    "circuits",
    `${sourceHash(TEST_PARAMS).slice(0, 16)}-${TRANSCRIPT_FORMAT.split("@")[1]}`,
  );

/** Builds (or loads) the tests' setup; test/zk/prepare.ts runs it once per test run. */
export function buildTestArtifacts(): Promise<Artifacts> {
  return ensureArtifacts({
    ...TEST_PARAMS,
    buildRoot: TEST_BUILD_ROOT,
    log: (line) => process.stderr.write(`[circuits:setup] ${line}\n`),
  });
}

/**
 * The tests' setup. Under scripts/run-tests.mjs, test/zk/prepare.ts builds it beside the
 * other files and writes TEST_ZK_SETUP_MARKER when done: wait for that rather than start
 * a second build of the same circuit.
 */
export async function testArtifacts(): Promise<Artifacts> {
  const marker = process.env.TEST_ZK_SETUP_MARKER;
  if (marker) {
    const deadline = Date.now() + 15 * 60_000;
    while (!existsSync(marker)) {
      if (Date.now() > deadline) throw new Error("the circuit setup did not finish in 15 min");
      await new Promise((r) => setTimeout(r, 250));
    }
    const outcome = readFileSync(marker, "utf8");
    if (outcome !== "ok") throw new Error(`the circuit setup failed: ${outcome}`);
  }
  return buildTestArtifacts();
}

export const AGENT = "agt_zk_test";
export const OTHER = "agt_someone_else";
export const ALICE = "0x1111111111111111111111111111111111111111";
export const BOB = "0x2222222222222222222222222222222222222222";
export const MALLORY = "0x9999999999999999999999999999999999999999";

export const POLICY: Policy = {
  chains: [84532],
  assets: { ETH: { maxPerTx: "0.01", maxPer24h: "0.05" } },
  recipients: [ALICE, BOB],
  allowMessageSigning: true,
};

export const WEI = (eth: string) => BigInt(Math.round(Number(eth) * 1e6)) * 10n ** 12n;

export function freshLog(): Promise<AuditLog> {
  const dir = mkdtempSync(join(tmpdir(), "av-zk-"));
  return openAuditLog(createSqliteSql(openDatabase(join(dir, "vault.sqlite"))));
}

/**
 * The whole of `log` prepared for AGENT's ETH spends at the test size, as the vault would
 * (stored zk heads checked); `check: false` hands a violating log to the circuit itself.
 */
export async function prepareLog(
  log: AuditLog,
  opts: { check?: boolean; bound?: bigint; policy?: Policy } = {},
) {
  const toSeq = (await log.head()).seq;
  return prepareRange({
    agentId: AGENT,
    asset: "ETH",
    policy: opts.policy ?? POLICY,
    policyVersion: 1,
    bound: opts.bound ?? WEI("0.05"),
    entries: await log.list(1, toSeq),
    startZkHead: "0",
    zkV2Start: await log.zkV2Start(),
    stored: await log.zkRange(1, toSeq),
    ...TEST_PARAMS,
    check: opts.check ?? true,
  });
}

export function appendSpend(
  log: AuditLog,
  opts: { agentId?: string; amount: bigint; recipient?: string; policy?: Policy; version?: number },
) {
  const policy = opts.policy ?? POLICY;
  return log.append({
    type: "sign.signed",
    agentId: opts.agentId ?? AGENT,
    actor: "test",
    data: {
      requestId: `req_${Math.random().toString(36).slice(2)}`,
      seq: 1,
      digest: `0x${"ab".repeat(32)}`,
      signers: [0, 1],
      spends: [
        {
          chainId: 84532,
          asset: "ETH",
          amount: opts.amount.toString(),
          recipient: opts.recipient ?? ALICE,
        },
      ],
      policyVersion: opts.version ?? 1,
      policyHash: policyHash(policy),
    },
  });
}

export function appendNoise(log: AuditLog, agentId: string | null = AGENT) {
  return log.append({
    type: "sign.requested",
    agentId,
    actor: "test",
    data: { note: "not a spend" },
  });
}

/** A stand-in for the cluster key: signs Checkpoint{seq, head, zkHead} like the nodes do. */
export const CLUSTER = Wallet.createRandom();

export async function signCheckpoint(
  log: AuditLog,
  seq: number,
  key = CLUSTER,
): Promise<BundleCheckpoint> {
  if (seq === 0) return { ...GENESIS_CHECKPOINT, signers: [] };
  const hash = ((await log.get(seq)) as { hash: string }).hash;
  const zkHead = (await log.zkHeadAt(seq)) as string;
  const signature = key.signingKey.sign(checkpointDigest(seq, hash, zkHead)).serialized;
  return { seq, hash, zkHead, signature, signers: [0, 1], signedAt: new Date().toISOString() };
}

/** Proves log entries fromSeq..toSeq in process and assembles a bundle. */
export async function makeBundle(
  log: AuditLog,
  art: Artifacts,
  opts: { fromSeq?: number; toSeq?: number; bound?: bigint; policy?: Policy } = {},
): Promise<Bundle> {
  const params = { n: art.n, depth: art.depth };
  const fromSeq = opts.fromSeq ?? 1;
  const toSeq = opts.toSeq ?? (await log.head()).seq;
  const policy = opts.policy ?? POLICY;
  const prepared = prepareRange({
    agentId: AGENT,
    asset: "ETH",
    policy,
    policyVersion: 1,
    bound: opts.bound ?? WEI("0.05"),
    entries: await log.list(fromSeq, toSeq - fromSeq + 1),
    startZkHead: (await log.zkHeadAt(fromSeq - 1)) as string,
    zkV2Start: await log.zkV2Start(),
    stored: await log.zkRange(fromSeq, toSeq),
    ...params,
  });
  const batches = await proveBatches(prepared, art);
  return {
    format: BUNDLE_FORMAT,
    setup: art.setup,
    statement: statementText(prepared.claim),
    claim: prepared.claim,
    policy,
    clusterAddress: CLUSTER.address,
    checkpoints: {
      start: await signCheckpoint(log, fromSeq - 1),
      end: await signCheckpoint(log, toSeq),
    },
    batches: batches.map(({ seconds: _s, ...b }) => b),
    verificationKey: art.vkey,
    transcript: art.transcript,
    createdAt: new Date().toISOString(),
  };
}

/** Runs a CLI command in this process (test-only listings apply), capturing what it prints. */
export async function cli(run: () => Promise<number | undefined>) {
  const out: string[] = [];
  const err: string[] = [];
  const [log0, error0] = [console.log, console.error];
  console.log = (...a: unknown[]) => out.push(a.map(String).join(" "));
  console.error = (...a: unknown[]) => err.push(a.map(String).join(" "));
  try {
    const code = await run();
    return { code, stdout: out.join("\n"), stderr: err.join("\n") };
  } finally {
    console.log = log0;
    console.error = error0;
  }
}

const GENESIS = { ...GENESIS_CHECKPOINT, signers: [] };
const STORED_REQUEST = JSON.stringify({
  asked: { agentId: "agt_x", fromSeq: 1, toSeq: 1 },
  asset: "ETH",
  bound: "1",
  policy: {},
  policyVersion: 1,
  fromSeq: 1,
  toSeq: 1,
  start: GENESIS,
  end: { ...GENESIS, seq: 1 },
});

/**
 * A proof job as the store keeps it, for agent agt_x over seq 1 (a log that does not hold
 * that range cannot prove it); `request` replaces its readable stored request.
 */
export function storedJob(
  id: string,
  status: ProofJobRow["status"],
  request = STORED_REQUEST,
): Parameters<ProofJobStore["put"]>[0] {
  return {
    id,
    agent_id: "agt_x",
    dedup_key: `k_${id}`,
    status,
    request,
    from_seq: 1,
    to_seq: 1,
    progress_done: 0,
    progress_batches: 1,
    created_at: new Date().toISOString(),
  };
}
