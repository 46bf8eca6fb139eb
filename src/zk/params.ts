/** Compliance-proof parameters (read through src/config, the one place reading the env). */
import { loadConfig } from "../config/index.js";

export interface ZkConfig {
  /** Entries per batch proof (production 64). */
  n: number;
  /** Allowlist capacity: 2^depth recipients (1-8), checked per batch in the circuit. */
  depth: number;
  /** The proof system (VAULT_ZK_SYSTEM). */
  system: "groth16" | "plonk";
  /** Phase-2-prepared ptau from a public ceremony; absent: development setup. */
  ptau?: string;
  /** Where circuit artefacts are built and cached. */
  buildRoot?: string;
}

export function loadZkConfig(): ZkConfig {
  const c = loadConfig().zk;
  return c;
}
