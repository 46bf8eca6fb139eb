#!/usr/bin/env node
// Runs test/**/*.test.ts with node's own test runner (as transpiled JavaScript, see
// scripts/test-build.mjs), so the closing
// "# pass / # fail" lines come from node:test itself, in three tiers:
//
//   unit         in-process only: no signer-node processes, no chain, no circuit build.
//                The folders and files in UNIT below; `npm run test:unit`, under 60 s.
//                Files run two at a time (--test-concurrency=2): they share nothing.
//   zk           the files in ZK below: they prove with the compliance circuit, whose
//                one-time setup (minutes on 2 cores) is cached per machine (see
//                test/zk/helpers.ts). The setup starts first, in the background, so it
//                overlaps the other tiers; the zk files run once it is ready.
//   integration  everything else: real signer-node processes, the vault as a process,
//                ganache. Two files at a time by default, the slowest started first (each
//                starts 3-5 node processes; since processes run as plain JavaScript, two
//                files share 2 cores without timing out); TEST_CONCURRENCY=N overrides it.
//
// `npm test` runs every tier in one pool of two files at a time: integration files first
// (slowest first), then the zk files, then the unit files; a tier alone runs as above.
// Usage: npm test [-- <substring filter>...]   every tier (filtered by path substrings)
//        npm run test:unit | test:integration | test:zk [-- <filter>...]
// A new test file is integration unless listed in UNIT or ZK: put it in UNIT only if it
// starts no process that is a signer node, a vault, a chain or a circuit build.
// After each tier its files are listed slowest first, with the time their tests took
// (process start and imports excluded).
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildTestMirror } from "./test-build.mjs";

const UNIT = [
  "test/audit/",
  "test/auth/",
  "test/config/",
  "test/lint/",
  "test/policy/",
  "test/signers/lit/action",
  "test/protocol/",
  "test/store/",
  "test/cli/data-dir-lock.test.ts",
  "test/services/signing-",
  "test/services/agents-backends.test.ts",
  "test/signers/registry.test.ts",
  "test/signers/lit/chipotle-",
  "test/signers/local/beats.test.ts",
  "test/signers/local/membership.test.ts",
  "test/signers/local/presign-scheduler.test.ts",
  "test/signers/local/quorum.test.ts",
  "test/http/doors-compose.test.ts",
  "test/x402/unit.test.ts",
  "test/x402/payment-store.test.ts",
  "test/x402/parked.test.ts",
  "test/zk/node-zk-head.test.ts",
  "test/zk/zk-v2.test.ts",
  "test/zk/jobs-resume.test.ts",
  "test/node/warm-presigs.test.ts",
  "test/signers/local/recovery-id.test.ts",
  "test/signers/local/placement.test.ts",
  "test/signers/local/presig-pool.test.ts",
];
const ZK = [
  "test/zk/auto-setup.test.ts",
  "test/zk/bundle.test.ts",
  "test/zk/circuit.test.ts",
  "test/zk/constraints.test.ts",
  "test/zk/http.test.ts",
  "test/zk/jobs.test.ts",
  "test/zk/jobs-replicas.test.ts",
  "test/zk/lit-agent.test.ts",
  "test/zk/plonk.test.ts",
  "test/zk/trust.test.ts",
  "test/zk/witness.test.ts",
];
/**
 * Integration files that take longest (measured), started first so that the two slots
 * finish together instead of one long file running alone at the end.
 */
const SLOW_FIRST = [
  // zk, but builds circuits of its own rather than waiting for the shared setup
  "test/zk/auto-setup.test.ts",
  "test/zk/plonk.test.ts",
  "test/x402/e2e.test.ts",
  "test/cli/start-and-lock.test.ts",
  "test/signers/local/health-under-load.test.ts",
  "test/cli/crash-recovery.test.ts",
  "test/http/lit-agents.test.ts",
  "test/http/auth-doors.test.ts",
  "test/http/budget-and-approvals.test.ts",
  "test/http/sign-flow.test.ts",
  "test/signers/lit/v7/backend.test.ts",
  "test/http/ops.test.ts",
];
/** Under a UNIT folder but integration: kills a writer process, on a deadline. */
const NOT_UNIT = ["test/audit/crash-safe.test.ts"];

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return find(path);
    return name.endsWith(".test.ts") ? [path] : [];
  });
}

const tierOf = (file) =>
  UNIT.some((p) => file.startsWith(p)) && !NOT_UNIT.includes(file)
    ? "unit"
    : ZK.includes(file)
      ? "zk"
      : "integration";

const args = process.argv.slice(2);
const only = args.find((a) => a.startsWith("--tier="))?.slice("--tier=".length);
const filters = args.filter((a) => !a.startsWith("--tier="));
const files = find("test")
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .filter((f) => !only || tierOf(f) === only)
  .sort();
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
/** A file's place in SLOW_FIRST (1-based), Infinity when it is not listed. */
const slowRank = (file) => SLOW_FIRST.indexOf(file) + 1 || Infinity;
const bySlowRank = (a, b) => slowRank(a) - slowRank(b);
const slowFirst = (a, b) => bySlowRank(a, b) || a.localeCompare(b);
const tiers = ["unit", "integration", "zk"]
  .map((name) => ({ name, files: files.filter((f) => tierOf(f) === name).sort(slowFirst) }))
  .filter((t) => t.files.length > 0);
// Plain JavaScript from a transpiled mirror (scripts/test-build.mjs), or the sources
// under tsx with TEST_TSX=1.
const useTsx = process.env.TEST_TSX === "1";
const mirror = useTsx ? undefined : buildTestMirror();
const loader = useTsx ? ["--import", "tsx"] : [];
const runnable = (file) => (useTsx ? file : file.replace(/\.ts$/, ".js"));
const cwd = mirror ?? process.cwd();
const tallyDir = mkdtempSync(join(tmpdir(), "agent-vault-tests-"));
const tallyFile = join(tallyDir, "tally");
const env = {
  ...process.env,
  NODE_ENV: "test",
  // Vault processes the tests start set up no circuit in the background (test/zk/auto-setup
  // turns it on for itself).
  VAULT_ZK_SETUP: "off",
  TEST_TALLY_FILE: tallyFile,
  TEST_SOURCE_ROOT: process.cwd(),
  // One first start per run, copied by the test vaults (test/helpers/vault-snapshot.ts).
  TEST_VAULT_SNAPSHOT: join(tallyDir, "vault-snapshot"),
  // Where test/zk/prepare.ts says the circuit setup is ready (or failed): the zk files
  // wait for it rather than build it a second time (test/zk/helpers.ts).
  TEST_ZK_SETUP_MARKER: join(tallyDir, "zk-setup"),
};
const integrationConcurrency = Number(process.env.TEST_CONCURRENCY) || 2;

function run(cmd, argv, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { env, cwd, ...opts });
    child.on("exit", (code) => resolve({ code: code ?? 1, child }));
  });
}

function runTier(tier) {
  const concurrency = tier.name === "unit" ? 2 : tier.name === "zk" ? 1 : integrationConcurrency;
  console.error(`\n## ${tier.name}: ${tier.files.length} files, concurrency ${concurrency}`);
  return run(
    process.execPath,
    [
      ...loader,
      "--enable-source-maps",
      "--test",
      `--test-concurrency=${concurrency}`,
      "--test-reporter=spec",
      "--test-reporter-destination=stdout",
      "--test-reporter=./scripts/file-durations.mjs",
      "--test-reporter-destination=stderr",
      ...tier.files.map(runnable),
    ],
    { stdio: "inherit" },
  );
}

// The circuit setup, when a zk file will run: started now, awaited before the zk tier.
const setup = tiers.some((t) => t.name === "zk")
  ? run(process.execPath, [...loader, runnable("test/zk/prepare.ts")], {
      stdio: ["ignore", "inherit", "inherit"],
    })
  : Promise.resolve({ code: 0 });

const started = Date.now();
let failed = false;
if (tiers.length > 1 && !only) {
  // Every tier in one pool of two (`npm test`): the longest files first, the zk files
  // once the integration files have all started (the setup, begun above, is long ready
  // by then), the short unit files last, filling the slot that frees first. Tier by
  // tier, each tier's last file ran alone on one of the two cores.
  const order = ["integration", "zk", "unit"];
  const pool = order
    .flatMap((name) => tiers.find((t) => t.name === name)?.files ?? [])
    .sort(bySlowRank);
  const [{ code }, prepared] = await Promise.all([runTier({ name: "all", files: pool }), setup]);
  if (code !== 0 || prepared.code !== 0) failed = true;
} else {
  for (const tier of tiers) {
    if (tier.name === "zk" && (await setup).code !== 0) {
      console.error("the circuit setup failed: the zk tier cannot run");
      failed = true;
      continue;
    }
    const { code } = await runTier(tier);
    if (code !== 0) failed = true;
  }
}
console.error(`\nall tiers: ${((Date.now() - started) / 1000).toFixed(1)} s`);
// One closing line for every tier together (each tier's node:test summary is above).
let [passed, failedCount] = [0, 0];
try {
  for (const line of readFileSync(tallyFile, "utf8").trim().split("\n")) {
    const [p, f] = line.split(" ").map(Number);
    passed += p ?? 0;
    failedCount += f ?? 0;
  }
} catch {
  // no tier reported (e.g. it crashed before its reporter ran): the exit code says so
}
rmSync(tallyDir, { recursive: true, force: true });
if (failed && failedCount === 0) failedCount = 1;
console.log(`${passed} passed, ${failedCount} failed`);
process.exit(failed ? 1 : 0);
