/**
 * Makes the shipped DEVELOPMENT powers of tau (circuits/ptau/development_<power>.ptau):
 * a fresh bn128 accumulator, one random contribution and a beacon, prepared for phase 2,
 * exactly what src/zk/setup.ts would otherwise generate on every fresh machine (about
 * 5 CPU-minutes at 2^13 on 2 cores). It is for development and tests only: whoever ran
 * this could have kept the contribution's randomness. Production uses a public ceremony
 * file (README, "Compliance proofs"). Usage: tsx scripts/make-dev-ptau.ts [power=13]
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as snarkjs from "snarkjs";

const power = Number(process.argv[2] ?? 13);
const dir = join(import.meta.dirname, "..", "circuits", "ptau");
mkdirSync(dir, { recursive: true });
const tmp = (name: string) => join(dir, `.${name}`);
const out = join(dir, `development_${power}.ptau`);
const curve = await snarkjs.curves.getCurveFromName("bn128");
try {
  await snarkjs.powersOfTau.newAccumulator(curve, power, tmp("pot0.ptau"));
  await snarkjs.powersOfTau.contribute(
    tmp("pot0.ptau"),
    tmp("pot1.ptau"),
    "agent-vault development contribution",
    randomBytes(32).toString("hex"),
  );
  await snarkjs.powersOfTau.beacon(
    tmp("pot1.ptau"),
    tmp("pot2.ptau"),
    "agent-vault development beacon",
    randomBytes(32).toString("hex"),
    10,
  );
  await snarkjs.powersOfTau.preparePhase2(tmp("pot2.ptau"), out);
} finally {
  await curve.terminate();
  for (const f of ["pot0.ptau", "pot1.ptau", "pot2.ptau"]) rmSync(tmp(f), { force: true });
}
const sha256 = createHash("sha256").update(readFileSync(out)).digest("hex");
writeFileSync(
  join(dir, "development.json"),
  `${JSON.stringify({ file: `development_${power}.ptau`, power, sha256, setup: "development" }, null, 2)}\n`,
);
console.log(`${out} ${sha256}`);
