// Transpiles src/ and test/ to plain JavaScript for the test run (esbuild, type stripping
// only: no bundling, no type check; `npm run lint` type-checks), into a mirror of the
// repository at .cache/test-build/. Test files, signer nodes and vault processes then run
// without a TypeScript loader: under tsx every process pays about a second of CPU for
// the loader's hooks (twice that for the vault's import graph), and a run starts a few
// hundred of them. The mirror holds both the .ts sources (tests that read them) and the
// .js output; every other top-level entry (node_modules, circuits, package.json, …) is a
// symlink to the repository's, so paths computed from import.meta.url resolve as they do
// in the repository. `TEST_TSX=1 npm test` skips this and runs the sources under tsx.
import {
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { transformSync } from "esbuild";

const ROOT = resolve(import.meta.dirname, "..");
const TRANSPILED = ["src", "test"];
const SKIP = new Set([".cache", ".git", ...TRANSPILED]);

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

/** Builds the mirror; returns its root. */
export function buildTestMirror(out = join(ROOT, ".cache", "test-build")) {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  for (const name of readdirSync(ROOT)) {
    // Relative links: circom2 (WASI) refuses absolute link targets.
    if (!SKIP.has(name)) symlinkSync(relative(out, join(ROOT, name)), join(out, name));
  }
  for (const top of TRANSPILED) {
    for (const file of files(join(ROOT, top))) {
      const target = join(out, relative(ROOT, file));
      mkdirSync(dirname(target), { recursive: true });
      cpSync(file, target);
      if (!file.endsWith(".ts") || file.endsWith(".d.ts")) continue;
      const { code } = transformSync(readFileSync(file, "utf8"), {
        loader: "ts",
        format: "esm",
        platform: "node",
        target: "node20",
        sourcemap: "inline",
        sourcefile: file,
        keepNames: true,
      });
      writeFileSync(target.replace(/\.ts$/, ".js"), code);
    }
  }
  return out;
}

if (process.argv[1] === import.meta.filename) console.log(buildTestMirror());
