/**
 * A vault whose circuit size has no artefacts sets them up by itself (issue 11, item 2):
 * in a child process at nice 19, while the key answers 503 PROOF_SETUP_IN_PROGRESS with a
 * phase and a percentage, signing works and proof requests queue; once done it serves the
 * key and proves what was queued. A size too large for the shipped development ptau is
 * refused with what to run; a setup stopped half-way leaves nothing and starts again.
 * Tiny sizes (N=2, depth 1: 2,542 constraints) in fresh temporary build folders.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { getPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadConfig } from "../../src/config/index.js";
import { createProofSetup, type ProofSetupService } from "../../src/services/proof-setup.js";
import { isAlive } from "../../src/store/data-dir-lock.js";
import { type Bundle, verifyBundle } from "../../src/zk/bundle.js";
import {
  artifactDir,
  compileCircuit,
  DEFAULT_BUILD_ROOT,
  loadArtifacts,
  releaseCurve,
  shippedDevelopmentPtau,
} from "../../src/zk/setup.js";
import { removeStaleScratch } from "../../src/zk/setup-worker.js";
import { startTestVault, type TestVault } from "../helpers/vault.js";
import { ALICE } from "./helpers.js";
import { auditorHeaders, PAYMENT_POLICY } from "./vault-helpers.js";

after(releaseCurve);

const TINY = { n: 2, depth: 1 };
/** Too large for the shipped 2^13 ptau: 8,747 constraints (2^14). */
const LARGE = { n: 13, depth: 2 };

const freshRoot = () => mkdtempSync(join(tmpdir(), "av-zk-auto-"));

/** Polls `fn` (every 200 ms) until it returns a value, or fails after `ms`. */
async function until<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  ms: number,
) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

let largeRoot: string;
let largeProbe: ProofSetupService;
let failingRoot: string;
let failingPtau: string;
let failingProbe: ProofSetupService;

// The too-large size and the failing setup compile (about 15 s each) beside the first test's setup.
before(() => {
  largeRoot = freshRoot();
  largeProbe = createProofSetup({
    params: { ...LARGE, buildRoot: largeRoot },
    mode: "auto",
  });
  failingRoot = freshRoot();
  failingPtau = join(failingRoot, "not-a-ceremony.ptau");
  writeFileSync(failingPtau, "not a powers-of-tau file");
  failingProbe = createProofSetup({
    params: { ...TINY, ptau: failingPtau, buildRoot: failingRoot },
    mode: "auto",
  });
});
after(() => largeProbe?.stop());
after(() => failingProbe?.stop());

// PLONK, sized by its PLONK constraints: N=1 at depth 1 (5,701) fits the shipped 2^13 ptau,
// N=2 (8,638) does not. Both start now, beside the others.
const PLONK_FITS = { n: 1, depth: 1, system: "plonk" as const };
const PLONK_LARGE = { n: 2, depth: 1, system: "plonk" as const };
let plonkFits: ProofSetupService;
let plonkLarge: ProofSetupService;
before(() => {
  plonkFits = createProofSetup({ params: { ...PLONK_FITS, buildRoot: freshRoot() }, mode: "auto" });
  plonkLarge = createProofSetup({
    params: { ...PLONK_LARGE, buildRoot: freshRoot() },
    mode: "auto",
  });
});
after(() => plonkFits?.stop());
after(() => plonkLarge?.stop());

let tv: TestVault | undefined;

/** A vault proving at `size` from `buildRoot`, setting itself up; its log lines go to `lines`. */
function startSettingUpVault(
  size: { n: number; depth: number },
  buildRoot: string,
  lines: string[],
): Promise<TestVault> {
  return startTestVault(
    {
      VAULT_ZK_BATCH: String(size.n),
      VAULT_ZK_DEPTH: String(size.depth),
      VAULT_ZK_BUILD_DIR: buildRoot,
      VAULT_ZK_SETUP: "auto",
    },
    { log: (l) => lines.push(l) },
  );
}
after(async () => tv?.stop());

test("a first start sets the circuit up in the background: 503 PROOF_SETUP_IN_PROGRESS, signing works, a queued proof is proved", {
  timeout: 300_000,
}, async () => {
  const buildRoot = freshRoot();
  const lines: string[] = [];
  tv = await startSettingUpVault(TINY, buildRoot, lines);
  const v = tv;
  const inProgress = () => v.vault.proofs.setup().state === "in-progress";
  assert.ok(inProgress(), JSON.stringify(v.vault.proofs.setup()));
  assert.ok(
    lines.some((l) => /building it in the background/.test(l)),
    lines.join("\n"),
  );

  const vk = await v.app.inject({
    method: "GET",
    url: "/v1/proofs/verification-key",
    headers: v.admin,
  });
  assert.equal(vk.statusCode, 503, vk.body);
  const err = vk.json().error;
  assert.equal(err.code, "PROOF_SETUP_IN_PROGRESS");
  assert.ok(["starting", "compile", "phase2", "export"].includes(err.phase), vk.body);
  assert.ok(err.percent >= 0 && err.percent < 100, vk.body);
  assert.equal(vk.headers["retry-after"], "10");

  // The setup process runs at the lowest priority.
  const pid = await until(
    "the setup process",
    () => {
      const s = v.vault.proofs.setup();
      return s.state === "in-progress" ? s.pid : undefined;
    },
    30_000,
  );
  assert.equal(getPriority(pid), 19);

  // Signing works meanwhile.
  const agentId = (await v.createAgent(PAYMENT_POLICY)).id;
  const spender = await v.issueKey(agentId, ["EXECUTE", "SPEND"]);
  const signed = await v.app.inject({
    method: "POST",
    url: `/v1/agents/${agentId}/sign/transaction`,
    headers: spender.auth,
    payload: {
      tx: {
        chainId: 84532,
        to: ALICE,
        value: "3000000000000000",
        data: "0x",
        nonce: 1,
        gasLimit: 21000,
        maxFeePerGas: "1000000000",
        maxPriorityFeePerGas: "1000000",
      },
    },
  });
  assert.equal(signed.statusCode, 200, signed.body);
  assert.ok(inProgress(), "the setup ended before the payment was signed");

  // A proof asked for now is queued, and proved once the setup is done.
  const auditor = await auditorHeaders(v);
  const asked = await v.app.inject({
    method: "POST",
    url: "/v1/proofs",
    headers: auditor,
    payload: { agentId, fromSeq: 1, toSeq: (await v.vault.audit.head()).seq },
  });
  assert.equal(asked.statusCode, 202, asked.body);
  assert.equal(asked.json().status, "queued");
  assert.ok(inProgress(), "the setup ended before the proof was asked for");
  const { proofId } = asked.json();

  const percents: number[] = [err.percent];
  const key = await until(
    "the verification key",
    async () => {
      const res = await v.app.inject({
        method: "GET",
        url: "/v1/proofs/verification-key",
        headers: auditor,
      });
      if (res.statusCode === 200) return res.json() as { setup: { setup: string } };
      assert.equal(res.json().error.code, "PROOF_SETUP_IN_PROGRESS", res.body);
      percents.push(res.json().error.percent);
      return undefined;
    },
    240_000,
  );
  assert.equal(key.setup.setup, "development");
  assert.deepEqual(
    percents,
    [...percents].sort((a, b) => a - b),
    "the percentage never goes back",
  );
  assert.ok(
    lines.some((l) => /set up in \d+ s/.test(l)),
    lines.join("\n"),
  );
  assert.ok(loadArtifacts(TINY, buildRoot), "the artefacts are in the build folder");

  const job = await until(
    "the queued proof",
    async () => {
      const res = await v.app.inject({
        method: "GET",
        url: `/v1/proofs/${proofId}`,
        headers: auditor,
      });
      const j = res.json();
      return ["done", "failed", "cancelled"].includes(j.status) ? j : undefined;
    },
    120_000,
  );
  assert.equal(job.status, "done", JSON.stringify(job.error));
  assert.equal(job.result.spendCount, 1);
  const bundle = (
    await v.app.inject({ method: "GET", url: `/v1/proofs/${proofId}/bundle`, headers: auditor })
  ).json() as Bundle;
  const check = await verifyBundle(bundle, {
    clusterAddress: (await v.vault.checkpoints.clusterAddress()) ?? "",
  });
  assert.equal(check.ok, true, check.error);
  await v.stop();
  tv = undefined;
});

test("a setup stopped half-way leaves no artefacts and starts again at the next start", {
  timeout: 60_000,
}, async () => {
  const buildRoot = freshRoot();
  const params = { ...TINY, buildRoot };
  const first = createProofSetup({ params, mode: "auto" });
  const pid = await until(
    "the setup process",
    () => {
      const s = first.status();
      return s.state === "in-progress" ? s.pid : undefined;
    },
    30_000,
  );
  // Outside the repository circom2 compiles in a scratch folder named after the process.
  const scratch = join(DEFAULT_BUILD_ROOT, `.compile-${pid}`);
  await until("the compile scratch folder", () => (existsSync(scratch) ? true : undefined), 30_000);
  await first.stop();
  assert.equal(isAlive(pid), false);
  assert.equal(loadArtifacts(TINY, buildRoot), undefined);
  assert.equal(existsSync(artifactDir(TINY, buildRoot)), false);
  assert.ok(existsSync(scratch), "the stop left the scratch folder");

  const second = createProofSetup({ params, mode: "auto" });
  try {
    assert.equal(second.status().state, "in-progress");
    assert.equal(existsSync(scratch), false, "the next start removed the stale scratch folder");
  } finally {
    await second.stop();
    removeStaleScratch(params);
  }
});

test("a size too large for the shipped ptau answers PROOF_UNAVAILABLE with the command to run", {
  timeout: 120_000,
}, async () => {
  const settled = await largeProbe.settled();
  assert.equal(settled.state, "unavailable", JSON.stringify(settled));
  assert.ok(settled.state === "unavailable" && (settled.constraints ?? 0) > 8192);
  assert.equal(loadArtifacts(LARGE, largeRoot), undefined);

  // A vault of that size knows it at once (remembered for this circuit source): no setup.
  const lines: string[] = [];
  tv = await startSettingUpVault(LARGE, largeRoot, lines);
  const v = tv;
  assert.equal(v.vault.proofs.setup().state, "unavailable");
  const line = lines.find((l) => l.startsWith("compliance proofs: unavailable"));
  assert.match(
    line ?? lines.join("\n"),
    /needs a 2\^14 ptau.*npm run circuits:setup -- --n=13 --depth=2 --ptau=/,
  );

  const vk = await v.app.inject({
    method: "GET",
    url: "/v1/proofs/verification-key",
    headers: v.admin,
  });
  assert.equal(vk.statusCode, 503);
  assert.equal(vk.json().error.code, "PROOF_UNAVAILABLE");
  assert.match(vk.json().error.hint, /npm run circuits:setup -- --n=13 --depth=2 --ptau=/);
  // Refused before the agent is even looked up.
  const asked = await v.app.inject({
    method: "POST",
    url: "/v1/proofs",
    headers: v.admin,
    payload: { agentId: "agt_anyone", fromSeq: 1, toSeq: 1 },
  });
  assert.equal(asked.statusCode, 503, asked.body);
  assert.equal(asked.json().error.code, "PROOF_UNAVAILABLE");
  assert.match(asked.json().error.message, /needs a 2\^14 ptau/);
});

test("a setup that fails answers PROOF_SETUP_FAILED, leaves nothing behind and is tried again at the next start", {
  timeout: 120_000,
}, async () => {
  const settled = await failingProbe.settled();
  assert.equal(settled.state, "failed", JSON.stringify(settled));
  const refusal = failingProbe.refusal({ queueing: true });
  assert.equal(refusal?.code, "PROOF_SETUP_FAILED");
  assert.equal(refusal?.status, 503);
  assert.match(String(refusal?.details.hint), /tries again at its next start/);
  assert.deepEqual(readdirSync(failingRoot), ["not-a-ceremony.ptau"], "no artefacts, no scratch");

  const params = { ...TINY, ptau: failingPtau, buildRoot: failingRoot };
  const again = createProofSetup({ params, mode: "auto" });
  try {
    assert.equal(again.status().state, "in-progress");
  } finally {
    await again.stop();
    removeStaleScratch(params);
  }
  // A ceremony ptau that is not there fails at once, without a setup process.
  const missing = createProofSetup({
    params: { ...params, ptau: join(failingRoot, "missing.ptau") },
    mode: "auto",
  });
  const now = missing.status();
  assert.equal(now.state, "failed");
  assert.match(now.state === "failed" ? now.message : "", /does not exist/);
});

test("the default size fits the shipped development ptau, so a first start can set it up", {
  timeout: 120_000,
}, async () => {
  const { n, depth } = loadConfig({}).zk;
  const { constraints, nPublic } = await compileCircuit({ n, depth }, freshRoot(), undefined, {
    wasm: false,
  });
  let power = 1;
  while (2 ** power < constraints + nPublic + 1) power++;
  assert.ok(
    shippedDevelopmentPtau(power),
    `N=${n} depth=${depth}: ${constraints} constraints need 2^${power}`,
  );
});

test("PLONK sets up in the background when its PLONK constraints fit the shipped ptau, and names the PLONK command when they do not", {
  timeout: 180_000,
}, async () => {
  const fits = await plonkFits.settled();
  assert.equal(fits.state, "ready", JSON.stringify(fits));
  const art = plonkFits.artifacts();
  assert.equal(art?.setup.system, "plonk");
  assert.equal(art?.setup.setup, "development");
  assert.deepEqual(art?.setup.contributions, []);

  const large = await plonkLarge.settled();
  assert.equal(large.state, "unavailable", JSON.stringify(large));
  assert.ok(large.state === "unavailable" && large.constraints === 8638, JSON.stringify(large));
  assert.match(
    large.state === "unavailable" ? large.hint : "",
    /8,638 PLONK constraints and needs a 2\^14 ptau.*npm run circuits:setup -- --n=2 --depth=1 --system=plonk --ptau=/,
  );
});
