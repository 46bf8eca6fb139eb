/**
 * `agent-vault verify-bundle <bundle.json> [--cluster-address=0x…] [--vkey=verification_key.json]`
 *   checks every batch proof, the head links, the checkpoint signatures against the
 *   cluster key and prints the statement; exit code 0 only when everything holds.
 * `agent-vault export-verifier [--out=Verifier.sol] [--zkey=final.zkey]`
 *   writes the Solidity Groth16 verifier of the compliance circuit (snarkjs).
 * `agent-vault prove-bundle <agentId> --from=S --to=T [--out=bundle.json]`
 *   asks a running vault for a bundle (POST /v1/proofs, poll, download).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as snarkjs from "snarkjs";
import { loadClientConfig, loadConfig } from "../config/index.js";
import { type Bundle, verifyBundle } from "../zk/bundle.js";
import { loadArtifacts, releaseCurve } from "../zk/setup.js";

export async function verifyBundleCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      "cluster-address": { type: "string" },
      vkey: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const file = positionals[0];
  if (!file)
    throw new Error("usage: verify-bundle <bundle.json> [--cluster-address=0x…] [--vkey=file]");
  const bundle = JSON.parse(readFileSync(file, "utf8")) as Bundle;
  const check = await verifyBundle(bundle, {
    ...(values["cluster-address"] ? { clusterAddress: values["cluster-address"] } : {}),
    ...(values.vkey ? { verificationKey: JSON.parse(readFileSync(values.vkey, "utf8")) } : {}),
  });
  await releaseCurve();
  if (values.json) {
    console.log(JSON.stringify(check, null, 2));
  } else {
    for (const w of check.warnings) console.error(`WARNING: ${w}`);
    if (check.ok) {
      console.log(
        `VERIFIED (${check.batches} batch proof(s), ${check.setup} setup, verification key sha256 ${check.verificationKeySha256})`,
      );
      console.log(check.statement);
    } else {
      console.log(`NOT VERIFIED: ${check.error}`);
    }
  }
  return check.ok ? 0 : 1;
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
  const template = readFileSync(join(snarkjsDir, "templates", "verifier_groth16.sol.ejs"), "utf8");
  const code = await snarkjs.zKey.exportSolidityVerifier(zkey, { groth16: template });
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
