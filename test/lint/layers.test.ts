/**
 * The layering rules of .dependency-cruiser.cjs (README "Layout") really fail the lint:
 * depcruise runs with the project's own config over a throwaway tree that breaks each
 * rule once, and over edges the layering allows (`npm run lint` runs it over the real src/).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const CLI = join(ROOT, "node_modules", "dependency-cruiser", "bin", "dependency-cruise.mjs");
const CONFIG = join(ROOT, ".dependency-cruiser.cjs");

interface Violation {
  severity: string;
  rule: string;
  from: string;
}

/** Runs depcruise as `npm run lint` does; reads its "<severity> <rule>: <from> → …" lines. */
function cruise(cwd: string): { status: number | null; violations: Violation[] } {
  const run = spawnSync(
    process.execPath,
    [CLI, "src", "--config", CONFIG, "--output-type", "err"],
    {
      cwd,
      encoding: "utf8",
      timeout: 120_000,
      // Plain text: with CI=true its colour library would wrap the names in escape codes.
      env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1" },
    },
  );
  const violations = [...run.stdout.matchAll(/^\s*(error|warn|info) ([\w-]+): (\S+) →/gm)].map(
    ([, severity, rule, from]) => ({ severity, rule, from }) as Violation,
  );
  return { status: run.status, violations };
}

/** A tree of src/ files in a temporary folder that resolves packages from this checkout. */
function fixture(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "av-layers-"));
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  cpSync(join(ROOT, "tsconfig.json"), join(dir, "tsconfig.json"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const use = (...names: string[]) => `export const used = [${names.join(", ")}];\n`;

/** One offending file per rule: [file, its source, the rule it must trip]. */
const BROKEN: Array<[string, string, string]> = [
  ["src/audit/web.ts", `import fastify from "fastify";\n${use("fastify")}`, "domain-not-fastify"],
  [
    "src/policy/reads-disk.ts",
    `import { readFileSync } from "node:fs";\n${use("readFileSync")}`,
    "policy-is-pure",
  ],
  [
    "src/policy/opens-db.ts",
    `import Database from "better-sqlite3";\n${use("Database")}`,
    "policy-is-pure",
  ],
  [
    "src/zk/uses-service.ts",
    `import type { Service } from "../services/service.js";\nexport type S = Service;\n`,
    "domain-not-outer-layers",
  ],
  [
    "src/services/uses-http.ts",
    `import { route } from "../http/route.js";\n${use("route")}`,
    "services-not-front-doors",
  ],
  [
    "src/store/knows-audit.ts",
    `import { entry } from "../audit/entry.js";\n${use("entry")}`,
    "store-imports-only-values",
  ],
  [
    "src/store/evaluates.ts",
    `import { evaluate } from "../policy/evaluate.js";\n${use("evaluate")}`,
    "store-imports-only-values",
  ],
  [
    "src/signers/types.ts",
    `import { client } from "./client.js";\nexport type C = typeof client;\n`,
    "values-are-leaves",
  ],
  ["src/config/a.ts", `import { b } from "./b.js";\nexport const a = () => b;\n`, "no-circular"],
  [
    "src/signers/reaches-node.ts",
    `import { serve } from "../node/server.js";\n${use("serve")}`,
    "node-only-from-its-entry",
  ],
  [
    "src/protocol/node/reaches-node.ts",
    `import { serve } from "../../node/server.js";\n${use("serve")}`,
    "node-only-from-its-entry",
  ],
  [
    "src/node/reaches-signers.ts",
    `import { client } from "../signers/client.js";\n${use("client")}`,
    "node-not-signers",
  ],
  [
    "src/util/climbs.ts",
    `import { entry } from "../audit/entry.js";\n${use("entry")}`,
    "util-is-a-leaf",
  ],
];

/** Edges the layering allows: none of these may be reported. */
const ALLOWED: Record<string, string> = {
  "src/http/route.ts": `import { Service } from "../services/service.js";\nexport const route = Service;\n`,
  "src/services/service.ts": `import { entry } from "../audit/entry.js";\nexport const Service = entry;\n`,
  "src/audit/entry.ts": `import { open } from "../store/open.js";\nexport const entry = open;\n`,
  "src/store/open.ts": `import Database from "better-sqlite3";\nexport const open = Database;\n`,
  "src/cli/node.ts": `import { serve } from "../node/server.js";\n${use("serve")}`,
  "src/node/server.ts": `import { entry } from "../audit/entry.js";\nexport const serve = entry;\n`,
  "src/signers/client.ts": `export const client = 1;\n`,
  "src/config/b.ts": `import { a } from "./a.js";\nexport const b = () => a;\n`,
  // The store hands out domain values: it may import value modules, and they each other.
  "src/store/values.ts": `import type { Spend } from "../policy/types.js";\nimport { codec } from "../policy/spends.js";\nexport const values = (s: Spend) => codec(s);\n`,
  "src/policy/types.ts": `export type Spend = { amount: bigint };\n`,
  "src/policy/spends.ts": `import type { Spend } from "./types.js";\nexport const codec = (s: Spend) => s;\n`,
  "src/policy/evaluate.ts": `export const evaluate = 1;\n`,
  "src/auth/types.ts": `import type { Spend } from "../policy/types.js";\nexport type Scope = Spend;\n`,
};

describe("layers the linter enforces", () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("fails the lint on each broken rule, naming the rule and the edge", () => {
    const files = { ...ALLOWED, ...Object.fromEntries(BROKEN.map(([f, text]) => [f, text])) };
    const dir = fixture(files);
    dirs.push(dir);
    const { status, violations } = cruise(dir);
    assert.notEqual(status, 0, "depcruise must exit non-zero on error-level rules");
    for (const [file, , rule] of BROKEN) {
      const hit = violations.find((v) => v.from === file && v.rule === rule);
      assert.ok(hit, `${file} should break ${rule}; got ${JSON.stringify(violations)}`);
    }
    const expectedFrom = new Set(BROKEN.map(([f]) => f));
    // The cycle is reported from both ends; every other report comes from a broken file.
    const stray = violations.filter(
      (v) => !expectedFrom.has(v.from) && v.from !== "src/config/b.ts",
    );
    assert.deepEqual(stray, []);
  });

  it("reports nothing for the edges the layering allows", () => {
    const dir = fixture({ ...ALLOWED, "src/config/b.ts": `export const b = 1;\n` });
    dirs.push(dir);
    const { status, violations } = cruise(dir);
    assert.deepEqual(violations, []);
    assert.equal(status, 0);
  });
});
