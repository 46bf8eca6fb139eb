/**
 * Bundles verify only when every proof, public signal, head link and checkpoint signature
 * holds: each tampering below makes verification fail. Each batch also passes plain
 * `snarkjs groth16 verify`.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Wallet } from "ethers";
import type { AuditLog } from "../../src/audit/types.js";
import type { Policy } from "../../src/policy/types.js";
import { policyHash } from "../../src/policy/validate.js";
import { type Bundle, verifyBundle } from "../../src/zk/bundle.js";
import { prepareRange, proveBatches } from "../../src/zk/prover.js";
import {
  type Artifacts,
  PUBLIC_SIGNALS,
  releaseCurve as releaseCurveFn,
} from "../../src/zk/setup.js";
import { allowlistOf, expectedPublic } from "../../src/zk/statement.js";
import {
  AGENT,
  ALICE,
  appendNoise,
  appendSpend,
  BOB,
  CLUSTER,
  freshLog,
  MALLORY,
  makeBundle,
  POLICY,
  signCheckpoint,
  TEST_PARAMS,
  testArtifacts,
  WEI,
} from "./helpers.js";

let art: Artifacts;
let log: AuditLog;
let bundle: Bundle;
const trusted = () => ({ clusterAddress: CLUSTER.address });
const copy = (): Bundle => structuredClone(bundle);
const at = (name: (typeof PUBLIC_SIGNALS)[number]) => PUBLIC_SIGNALS.indexOf(name);

// snarkjs keeps curve worker threads alive: release them so this file's process ends.
after(releaseCurveFn);

before(async () => {
  art = await testArtifacts();
  log = await freshLog();
  await appendSpend(log, { amount: WEI("0.003") });
  await appendNoise(log);
  await appendNoise(log, null);
  await appendSpend(log, { amount: WEI("0.004"), recipient: BOB });
  await appendNoise(log);
  await appendSpend(log, { amount: WEI("0.01") });
  bundle = await makeBundle(log, art); // 6 entries: two batches of N = 4
});

test("a bundle of two linked batches verifies and states what it proves", async () => {
  assert.equal(bundle.batches.length, 2);
  const check = await verifyBundle(bundle, trusted());
  assert.equal(check.ok, true, check.error);
  assert.match(check.statement ?? "", /made 3 signed spend\(s\) of ETH/);
  assert.match(check.statement ?? "", /at most the per-transaction cap of 0\.01 ETH/);
  assert.equal(check.setup?.setup, "development");
  assert.equal(check.trusted, false);
  assert.ok(check.warnings.some((w) => /development setup/.test(w)));
});

test("bundles are format 3 (zk chain v2); format 2 is still read as before, unknown formats are refused", async () => {
  assert.equal(bundle.format, "agent-vault/compliance-bundle@3");
  const v2 = { ...copy(), format: "agent-vault/compliance-bundle@2" } as unknown as Bundle;
  assert.equal((await verifyBundle(v2, trusted())).ok, true);
  const unknown = { ...copy(), format: "agent-vault/compliance-bundle@9" } as unknown as Bundle;
  const refused = await verifyBundle(unknown, trusted());
  assert.equal(refused.ok, false);
  assert.match(refused.error ?? "", /not an agent-vault compliance bundle/);
});

test("each batch passes plain `snarkjs groth16 verify`; an edited public signal does not", () => {
  const dir = mkdtempSync(join(tmpdir(), "av-snarkjs-"));
  writeFileSync(join(dir, "vk.json"), JSON.stringify(bundle.verificationKey));
  const cli = join("node_modules", "snarkjs", "build", "cli.cjs");
  const run = (pub: string[], proof: unknown) => {
    writeFileSync(join(dir, "public.json"), JSON.stringify(pub));
    writeFileSync(join(dir, "proof.json"), JSON.stringify(proof));
    const r = spawnSync(
      process.execPath,
      [
        cli,
        "groth16",
        "verify",
        join(dir, "vk.json"),
        join(dir, "public.json"),
        join(dir, "proof.json"),
      ],
      { encoding: "utf8" },
    );
    return `${r.stdout}${r.stderr}`;
  };
  for (const b of bundle.batches) assert.match(run(b.publicSignals, b.proof), /OK!/);
  const b = bundle.batches[0] as Bundle["batches"][number];
  const edited = [...b.publicSignals];
  edited[at("spendCount")] = "0";
  assert.match(run(edited, b.proof), /Invalid proof/);
});

const tampers: Array<[string, (b: Bundle) => void, RegExp]> = [
  [
    "an edited proof",
    (b) => {
      const p = b.batches[0]?.proof;
      p.pi_a[0] = (BigInt(p.pi_a[0]) + 1n).toString();
    },
    /proof does not verify|malformed/,
  ],
  [
    "an edited public signal (spend count)",
    (b) => {
      const s = b.batches[1]?.publicSignals as string[];
      s[at("spendCount")] = "0";
      b.claim.spendCount = 2;
    },
    /proof does not verify/,
  ],
  [
    "an edited public signal (bound), claim edited to match",
    (b) => {
      for (const x of b.batches) x.publicSignals[at("bound")] = "1";
      b.claim.bound = "1";
    },
    /proof does not verify/,
  ],
  [
    "a raised cap in the claim",
    (b) => {
      b.claim.cap = WEI("1").toString();
    },
    /cap/,
  ],
  [
    "an edited allowlist in the claim (what the statement prints)",
    (b) => {
      b.claim.allowlist = "any";
    },
    /allowlist/,
  ],
  [
    "an edited policy",
    (b) => {
      b.policy = {
        ...b.policy,
        recipients: [...(b.policy.recipients ?? []), "0x3333333333333333333333333333333333333333"],
      };
    },
    /policy/,
  ],
  [
    "a policy whose recipient list was altered (Bob swapped for Mallory), the claim's policy hash and allowlist edited to match",
    (b) => {
      alterRecipients(b, [ALICE, MALLORY]);
    },
    /public signal allowHash does not match/,
  ],
  [
    "an altered recipient list whose hash (and policy hash) replace the proofs' public signals",
    (b) => {
      alterRecipients(b, [ALICE, BOB, MALLORY]);
      const expected = expectedPublic(b.policy, b.claim);
      for (const x of b.batches) {
        x.publicSignals[at("allowHash")] = expected.allowHash;
        x.publicSignals[at("policyHash")] = expected.policyHash;
      }
    },
    /proof does not verify/,
  ],
  [
    "an edited checkpoint signature",
    (b) => {
      const s = b.checkpoints.end.signature;
      b.checkpoints.end.signature = `${s.slice(0, 10)}${s[10] === "0" ? "1" : "0"}${s.slice(11)}`;
    },
    /end checkpoint/,
  ],
  [
    "an edited checkpoint zk head",
    (b) => {
      b.checkpoints.end.zkHead = "12345";
    },
    /end checkpoint/,
  ],
  [
    "a broken head link (batches swapped)",
    (b) => {
      b.batches.reverse();
    },
    /link|follow/,
  ],
  [
    "a missing batch",
    (b) => {
      b.batches.pop();
    },
    /cover|end at|add up/,
  ],
];

/** Replaces the bundle policy's recipients, with the claim edited to match the new policy. */
function alterRecipients(b: Bundle, recipients: string[]): void {
  const policy: Policy = { ...b.policy, recipients };
  b.policy = policy;
  b.claim.policyHash = policyHash(policy);
  b.claim.allowlist = allowlistOf(policy);
}

for (const [name, tamper, reason] of tampers) {
  test(`${name} makes verification fail`, async () => {
    const b = copy();
    tamper(b);
    const check = await verifyBundle(b, trusted());
    assert.equal(check.ok, false);
    assert.match(check.error ?? "", reason);
  });
}

test("checkpoints signed by another key fail against the trusted cluster address", async () => {
  const b = copy();
  b.checkpoints.end = await signCheckpoint(log, 6, Wallet.createRandom());
  b.clusterAddress = "0x0000000000000000000000000000000000000001";
  assert.equal((await verifyBundle(b, trusted())).ok, false);
});

test("an entry edited after the checkpoint was signed yields a proof that does not reach the signed head", async () => {
  const entries = (await log.list(1, 6)).map((e) => structuredClone(e));
  const spends = (entries[3] as unknown as { data: { spends: Array<{ amount: string }> } }).data
    .spends;
  (spends[0] as { amount: string }).amount = WEI("0.001").toString();
  const prepared = prepareRange({
    agentId: AGENT,
    asset: "ETH",
    policy: POLICY,
    policyVersion: 1,
    bound: WEI("0.05"),
    entries,
    startZkHead: "0",
    zkV2Start: await log.zkV2Start(),
    ...TEST_PARAMS,
  });
  const proved = await proveBatches(prepared, art);
  const b = copy();
  b.batches = proved.map(({ seconds: _s, ...x }) => x);
  const check = await verifyBundle(b, trusted());
  assert.equal(check.ok, false);
  assert.match(check.error ?? "", /zk head/);
});
