/**
 * Who may import whom around the vault↔node protocol: the client (src/signers) and
 * the server (src/node) meet only in src/protocol/node and src/threshold; src/node is
 * reached only through its entry (the CLI); the DKLs23 engine is imported by one file
 * (the licence claim in README); and src/node has no import cycles.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";

const ROOT = resolve(import.meta.dirname, "..", "..");

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Import specifiers of a file: static, type-only, re-exports and dynamic imports. */
function specifiers(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const found = text.matchAll(
    /(?:import|export)[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|^import\s+["']([^"']+)["']/gm,
  );
  return [...found].map((m) => (m[1] ?? m[2] ?? m[3]) as string);
}

/** Local imports resolved to repository paths (src/x/y.ts); packages kept as named. */
function imports(file: string): string[] {
  return specifiers(file).map((s) =>
    s.startsWith(".") ? relative(ROOT, resolve(ROOT, dirname(file), s)).replace(/\.js$/, ".ts") : s,
  );
}

const FILES = sourceFiles("src");
const GRAPH = new Map(FILES.map((f) => [f, imports(f)]));
const under = (dir: string) => (path: string) => path.startsWith(`${dir}/`);

test("the import scan sees the imports it must judge", () => {
  assert.ok(GRAPH.get("src/node/server.ts")?.includes("src/node/dispatch.ts"));
  assert.ok(GRAPH.get("src/node/protocol/context.ts")?.includes("src/threshold/engine.ts"));
  assert.ok(GRAPH.get("src/cli/commands.ts")?.includes("src/node/main.ts"));
});

test("no file under src/node imports src/signers", () => {
  const bad = [...GRAPH].filter(
    ([f, deps]) => under("src/node")(f) && deps.some(under("src/signers")),
  );
  assert.deepEqual(bad, []);
});

test("only the node's own files and its CLI entry import src/node", () => {
  const allowed = (f: string) => under("src/node")(f) || f === "src/cli/commands.ts";
  const bad = [...GRAPH].filter(([f, deps]) => !allowed(f) && deps.some(under("src/node")));
  assert.deepEqual(bad, []);
});

test("the protocol module depends on neither side", () => {
  const bad = [...GRAPH].filter(
    ([f, deps]) =>
      under("src/protocol")(f) && deps.some((d) => under("src/node")(d) || under("src/signers")(d)),
  );
  assert.deepEqual(bad, []);
});

test("only src/threshold/engine.ts imports the DKLs23 engine", () => {
  const users = FILES.filter((f) =>
    readFileSync(join(ROOT, f), "utf8").includes("@silencelaboratories/dkls-wasm-ll-node"),
  );
  assert.deepEqual(users, ["src/threshold/engine.ts"]);
});

test("src/node has no import cycles", () => {
  const nodeFiles = FILES.filter(under("src/node"));
  const state = new Map<string, "open" | "done">();
  const cycles: string[][] = [];
  const visit = (f: string, path: string[]) => {
    if (state.get(f) === "done") return;
    if (state.get(f) === "open") {
      cycles.push([...path.slice(path.indexOf(f)), f]);
      return;
    }
    state.set(f, "open");
    for (const d of GRAPH.get(f) ?? []) if (under("src/node")(d)) visit(d, [...path, f]);
    state.set(f, "done");
  };
  for (const f of nodeFiles) visit(f, []);
  assert.deepEqual(cycles, []);
});
