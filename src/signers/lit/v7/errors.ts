/**
 * Maps what the Lit v7 SDK throws onto the vault's stable codes (src/errors). The SDK
 * (@lit-protocol/constants 7.4.0) throws VError subclasses with `name` (NodeError,
 * NetworkError, LitNodeClientNotReadyError, InitError, …), `code` (node_error, …) and
 * `info.errorCode` / `info.message` copied from the nodes' JSON error, whose codes Lit
 * documents ("NodeActionNotAllowed", "NodeJsExecutionError", "NodeInvalidAuthSig", …;
 * the nodes answer a spent rate limit with HTTP 402 `{errorCode: "rate_limit_exceeded"}`).
 * The nodes' messages are not shown to clients; only the code is.
 */
import { VaultError } from "../../../errors/index.js";

interface LitErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  info?: { errorCode?: unknown; message?: unknown };
}

const NOT_PERMITTED =
  /NodeActionNotAllowed|NodeAuthFailed|NodeInvalidAuthSig|NodeInvalidAuthSigSessionKeySignature|NodeSIWE|not_authorized|NodeNotAuthorized|NodeAccessControlConditionsReturnedNotAuthorized|InvalidSessionSigs|invalid_session_sigs/i;
const RATE = /rate_limit_exceeded|RateLimit/i;
const CREDITS = /capacity|credit|insufficient|PaymentRequired|payment_required/i;
const ACTION = /NodeJsExecutionError|NodeJsTimeoutError|NodeJsMemoryLimitError|execution/i;

/** A thrown SDK error as the vault's error (VaultErrors pass through unchanged). */
export function litV7Failure(err: unknown): VaultError {
  if (err instanceof VaultError) return err;
  const e = (typeof err === "object" && err !== null ? err : {}) as LitErrorLike;
  const nodeCode = typeof e.info?.errorCode === "string" ? e.info.errorCode : "";
  const parts = [nodeCode, e.name, e.code, e.info?.message, e.message]
    .filter((p): p is string => typeof p === "string")
    .join(" ");
  const detail = nodeCode ? { litCode: nodeCode } : {};
  // The nodes' code first (when there is one), then the names and messages.
  for (const text of nodeCode ? [nodeCode, parts] : [parts]) {
    if (RATE.test(text)) return new VaultError("LIT_RATE_LIMITED", undefined, detail);
    if (CREDITS.test(text)) return new VaultError("LIT_NO_CREDITS", undefined, detail);
    if (NOT_PERMITTED.test(text)) return new VaultError("LIT_NOT_PERMITTED", undefined, detail);
    if (ACTION.test(text)) return new VaultError("LIT_ACTION_FAILED", undefined, detail);
  }
  // NetworkError, LitNodeClientNotReadyError, InitError, NoValidShares, timeouts, …
  return new VaultError("LIT_UNAVAILABLE", undefined, detail);
}
