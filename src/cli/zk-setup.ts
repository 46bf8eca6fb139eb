/**
 * `agent-vault zk contribute | verify-setup | install`: the Groth16 phase-2 ceremony between
 * an operator and their auditors (src/zk/trust.ts describes the flow and what it proves).
 *
 *   zk contribute --zkey in.zkey --out out.zkey --name "<who>"
 *       adds a contribution (entropy from crypto.randomBytes, never shown); prints its hash.
 *   zk verify-setup --zkey x.zkey [--r1cs main.r1cs] [--ptau file] [--expect-contribution H]…
 *       snarkjs zkey verify against the circuit and phase 1; prints the phase-1 file, the
 *       contributions (name + hash) and the SHA-256 of the verification key; exit 1 when the
 *       key does not verify or an expected contribution is missing.
 *   zk install --zkey out.zkey [--ptau file]
 *       verifies, then installs the key into the vault's artefacts (VAULT_ZK_BATCH, _DEPTH,
 *       _BUILD_DIR): bundles of a vault started afterwards carry the new key.
 *
 * --r1cs and --ptau default to the vault's built artefacts and the ptau they were built on.
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../config/index.js";
import { isVaultError } from "../errors/index.js";
import { zkeyProtocol } from "../zk/plonk.js";
import { type Artifacts, initZkeyOf, loadArtifacts, ptauOf, releaseCurve } from "../zk/setup.js";
import { installZkey, type SetupVerification, verifySetup } from "../zk/trust.js";
import { type Contribution, contributeZkey } from "../zk/zkey.js";

const USAGE = `usage: agent-vault zk <command>
  contribute --zkey in.zkey --out out.zkey --name "<who>"   add a phase-2 contribution
  verify-setup --zkey x.zkey [--r1cs r] [--ptau p] [--expect-contribution <hash>]… [--json]
                                check a proving key's whole transcript; print its contributions
                                and the sha256 of its verification key
  install --zkey out.zkey [--ptau p]   verify, then install a contributed key into the vault`;

function localArtifacts(): Artifacts | undefined {
  const { zk } = loadConfig();
  return loadArtifacts(zk, zk.buildRoot);
}

/**
 * r1cs and ptau to check a key against: the flags, else this machine's built artefacts; from
 * those alone, also their contribution-free key (made here, so the check may start from it).
 */
export async function setupInputs(values: {
  r1cs?: string;
  ptau?: string;
}): Promise<{ r1cs: string; ptau: string; init?: string }> {
  const art = values.r1cs && values.ptau ? undefined : localArtifacts();
  const r1cs = values.r1cs ?? art?.r1cs;
  const ptau = values.ptau ?? (art ? ptauOf(art) : undefined);
  if (!r1cs || !ptau) {
    throw new Error(
      "no circuit artefacts here to check against: pass --r1cs (compile with npm run circuits:setup) and --ptau",
    );
  }
  const init = art && !values.r1cs && !values.ptau ? await initZkeyOf(art) : undefined;
  return { r1cs, ptau, ...(init ? { init } : {}) };
}

export function contributionLines(contributions: Contribution[]): string[] {
  return [
    `contributions (${contributions.length}, oldest first):`,
    ...contributions.map(
      (c, i) =>
        `  ${i + 1}. ${c.hash}  ${JSON.stringify(c.name)}${c.beacon ? " (beacon: no secret)" : ""}`,
    ),
  ];
}

export function phase1Line(v: SetupVerification): string {
  const what = v.ptau.listed
    ? `${v.ptau.listed}, a published ceremony file (BLAKE2b-512 matches)`
    : v.setup?.phase1.source === "shipped-development"
      ? "the shipped DEVELOPMENT ptau: its maker could forge proofs"
      : "an UNLISTED ptau (not a published ceremony file): development, its maker could forge proofs";
  return `phase 1: ${v.ptau.path}: ${what}`;
}

async function contribute(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      zkey: { type: "string" },
      out: { type: "string" },
      name: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  if (!values.zkey || !values.out || !values.name?.trim()) {
    console.error('usage: agent-vault zk contribute --zkey in.zkey --out out.zkey --name "<who>"');
    return 2;
  }
  const protocol = await zkeyProtocol(values.zkey);
  if (protocol !== "groth16") {
    await releaseCurve();
    console.error(
      `${values.zkey} is a ${protocol} key: only a Groth16 key has a phase 2 to contribute to (a PLONK key is derived from the circuit and the ptau; check it with zk verify-setup)`,
    );
    return 1;
  }
  const hash = await contributeZkey(values.zkey, values.out, values.name);
  await releaseCurve();
  if (values.json) {
    console.log(JSON.stringify({ out: values.out, name: values.name, hash }, null, 2));
  } else {
    console.log(`contributed ${JSON.stringify(values.name)}: wrote ${values.out}`);
    console.log(`contribution hash: ${hash}`);
    console.error(
      "Keep this hash. Once the key is installed, `agent-vault zk verify-setup --expect-contribution=<hash>` on the vault's key shows your contribution is in it, and prints the verification key to trust.",
    );
  }
  return 0;
}

async function verifySetupCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      zkey: { type: "string" },
      r1cs: { type: "string" },
      ptau: { type: "string" },
      "expect-contribution": { type: "string", multiple: true },
      json: { type: "boolean", default: false },
    },
  });
  if (!values.zkey) {
    console.error("usage: agent-vault zk verify-setup --zkey x.zkey [--r1cs r] [--ptau p]");
    return 2;
  }
  const v = await verifySetup({ zkey: values.zkey, ...(await setupInputs(values)) });
  await releaseCurve();
  const expected = (values["expect-contribution"] ?? []).map((h) => h.toLowerCase());
  const present = new Set(v.setup?.contributions.map((c) => c.hash));
  const missing = expected.filter((h) => !present.has(h));
  const ok = v.ok && missing.length === 0;
  if (values.json) {
    console.log(JSON.stringify({ ...v, vkey: undefined, missingContributions: missing }, null, 2));
    return ok ? 0 : 1;
  }
  if (!v.ok || !v.setup) {
    console.log(`SETUP NOT VERIFIED (${v.code}): ${v.error}`);
    return 1;
  }
  console.log(`SETUP VERIFIED (${v.setup.system}, ${v.setup.setup})`);
  console.log(`circuit: r1cs sha256 ${v.r1csSha256}`);
  console.log(phase1Line(v));
  for (const line of contributionLines(v.setup.contributions)) console.log(line);
  console.log(`verification key sha256: ${v.vkeySha256}`);
  for (const h of missing)
    console.log(`MISSING: contribution ${h} is not in this key's transcript`);
  if (v.setup.setup === "development") {
    console.error("WARNING: development setup: whoever made the ptau could forge proofs");
  }
  return ok ? 0 : 1;
}

async function install(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { zkey: { type: "string" }, ptau: { type: "string" } },
  });
  if (!values.zkey) {
    console.error("usage: agent-vault zk install --zkey out.zkey [--ptau p]");
    return 2;
  }
  const art = localArtifacts();
  if (!art) {
    console.error("no circuit artefacts to install into: run npm run circuits:setup first");
    return 1;
  }
  try {
    const done = await installZkey(art, values.zkey, values.ptau ? { ptau: values.ptau } : {});
    console.log(
      `INSTALLED ${values.zkey} into ${art.dir} (${done.setup.system}, ${done.setup.setup})`,
    );
    for (const line of contributionLines(done.setup.contributions)) console.log(line);
    console.log(`verification key sha256: ${done.vkeySha256} (was ${done.previousVkeySha256})`);
    console.error("Restart the vault: bundles it makes from then on carry the new key.");
    return 0;
  } catch (err) {
    if (!isVaultError(err)) throw err;
    console.log(`NOT INSTALLED (${err.code}): ${err.message}`);
    return 1;
  } finally {
    await releaseCurve();
  }
}

export async function zkCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "contribute":
      return contribute(rest);
    case "verify-setup":
      return verifySetupCommand(rest);
    case "install":
      return install(rest);
    default:
      console.log(USAGE);
      return sub && sub !== "help" && sub !== "--help" ? 2 : 0;
  }
}
