/**
 * The policy Lit Action's stand-in for src/errors (scripts/build-lit-action.mjs swaps it
 * in for the bundle only). src/policy throws VaultError with a code and a message, and the
 * action reports only the message; the vault's full catalogue (codes, HTTP statuses,
 * default messages) would otherwise be bundled, and every new vault error code would
 * change the action's CID although the policy it enforces did not change.
 */
export class VaultError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(code: string, message?: string, details: Record<string, unknown> = {}) {
    super(message ?? code);
    this.name = "VaultError";
    this.code = code;
    this.details = details;
  }
}
