/** Export of the log as JSON Lines, for archiving or checking elsewhere. */
import { canonicalJson } from "./canonical.js";
import type { AuditLog } from "./types.js";

const PAGE = 1000;

/**
 * Calls `write` once per entry, in seq order, with its canonical JSON plus
 * "\n" (so `(line) => stream.write(line)` makes a valid .jsonl file). Reads a
 * page at a time. Returns the number of entries written.
 */
export async function exportJsonl(
  log: AuditLog,
  write: (line: string) => void,
  fromSeq = 1,
): Promise<number> {
  let count = 0;
  for (let next = fromSeq; ; ) {
    const page = await log.list(next, PAGE);
    for (const entry of page) write(`${canonicalJson(entry)}\n`);
    count += page.length;
    const last = page.at(-1);
    if (page.length < PAGE || !last) return count;
    next = last.seq + 1;
  }
}
