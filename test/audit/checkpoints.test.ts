import assert from "node:assert/strict";
import { test } from "node:test";
import { GENESIS_HASH } from "../../src/audit/index.js";
import { filledLog } from "./helpers.js";

test("checkpoints are saved, listed oldest first, and the latest is the highest seq", () => {
  const { log } = filledLog(10);
  assert.equal(log.checkpoints.latest(), undefined);
  const at = (seq: number) => ({
    seq,
    hash: log.get(seq)?.hash ?? "",
    signature: `sig${seq}`,
    signers: [1, 2],
    signedAt: "2025-01-01T00:00:00.000Z",
  });
  log.checkpoints.save(at(8));
  log.checkpoints.save({ ...at(4), extra: { epoch: 3 } });
  assert.deepEqual(log.checkpoints.list(), [{ ...at(4), extra: { epoch: 3 } }, at(8)]);
  assert.deepEqual(log.checkpoints.latest(), at(8));
  // A later signature over the same head replaces the earlier one.
  log.checkpoints.save({ ...at(8), signature: "again", signers: [2, 3] });
  assert.equal(log.checkpoints.list().length, 2);
  assert.equal(log.checkpoints.latest()?.signature, "again");
  assert.equal(log.verify().ok, true);
});

test("a checkpoint that does not match the log is refused", () => {
  const { log } = filledLog(3);
  const cp = { signature: "s", signers: [1], signedAt: "x" };
  assert.throws(() => log.checkpoints.save({ ...cp, seq: 2, hash: GENESIS_HASH }), {
    code: "INTERNAL",
  });
  assert.throws(() => log.checkpoints.save({ ...cp, seq: 4, hash: log.head().hash }), {
    code: "INTERNAL",
  });
  log.checkpoints.save({ ...cp, seq: 0, hash: GENESIS_HASH });
  assert.equal(log.checkpoints.list().length, 1);
});
