// A node:test reporter (https://nodejs.org/docs/latest-v20.x/api/test.html#custom-reporters)
// that prints, at the end, each test file's wall-clock time from its first to its last
// event, slowest first: how run-tests.mjs reports where a tier spends its time.
import { relative } from "node:path";

export default async function* fileDurations(source) {
  const spans = new Map();
  for await (const event of source) {
    const file = event.data?.file;
    if (!file) continue;
    const now = Date.now();
    const span = spans.get(file) ?? { first: now, last: now };
    span.last = now;
    spans.set(file, span);
  }
  const rows = [...spans.entries()]
    .map(([file, s]) => [relative(process.cwd(), file), (s.last - s.first) / 1000])
    .sort((a, b) => b[1] - a[1]);
  yield "\nper-file wall-clock, first to last event (s):\n";
  for (const [file, seconds] of rows) yield `${seconds.toFixed(1).padStart(8)}  ${file}\n`;
}
