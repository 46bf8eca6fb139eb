/**
 * The one `application/json` body parser: the bytes signed are the bytes sent.
 *
 *  - The raw body must be UTF-8 (RFC 8259 §8.1): invalid bytes are refused with INVALID_UTF8
 *    instead of being replaced by U+FFFD (WHATWG Encoding, TextDecoder `fatal: true`).
 *  - Strings must be Unicode text: a lone surrogate, even escaped as `\ud800` (which
 *    RFC 8259 §8.2 leaves unpredictable), is refused with INVALID_UTF8 too.
 *  - Nesting deeper than MAX_BODY_DEPTH is refused with BODY_TOO_DEEP before parsing, so no
 *    recursive step (poisoning check, schema validation, policy decoding) meets a deep value.
 *  - An empty body with a JSON content type, as many clients send on DELETE or on POSTs
 *    without arguments, means "no body".
 * Prototype poisoning is still refused by fastify's own JSON parser, which does the parsing.
 */
import { createHash } from "node:crypto";
import type { FastifyInstance } from "fastify";

declare module "fastify" {
  interface FastifyRequest {
    /** SHA-256 (hex) of the raw JSON body as received: what a delegation invocation signs. */
    bodySha256?: string;
  }
}

import { VaultError } from "../errors/index.js";

/** Far above any legitimate body (policies, typed data, x402 requirements nest < 10 deep). */
export const MAX_BODY_DEPTH = 32;

const LONE_SURROGATE = /\p{Surrogate}/u;

/** The deepest nesting of arrays and objects in JSON text, found without recursion. */
export function jsonDepth(text: string, limit = MAX_BODY_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/** Throws INVALID_UTF8 when a string (or key) in the parsed value holds a lone surrogate. */
function assertWellFormed(value: unknown): void {
  if (typeof value === "string") {
    if (LONE_SURROGATE.test(value)) {
      throw new VaultError("INVALID_UTF8", "A string in the body holds a lone UTF-16 surrogate.");
    }
  } else if (Array.isArray(value)) {
    for (const v of value) assertWellFormed(v);
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      assertWellFormed(k);
      assertWellFormed(v);
    }
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function decode(raw: Buffer): string {
  try {
    return utf8.decode(raw);
  } catch {
    throw new VaultError("INVALID_UTF8");
  }
}

/** What was thrown, as the Error fastify's `done` takes (a non-Error throw is a bug: INTERNAL). */
const asError = (e: unknown): Error => (e instanceof Error ? e : new VaultError("INTERNAL"));

export function installJsonBody(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser("error", "ignore");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (req, raw, done) => {
    try {
      // parseAs "buffer" hands over a Buffer; the type also admits a string.
      const bytes = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
      req.bodySha256 = createHash("sha256").update(bytes).digest("hex");
      const text = decode(bytes);
      if (text.trim() === "") return done(null, undefined);
      if (jsonDepth(text) > MAX_BODY_DEPTH) throw new VaultError("BODY_TOO_DEEP");
      parse(req, text, (err, body) => {
        if (err) return done(err, undefined);
        try {
          assertWellFormed(body);
          done(null, body);
        } catch (e) {
          done(asError(e), undefined);
        }
      });
    } catch (err) {
      done(asError(err), undefined);
    }
  });
}
