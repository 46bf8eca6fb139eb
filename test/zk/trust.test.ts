/**
 * The setup's trust story: a ceremony ptau is used only when its BLAKE2b-512 hash is a
 * published one; labels say what the setup is; an auditor's phase-2 contribution is read
 * back from the key by snarkjs (`zk contribute` → `zk verify-setup`), a tampered key or one
 * for another circuit is refused (`zk install`), and `verify-bundle` passes quietly only for
 * a bundle whose verification key the auditor trusts.
 * Works on copies of the cached N=4 test setup (test/zk/helpers.ts); one contribution and
 * a few key verifications take seconds.
 */
import assert from "node:assert/strict";
import {
  closeSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import * as snarkjs from "snarkjs";
import type { AuditLog } from "../../src/audit/types.js";
import { verifyBundleCommand } from "../../src/cli/zk.js";
import { zkCommand } from "../../src/cli/zk-setup.js";
import { isVaultError } from "../../src/errors/index.js";
import { BUNDLE_FORMAT, type Bundle, verifyBundle } from "../../src/zk/bundle.js";
import { checkPtau, LISTED_PTAU, listPtauForTests } from "../../src/zk/ptau.js";
import {
  type Artifacts,
  artifactDir,
  compileCircuit,
  describeSetup,
  ensureArtifacts,
  initZkeyOf,
  loadArtifacts,
  ptauOf,
  REPO_ROOT,
  releaseCurve,
} from "../../src/zk/setup.js";
import { installZkey, verifySetup } from "../../src/zk/trust.js";
import { vkeySha256 } from "../../src/zk/zkey.js";
import {
  appendSpend,
  BOB,
  CLUSTER,
  cli,
  freshLog,
  makeBundle,
  TEST_BUILD_ROOT,
  TEST_PARAMS,
  testArtifacts,
  WEI,
} from "./helpers.js";

let art: Artifacts;
let ptau: string;
let scratch: string;
let log: AuditLog;

after(releaseCurve);

before(async () => {
  art = await testArtifacts();
  ptau = ptauOf(art) as string;
  // Made once (kept in the cache): checks against the local artefacts start from it.
  await initZkeyOf(art);
  // The CLI's defaults (--r1cs, --ptau) are the artefacts its config names: the test setup.
  process.env.VAULT_ZK_BUILD_DIR = TEST_BUILD_ROOT;
  process.env.VAULT_ZK_BATCH = String(TEST_PARAMS.n);
  process.env.VAULT_ZK_DEPTH = String(TEST_PARAMS.depth);
  scratch = mkdtempSync(join(tmpdir(), "av-zktrust-"));
  log = await freshLog();
  await appendSpend(log, { amount: WEI("0.003") });
  await appendSpend(log, { amount: WEI("0.004"), recipient: BOB });
});

/** A private copy of the cached test setup, to modify. */
function copyArtifacts(): Artifacts {
  const root = mkdtempSync(join(scratch, "build-"));
  cpSync(art.dir, artifactDir(TEST_PARAMS, root), { recursive: true });
  const copy = loadArtifacts(TEST_PARAMS, root);
  assert.ok(copy);
  return copy;
}

test("a ptau whose BLAKE2b-512 is not a published one is refused, before anything is built", async () => {
  const fake = join(scratch, "powersOfTau28_hez_final_13.ptau");
  writeFileSync(fake, "not a ceremony file");
  await assert.rejects(checkPtau(fake), (e) => isVaultError(e) && e.code === "PTAU_UNLISTED");
  const started = Date.now();
  await assert.rejects(
    ensureArtifacts({ ...TEST_PARAMS, ptau: fake, buildRoot: join(scratch, "never") }),
    (e) => isVaultError(e) && e.code === "PTAU_UNLISTED",
  );
  assert.ok(Date.now() - started < 5000, "refused before compiling");
  // Accepted only explicitly, and then not listed (the setup would be development).
  const accepted = await checkPtau(fake, { allowUnlisted: true });
  assert.equal(accepted.listed, undefined);
  const phase1 = { file: fake, power: 13, sha256: "", blake2b: accepted.blake2b };
  assert.equal(
    describeSetup("groth16", { ...phase1, source: "unlisted" }, []).setup,
    "development",
  );
  assert.equal(describeSetup("plonk", { ...phase1, source: "unlisted" }, []).setup, "development");
  assert.equal(
    describeSetup("plonk", { ...phase1, source: "listed" }, []).setup,
    "universal-ceremony",
  );
  assert.equal(
    describeSetup("groth16", { ...phase1, source: "listed" }, []).setup,
    "ceremony-with-contributions",
  );
  // The table is the one the snarkjs README publishes (the copy in node_modules), row for row.
  const readme = readFileSync(join(REPO_ROOT, "node_modules", "snarkjs", "README.md"), "utf8");
  const published = [
    ...readme.matchAll(
      /\|\s*(\d+)\s*\|[^|]*\|\s*\[(powersOfTau28_hez_final(?:_\d+)?\.ptau)\][^|]*\|\s*([0-9a-f]{128})\s*\|/g,
    ),
  ].map((m) => ({ power: Number(m[1]), file: m[2], blake2b: m[3] }));
  assert.equal(published.length, 21);
  assert.deepEqual([...LISTED_PTAU], published);
});

test("the shipped development ptau is labelled development; the transcript's contributions are read back from the key", () => {
  assert.equal(art.setup.system, "groth16");
  assert.equal(art.setup.setup, "development");
  assert.equal(art.setup.phase1.source, "shipped-development");
  assert.equal(art.setup.contributions.length, 1);
  assert.match(art.setup.contributions[0]?.name ?? "", /^agent-vault operator /);
  assert.match(art.setup.contributions[0]?.hash ?? "", /^[0-9a-f]{128}$/);
  assert.equal(art.transcript.vkeySha256, vkeySha256(art.vkey));
  assert.equal(art.vkey.setup, undefined, "no marker inside the key: its hash is snarkjs's export");
});

let contributed: string;
let contributionHash: string;

test("zk contribute prints a hash that zk verify-setup then lists, with the verification key's sha256", async () => {
  contributed = join(scratch, "auditor.zkey");
  const c = await cli(() =>
    zkCommand(["contribute", "--zkey", art.zkey, "--out", contributed, "--name", "auditor A"]),
  );
  assert.equal(c.code, 0, c.stderr);
  contributionHash = /contribution hash: ([0-9a-f]{128})/.exec(c.stdout)?.[1] as string;
  assert.ok(contributionHash, c.stdout);

  // r1cs and ptau: the CLI's defaults, this machine's artefacts (their contribution-free key
  // spares rebuilding it; --r1cs/--ptau would rebuild it from the r1cs, some 30 s here).
  const v = await cli(() =>
    zkCommand(["verify-setup", "--zkey", contributed, `--expect-contribution=${contributionHash}`]),
  );
  assert.equal(v.code, 0, v.stdout);
  assert.match(v.stdout, /^SETUP VERIFIED \(groth16, development\)/);
  assert.match(v.stdout, /shipped DEVELOPMENT ptau/);
  // Oldest first: the operator's, then the auditor's, with the hash contribute printed.
  assert.match(v.stdout, /contributions \(2, oldest first\)/);
  assert.match(v.stdout, new RegExp(`2\\. ${contributionHash}  "auditor A"`));
  const vkeyHash = /verification key sha256: ([0-9a-f]{64})/.exec(v.stdout)?.[1];
  const exported = await snarkjs.zKey.exportVerificationKey(contributed);
  assert.equal(vkeyHash, vkeySha256(exported));
  assert.notEqual(vkeyHash, art.transcript.vkeySha256, "a contribution changes the key");

  // A contribution that is not in the key is reported missing (r1cs and ptau: the defaults).
  const missing = await cli(() =>
    zkCommand(["verify-setup", "--zkey", art.zkey, `--expect-contribution=${contributionHash}`]),
  );
  assert.equal(missing.code, 1);
  assert.match(missing.stdout, /MISSING: contribution/);
});

test("a tampered proving key (bytes flipped) fails verify-setup", async () => {
  const tampered = join(scratch, "tampered.zkey");
  copyFileSync(contributed, tampered);
  const fd = openSync(tampered, "r+");
  const at = Math.floor(statSync(tampered).size * 0.6);
  const buf = Buffer.alloc(8);
  readSync(fd, buf, 0, 8, at);
  for (let i = 0; i < 8; i++) buf[i] = (buf[i] as number) ^ 0xff;
  writeSync(fd, buf, 0, 8, at);
  closeSync(fd);
  const init = (await initZkeyOf(art)) as string;
  const v = await verifySetup({ zkey: tampered, r1cs: art.r1cs, ptau, init });
  assert.equal(v.ok, false);
  assert.equal(v.code, "ZK_SETUP_INVALID");
  const out = await cli(() => zkCommand(["verify-setup", "--zkey", tampered]));
  assert.equal(out.code, 1);
  assert.match(out.stdout, /^SETUP NOT VERIFIED/);
});

test("zk install refuses a proving key for another circuit and leaves the artefacts as they were", async () => {
  const other = mkdtempSync(join(scratch, "other-"));
  // Another circuit: a small one shipped with circom_runtime (a snarkjs dependency), else
  // the compliance circuit at N=1 (a compile, some 20 s more).
  let r1cs = join(REPO_ROOT, "node_modules", "circom_runtime", "test", "circuit", "circuit.r1cs");
  if (!existsSync(r1cs)) {
    await compileCircuit({ n: 1, depth: 1 }, other);
    r1cs = join(other, "main.r1cs");
  }
  await snarkjs.zKey.newZKey(r1cs, ptau, join(other, "other.zkey"));
  const target = copyArtifacts();
  const before = readFileSync(target.zkey);
  await assert.rejects(
    installZkey(target, join(other, "other.zkey")),
    (e) => isVaultError(e) && e.code === "ZK_CIRCUIT_MISMATCH",
  );
  assert.ok(readFileSync(target.zkey).equals(before));
  assert.equal(
    loadArtifacts(TEST_PARAMS, join(target.dir, ".."))?.transcript.vkeySha256,
    target.transcript.vkeySha256,
  );
});

test("after install, bundles carry the auditor's contribution and key; verify-bundle is quiet only for a trusted key", async () => {
  // The shipped development ptau stands in for a published one (this process only), so
  // that the setup can be a ceremony at all; with the real table it stays development.
  const unlist = listPtauForTests({
    power: 13,
    file: "stand-in_13.ptau",
    blake2b: (await checkPtau(ptau, { allowUnlisted: true })).blake2b,
  });
  try {
    const target = copyArtifacts();
    const installed = await installZkey(target, contributed);
    const reloaded = loadArtifacts(TEST_PARAMS, join(target.dir, "..")) as Artifacts;
    assert.equal(reloaded.setup.setup, "ceremony-with-contributions");
    assert.deepEqual(
      reloaded.setup.contributions.map((c) => c.name),
      [art.setup.contributions[0]?.name, "auditor A"],
    );
    assert.equal(reloaded.setup.contributions[1]?.hash, contributionHash);
    assert.equal(vkeySha256(reloaded.vkey), installed.vkeySha256);
    assert.equal(reloaded.transcript.phase2.installed?.[0]?.replaced, art.transcript.vkeySha256);

    const bundle = await makeBundle(log, reloaded);
    assert.equal(bundle.format, BUNDLE_FORMAT);
    assert.equal(bundle.setup.contributions[1]?.hash, contributionHash);
    const trustedCheck = await verifyBundle(bundle, {
      clusterAddress: CLUSTER.address,
      trustedVkeys: [installed.vkeySha256],
    });
    assert.equal(trustedCheck.ok, true, trustedCheck.error);
    assert.equal(trustedCheck.trusted, true);
    assert.deepEqual(trustedCheck.warnings, []);

    const file = join(scratch, "bundle.json");
    writeFileSync(file, JSON.stringify(bundle));
    const verify = (...flags: string[]) =>
      cli(() => verifyBundleCommand([file, `--cluster-address=${CLUSTER.address}`, ...flags]));

    const quiet = await verify(`--trust-vkey=${installed.vkeySha256}`);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.match(quiet.stdout, /^VERIFIED .*ceremony-with-contributions.*, trusted\)/);
    assert.doesNotMatch(quiet.stderr, /WARNING/);

    const none = await verify();
    assert.equal(none.code, 3);
    assert.match(none.stdout, /^VERIFIED .*NOT TRUSTED/);
    assert.match(none.stderr, /WARNING: untrusted setup/);
    const wrong = await verify(`--trust-vkey=${art.transcript.vkeySha256}`);
    assert.equal(wrong.code, 3);
    assert.match(wrong.stderr, /WARNING: untrusted setup/);

    // The contribution route: the proving key is verified here, and trusted through it.
    const viaZkey = await verify(
      `--zkey=${reloaded.zkey}`,
      `--trust-contribution=${contributionHash}`,
    );
    assert.equal(viaZkey.code, 0, viaZkey.stderr);
    assert.doesNotMatch(viaZkey.stderr, /WARNING/);
    const otherContribution = await verify(
      `--zkey=${reloaded.zkey}`,
      `--trust-contribution=${"ab".repeat(64)}`,
    );
    assert.equal(otherContribution.code, 3);
    assert.match(otherContribution.stderr, /none of the contributions you trust/);
    // Without a proving key, a contribution hash proves nothing: refused as usage.
    const bare = await verify(`--trust-contribution=${contributionHash}`);
    assert.equal(bare.code, 2);

    // A bundle that lies about its setup gains nothing: the label is not what is trusted.
    const lying = structuredClone(bundle);
    lying.verificationKey = art.vkey;
    lying.batches = (await makeBundle(log, art)).batches;
    writeFileSync(file, JSON.stringify(lying));
    const liar = await verify(`--trust-vkey=${installed.vkeySha256}`);
    assert.equal(liar.code, 3);
    assert.match(liar.stderr, /WARNING: untrusted setup/);
  } finally {
    unlist();
  }
});

test("a development bundle verifies but always warns, even with its key trusted", async () => {
  const bundle: Bundle = await makeBundle(log, art);
  const check = await verifyBundle(bundle, {
    clusterAddress: CLUSTER.address,
    trustedVkeys: [art.transcript.vkeySha256],
  });
  assert.equal(check.ok, true, check.error);
  assert.equal(check.trusted, false);
  assert.ok(check.warnings.some((w) => /development setup/.test(w)));
  // A format-1 bundle (bare marker, marker inside the key) still verifies, with a warning.
  const v1 = structuredClone(bundle) as unknown as Record<string, unknown>;
  v1.format = "agent-vault/compliance-bundle@1";
  v1.setup = "development";
  v1.verificationKey = { ...art.vkey, setup: "development" };
  const legacy = await verifyBundle(v1 as unknown as Bundle, { clusterAddress: CLUSTER.address });
  assert.equal(legacy.ok, true, legacy.error);
  assert.ok(legacy.warnings.some((w) => /format-1/.test(w)));
});
