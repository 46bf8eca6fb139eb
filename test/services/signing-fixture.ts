/**
 * The signing service over a real SQLite file and a fake cluster, for the fast unit tier.
 * The fake stands in for the signer nodes only: it signs with a real secp256k1 key (ethers)
 * and keeps the nodes' own record per agent (seq → digest), refusing what they refuse: a
 * digest already signed at another seq (DUPLICATE_DIGEST) and a seq taken by other bytes.
 * Each call can be told to behave otherwise (refuse, hang, lose its answer, be slow).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SigningKey, Wallet } from "ethers";
import { openAuditLog } from "../../src/audit/log.js";
import type { AuditLog } from "../../src/audit/types.js";
import { validatePolicy } from "../../src/policy/validate.js";
import {
  createSigningService,
  type SigningCluster,
  type SigningService,
} from "../../src/services/signing.js";
import { QuorumUnavailable } from "../../src/signers/local/cluster.js";
import { NodeRefused, NodeUnreachable } from "../../src/signers/local/node-client.js";
import { openDatabase } from "../../src/store/db.js";
import { openDelegationStore } from "../../src/store/delegations.js";
import { createSqliteSql } from "../../src/store/sql/sqlite.js";
import { openVaultStore, type VaultStore } from "../../src/store/vault-store.js";

export const CHAIN = 84532;
export const USDC = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";
export const RECIPIENT = "0x4444444444444444444444444444444444444444";

export const POLICY = validatePolicy({
  chains: [CHAIN],
  assets: {
    ETH: { maxPerTx: "0.01", maxPer24h: "0.05" },
    [USDC]: { maxPerTx: "10", maxPer24h: "11", approvalAbove: "5" },
  },
  allowMessageSigning: true,
  allowTypedData: ["TransferWithAuthorization"],
  rateLimitPerMinute: 1000,
  validUntil: "2030-01-01T00:00:00Z",
});

/** What one signDigest call does instead of signing at once. */
export type Behaviour =
  | { kind: "refuse"; code: string; details?: Record<string, unknown> }
  | { kind: "unavailable" }
  | { kind: "hang" } // never answers, records nothing (the vault dies meanwhile)
  | { kind: "hang-after-record" } // the nodes recorded the seq, then the vault died
  | { kind: "lose-answer" } // the nodes recorded the seq, the answer was lost
  | { kind: "gate"; until: Promise<void> }; // answers once `until` resolves

type Req = Parameters<SigningCluster["signDigest"]>[0];

export class FakeCluster implements SigningCluster {
  readonly key = new SigningKey(`0x${"42".repeat(32)}`);
  readonly address = new Wallet(this.key.privateKey).address;
  readonly calls: Req[] = [];
  readonly records = new Map<string, Map<number, string>>();
  readonly refills: string[] = [];
  private readonly plan: Behaviour[] = [];

  /** The next calls behave as given, in order; later calls sign at once. */
  next(...b: Behaviour[]): this {
    this.plan.push(...b);
    return this;
  }

  refill(agentId: string): void {
    this.refills.push(agentId);
  }

  async seqIsFree(agentId: string, seq: number): Promise<boolean> {
    return !this.records.get(agentId)?.has(seq);
  }

  async signDigest(req: Req) {
    this.calls.push(req);
    const b = this.plan.shift();
    if (b?.kind === "hang") return new Promise<never>(() => {});
    if (b?.kind === "gate") await b.until;
    if (b?.kind === "unavailable")
      throw new QuorumUnavailable("no quorum of 2 signer nodes; down: node-1, node-2");
    if (b?.kind === "refuse")
      throw new NodeRefused(0, b.code, `refused: ${b.code}`, b.details ?? {});
    this.record(req);
    if (b?.kind === "hang-after-record") return new Promise<never>(() => {});
    if (b?.kind === "lose-answer") throw new NodeUnreachable(1, "the connection was reset");
    const sig = this.key.sign(req.digest);
    return { signature: sig.serialized, r: sig.r, s: sig.s, v: sig.v, signers: [0, 1] };
  }

  /** What every node checks before contributing (src/node/protocol/sign.ts). */
  private record(req: Req): void {
    const mine = this.records.get(req.agentId) ?? new Map<number, string>();
    this.records.set(req.agentId, mine);
    const held = mine.get(req.seq);
    if (held !== undefined && held !== req.digest)
      throw new NodeRefused(0, "SEQ_TAKEN", "this seq holds other bytes", {});
    for (const [seq, digest] of mine)
      if (digest === req.digest && seq !== req.seq)
        throw new NodeRefused(0, "DUPLICATE_DIGEST", "this digest was already signed", {});
    mine.set(req.seq, req.digest);
  }
}

export interface Fixture {
  store: VaultStore;
  audit: AuditLog;
  cluster: FakeCluster;
  agentId: string;
  signing: SigningService;
  /**
   * A new service over the same file and cluster, on a connection of its own: what a
   * restarted vault builds (the first service's locks die with the process it models).
   */
  restart(): Promise<SigningService>;
  /** The clock the services read; tests move it. */
  clock: { ms: number };
  types(): Promise<string[]>;
  /** Rows whose spends count against the budget (reserved, incomplete, signed). */
  spendRows(): Promise<number>;
  close(): Promise<void>;
}

export async function signingFixture(
  opts: { credentialRefusal?: (credential: string) => Promise<Error | undefined> } = {},
): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), "av-signing-"));
  const file = join(dir, "vault.sqlite");
  const sql = createSqliteSql(openDatabase(file));
  const opened = [sql];
  const store = await openVaultStore(sql);
  const audit = await openAuditLog(sql);
  const cluster = new FakeCluster();
  const agentId = "agt_unit";
  await store.putAgent({
    id: agentId,
    name: "unit",
    address: cluster.address,
    publicKey: cluster.key.compressedPublicKey,
  });
  await store.putPolicy(agentId, 1, POLICY, "test");
  const clock = { ms: Date.parse("2029-06-01T12:00:00Z") };
  const links = await openDelegationStore(sql);
  const make = (over: { store: VaultStore; audit: AuditLog; links: typeof links }) =>
    createSigningService({
      ...over,
      cluster,
      now: () => clock.ms,
      ...(opts.credentialRefusal ? { credentialRefusal: opts.credentialRefusal } : {}),
    });
  const restart = async () => {
    const again = createSqliteSql(openDatabase(file));
    opened.push(again);
    return make({
      store: await openVaultStore(again),
      audit: await openAuditLog(again),
      links: await openDelegationStore(again),
    });
  };
  return {
    store,
    audit,
    cluster,
    agentId,
    signing: make({ store, audit, links }),
    restart,
    clock,
    types: async () => (await audit.list(1, 100_000, agentId)).map((e) => e.type),
    spendRows: async () => (await store.spendsSince(agentId, 0)).length,
    close: async () => {
      for (const s of opened.reverse()) await s.close();
    },
  };
}

export function ethTransfer(nonce: number, value = "1000000000000000") {
  return {
    kind: "transaction" as const,
    tx: {
      chainId: CHAIN,
      to: "0x1111111111111111111111111111111111111111",
      value,
      data: "0x",
      nonce,
      gasLimit: 21000,
      maxFeePerGas: "1000000000",
      maxPriorityFeePerGas: "1000000",
    },
  };
}

/** An ERC-20 transfer of `amount` base units of USDC (6 decimals). */
export function usdcTransfer(nonce: number, amount: bigint) {
  const data = `0xa9059cbb${RECIPIENT.slice(2).toLowerCase().padStart(64, "0")}${amount.toString(16).padStart(64, "0")}`;
  return {
    kind: "transaction" as const,
    tx: { ...ethTransfer(nonce).tx, to: USDC, value: "0", data },
  };
}

export const message = (text: string) => ({
  kind: "message" as const,
  message: `0x${Buffer.from(text).toString("hex")}`,
});
