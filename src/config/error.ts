/**
 * A bad configuration value: start-up stops with this message, which names the variable.
 * Its own module so that the per-area parsers (auth.ts, x402.ts) and index.ts, which
 * composes them, do not import each other in a cycle.
 */
export class ConfigError extends Error {}
