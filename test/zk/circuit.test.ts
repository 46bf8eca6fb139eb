/**
 * Witness tests of circuits/compliance.circom (circom_tester over the built wasm/r1cs):
 * a compliant batch satisfies every constraint; each kind of violation is refused by the
 * circuit itself (pre-check off) and named by the prover's pre-check (pre-check on).
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { after, before, test } from "node:test";
import { wasm as wasmTester } from "circom_tester";
import type { AuditLog } from "../../src/audit/types.js";
import { VaultError } from "../../src/errors/index.js";
import { prepareRange } from "../../src/zk/prover.js";
import { type Artifacts, REPO_ROOT, releaseCurve as releaseCurveFn } from "../../src/zk/setup.js";
import {
  AGENT,
  ALICE,
  appendNoise,
  appendSpend,
  BOB,
  freshLog,
  MALLORY,
  OTHER,
  POLICY,
  TEST_PARAMS,
  testArtifacts,
  WEI,
} from "./helpers.js";

let art: Artifacts;
// biome-ignore lint/suspicious/noExplicitAny: circom_tester is untyped
let circuit: any;

// snarkjs keeps curve worker threads alive: release them so this file's process ends.
after(releaseCurveFn);

before(async () => {
  art = await testArtifacts();
  // circom_tester asks `circom --version` even when it does not compile: answer with circom2.
  const bin = mkdtempSync(join(tmpdir(), "av-circom-"));
  const shim = join(bin, "circom");
  const circom2 = `"${process.execPath}" "${join(REPO_ROOT, "node_modules", "circom2", "cli.js")}"`;
  writeFileSync(
    shim,
    // circom2 prints its npm version first; the compiler's own line is the last one.
    `#!/bin/sh\nif [ "$1" = "--version" ]; then ${circom2} --version | tail -n 1; exit 0; fi\nexec ${circom2} "$@"\n`,
  );
  chmodSync(shim, 0o755);
  process.env.PATH = `${bin}${delimiter}${process.env.PATH}`;
  circuit = await wasmTester(join(art.dir, "main.circom"), { output: art.dir, recompile: false });
});

const prepare = (log: AuditLog, check = true, bound = WEI("0.05")) =>
  prepareRange({
    agentId: AGENT,
    asset: "ETH",
    policy: POLICY,
    policyVersion: 1,
    bound,
    entries: log.list(1, log.head().seq),
    startZkHead: "0",
    stored: log.zkRange(1, log.head().seq),
    ...TEST_PARAMS,
    check,
  });

/** The seq a PROOF_IMPOSSIBLE error names. */
function refusedAt(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof VaultError, String(err));
    assert.equal(err.code, "PROOF_IMPOSSIBLE");
    assert.match(err.message, /^audit entry \d+ /);
    return err.details.seq as number;
  }
  assert.fail("expected the prover to refuse");
}

test("a compliant batch (spends, other entries, another agent's spend) satisfies every constraint", async () => {
  const log = freshLog();
  appendSpend(log, { amount: WEI("0.01"), recipient: ALICE }); // exactly the cap
  appendNoise(log);
  appendSpend(log, { agentId: OTHER, amount: WEI("5"), recipient: MALLORY }); // not this agent: passed over
  appendSpend(log, { amount: WEI("0.002"), recipient: BOB });
  const prepared = prepare(log);
  assert.equal(prepared.batches.length, 1);
  assert.equal(prepared.claim.spendCount, 2);
  const witness = await circuit.calculateWitness(prepared.batches[0]?.input, true);
  await circuit.checkConstraints(witness);
  assert.equal(prepared.endZkHead, log.zkHeadAt(4));
});

test("padding: a batch shorter than N chains only its real entries", async () => {
  const log = freshLog();
  appendSpend(log, { amount: WEI("0.001") });
  appendNoise(log);
  const prepared = prepare(log);
  const witness = await circuit.calculateWitness(prepared.batches[0]?.input, true);
  await circuit.checkConstraints(witness);
});

const violations: Array<[string, (log: AuditLog) => void, bigint?]> = [
  ["an over-cap spend", (log) => appendSpend(log, { amount: WEI("0.011") })],
  [
    "a recipient not on the allowlist",
    (log) => appendSpend(log, { amount: WEI("0.001"), recipient: MALLORY }),
  ],
  [
    "a total above the bound",
    (log) => {
      appendSpend(log, { amount: WEI("0.01") });
      appendSpend(log, { amount: WEI("0.01") });
    },
    WEI("0.015"),
  ],
  [
    "a spend signed under another policy",
    (log) =>
      appendSpend(log, {
        amount: WEI("0.001"),
        policy: { ...POLICY, rateLimitPerMinute: 7 },
        version: 2,
      }),
  ],
  [
    "several spends in one signature",
    (log) =>
      log.append({
        type: "sign.signed",
        agentId: AGENT,
        data: {
          spends: [
            { chainId: 1, asset: "ETH", amount: "1", recipient: ALICE },
            { chainId: 1, asset: "ETH", amount: "1", recipient: BOB },
          ],
        },
      }),
  ],
];

for (const [name, violate, bound] of violations) {
  test(`${name}: the prover names the entry, and the circuit refuses the witness`, async () => {
    const log = freshLog();
    appendSpend(log, { amount: WEI("0.001") });
    appendNoise(log);
    violate(log);
    const bad = log.head().seq;
    assert.equal(
      refusedAt(() => prepare(log, true, bound)),
      bad,
    );
    const unchecked = prepare(log, false, bound);
    await assert.rejects(
      circuit.calculateWitness(unchecked.batches[0]?.input, true),
      /Assert Failed/,
    );
  });
}

test("a witness whose private entry differs from the committed one does not reach the end head", async () => {
  const log = freshLog();
  appendSpend(log, { amount: WEI("0.004") });
  appendNoise(log);
  const input = structuredClone(prepare(log).batches[0]?.input);
  assert.ok(input, "one spend makes one batch");
  input.amount[0] = WEI("0.001").toString(); // claim a smaller amount than was signed
  await assert.rejects(circuit.calculateWitness(input, true), /Assert Failed/);
});
