/**
 * The chain check, over any ordered stream of rows, so that it never needs the
 * whole log in memory. An entry is good when its seq is the next one, its
 * stored data is exactly the canonical encoding, its prevHash is the hash of
 * the entry before, its own hash recomputes, and it agrees with any checkpoint
 * saved at that seq. The first entry that is not good is reported; nothing
 * after it can be trusted, so the walk stops there.
 */
import { canonicalJson, hashWithDataText } from "./canonical.js";
import { type AuditRow, CorruptRowError, decodeRow } from "./rows.js";
import type { VerifyResult } from "./types.js";

export interface ChainStart {
  /** Seq the first row must have. */
  seq: number;
  /** Hash the first row's prevHash must equal. */
  prevHash: string;
  /** When set, the stream must reach this seq (a shorter one was truncated). */
  endSeq?: number;
  /** Signed heads to hold the chain to: seq -> hash. */
  checkpoints?: ReadonlyMap<number, string>;
}

export async function verifyRows(
  rows: Iterable<AuditRow> | AsyncIterable<AuditRow>,
  start: ChainStart,
): Promise<VerifyResult> {
  let expected = start.seq;
  let prevHash = start.prevHash;
  const bad = (seq: number, reason: string): VerifyResult => ({
    ok: false,
    length: expected - start.seq,
    head: prevHash,
    firstBadSeq: seq,
    reason,
  });

  for await (const row of rows) {
    // A deleted entry shows as a jump: the bad seq is where the gap starts.
    if (row.seq !== expected) return bad(Math.min(row.seq, expected), "missing or unexpected seq");
    const problem = checkEntry(row, prevHash, start.checkpoints);
    if (problem) return bad(row.seq, problem);
    prevHash = row.hash as string;
    expected++;
  }

  let mustReach = start.endSeq ?? 0;
  for (const seq of start.checkpoints?.keys() ?? []) mustReach = Math.max(mustReach, seq);
  if (expected <= mustReach) {
    return bad(expected, "log ends before the expected seq (truncated)");
  }
  return { ok: true, length: expected - start.seq, head: prevHash };
}

function checkEntry(
  row: AuditRow,
  prevHash: string,
  checkpoints: ReadonlyMap<number, string> | undefined,
): string | undefined {
  let entry: ReturnType<typeof decodeRow>;
  try {
    entry = decodeRow(row);
  } catch (err) {
    if (err instanceof CorruptRowError) return err.message;
    throw err;
  }
  // Same meaning, different bytes is still an edit; and the hash covers the meaning only.
  if (row.data !== canonicalJson(entry.data)) return "data is not in canonical form";
  if (entry.prevHash !== prevHash) return "prevHash does not link to the previous entry";
  if (hashWithDataText(entry, row.data) !== entry.hash) return "hash does not match the entry";
  const signed = checkpoints?.get(entry.seq);
  if (signed !== undefined && signed !== entry.hash) return "hash differs from a saved checkpoint";
  return undefined;
}
