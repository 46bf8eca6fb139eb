/**
 * The compliance circuit's cost per audit entry (issue 11 item 3: at most 800 constraints
 * at depth 4). Counted like `npm run bench` does: compile N=1 and N=2 (r1cs only, a few
 * seconds each) and take the difference. No setup, no proof.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { compileCircuit, releaseCurve } from "../../src/zk/setup.js";

after(releaseCurve);

test("each entry costs at most 800 constraints at depth 4 (one Poseidon(10) per entry)", {
  timeout: 300_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "av-constraints-"));
  const size = async (n: number) =>
    (await compileCircuit({ n, depth: 4 }, join(dir, `n${n}`), () => {}, { wasm: false }))
      .constraints;
  const one = await size(1);
  const two = await size(2);
  const perEntry = two - one;
  assert.ok(perEntry <= 800, `${perEntry} constraints per entry`);
  // The figures README.md states: 588 per entry, 1,571 fixed (N=64: 39,203).
  assert.equal(perEntry, 588);
  assert.equal(one - perEntry, 1571);
});
