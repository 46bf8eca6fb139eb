/**
 * An in-test SignerBackend (src/signers/backend.ts) for the routing and persistence tests of
 * the seam: it is not Lit and not a fake of Lit (test/helpers/lit/ holds those), only a
 * backend that keeps the interface's contract: a real secp256k1 key (ethers), the
 * "lit.policy" authorization bound to its address, the policy it was given checked with
 * the vault's own evaluator before signing, and the digest re-derived from the intent.
 * Each call can be told to refuse or misbehave instead.
 */
import { SigningKey, Wallet } from "ethers";
import { authorize as authorizeWith } from "../../src/auth/admin-authority.js";
import { VaultError } from "../../src/errors/index.js";
import { decodeIntent } from "../../src/policy/decode.js";
import { evaluatePolicy, usageFromRecords } from "../../src/policy/evaluate.js";
import type { Policy } from "../../src/policy/types.js";
import type {
  BackendName,
  BackendSignRequest,
  PkpInfo,
  SignerBackend,
} from "../../src/signers/backend.js";

export const TEST_CID = "QmTestActionCid000000000000000000000000000000";

export type Misbehaviour =
  | { kind: "unavailable" }
  | { kind: "wrong-key" } // answers with a signature by another key
  | { kind: "garbage" }; // answers with bytes that are no signature

export class TestBackend implements SignerBackend {
  readonly key = new SigningKey(`0x${"17".repeat(32)}`);
  readonly address = new Wallet(this.key.privateKey).address;
  readonly calls: BackendSignRequest[] = [];
  readonly policies = new Map<string, { version: number; policy: Policy }>();
  readonly plan: Misbehaviour[] = [];
  closed = false;
  now = new Date("2029-06-01T12:00:00Z");

  constructor(readonly name: BackendName = "lit-chipotle") {}

  pkp(): PkpInfo {
    return {
      pkpId: this.address,
      publicKey: this.key.publicKey,
      actionCid: TEST_CID,
      groupId: "grp_1",
    };
  }

  async createKey(input: Parameters<SignerBackend["createKey"]>[0]) {
    if (input.policy) this.policies.set(input.agentId, input.policy);
    const policyAuthorization =
      input.policy &&
      input.authorize({
        op: "lit.policy",
        agentId: input.agentId,
        address: this.address,
        version: input.policy.version,
        policy: input.policy.policy,
      });
    return {
      address: this.address,
      publicKey: this.key.publicKey,
      pkp: this.pkp(),
      ...(policyAuthorization ? { policyAuthorization } : {}),
    };
  }

  async setPolicy(input: Parameters<SignerBackend["setPolicy"]>[0]) {
    this.policies.set(input.agentId, { version: input.version, policy: input.policy });
    const { agentId, address, version, policy } = input;
    return {
      authorization: input.authorize({ op: "lit.policy", agentId, address, version, policy }),
    };
  }

  async signDigest(req: BackendSignRequest) {
    this.calls.push(req);
    const b = this.plan.shift();
    if (b?.kind === "unavailable") throw new VaultError("QUORUM_UNAVAILABLE", "test: unreachable");
    const decoded = decodeIntent(req.intent);
    if (decoded.digest !== req.digest) throw new VaultError("VALIDATION_FAILED", "digest mismatch");
    const held = this.policies.get(req.agentId);
    if (!held) throw new VaultError("POLICY_DENIED", "no policy", { enforcedBy: "lit-action" });
    // Like the Lit Action: no history (zero usage), the request alone against the caps.
    const verdict = evaluatePolicy(held.policy, decoded, usageFromRecords([], this.now), this.now);
    if (!verdict.allow) {
      throw new VaultError("POLICY_DENIED", verdict.message, {
        rule: verdict.rule,
        enforcedBy: "lit-action",
      });
    }
    if (b?.kind === "garbage") return { signature: `0x${"00".repeat(65)}`, signers: TEST_CID };
    const key = b?.kind === "wrong-key" ? new SigningKey(`0x${"18".repeat(32)}`) : this.key;
    return { signature: key.sign(req.digest).serialized, signers: TEST_CID };
  }

  async close() {
    this.closed = true;
  }
}

/** The operator's authorize function, as the agent service hands it to a backend. */
export const authorizeFor = (adminKey: string) => (action: Parameters<typeof authorizeWith>[1]) =>
  authorizeWith(adminKey, action);
