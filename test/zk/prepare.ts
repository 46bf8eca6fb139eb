/**
 * Builds the tests' circuit setup into the per-machine cache (test/zk/helpers.ts), or
 * returns at once when it is there. scripts/run-tests.mjs starts it first, beside the
 * other tiers, so the one-time build (minutes on 2 cores) overlaps them.
 */
import { releaseCurve } from "../../src/zk/setup.js";
import { TEST_BUILD_ROOT, testArtifacts } from "./helpers.js";

const started = Date.now();
const art = await testArtifacts();
await releaseCurve();
console.error(
  `[circuits:setup] ${art.dir} ready (${((Date.now() - started) / 1000).toFixed(1)} s; cache ${TEST_BUILD_ROOT})`,
);
