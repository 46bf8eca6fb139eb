/**
 * The one encoding that entry hashes are computed over. It must never change:
 * a different byte for the same entry would make every stored hash "wrong".
 * test/fixtures/audit/golden-chain.json pins it.
 *
 * Rules: object keys sorted (UTF-16 code-unit order, as JSON.stringify sees
 * them), no whitespace, strings and numbers as JSON.stringify writes them,
 * bigint as a decimal string, undefined object properties dropped. Anything
 * else (NaN, Infinity, undefined in an array, functions, symbols, Dates, Maps,
 * class instances, cycles) is refused: guessing an encoding would let two
 * different values share one hash, or one value get two.
 */
import { createHash } from "node:crypto";
import { VaultError } from "../errors/index.js";
import type { AuditEntry } from "./types.js";

/** The prevHash of entry 1. */
export const GENESIS_HASH = "0".repeat(64);

export function canonicalJson(value: unknown): string {
  return encode(value, "$", new Set());
}

/** SHA-256 (hex) of the canonical encoding of everything in the entry but its own hash. */
export function entryHash(entry: Omit<AuditEntry, "hash">): string {
  return hashWithDataText(entry, canonicalJson(entry.data));
}

/**
 * entryHash when the caller already holds `dataText` = canonicalJson(entry.data)
 * (append and verify do), so data is not encoded twice. It writes the same bytes
 * as canonicalJson({ seq, ts, type, agentId, actor, data, prevHash }): the keys
 * below are in sorted order; the golden test holds the two together.
 */
export function hashWithDataText(entry: Omit<AuditEntry, "hash" | "data">, dataText: string) {
  const { seq, ts, type, agentId, actor, prevHash } = entry;
  const text =
    `{"actor":${canonicalJson(actor)},"agentId":${canonicalJson(agentId)},"data":${dataText},` +
    `"prevHash":${canonicalJson(prevHash)},"seq":${canonicalJson(seq)},` +
    `"ts":${canonicalJson(ts)},"type":${canonicalJson(type)}}`;
  return createHash("sha256").update(text).digest("hex");
}

function encode(value: unknown, path: string, open: Set<object>): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) refuse(path, "non-finite number");
      return JSON.stringify(value);
    case "bigint":
      return `"${value.toString()}"`;
    case "object":
      if (value === null) return "null";
      if (open.has(value)) refuse(path, "cycle");
      open.add(value);
      try {
        return Array.isArray(value)
          ? encodeArray(value, path, open)
          : encodeObject(value as object, path, open);
      } finally {
        open.delete(value);
      }
    default:
      return refuse(path, `unsupported ${typeof value}`);
  }
}

function encodeArray(items: unknown[], path: string, open: Set<object>): string {
  const parts: string[] = [];
  for (let i = 0; i < items.length; i++) {
    // JSON.stringify would write null; refusing keeps "missing" and null distinct.
    if (items[i] === undefined) refuse(`${path}[${i}]`, "undefined array element");
    parts.push(encode(items[i], `${path}[${i}]`, open));
  }
  return `[${parts.join(",")}]`;
}

function encodeObject(obj: object, path: string, open: Set<object>): string {
  const proto = Object.getPrototypeOf(obj);
  if (proto !== Object.prototype && proto !== null) {
    refuse(path, `not a plain object (${proto?.constructor?.name ?? "unknown"})`);
  }
  const record = obj as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(record).sort()) {
    const item = record[key];
    if (item === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${encode(item, `${path}.${key}`, open)}`);
  }
  return `{${parts.join(",")}}`;
}

function refuse(path: string, why: string): never {
  // Key names only, never values: the message may reach a client.
  const where = path.length > 80 ? `${path.slice(0, 77)}...` : path;
  throw new VaultError("AUDIT_UNAVAILABLE", `audit data is not canonical JSON: ${why} at ${where}`);
}
