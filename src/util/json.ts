/**
 * Guards for parsed JSON, shared by every module that reads untrusted input (policies,
 * intents, x402 headers). A leaf: imports nothing from src.
 */
export type Obj = Record<string, unknown>;

/** A plain JSON object: not null, not an array. */
export function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
