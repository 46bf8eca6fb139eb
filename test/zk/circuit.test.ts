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
import { poseidon10 } from "poseidon-lite";
import { textField } from "../../src/audit/commitment.js";
import type { AuditLog } from "../../src/audit/types.js";
import { VaultError } from "../../src/errors/index.js";
import type { Policy } from "../../src/policy/types.js";
import { type CircuitInput, proveBatches } from "../../src/zk/prover.js";
import { type Artifacts, REPO_ROOT, releaseCurve as releaseCurveFn } from "../../src/zk/setup.js";
import { ALLOW_PAD, allowHash, expectedPublic, ZK_AMOUNT_MAX } from "../../src/zk/statement.js";
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
  prepareLog,
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

const prepare = (log: AuditLog, check = true, bound = WEI("0.05"), policy: Policy = POLICY) =>
  prepareLog(log, { check, bound, policy });

/** The seq a PROOF_IMPOSSIBLE error names. */
async function refusedAt(fn: () => Promise<unknown>): Promise<number> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof VaultError, String(err));
    assert.equal(err.code, "PROOF_IMPOSSIBLE");
    assert.match(err.message, /^audit entry \d+ /);
    return err.details.seq as number;
  }
  assert.fail("expected the prover to refuse");
}

test("a compliant batch (spends, other entries, another agent's spend) satisfies every constraint", async () => {
  const log = await freshLog();
  await appendSpend(log, { amount: WEI("0.01"), recipient: ALICE }); // exactly the cap
  await appendNoise(log);
  await appendSpend(log, { agentId: OTHER, amount: WEI("5"), recipient: MALLORY }); // not this agent: passed over
  await appendSpend(log, { amount: WEI("0.002"), recipient: BOB });
  const prepared = await prepare(log);
  assert.equal(prepared.batches.length, 1);
  assert.equal(prepared.claim.spendCount, 2);
  const witness = await circuit.calculateWitness(prepared.batches[0]?.input, true);
  await circuit.checkConstraints(witness);
  assert.equal(prepared.endZkHead, await log.zkHeadAt(4));
});

test("circomlib's Poseidon(10) in the circuit is poseidon-lite's poseidon10, the log's v2 chain", async () => {
  const log = await freshLog();
  await appendSpend(log, { amount: WEI("0.001") });
  const input = (await prepare(log)).batches[0]?.input as CircuitInput;
  const fields = ["kind", "agent", "asset", "amount", "recipient", "time"]
    .concat(["policyVersion", "policy", "salt"])
    .map((name) => BigInt(input[name][0]));
  const expected = poseidon10([...fields, BigInt(input.startHead)]).toString();
  assert.equal(input.endHead, expected);
  assert.equal(await log.zkHeadAt(1), expected);
  // The circuit reaches exactly that head: the witness passes with it and fails with any other.
  await circuit.checkConstraints(await circuit.calculateWitness(input, true));
  const off = { ...input, endHead: (BigInt(expected) + 1n).toString() };
  await assert.rejects(circuit.calculateWitness(off, true), /Assert Failed/);
});

test("padding: a batch shorter than N chains only its real entries", async () => {
  const log = await freshLog();
  await appendSpend(log, { amount: WEI("0.001") });
  await appendNoise(log);
  const prepared = await prepare(log);
  const witness = await circuit.calculateWitness(prepared.batches[0]?.input, true);
  await circuit.checkConstraints(witness);
});

const violations: Array<[string, (log: AuditLog) => Promise<unknown>, bigint?]> = [
  ["an over-cap spend", (log) => appendSpend(log, { amount: WEI("0.011") })],
  [
    "a recipient not on the allowlist",
    (log) => appendSpend(log, { amount: WEI("0.001"), recipient: MALLORY }),
  ],
  [
    "a total above the bound",
    async (log) => {
      await appendSpend(log, { amount: WEI("0.01") });
      await appendSpend(log, { amount: WEI("0.01") });
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
    const log = await freshLog();
    await appendSpend(log, { amount: WEI("0.001") });
    await appendNoise(log);
    await violate(log);
    const bad = (await log.head()).seq;
    assert.equal(await refusedAt(() => prepare(log, true, bound)), bad);
    const unchecked = await prepare(log, false, bound);
    await assert.rejects(
      circuit.calculateWitness(unchecked.batches[0]?.input, true),
      /Assert Failed/,
    );
  });
}

test("a witness whose private entry differs from the committed one does not reach the end head", async () => {
  const log = await freshLog();
  await appendSpend(log, { amount: WEI("0.004") });
  await appendNoise(log);
  const input = structuredClone((await prepare(log)).batches[0]?.input);
  assert.ok(input, "one spend makes one batch");
  input.amount[0] = WEI("0.001").toString(); // claim a smaller amount than was signed
  await assert.rejects(circuit.calculateWitness(input, true), /Assert Failed/);
});

/**
 * The batch input with one committed field of entry i replaced, and the heads re-chained
 * (zk chain v2, Poseidon-lite's poseidon10) over the edited fields: the input a log whose entry committed that value would give.
 */
function withField(input: CircuitInput, i: number, name: string, value: bigint): CircuitInput {
  const x = structuredClone(input);
  x[name][i] = value.toString();
  let head = BigInt(x.startHead);
  for (let k = 0; k < x.active.length; k++) {
    if (x.active[k] !== 1) continue;
    const fields = ["kind", "agent", "asset", "amount", "recipient", "time"]
      .concat(["policyVersion", "policy", "salt"])
      .map((name) => BigInt(x[name][k]));
    head = poseidon10([...fields, head]);
  }
  x.endHead = head.toString();
  return x;
}

test("a recipient off the list has no proof: proveBatches answers PROOF_IMPOSSIBLE with the pre-check off", async () => {
  const log = await freshLog();
  await appendSpend(log, { amount: WEI("0.001"), recipient: MALLORY });
  await assert.rejects(proveBatches(await prepare(log, false), art), (err) => {
    assert.ok(err instanceof VaultError, String(err));
    assert.equal(err.code, "PROOF_IMPOSSIBLE");
    assert.match(err.message, /entries 1\.\.1: the circuit refused the witness/);
    return true;
  });
});

test("the padding value of the allowlist's empty slots never admits a spend", async () => {
  const log = await freshLog();
  await appendSpend(log, { amount: WEI("0.001"), recipient: ALICE });
  const input = (await prepare(log)).batches[0]?.input as CircuitInput;
  // Depth 2, two recipients: slots 2 and 3 hold the padding value.
  assert.deepEqual(input.allowList.slice(2), [ALLOW_PAD.toString(), ALLOW_PAD.toString()]);
  // Control: a committed recipient on the list passes, so the re-chaining below is sound.
  const listed = withField(input, 0, "recipient", textField(BOB));
  await circuit.checkConstraints(await circuit.calculateWitness(listed, true));
  // A commitment holding the padding value itself (no address maps to it) is refused.
  const padded = withField(input, 0, "recipient", ALLOW_PAD);
  await assert.rejects(circuit.calculateWitness(padded, true), /Assert Failed/);
});

test("a policy listing no recipients allows any (allowAny = 1)", async () => {
  const any: Policy = { ...POLICY, recipients: undefined };
  const log = await freshLog();
  await appendSpend(log, { amount: WEI("0.001"), recipient: MALLORY, policy: any });
  const input = (await prepare(log, true, WEI("0.05"), any)).batches[0]?.input as CircuitInput;
  assert.equal(input.allowAny, "1");
  assert.equal(input.allowHash, allowHash("any", TEST_PARAMS.depth).toString());
  await circuit.checkConstraints(await circuit.calculateWitness(input, true));
  // The same log under a policy that lists recipients has no witness.
  const listed = { ...input, allowAny: "0" };
  await assert.rejects(circuit.calculateWitness(listed, true), /Assert Failed/);
});

test("amounts: 2^96 - 1 base units is provable under a larger cap, 2^96 is refused naming the entry", async () => {
  // maxPerTx 10^12 ETH = 10^30 wei > 2^96: the circuit checks the stronger cap 2^96 - 1.
  const huge: Policy = {
    ...POLICY,
    assets: { ETH: { maxPerTx: "1000000000000", maxPer24h: "1000000000000" } },
  };
  const bound = 10n ** 31n;
  const fits = await freshLog();
  await appendSpend(fits, { amount: ZK_AMOUNT_MAX, policy: huge });
  const prepared = await prepare(fits, true, bound, huge);
  const input = prepared.batches[0]?.input as CircuitInput;
  // The claim states the policy's cap; the public cap the verifier expects is the clamped one.
  assert.equal(prepared.claim.cap, (10n ** 30n).toString());
  assert.equal(input.cap, ZK_AMOUNT_MAX.toString());
  assert.equal(expectedPublic(huge, prepared.claim).cap, ZK_AMOUNT_MAX.toString());
  await circuit.checkConstraints(await circuit.calculateWitness(input, true));

  const log = await freshLog();
  await appendNoise(log);
  await appendSpend(log, { amount: ZK_AMOUNT_MAX + 1n, policy: huge });
  await assert.rejects(prepare(log, true, bound, huge), (err) => {
    assert.ok(err instanceof VaultError);
    assert.equal(err.code, "PROOF_IMPOSSIBLE");
    assert.equal(err.details.seq, 2);
    assert.match(
      err.message,
      /^audit entry 2 spends \d+ base units, more than the circuit's 96-bit amounts/,
    );
    return true;
  });
  const unchecked = await prepare(log, false, bound, huge);
  await assert.rejects(
    circuit.calculateWitness(unchecked.batches[0]?.input, true),
    /Assert Failed/,
  );
});

for (const [name, amount] of [
  ["a negative amount", -1n],
  ["an amount of 2^128", 1n << 128n],
] as const) {
  test(`${name} is never a provable spend: committed as kind 2, which the circuit refuses`, async () => {
    // The circuit has no range check of the amount itself: it relies on the commitment
    // rule (src/audit/commitment.ts) binding every spend it can state to 0 <= amount < 2^128.
    const log = await freshLog();
    await appendSpend(log, { amount: WEI("0.001") });
    await appendSpend(log, { amount });
    assert.equal(await refusedAt(() => prepare(log)), 2);
    const input = (await prepare(log, false)).batches[0]?.input as CircuitInput;
    assert.equal(input.kind[1], "2");
    await assert.rejects(circuit.calculateWitness(input, true), /Assert Failed/);
    // Control: the same log with an in-range amount is provable.
    const fine = await freshLog();
    await appendSpend(fine, { amount: WEI("0.001") });
    await appendSpend(fine, { amount: WEI("0.002") });
    const ok = (await prepare(fine)).batches[0]?.input as CircuitInput;
    await circuit.checkConstraints(await circuit.calculateWitness(ok, true));
  });
}
