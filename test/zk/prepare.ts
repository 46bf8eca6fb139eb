/**
 * Builds the tests' circuit setup into the per-machine cache (test/zk/helpers.ts), or
 * returns at once when it is there. scripts/run-tests.mjs starts it first, beside the
 * other tiers, so the one-time build (minutes on 2 cores) overlaps them.
 */
import { renameSync, writeFileSync } from "node:fs";
import { releaseCurve } from "../../src/zk/setup.js";
import { buildTestArtifacts, TEST_BUILD_ROOT } from "./helpers.js";

const started = Date.now();
const marker = process.env.TEST_ZK_SETUP_MARKER;
/** Written whole, then renamed: a waiting zk file never reads half of it. */
const mark = (outcome: string) => {
  if (!marker) return;
  writeFileSync(`${marker}.tmp`, outcome);
  renameSync(`${marker}.tmp`, marker);
};
const art = await buildTestArtifacts().catch((err: unknown) => {
  mark((err as Error).message || "error");
  throw err;
});
mark("ok");
await releaseCurve();
console.error(
  `[circuits:setup] ${art.dir} ready (${((Date.now() - started) / 1000).toFixed(1)} s; cache ${TEST_BUILD_ROOT})`,
);
