import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { openLog, tempDbFile } from "./helpers.js";

const CHILD = fileURLToPath(new URL("../fixtures/audit/append-until-killed.ts", import.meta.url));

test("a writer killed with SIGKILL mid-appends leaves a chain that verifies", {
  timeout: 15_000,
}, async () => {
  const file = tempDbFile();
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, file], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let committed = 0;
  const exited = new Promise<NodeJS.Signals | null>((resolve) => {
    child.on("exit", (_code, signal) => resolve(signal));
  });
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    for (const line of chunk.split("\n")) if (line) committed = Math.max(committed, Number(line));
    // Enough entries to be mid-stream, few enough to stay fast.
    if (committed >= 3000) child.kill("SIGKILL");
  });
  assert.equal(await exited, "SIGKILL");

  const { log } = await openLog(file);
  const result = await log.verify();
  assert.equal(result.ok, true, result.reason);
  assert.ok(
    result.length >= committed,
    `${result.length} entries, ${committed} reported committed`,
  );
  assert.equal((await log.append({ type: "node.unreachable" })).seq, result.length + 1);
});
