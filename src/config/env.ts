/** What every config module reads: the environment as given, and its integer rule. */
import { ConfigError } from "./error.js";

export type Env = Record<string, string | undefined>;

/** A whole number within [min, max], or `fallback` when unset; anything else stops start-up. */
export function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
  }
  return Number(raw);
}
