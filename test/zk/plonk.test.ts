/**
 * PLONK over a universal ptau (src/zk/plonk.ts): a setup with no phase 2 and no
 * contribution, labelled "universal-ceremony" only over a listed ptau; its key is what
 * anybody derives from the r1cs and the ptau, so an auditor derives it and trusts it
 * (verify-bundle --r1cs --ptau, zk verify-setup) without trusting whoever ran the setup.
 * Bundles proved by PLONK verify with stock snarkjs and with verifyBundle, through a vault
 * configured with VAULT_ZK_SYSTEM=plonk too. N=1 at depth 1 (5,701 PLONK constraints at
 * --O1) fits the shipped 2^13 development ptau, which a test-only listing stands in for a
 * published ceremony file. Builds its own circuits (no shared setup to wait for).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, test } from "node:test";
import * as snarkjs from "snarkjs";
import type { AuditLog } from "../../src/audit/types.js";
import { verifyBundleCommand } from "../../src/cli/zk.js";
import { zkCommand } from "../../src/cli/zk-setup.js";
import { isVaultError } from "../../src/errors/index.js";
import { type Bundle, verifyBundle } from "../../src/zk/bundle.js";
import { derivePlonkKey } from "../../src/zk/plonk.js";
import { checkPtau, listPtauForTests } from "../../src/zk/ptau.js";
import {
  type Artifacts,
  compileCircuit,
  ensureArtifacts,
  INIT_ZKEY,
  releaseCurve,
  shippedDevelopmentPtau,
} from "../../src/zk/setup.js";
import { installZkey, verifySetup } from "../../src/zk/trust.js";
import { ethTx, startTestVault, type TestVault } from "../helpers/vault.js";
import {
  ALICE,
  appendNoise,
  appendSpend,
  CLUSTER,
  cli,
  freshLog,
  makeBundle,
  WEI,
} from "./helpers.js";
import { auditorHeaders } from "./vault-helpers.js";

const PARAMS = { n: 1, depth: 1, system: "plonk" as const };
let scratch: string;
let ptau: string;
let art: Artifacts;
let log: AuditLog;
let bundle: Bundle;
let unlist: () => void;
let tv: TestVault | undefined;

after(releaseCurve);
after(async () => {
  unlist?.();
  await tv?.stop();
});

/** The shipped development ptau stands in for a published ceremony file, in this process only. */
async function listStandIn(): Promise<() => void> {
  const { blake2b } = await checkPtau(ptau, { allowUnlisted: true });
  return listPtauForTests({ power: 13, file: "stand-in_13.ptau", blake2b });
}

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), "av-plonk-test-"));
  ptau = (shippedDevelopmentPtau(13) as { path: string }).path;
  unlist = await listStandIn();
  art = await ensureArtifacts({ ...PARAMS, ptau, buildRoot: join(scratch, "build") });
  log = await freshLog();
  await appendSpend(log, { amount: WEI("0.004") });
  await appendNoise(log);
  bundle = await makeBundle(log, art);
});

test("a PLONK setup over a listed ptau is universal-ceremony: no phase 2, the key anybody derives", async () => {
  assert.equal(art.setup.system, "plonk");
  assert.equal(art.setup.setup, "universal-ceremony");
  assert.equal(art.setup.phase1.source, "listed");
  assert.deepEqual(art.setup.contributions, []);
  assert.deepEqual(art.transcript.phase2.contributions, []);
  assert.equal(art.vkey.protocol, "plonk");
  assert.match(basename(art.dir), /^plonk-n1-d1$/);
  // No contribution-free key either: nothing was contributed.
  assert.equal(existsSync(join(art.dir, INIT_ZKEY)), false);
  const gates = art.transcript.circuit.plonkGates as number;
  assert.ok(gates > art.transcript.circuit.constraints && gates <= 2 ** 13, String(gates));
  // The auditor's own derivation from the r1cs and the ptau gives the vault's key.
  const derived = await derivePlonkKey({ r1cs: art.r1cs, ptau });
  assert.equal(derived.ok, true, derived.error);
  assert.equal(derived.vkeySha256, art.transcript.vkeySha256);
});

test("PLONK batch proofs verify with stock snarkjs and verifyBundle; a changed signal or a relabelled system fails", async () => {
  assert.equal(bundle.batches.length, 2);
  for (const batch of bundle.batches) {
    assert.equal(await snarkjs.plonk.verify(art.vkey, batch.publicSignals, batch.proof), true);
  }
  const check = await verifyBundle(bundle, {
    clusterAddress: CLUSTER.address,
    trustedVkeys: [art.transcript.vkeySha256],
  });
  assert.equal(check.ok, true, check.error);
  assert.equal(check.trusted, true);
  assert.deepEqual(check.warnings, []);
  assert.match(check.statement ?? "", /made 1 signed spend/);

  const forged = structuredClone(bundle);
  const signals = (forged.batches[0] as { publicSignals: string[] }).publicSignals;
  signals[11] = "0"; // spendCount: claim the spend away
  forged.claim.spendCount = 0;
  const refused = await verifyBundle(forged, { clusterAddress: CLUSTER.address });
  assert.equal(refused.ok, false);
  assert.match(refused.error ?? "", /does not verify/);

  const relabelled = structuredClone(bundle);
  relabelled.setup.system = "groth16";
  const mixed = await verifyBundle(relabelled, { clusterAddress: CLUSTER.address });
  assert.equal(mixed.ok, false);
  assert.match(mixed.error ?? "", /says groth16 but its verification key is plonk/);
});

test("verify-bundle derives the PLONK key from --r1cs and --ptau: trusted over a listed ptau, not for another circuit or an unlisted ptau", async () => {
  const file = join(scratch, "bundle.json");
  writeFileSync(file, JSON.stringify(bundle));
  const verify = (...flags: string[]) =>
    cli(() => verifyBundleCommand([file, `--cluster-address=${CLUSTER.address}`, ...flags]));

  const derived = await verify(`--r1cs=${art.r1cs}`, `--ptau=${ptau}`);
  assert.equal(derived.code, 0, derived.stderr);
  assert.match(derived.stdout, /^VERIFIED .*plonk universal-ceremony.*, trusted\)/);
  assert.doesNotMatch(derived.stderr, /WARNING/);

  const bare = await verify();
  assert.equal(bare.code, 3);
  assert.match(bare.stderr, /WARNING: untrusted setup.*derive it yourself/);
  assert.equal((await verify(`--r1cs=${art.r1cs}`)).code, 2);

  // Another circuit (depth 2) derives another key: the bundle's is not trusted through it.
  const other = join(scratch, "other");
  await compileCircuit({ n: 1, depth: 2, system: "plonk" }, other, () => {}, { wasm: false });
  const wrong = await verify(`--r1cs=${join(other, "main.r1cs")}`, `--ptau=${ptau}`);
  assert.equal(wrong.code, 3, wrong.stderr);
  assert.match(wrong.stderr, /WARNING: untrusted setup/);

  // Without the listing the same ptau is a development file: derived, but not trusted.
  unlist();
  try {
    const dev = await verify(`--r1cs=${art.r1cs}`, `--ptau=${ptau}`);
    assert.equal(dev.code, 3);
    assert.match(dev.stderr, /not a published ceremony file/);
    // verify-setup names it for what it is.
    const v = await verifySetup({ zkey: art.zkey, r1cs: art.r1cs, ptau });
    assert.equal(v.ok, true, v.error);
    assert.equal(v.setup?.setup, "development");
    assert.equal(v.setup?.phase1.source, "shipped-development");
    // A mismatching circuit is named as such.
    const mismatch = await verifySetup({
      zkey: art.zkey,
      r1cs: join(other, "main.r1cs"),
      ptau,
    });
    assert.equal(mismatch.ok, false);
    assert.equal(mismatch.code, "ZK_CIRCUIT_MISMATCH");
  } finally {
    unlist = await listStandIn();
  }
});

test("a PLONK key takes no contribution and no install: both are refused", async () => {
  const out = join(scratch, "contributed.zkey");
  const contributed = await cli(() =>
    zkCommand(["contribute", "--zkey", art.zkey, "--out", out, "--name", "auditor"]),
  );
  assert.equal(contributed.code, 1);
  assert.match(contributed.stderr, /plonk key: only a Groth16 key has a phase 2/);
  assert.equal(existsSync(out), false);
  await assert.rejects(
    installZkey(art, art.zkey),
    (e) => isVaultError(e) && e.code === "ZK_SETUP_INVALID" && /no phase 2/.test(e.message),
  );
});

test("a vault with VAULT_ZK_SYSTEM=plonk proves over HTTP: the bundle names PLONK and verifies", async () => {
  tv = await startTestVault({
    VAULT_ZK_SYSTEM: "plonk",
    VAULT_ZK_BATCH: "1",
    VAULT_ZK_DEPTH: "1",
    VAULT_ZK_BUILD_DIR: join(scratch, "build"),
  });
  const policy = {
    chains: [84532],
    assets: { ETH: { maxPerTx: "0.01", maxPer24h: "0.05" } },
    recipients: [ALICE],
  };
  const agentId = (await tv.createAgent(policy)).id;
  const spender = await tv.issueKey(agentId, ["EXECUTE", "SPEND"]);
  const auditor = await auditorHeaders(tv);
  const cp = await tv.app.inject({
    method: "POST",
    url: "/v1/audit/checkpoints",
    headers: tv.admin,
  });
  assert.equal(cp.statusCode, 200, cp.body);
  const fromSeq = (await tv.vault.audit.head()).seq + 1;
  const signed = await tv.app.inject({
    method: "POST",
    url: `/v1/agents/${agentId}/sign/transaction`,
    headers: spender.auth,
    payload: { tx: ethTx({ to: ALICE, value: "3000000000000000", nonce: 1 }) },
  });
  assert.equal(signed.statusCode, 200, signed.body);
  const toSeq = (await tv.vault.audit.head()).seq;
  const asked = await tv.app.inject({
    method: "POST",
    url: "/v1/proofs",
    headers: auditor,
    payload: { agentId, fromSeq, toSeq },
  });
  assert.equal(asked.statusCode, 202, asked.body);
  const id = asked.json().proofId as string;
  const deadline = Date.now() + 300_000;
  let status = "";
  while (status !== "done") {
    const job = await tv.app.inject({ method: "GET", url: `/v1/proofs/${id}`, headers: auditor });
    status = job.json().status;
    assert.ok(status !== "failed" && status !== "cancelled", job.body);
    assert.ok(Date.now() < deadline, "the PLONK proof job did not finish in 5 minutes");
    await new Promise((r) => setTimeout(r, 200));
  }
  const res = await tv.app.inject({
    method: "GET",
    url: `/v1/proofs/${id}/bundle`,
    headers: auditor,
  });
  const served = res.json() as Bundle;
  assert.equal(served.setup.system, "plonk");
  assert.equal(served.verificationKey.protocol, "plonk");
  const cps = await tv.app.inject({
    method: "GET",
    url: "/v1/audit/checkpoints",
    headers: auditor,
  });
  const check = await verifyBundle(served, {
    clusterAddress: cps.json().clusterAddress as string,
    trustedVkeys: [art.transcript.vkeySha256],
  });
  assert.equal(check.ok, true, check.error);
  assert.equal(check.trusted, true);
  assert.match(check.statement ?? "", /made 1 signed spend/);
});
