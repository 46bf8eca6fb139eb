/**
 * `agent-vault verify-bundle <bundle.json> [--cluster-address=0x…] [--vkey=verification_key.json]
 *      [--trust-vkey=<sha256>]… [--zkey=final.zkey --trust-contribution=<hash>… [--r1cs] [--ptau]]
 *      [--r1cs=main.r1cs --ptau=ceremony.ptau]`
 *   checks every batch proof, the head links, the checkpoint signatures against the
 *   cluster key and prints the statement. Exit 0: everything holds and the verification key
 *   is one the auditor trusts; 3: everything holds but the key is not trusted (or the setup is
 *   development), with WARNING lines: anyone holding the setup's secret could have forged the
 *   proofs, so a script that reads only the exit code must not take that for a pass;
 *   1: verification failed; 2: usage.
 *   Trust comes from --trust-vkey (the sha256 `zk verify-setup` printed for a proving key
 *   holding the auditor's contribution), or from --zkey with --trust-contribution: the proving
 *   key is verified here against the r1cs and ptau (snarkjs zkey verify) and its key is
 *   trusted when its transcript holds one of those contributions over a published ptau.
 *   For a PLONK bundle, --r1cs and --ptau alone derive the key (src/zk/plonk.ts): it is
 *   trusted when the ptau is a published ceremony file, whoever ran the setup.
 * `agent-vault export-verifier [--out=Verifier.sol] [--zkey=final.zkey]`
 *   writes the Solidity Groth16 verifier of the compliance circuit (snarkjs).
 * `agent-vault prove-bundle <agentId> --from=S --to=T [--out=bundle.json]`
 *   asks a running vault for a bundle (POST /v1/proofs, poll, download).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadClientConfig, loadConfig } from "../config/index.js";
import { type Bundle, verifyBundle } from "../zk/bundle.js";
import { derivePlonkKey } from "../zk/plonk.js";
import { checkPtau } from "../zk/ptau.js";
import { loadArtifacts, releaseCurve } from "../zk/setup.js";
import { loadSnarkjs } from "../zk/snarkjs-lazy.js";
import { verifySetup } from "../zk/trust.js";
import { contributionLines, phase1Line, setupInputs } from "./zk-setup.js";

export const EXIT_UNTRUSTED = 3;

export async function verifyBundleCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      "cluster-address": { type: "string" },
      vkey: { type: "string" },
      "trust-vkey": { type: "string", multiple: true },
      "trust-contribution": { type: "string", multiple: true },
      zkey: { type: "string" },
      r1cs: { type: "string" },
      ptau: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const file = positionals[0];
  if (!file) {
    console.error(
      "usage: verify-bundle <bundle.json> [--cluster-address=0x…] [--vkey=file] [--trust-vkey=<sha256>]… [--zkey=final.zkey --trust-contribution=<hash>…] [--r1cs=main.r1cs --ptau=ceremony.ptau]",
    );
    return 2;
  }
  const trustContributions = (values["trust-contribution"] ?? []).map((h) => h.toLowerCase());
  if (trustContributions.length > 0 !== Boolean(values.zkey)) {
    console.error(
      "--trust-contribution needs --zkey (and --zkey needs --trust-contribution): a bundle's list of contributions is the vault's claim; only a proving key verified against the circuit and the ptau shows which contributions made its verification key",
    );
    return 2;
  }
  const trustedVkeys = (values["trust-vkey"] ?? []).map((h) => h.toLowerCase());
  const notes: string[] = [];
  const early: string[] = [];
  if (values.zkey) {
    const v = await verifySetup({ zkey: values.zkey, ...(await setupInputs(values)) });
    if (!v.ok || !v.setup || !v.vkeySha256) {
      await releaseCurve();
      console.log(
        `NOT VERIFIED: the proving key ${values.zkey} does not verify (${v.code}): ${v.error}`,
      );
      return 1;
    }
    notes.push(`proving key ${values.zkey} verified (${v.setup.system}, ${v.setup.setup})`);
    notes.push(phase1Line(v), ...contributionLines(v.setup.contributions));
    const mine = v.setup.contributions.filter((c) => trustContributions.includes(c.hash));
    if (v.setup.setup === "development") {
      early.push(
        `the proving key's phase 1 is not a published ceremony file (${v.setup.phase1.source}): its key is not trusted, whatever its contributions`,
      );
    } else if (mine.length === 0) {
      early.push("none of the contributions you trust is in the proving key's transcript");
    } else {
      trustedVkeys.push(v.vkeySha256);
      notes.push(
        `trusting verification key sha256 ${v.vkeySha256}: its transcript holds ${mine.map((c) => JSON.stringify(c.name)).join(", ")}`,
      );
    }
  }
  if (!values.zkey && (values.r1cs || values.ptau)) {
    if (!values.r1cs || !values.ptau) {
      console.error(
        "--r1cs and --ptau go together: the PLONK key is derived from the circuit and the ptau",
      );
      return 2;
    }
    const derived = await trustDerivedPlonkKey(values.r1cs, values.ptau, notes, early);
    if (derived) trustedVkeys.push(derived);
  }
  const bundle = JSON.parse(readFileSync(file, "utf8")) as Bundle;
  const check = await verifyBundle(bundle, {
    ...(values["cluster-address"] ? { clusterAddress: values["cluster-address"] } : {}),
    ...(values.vkey ? { verificationKey: JSON.parse(readFileSync(values.vkey, "utf8")) } : {}),
    trustedVkeys,
  });
  check.warnings.unshift(...early);
  await releaseCurve();
  const code = !check.ok ? 1 : check.trusted ? 0 : EXIT_UNTRUSTED;
  if (values.json) {
    console.log(JSON.stringify(check, null, 2));
    return code;
  }
  for (const n of notes) console.error(n);
  for (const w of check.warnings) console.error(`WARNING: ${w}`);
  if (check.ok) {
    console.log(
      `VERIFIED (${check.batches} batch proof(s), ${check.setup?.system} ${check.setup?.setup} setup, verification key sha256 ${check.verificationKeySha256}${check.trusted ? ", trusted" : ", NOT TRUSTED"})`,
    );
    console.log(check.statement);
  } else {
    console.log(`NOT VERIFIED: ${check.error}`);
  }
  return code;
}

/**
 * Derives the PLONK verification key of `r1cs` over `ptau`; returns its SHA-256 to trust when
 * the ptau is a published ceremony file (nothing else then needs trusting), else undefined
 * with a warning.
 */
async function trustDerivedPlonkKey(
  r1cs: string,
  ptau: string,
  notes: string[],
  warnings: string[],
): Promise<string | undefined> {
  const derived = await derivePlonkKey({ r1cs, ptau });
  if (!derived.ok || !derived.vkeySha256) {
    warnings.push(`no PLONK key could be derived from ${r1cs} and ${ptau}: ${derived.error}`);
    return undefined;
  }
  notes.push(
    `PLONK verification key derived from ${r1cs} and ${ptau}: sha256 ${derived.vkeySha256}`,
  );
  const listed = (await checkPtau(ptau, { allowUnlisted: true })).listed;
  if (!listed) {
    warnings.push(
      `${ptau} is not a published ceremony file: a key derived from it is not trusted (its maker could forge proofs)`,
    );
    return undefined;
  }
  notes.push(`trusting it: ${listed.file} is a published ceremony file (BLAKE2b-512 matches)`);
  return derived.vkeySha256;
}

export async function exportVerifierCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      out: { type: "string", default: "ComplianceVerifier.sol" },
      zkey: { type: "string" },
    },
  });
  let zkey = values.zkey;
  if (!zkey) {
    const { zk } = loadConfig();
    const art = loadArtifacts(zk, zk.buildRoot);
    if (!art)
      throw new Error("no circuit artefacts: run npm run circuits:setup first (or pass --zkey)");
    zkey = art.zkey;
  }
  const snarkjsDir = dirname(fileURLToPath(import.meta.resolve("snarkjs")));
  const template = (system: string) =>
    readFileSync(join(snarkjsDir, "templates", `verifier_${system}.sol.ejs`), "utf8");
  const code = await (await loadSnarkjs()).zKey.exportSolidityVerifier(zkey, {
    groth16: template("groth16"),
    plonk: template("plonk"),
  });
  await releaseCurve();
  writeFileSync(values.out as string, code);
  console.log(`wrote ${values.out}`);
  return 0;
}

export async function proveBundleCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      from: { type: "string" },
      to: { type: "string" },
      asset: { type: "string" },
      bound: { type: "string" },
      out: { type: "string", default: "bundle.json" },
    },
  });
  const agentId = positionals[0];
  if (!agentId || !values.from || !values.to) {
    throw new Error(
      "usage: prove-bundle <agentId> --from=S --to=T [--asset=A] [--bound=B] [--out=F]",
    );
  }
  const config = loadClientConfig();
  const headers = {
    authorization: `Bearer ${config.apiKey ?? config.adminKey}`,
    "content-type": "application/json",
  };
  const res = await fetch(`${config.url}/v1/proofs`, {
    method: "POST",
    headers,
    body: JSON.stringify({
      agentId,
      fromSeq: Number(values.from),
      toSeq: Number(values.to),
      ...(values.asset ? { asset: values.asset } : {}),
      ...(values.bound ? { bound: values.bound } : {}),
    }),
  });
  const started = (await res.json()) as { proofId?: string };
  if (res.status !== 202 || !started.proofId) {
    console.error(JSON.stringify(started));
    return 1;
  }
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const job = (await (
      await fetch(`${config.url}/v1/proofs/${started.proofId}`, { headers })
    ).json()) as { status: string; progress: { done: number; batches: number }; error?: unknown };
    console.error(`${job.status} ${job.progress?.done ?? 0}/${job.progress?.batches ?? "?"}`);
    if (job.status === "failed" || job.status === "cancelled") {
      console.error(
        job.status === "cancelled" ? "the proof job was cancelled" : JSON.stringify(job.error),
      );
      return 1;
    }
    if (job.status === "done") break;
  }
  const bundle = await (
    await fetch(`${config.url}/v1/proofs/${started.proofId}/bundle`, { headers })
  ).text();
  writeFileSync(values.out as string, bundle);
  console.log(`wrote ${values.out}`);
  return 0;
}
