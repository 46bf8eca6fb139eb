// Builds agent-vault's policy Lit Action (src/signers/lit/action/) into two
// self-contained scripts, one per Lit runtime, from the same src/policy the vault and
// the signer nodes use (issue 10): esbuild bundles check.ts with each entry point. The
// output is a *template*: the operator's authority key is the placeholder
// __AGENT_VAULT_AUTHORITY_KEY__, replaced by actionCode() (src/signers/lit/action/index.ts).
// The build is deterministic (no paths outside the repository, no timestamps), so
// test/signers/lit/action-pin.test.ts can rebuild and compare byte for byte.
//
//   node scripts/build-lit-action.mjs            write the templates and the pin file
//   node scripts/build-lit-action.mjs --check    exit 1 if they differ from a rebuild
//   node scripts/build-lit-action.mjs --copy     copy the templates into dist/ (npm run build)
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ACTION_DIR = join(ROOT, "src/signers/lit/action");
const TEMPLATE_DIR = join(ACTION_DIR, "templates");
const PIN_FILE = join(ACTION_DIR, "pins.ts");

export const RUNTIMES = {
  "lit-v7": {
    entry: "src/signers/lit/action/entry-v7.ts",
    file: "policy-action-v7.js",
    footer: "agentVaultAction.run();",
  },
  "lit-chipotle": {
    entry: "src/signers/lit/action/entry-chipotle.ts",
    file: "policy-action-chipotle.js",
    footer: "async function main(params) {\n  return agentVaultAction.main(params);\n}",
  },
};

// The action runs in Lit's Deno runtime, not Node: audit/canonical.ts and
// policy/validate.ts import node:crypto for hashes the action never calls, and tree
// shaking drops them; this stub makes a call that survives fail loudly instead.
const nodeCryptoStub = {
  name: "node-crypto-stub",
  setup(build) {
    build.onResolve({ filter: /^(node:)?crypto$/ }, () => ({
      path: "node-crypto-stub",
      namespace: "stub",
    }));
    build.onLoad({ filter: /.*/, namespace: "stub" }, () => ({
      contents:
        'export function createHash() { throw new Error("node:crypto is not available in a Lit Action"); }',
      loader: "js",
    }));
  },
};

// src/errors holds the vault's whole error catalogue, which grows with every feature:
// bundled, it would change the action's CID with no change to the policy. The action
// gets errors-shim.ts (the same VaultError shape, no catalogue) in its place.
const ERRORS_MODULE = join(ROOT, "src/errors/index.js");
const errorsShim = {
  name: "errors-shim",
  setup(build) {
    build.onResolve({ filter: /\/errors\/index\.js$/ }, (args) =>
      resolve(args.resolveDir, args.path) === ERRORS_MODULE
        ? { path: join(ACTION_DIR, "errors-shim.ts") }
        : undefined,
    );
  },
};

/** Builds one runtime's template; returns its text. */
export async function buildTemplate(runtime) {
  const { build } = await import("esbuild");
  const spec = RUNTIMES[runtime];
  const banner =
    `// agent-vault policy Lit Action (${runtime}), a template: the operator's admin-authority\n` +
    "// key replaces its placeholder (actionCode in src/signers/lit/action/index.ts).\n" +
    "// Built from src/policy by scripts/build-lit-action.mjs (esbuild); do not edit.";
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [spec.entry],
    bundle: true,
    write: false,
    format: "iife",
    globalName: "agentVaultAction",
    platform: "browser",
    target: "es2022",
    minify: true,
    legalComments: "none",
    charset: "utf8",
    preserveSymlinks: true,
    treeShaking: true,
    // ethers' browser build looks for `self`/`window`/`global` when it loads; Lit's
    // runtimes need not define them, globalThis (ES2020) is always there.
    define: { self: "globalThis" },
    banner: { js: banner },
    footer: { js: spec.footer },
    plugins: [nodeCryptoStub, errorsShim],
    logLevel: "silent",
  });
  const text = result.outputFiles[0]?.text;
  if (text === undefined) throw new Error(`esbuild produced no output for ${runtime}`);
  const count = text.split("__AGENT_VAULT_AUTHORITY_KEY__").length - 1;
  if (count !== 1) throw new Error(`${runtime}: the key placeholder occurs ${count} times`);
  return text.endsWith("\n") ? text : `${text}\n`;
}

async function cidOf(text) {
  const { default: Hash } = await import("ipfs-only-hash");
  return Hash.of(text);
}

function pinFile(cids) {
  return `/**
 * The CIDs (IPFS v0, ipfs-only-hash with default options, as Lit computes them) of the
 * committed policy Lit Action templates in ./templates/, written by
 * scripts/build-lit-action.mjs. test/signers/lit/action-pin.test.ts fails when the
 * source, the templates and these pins disagree. An operator's action has its own CID
 * (its authority key is substituted): see actionCid() in ./index.ts.
 */
export const TEMPLATE_CIDS = {
  "lit-v7": "${cids["lit-v7"]}",
  "lit-chipotle": "${cids["lit-chipotle"]}",
} as const;
`;
}

async function main(args) {
  if (args.includes("--copy")) {
    const out = join(ROOT, "dist/src/signers/lit/action/templates");
    mkdirSync(out, { recursive: true });
    for (const { file } of Object.values(RUNTIMES)) {
      copyFileSync(join(TEMPLATE_DIR, file), join(out, file));
    }
    return;
  }
  const check = args.includes("--check");
  const cids = {};
  let stale = false;
  for (const [runtime, { file }] of Object.entries(RUNTIMES)) {
    const text = await buildTemplate(runtime);
    cids[runtime] = await cidOf(text);
    const path = join(TEMPLATE_DIR, file);
    if (check) {
      let old = "";
      try {
        old = readFileSync(path, "utf8");
      } catch {}
      if (old !== text) {
        console.error(`${file} differs from a rebuild`);
        stale = true;
      }
    } else {
      mkdirSync(TEMPLATE_DIR, { recursive: true });
      writeFileSync(path, text);
      console.log(`${file}: ${text.length} bytes, template CID ${cids[runtime]}`);
    }
  }
  const pins = pinFile(cids);
  if (check) {
    if (readFileSync(PIN_FILE, "utf8") !== pins) {
      console.error("pins.ts differs from a rebuild");
      stale = true;
    }
    if (stale) process.exit(1);
  } else {
    writeFileSync(PIN_FILE, pins);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(process.argv.slice(2));
}
