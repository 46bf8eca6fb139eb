/**
 * src/zk/witness.ts: the prover computes the witness with a calculator compiled once and
 * reused. It must be exactly the witness snarkjs's own `wtns.calculate` (what `fullProve`
 * runs) produces, for every batch, also when batches are computed concurrently, and a
 * witness the circuit refuses still fails with circom's "Assert Failed".
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import * as snarkjs from "snarkjs";
import type { AuditLog } from "../../src/audit/types.js";
import type { CircuitInput } from "../../src/zk/prover.js";
import { type Artifacts, releaseCurve } from "../../src/zk/setup.js";
import { computeWitness } from "../../src/zk/witness.js";
import { appendNoise, appendSpend, freshLog, prepareLog, testArtifacts, WEI } from "./helpers.js";

let art: Artifacts;
before(async () => {
  art = await testArtifacts();
});
after(releaseCurve);

const inputOf = async (log: AuditLog | Promise<AuditLog>, check = true): Promise<CircuitInput> =>
  (await prepareLog(await log, { check })).batches[0]?.input as CircuitInput;

/** The witness as snarkjs computes it for fullProve: read, compile, calculate. */
async function snarkjsWitness(input: CircuitInput): Promise<Uint8Array> {
  const out: { type: "mem"; data?: Uint8Array } = { type: "mem" };
  await snarkjs.wtns.calculate(input, art.wasm, out);
  return out.data as Uint8Array;
}

async function logWith(amounts: bigint[]): Promise<AuditLog> {
  const log = await freshLog();
  await appendNoise(log);
  for (const amount of amounts) await appendSpend(log, { amount });
  return log;
}

test("the cached calculator's witness is snarkjs's own, byte for byte, batch after batch", async () => {
  for (const amounts of [[WEI("0.001")], [WEI("0.002"), WEI("0.003")], [1n]]) {
    const input = await inputOf(logWith(amounts));
    const ours = await computeWitness(art.wasm, input);
    assert.deepEqual(Buffer.from(ours), Buffer.from(await snarkjsWitness(input)));
  }
});

test("concurrent batches each get their own witness", async () => {
  const inputs = await Promise.all(
    [1n, 2n, 3n, 4n].map((k) => inputOf(logWith([WEI("0.001") * k]))),
  );
  const together = await Promise.all(inputs.map((input) => computeWitness(art.wasm, input)));
  for (const [i, input] of inputs.entries()) {
    const alone = await snarkjsWitness(input);
    assert.deepEqual(Buffer.from(together[i] as Uint8Array), Buffer.from(alone), `batch ${i}`);
  }
  // Control: the batches' witnesses differ, so a mix-up could not pass unnoticed.
  assert.notDeepEqual(
    Buffer.from(together[0] as Uint8Array),
    Buffer.from(together[1] as Uint8Array),
  );
});

test("a witness the circuit refuses fails with Assert Failed, and the next one still computes", async () => {
  const over = await inputOf(logWith([WEI("0.02")]), false); // above the 0.01 ETH cap per transaction
  await assert.rejects(computeWitness(art.wasm, over), /Assert Failed/);
  const input = await inputOf(logWith([WEI("0.001")]));
  assert.deepEqual(
    Buffer.from(await computeWitness(art.wasm, input)),
    Buffer.from(await snarkjsWitness(input)),
  );
});
