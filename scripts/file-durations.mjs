// A node:test reporter (https://nodejs.org/docs/latest-v20.x/api/test.html#custom-reporters)
// that prints, at the end, each test file's time: the sum of its top-level tests' and
// suites' durations (a file-level before hook counts in its first test), slowest first.
// How run-tests.mjs reports where a tier spends its time. It also appends the tier's
// passed/failed counts to $TEST_TALLY_FILE, so run-tests.mjs can close with one line for
// all tiers ("N passed, N failed").
import { appendFileSync } from "node:fs";
import { relative } from "node:path";

/** Counted as node:test counts: tests, not suites; skipped and todo tests are neither. */
function tally(counts, event) {
  const { details, skip, todo } = event.data;
  if (details?.type === "suite" || skip !== undefined || todo !== undefined) return;
  if (event.type === "test:pass") counts.passed++;
  else counts.failed++;
}

export default async function* fileDurations(source) {
  const seconds = new Map();
  const counts = { passed: 0, failed: 0 };
  for await (const event of source) {
    if (event.type !== "test:pass" && event.type !== "test:fail") continue;
    tally(counts, event);
    const { file, nesting, details } = event.data;
    if (!file || nesting !== 0) continue;
    seconds.set(file, (seconds.get(file) ?? 0) + (details?.duration_ms ?? 0) / 1000);
  }
  if (process.env.TEST_TALLY_FILE) {
    appendFileSync(process.env.TEST_TALLY_FILE, `${counts.passed} ${counts.failed}\n`);
  }
  const rows = [...seconds.entries()].sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((sum, [, s]) => sum + s, 0);
  yield `\nper-file test time (s), total ${total.toFixed(1)}:\n`;
  for (const [file, s] of rows)
    yield `${s.toFixed(1).padStart(8)}  ${relative(process.env.TEST_SOURCE_ROOT ?? process.cwd(), file)}\n`;
}
