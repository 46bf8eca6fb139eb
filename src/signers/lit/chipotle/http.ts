/**
 * The transport under the Chipotle client: one JSON call to `<base>/core/v1/<path>`
 * with the key in `X-Api-Key` (Lit's lit-api-server accepts it there or as
 * `Authorization: Bearer`, src/core/v1/guards/apikey.rs), 429 retried with bounded
 * exponential backoff (the server sheds load with 429 from its CPU guard before doing
 * any work, so a retry cannot double an effect), and every failure mapped to one stable
 * vault code. Chipotle's error bodies come in three shapes: a bare JSON string (its
 * `ErrMessage`), Rocket's catcher object `{error: {code, reason, description}}`, and
 * `{error}` / `{message}` from proxies; all are read, none is shown to vault clients
 * (the upstream text stays on the error for operators' logs, never in toJSON).
 * The key is a secret: it is never part of a message, a log line or an error.
 */
import { type ErrorCode, VaultError } from "../../../errors/index.js";

export interface ChipotleHttpOptions {
  /** The server's base URL, e.g. https://api.chipotle.litprotocol.com (the client adds /core/v1/). */
  baseUrl: string;
  fetch?: typeof fetch;
  /** How many times a 429 is retried (default 3). */
  retries?: number;
  /** First backoff in ms, doubled each retry (default 250). */
  backoffMs?: number;
  /** Longest single wait in ms, also the cap on a server's Retry-After (default 4000). */
  maxBackoffMs?: number;
  /** Per-request timeout in ms (default 90 000, as Lit's own keychain client). */
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** A Chipotle failure: a catalogue code for clients, the upstream status and text for operators. */
export class ChipotleError extends VaultError {
  readonly litStatus: number | undefined;
  readonly upstream: string;
  constructor(code: ErrorCode, litStatus: number | undefined, upstream: string) {
    super(code);
    this.litStatus = litStatus;
    this.upstream = upstream;
  }
}

export type Call = (
  method: "GET" | "POST",
  path: string,
  apiKey: string,
  body?: unknown,
) => Promise<unknown>;

/** The base URL, normalised: no trailing slash, and no /core/v1 if the operator added it. */
export function coreUrl(baseUrl: string): string {
  const url = new URL(baseUrl);
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new VaultError("VALIDATION_FAILED", "LIT_CHIPOTLE_URL must be an http(s) URL");
  }
  const trimmed = url
    .toString()
    .replace(/\/+$/, "")
    .replace(/\/core\/v1$/, "");
  return `${trimmed}/core/v1/`;
}

/** Chipotle's error text from any of its body shapes (bare string, {error}, {message}). */
export function upstreamText(body: unknown, raw: string): string {
  if (typeof body === "string") return body;
  if (body !== null && typeof body === "object") {
    const o = body as Record<string, unknown>;
    if (typeof o.error === "string") return o.error;
    if (o.error !== null && typeof o.error === "object") {
      const e = o.error as Record<string, unknown>;
      return [e.reason, e.description].filter((x) => typeof x === "string").join(": ");
    }
    if (typeof o.message === "string") return o.message;
  }
  return raw.slice(0, 200);
}

export function codeForStatus(status: number, path: string): ErrorCode {
  if (status === 401) return "LIT_UNAUTHENTICATED";
  if (status === 402) return "LIT_NO_CREDITS";
  if (status === 403) return "LIT_NOT_PERMITTED";
  if (status === 429) return "LIT_RATE_LIMITED";
  // lit_action answers 500 when the action threw (core_features.rs: "Actions failed with").
  if (status === 500 && path === "lit_action") return "LIT_ACTION_FAILED";
  if (status >= 400 && status < 500) return "LIT_REQUEST_REJECTED";
  return "LIT_UNAVAILABLE";
}

function retryAfterMs(header: string | null): number | undefined {
  if (header === null || !/^\d+$/.test(header.trim())) return undefined;
  return Number(header.trim()) * 1000;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function createCall(options: ChipotleHttpOptions): Call {
  const base = coreUrl(options.baseUrl);
  const doFetch = options.fetch ?? fetch;
  const retries = options.retries ?? 3;
  const backoff = options.backoffMs ?? 250;
  const maxBackoff = options.maxBackoffMs ?? 4000;
  const timeoutMs = options.timeoutMs ?? 90_000;
  const sleep = options.sleep ?? defaultSleep;

  return async (method, path, apiKey, body) => {
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await doFetch(new URL(path, base), {
          method,
          headers: {
            "X-Api-Key": apiKey,
            accept: "application/json",
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        throw new ChipotleError("LIT_UNAVAILABLE", undefined, (err as Error).message);
      }
      const raw = await res.text().catch(() => "");
      let parsed: unknown;
      let wellFormed = true;
      try {
        parsed = raw === "" ? undefined : JSON.parse(raw);
      } catch {
        wellFormed = false;
      }
      if (res.ok) {
        if (!wellFormed || parsed === undefined) {
          throw new ChipotleError("LIT_BAD_RESPONSE", res.status, raw.slice(0, 200));
        }
        return parsed;
      }
      if (res.status === 429 && attempt < retries) {
        const wait = retryAfterMs(res.headers.get("retry-after")) ?? backoff * 2 ** attempt;
        await sleep(Math.min(wait, maxBackoff));
        continue;
      }
      throw new ChipotleError(
        codeForStatus(res.status, path),
        res.status,
        upstreamText(parsed, raw),
      );
    }
  };
}
