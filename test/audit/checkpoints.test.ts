import assert from "node:assert/strict";
import { test } from "node:test";
import { GENESIS_HASH } from "../../src/audit/index.js";
import { filledLog } from "./helpers.js";

test("checkpoints are saved, listed oldest first, and the latest is the highest seq", async () => {
  const { log } = await filledLog(10);
  assert.equal(await log.checkpoints.latest(), undefined);
  const at = async (seq: number) => ({
    seq,
    hash: (await log.get(seq))?.hash ?? "",
    signature: `sig${seq}`,
    signers: [1, 2],
    signedAt: "2025-01-01T00:00:00.000Z",
  });
  await log.checkpoints.save(await at(8));
  await log.checkpoints.save({ ...(await at(4)), extra: { epoch: 3 } });
  assert.deepEqual(await log.checkpoints.list(), [
    { ...(await at(4)), extra: { epoch: 3 } },
    await at(8),
  ]);
  assert.deepEqual(await log.checkpoints.latest(), await at(8));
  // A later signature over the same head replaces the earlier one.
  await log.checkpoints.save({ ...(await at(8)), signature: "again", signers: [2, 3] });
  assert.equal((await log.checkpoints.list()).length, 2);
  assert.equal((await log.checkpoints.latest())?.signature, "again");
  assert.equal((await log.verify()).ok, true);
});

test("a checkpoint that does not match the log is refused", async () => {
  const { log } = await filledLog(3);
  const cp = { signature: "s", signers: [1], signedAt: "x" };
  await assert.rejects(log.checkpoints.save({ ...cp, seq: 2, hash: GENESIS_HASH }), {
    code: "INTERNAL",
  });
  await assert.rejects(log.checkpoints.save({ ...cp, seq: 4, hash: (await log.head()).hash }), {
    code: "INTERNAL",
  });
  await log.checkpoints.save({ ...cp, seq: 0, hash: GENESIS_HASH });
  assert.equal((await log.checkpoints.list()).length, 1);
});
